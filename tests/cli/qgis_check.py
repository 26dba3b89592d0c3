#!/usr/bin/python3
"""Opens harmmap's outputs in QGIS itself (PyQGIS, headless) and checks that they open as a GIS officer expects.

Usage: /usr/bin/python3 qgis_check.py OUTDIR PROJECT.qgs RENDER_DIR

For every GeoPackage in OUTDIR, every layer (gpkg_contents, features and attributes):
  - QGIS opens it (isValid), with the feature count the file holds (COUNT(*) and gpkg_ogr_contents agree),
  - spatial layers are in EPSG:27700,
  - the layers harmmap styles load with harmmap's default style from layer_styles: the renderer type, field,
    classes and categories QGIS shows are the ones in the stored QML (not QGIS's default single symbol); graduated
    classes equal QGIS's own classification of the same field with the same method (Jenks or Quantile),
  - QGIS's layer metadata (identifier harmmap:<table>, title, abstract) and field aliases are read back,
  - every column has a description in gpkg_data_columns.
For every GeoTIFF: QGIS opens it with the .qml beside it (singlebandpseudocolor, the tiles' range when a tile set
was made from it), in EPSG:27700.
The project: QGIS reads it, its CRS is EPSG:27700, every layer is valid, vector layers draw with the same renderer as
when opened alone, the XYZ tile layer opens; the visible layers render to a PNG that is not blank, and so does the
tile layer on its own.

Exit status: 0 all checks passed, 1 a check failed (each failure printed), 77 PyQGIS is not installed.
"""
import glob
import os
import sqlite3
import sys
import tempfile
import xml.etree.ElementTree as ET

try:
    from qgis.core import (QgsApplication, QgsClassificationJenks, QgsClassificationQuantile, QgsMapRendererSequentialJob,
                           QgsMapSettings, QgsProject, QgsRasterLayer, QgsRectangle, QgsVectorLayer,
                           QgsCoordinateTransform)
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor, QImage
except ImportError as error:
    print(f"SKIP: PyQGIS is not installed ({error}); install python3-qgis (scripts/setup --qgis)")
    sys.exit(77)

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message)
    return condition


def close(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def stored_style(db, table):
    row = db.execute("SELECT styleQML FROM layer_styles WHERE f_table_schema = '' AND f_table_name = ? "
                     "ORDER BY CASE WHEN useAsDefault THEN 1 ELSE 2 END, update_time DESC LIMIT 1",
                     (table,)).fetchone() if has_table(db, "layer_styles") else None
    return ET.fromstring(row[0].split("\n", 1)[1]) if row else None


def has_table(db, table):
    return db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone() is not None


def check_vector(path, db, table, data_type):
    where = f"{os.path.basename(path)}|{table}"
    layer = QgsVectorLayer(f"{path}|layername={table}", table, "ogr")
    if not check(layer.isValid(), f"{where}: QGIS cannot open the layer"):
        return None
    count = db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    cached = db.execute("SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = ?", (table,)).fetchone()
    check(layer.featureCount() == count, f"{where}: QGIS counts {layer.featureCount()} features, the table holds {count}")
    if cached is not None:
        check(cached[0] == count, f"{where}: gpkg_ogr_contents says {cached[0]}, the table holds {count}")
    if data_type == "features":
        check(layer.crs().authid() == "EPSG:27700", f"{where}: CRS {layer.crs().authid()}, expected EPSG:27700")
    # Every column is described.
    columns = [r[1] for r in db.execute(f"PRAGMA table_info(\"{table}\")")]
    described = {r[0] for r in db.execute("SELECT column_name FROM gpkg_data_columns WHERE table_name = ? AND "
                                          "description IS NOT NULL AND description <> ''", (table,))}
    missing = [c for c in columns if c not in described]
    check(not missing, f"{where}: no description in gpkg_data_columns for {missing}")
    # Metadata as QGIS reads it.
    metadata = layer.metadata()
    check(metadata.identifier() == f"harmmap:{table}", f"{where}: metadata identifier '{metadata.identifier()}'")
    check(metadata.title() != "" and metadata.abstract() != "", f"{where}: metadata without title or abstract")
    if table == "intelligence":
        check(len(metadata.constraints()) > 0, f"{where}: no access constraint in the metadata")
    # The default style.
    style = stored_style(db, table)
    styled = table in ("incidents", "intelligence", "wards", "beats", "ward_harm", "beat_harm")
    if styled and not check(style is not None, f"{where}: no default style in layer_styles"):
        return layer
    if style is None:
        return layer
    renderer = layer.renderer()
    stored = style.find("renderer-v2")
    check(renderer.type() == stored.get("type"),
          f"{where}: QGIS draws it with {renderer.type()}, the stored default style is {stored.get('type')}")
    if renderer.type() == "graduatedSymbol":
        field = stored.get("attr")
        check(renderer.classAttribute() == field, f"{where}: graduated on {renderer.classAttribute()}, not {field}")
        ranges = renderer.ranges()
        stored_ranges = stored.find("ranges").findall("range")
        check(len(ranges) == len(stored_ranges) and len(ranges) > 1,
              f"{where}: {len(ranges)} classes drawn, {len(stored_ranges)} stored")
        method = style.find("renderer-v2/classificationMethod").get("id")
        qgis_method = QgsClassificationJenks() if method == "Jenks" else QgsClassificationQuantile()
        expected = qgis_method.classes(layer, field, len(stored_ranges))
        check(len(expected) == len(ranges), f"{where}: QGIS's {method} gives {len(expected)} classes, harmmap {len(ranges)}")
        for mine, theirs in zip(ranges, expected):
            check(close(mine.lowerValue(), theirs.lowerBound()) and close(mine.upperValue(), theirs.upperBound()),
                  f"{where}: class {mine.lowerValue()}-{mine.upperValue()} differs from QGIS's {method} class "
                  f"{theirs.lowerBound()}-{theirs.upperBound()}")
        values = [f[field] for f in layer.getFeatures() if f[field] is not None and f[field] == f[field]]
        if values:
            check(close(ranges[0].lowerValue(), min(values)) and close(ranges[-1].upperValue(), max(values)),
                  f"{where}: classes span {ranges[0].lowerValue()}-{ranges[-1].upperValue()}, values "
                  f"{min(values)}-{max(values)}")
        # Every feature with a value falls in a class (so every area is drawn).
        undrawn = [v for v in values if not any(r.lowerValue() <= v <= r.upperValue() for r in ranges)]
        check(not undrawn, f"{where}: values outside every class: {undrawn[:5]}")
    elif renderer.type() == "categorizedSymbol":
        field = stored.get("attr")
        check(renderer.classAttribute() == field, f"{where}: categorised on {renderer.classAttribute()}, not {field}")
        categories = renderer.categories()
        # An empty layer (no intelligence in the project) has only the catch-all category.
        check(len(categories) == len(stored.find("categories").findall("category")) and
              (len(categories) > 1 or layer.featureCount() == 0),
              f"{where}: {len(categories)} categories drawn")
        present = {str(f[field]) for f in layer.getFeatures() if f[field] is not None}
        named = {str(c.value()) for c in categories if str(c.value()) != ""}
        check(present <= named, f"{where}: values without a category of their own: {sorted(present - named)[:5]}")
    elif renderer.type() == "singleSymbol":
        symbol_layer = renderer.symbol().symbolLayer(0)
        check(symbol_layer.layerType() == "SimpleFill" and symbol_layer.brushStyle() == 0,
              f"{where}: the outline style should have no fill (QGIS's default fills with a random colour)")
        check(layer.labelsEnabled(), f"{where}: the boundary labels are not enabled")
    # Field aliases from the style.
    aliased = [f.name() for f in layer.fields() if layer.attributeAlias(layer.fields().indexOf(f.name()))]
    check(len(aliased) > 0, f"{where}: no field aliases")
    return layer


def check_layer_styles_schema(ours):
    """layer_styles as harmmap writes it against the table QGIS itself creates when it saves a style to a
    GeoPackage (QgsOgrProviderMetadata::saveStyle): same DDL, triggers and registration."""
    from osgeo import ogr, osr
    scratch = tempfile.mkdtemp(dir=os.environ.get("HM_TMP"))
    path = os.path.join(scratch, "qgis.gpkg")
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(27700)
    layer = ds.CreateLayer("points", srs, ogr.wkbPoint)
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetGeometry(ogr.CreateGeometryFromWkt("POINT (360000 170000)"))
    layer.CreateFeature(feature)
    ds = None
    qgis_layer = QgsVectorLayer(f"{path}|layername=points", "points", "ogr")
    qgis_layer.saveStyleToDatabase("qgis", "", True, "")
    theirs = sqlite3.connect(path)
    mine = sqlite3.connect(ours)
    ddl = "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'layer_styles' ORDER BY type, name"
    check(theirs.execute(ddl).fetchall() == mine.execute(ddl).fetchall(),
          "layer_styles: the table or its triggers differ from those QGIS creates")
    registration = ("SELECT c.data_type, c.srs_id, o.feature_count IS NOT NULL FROM gpkg_contents c LEFT JOIN "
                    "gpkg_ogr_contents o USING (table_name) WHERE c.table_name = 'layer_styles'")
    check(theirs.execute(registration).fetchall() == mine.execute(registration).fetchall(),
          "layer_styles: registered differently from QGIS (gpkg_contents, gpkg_ogr_contents)")
    row = "SELECT quote(f_table_catalog), quote(f_table_schema), f_geometry_column, useAsDefault, quote(ui) FROM layer_styles"
    qgis_row = theirs.execute(row).fetchone()
    for values in mine.execute(row + " WHERE f_geometry_column <> ''").fetchall():
        check(values == qgis_row, f"layer_styles row {values} differs in form from QGIS's {qgis_row}")
    theirs.close()
    mine.close()


def same_colours(surface_png, tiles_png):
    """Mean colour difference between the surface drawn by QGIS from the GeoTIFF and .qml, and the web tiles, over
    pixels both painted: the same ramp and range give the same colours (up to resampling at cell edges)."""
    a, b = QImage(surface_png), QImage(tiles_png)
    background = QColor(255, 255, 255).rgb()
    total, count = 0.0, 0
    for y in range(0, a.height(), 3):
        for x in range(0, a.width(), 3):
            pa, pb = a.pixel(x, y), b.pixel(x, y)
            if pa == background or pb == background:
                continue
            ca, cb = QColor(pa), QColor(pb)
            total += (abs(ca.red() - cb.red()) + abs(ca.green() - cb.green()) + abs(ca.blue() - cb.blue())) / 3
            count += 1
    mean = total / count if count else 255
    print(f"surface (GeoTIFF + .qml) against tiles: mean colour difference {mean:.1f}/255 over {count} pixels")
    check(count > 1000 and mean < 8, f"the surface in QGIS and the tiles differ in colour (mean {mean:.1f}/255)")


def manifest_of(tiles_dir):
    settings = {}
    with open(os.path.join(tiles_dir, "tiles-manifest.txt")) as manifest:
        for line in manifest:
            if line[:1].isdigit():
                break
            if not line.startswith("#") and " " in line:
                key, value = line.rstrip("\n").split(" ", 1)
                settings[key] = value
    return settings


def check_raster(path, tile_dirs):
    where = os.path.basename(path)
    layer = QgsRasterLayer(path, where, "gdal")
    if not check(layer.isValid(), f"{where}: QGIS cannot open the surface"):
        return None
    check(layer.crs().authid() == "EPSG:27700", f"{where}: CRS {layer.crs().authid()}")
    renderer = layer.renderer()
    check(renderer.type() == "singlebandpseudocolor",
          f"{where}: QGIS draws it with {renderer.type()}: the .qml beside it was not applied")
    for tiles in tile_dirs:
        settings = manifest_of(tiles)
        if os.path.realpath(settings.get("source", "")) == os.path.realpath(path):
            low, high = (float(v) for v in settings["range"].split())
            check(close(renderer.classificationMin(), low) and close(renderer.classificationMax(), high),
                  f"{where}: colour range {renderer.classificationMin()}-{renderer.classificationMax()}, the tiles use "
                  f"{low}-{high}")
    return layer


def not_blank(image_path, what, minimum_share=0.02):
    image = QImage(image_path)
    if not check(not image.isNull(), f"{what}: {image_path} was not written"):
        return
    background = QColor(255, 255, 255).rgb()
    painted, colours = 0, set()
    step = 2
    total = 0
    for y in range(0, image.height(), step):
        for x in range(0, image.width(), step):
            pixel = image.pixel(x, y)
            total += 1
            if pixel != background:
                painted += 1
                colours.add(pixel)
    share = painted / total
    print(f"{what}: {share:.1%} of the image painted, {len(colours)} colours")
    check(share >= minimum_share and len(colours) >= 5, f"{what}: the rendered image is blank "
          f"({share:.1%} painted, {len(colours)} colours)")


def render(layers, extent, crs, path):
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(crs)
    settings.setExtent(extent)
    settings.setOutputSize(QSize(800, 600))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(path, "png")


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    outdir, project_path, render_dir = sys.argv[1:]
    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()

    tile_dirs = [d for d in sorted(glob.glob(os.path.join(outdir, "*"))) if os.path.isfile(os.path.join(d, "tiles-manifest.txt"))]
    renderer_of = {}
    gpkgs = sorted(glob.glob(os.path.join(outdir, "*.gpkg")))
    check(len(gpkgs) > 0, f"no GeoPackage in {outdir}")
    for path in gpkgs:
        db = sqlite3.connect(path)
        if has_table(db, "layer_styles"):
            check_layer_styles_schema(path)
        for table, data_type in db.execute("SELECT table_name, data_type FROM gpkg_contents WHERE data_type IN "
                                           "('features', 'attributes') ORDER BY rowid").fetchall():
            layer = check_vector(path, db, table, data_type) if table != "layer_styles" else None
            if layer is not None and layer.isSpatial():
                renderer_of[(os.path.realpath(path), table)] = layer.renderer().type()
        db.close()
    rasters = sorted(glob.glob(os.path.join(outdir, "*.tif")))
    for path in rasters:
        check_raster(path, tile_dirs)

    # The project.
    project = QgsProject.instance()
    if not check(project.read(project_path), f"QGIS cannot read the project {project_path}"):
        return finish(app)
    check(project.crs().authid() == "EPSG:27700", f"project CRS {project.crs().authid()}, expected EPSG:27700")
    layers = list(project.mapLayers().values())
    expected_count = len(ET.parse(project_path).getroot().findall("projectlayers/maplayer"))
    check(len(layers) == expected_count, f"project: {len(layers)} layers loaded, {expected_count} in the file")
    for layer in layers:
        check(layer.isValid(), f"project: layer {layer.name()} ({layer.source()}) is not valid")
        if isinstance(layer, QgsVectorLayer) and layer.isSpatial():
            source = layer.source().split("|")[0]
            table = layer.source().split("layername=")[1].split("|")[0]
            expected = renderer_of.get((os.path.realpath(source), table))
            check(expected is None or layer.renderer().type() == expected,
                  f"project: {layer.name()} drawn with {layer.renderer().type()}, alone with {expected}")
    xyz = [l for l in layers if l.providerType() == "wms"]
    check(len(xyz) == len(tile_dirs), f"project: {len(xyz)} XYZ layers for {len(tile_dirs)} tile folders")
    names = [l.name() for l in project.layerTreeRoot().layerOrder()]
    print("project layers, top first:", ", ".join(names))

    visible = project.layerTreeRoot().checkedLayers()
    check(len(visible) > 0, "project: no layer is shown")
    crs = project.crs()
    extent = project.viewSettings().defaultViewExtent() if hasattr(project, "viewSettings") else None
    if extent is None or extent.isEmpty():
        extent = QgsRectangle()
        for layer in visible:
            transform = QgsCoordinateTransform(layer.crs(), crs, project)
            extent.combineExtentWith(transform.transformBoundingBox(layer.extent()))
    os.makedirs(render_dir, exist_ok=True)
    png = os.path.join(render_dir, "project.png")
    render(visible, QgsRectangle(extent), crs, png)
    not_blank(png, "project render")
    tiles_png = surface_png = None
    for layer in xyz:
        tiles_png = os.path.join(render_dir, "tiles.png")
        render([layer], QgsRectangle(extent), crs, tiles_png)
        not_blank(tiles_png, f"tile layer {layer.name()} render", minimum_share=0.01)
    for layer in layers:
        if isinstance(layer, QgsRasterLayer) and layer.providerType() == "gdal":
            surface_png = os.path.join(render_dir, "surface.png")
            layer.renderer().setOpacity(1.0)  # the style draws it at 0.8 over the basemap; the tiles are opaque
            render([layer], QgsRectangle(extent), crs, surface_png)
            not_blank(surface_png, f"surface {layer.name()} render", minimum_share=0.01)
    if tiles_png and surface_png and len(xyz) == 1 and len(rasters) == 1:
        same_colours(surface_png, tiles_png)
    return finish(app)


def finish(app):
    QgsProject.instance().clear()
    app.exitQgis()
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all QGIS checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
