#!/usr/bin/python3
"""Checks for the tiles CLI tests (run with /usr/bin/python3: needs osgeo and numpy).

  tiles_check.py pngs DIR SIZE            every DIR/z/x/y.png decodes to SIZE x SIZE with an alpha channel; none is
                                          fully transparent; some pixels somewhere are transparent
  tiles_check.py list DIR [--tms]         prints "z x y" (XYZ) of every tile, sorted
  tiles_check.py mbtiles FILE DIR         MBTiles metadata and rows match the folder DIR (TMS rows, same bytes)
  tiles_check.py gdal2tiles G2T HM Z1 Z2 TOLERANCE
                                          harmmap's tiles (HM) line up with gdal2tiles' (G2T, --xyz): the same tile
                                          names, and transparent/opaque pixels differing at no more than TOLERANCE
                                          (a fraction; 0 = identical) [RASTER: only tiles inside this raster]
  tiles_check.py truth RASTER HM Z        for RASTER on zoom Z's pixel grid (EPSG:3857): the tiles are exactly
                                          its pixels (opaque where > 0), edge tiles included
  tiles_check.py screenshot FILE          a browser screenshot shows the ramp's colours (not blank)
"""
import os
import sqlite3
import sys

import numpy as np
from osgeo import gdal

gdal.UseExceptions()


def fail(message):
    print("tiles_check: " + message)
    sys.exit(1)


def tiles(folder, tms=False):
    out = []
    for z in sorted(os.listdir(folder)):
        if not z.isdigit():
            continue
        for x in os.listdir(os.path.join(folder, z)):
            for name in os.listdir(os.path.join(folder, z, x)):
                if name.endswith(".png"):
                    y = int(name[:-4])
                    if tms:
                        y = 2 ** int(z) - 1 - y
                    out.append((int(z), int(x), y))
    return sorted(out)


def path_of(folder, z, x, y, tms=False):
    row = 2 ** z - 1 - y if tms else y
    return os.path.join(folder, str(z), str(x), "%d.png" % row)


def rgba(path):
    """Decodes a PNG to an (h, w, 4) array, expanding a palette (with tRNS alpha) the way a browser does."""
    ds = gdal.Open(path)
    bands = ds.RasterCount
    if bands == 1 and ds.GetRasterBand(1).GetColorTable() is not None:
        ct = ds.GetRasterBand(1).GetColorTable()
        lut = np.array([ct.GetColorEntry(i) if i < ct.GetCount() else (0, 0, 0, 0) for i in range(256)],
                       dtype=np.uint8)
        return lut[ds.GetRasterBand(1).ReadAsArray()]
    a = ds.ReadAsArray()
    if bands == 4:
        return np.moveaxis(a, 0, -1)
    if bands == 3:
        return np.concatenate([np.moveaxis(a, 0, -1), np.full(a.shape[1:] + (1,), 255, np.uint8)], axis=-1)
    fail("%s: unexpected PNG with %d bands" % (path, bands))


def check_pngs(folder, size):
    found = tiles(folder)
    if not found:
        fail("no tiles in " + folder)
    transparent = 0
    for z, x, y in found:
        p = path_of(folder, z, x, y)
        with open(p, "rb") as f:
            if f.read(8) != b"\x89PNG\r\n\x1a\n":
                fail(p + ": not a PNG")
        img = rgba(p)
        if img.shape != (size, size, 4):
            fail("%s: decodes to %s, expected %dx%d RGBA" % (p, img.shape, size, size))
        if not (img[:, :, 3] > 0).any():
            fail(p + ": fully transparent tile was written")
        transparent += int((img[:, :, 3] == 0).sum())
    if transparent == 0:
        fail("no transparent pixel in any tile: zero/threshold is not transparent")
    print("%d tiles decode to %dx%d RGBA; %d transparent pixels" % (len(found), size, size, transparent))


def check_mbtiles(path, folder):
    db = sqlite3.connect(path)
    meta = dict(db.execute("SELECT name, value FROM metadata"))
    for key in ("name", "format", "bounds", "center", "minzoom", "maxzoom", "attribution", "value_min", "value_max"):
        if key not in meta:
            fail("%s: metadata has no %s row" % (path, key))
    if meta["format"] != "png":
        fail("format is %r" % meta["format"])
    w, s, e, n = (float(v) for v in meta["bounds"].split(","))
    if not (-180 <= w < e <= 180 and -85.06 <= s < n <= 85.06):
        fail("bad bounds " + meta["bounds"])
    if not float(meta["value_max"]) > float(meta["value_min"]):
        fail("bad value range")
    rows = {(z, x, 2 ** z - 1 - r): bytes(d) for z, x, r, d in
            db.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles")}
    found = tiles(folder)
    if sorted(rows) != found:
        fail("MBTiles rows (%d) differ from the folder's tiles (%d)" % (len(rows), len(found)))
    for z, x, y in found:
        with open(path_of(folder, z, x, y), "rb") as f:
            if f.read() != rows[(z, x, y)]:
                fail("tile %d/%d/%d differs between MBTiles and the folder" % (z, x, y))
    zooms = sorted({t[0] for t in found})
    if int(meta["minzoom"]) > zooms[0] or int(meta["maxzoom"]) < zooms[-1]:
        fail("minzoom/maxzoom do not cover the tiles")
    print("MBTiles: %d rows in TMS order equal the folder; metadata %s" % (len(rows), sorted(meta)))


def grid_offsets(raster, z):
    """Pixel offsets of a raster that lies on zoom z's pixel grid (EPSG:3857), and its values."""
    ds = gdal.Open(raster)
    gt = ds.GetGeoTransform()
    shift = 20037508.342789244
    res = 2 * np.pi * 6378137 / 256 / 2 ** z
    ox, oy = (gt[0] + shift) / res, (shift - gt[3]) / res
    if abs(gt[1] - res) > 1e-9 * res or abs(ox - round(ox)) > 1e-6 or abs(oy - round(oy)) > 1e-6:
        fail(raster + " is not on zoom %d's pixel grid" % z)
    return int(round(ox)), int(round(oy)), ds.ReadAsArray()


def interior(raster, z, t):
    ox, oy, v = grid_offsets(raster, z)
    h, w = v.shape
    return ox <= t[1] * 256 and (t[1] + 1) * 256 <= ox + w and oy <= t[2] * 256 and (t[2] + 1) * 256 <= oy + h


def check_truth(raster, hm, z):
    """Tiles of a raster on the zoom's pixel grid, cut with nearest neighbour, are exactly its pixels."""
    ox, oy, v = grid_offsets(raster, z)
    h, w = v.shape
    expected = set()
    for ty in range(oy // 256, (oy + h - 1) // 256 + 1):
        for tx in range(ox // 256, (ox + w - 1) // 256 + 1):
            truth = np.zeros((256, 256), bool)
            gy0, gx0 = ty * 256, tx * 256
            y0, y1 = max(gy0, oy), min(gy0 + 256, oy + h)
            x0, x1 = max(gx0, ox), min(gx0 + 256, ox + w)
            truth[y0 - gy0:y1 - gy0, x0 - gx0:x1 - gx0] = v[y0 - oy:y1 - oy, x0 - ox:x1 - ox] > 0
            if truth.any():
                expected.add((z, tx, ty))
                p = path_of(hm, z, tx, ty)
                if not os.path.exists(p):
                    fail("tile %d/%d/%d is missing" % (z, tx, ty))
                got = rgba(p)[:, :, 3] > 0
                if (got != truth).any():
                    fail("tile %d/%d/%d: %d pixels differ from the raster" % (z, tx, ty, int((got != truth).sum())))
    found = set(t for t in tiles(hm) if t[0] == z)
    if found != expected:
        fail("tiles %s should not exist" % sorted(found - expected))
    print("%d tiles at zoom %d are exactly the raster's pixels" % (len(found), z))


def check_gdal2tiles(g2t, hm, z1, z2, tolerance, only_interior_of=None):
    ours = set(t for t in tiles(hm) if z1 <= t[0] <= z2)
    theirs = set(t for t in tiles(g2t) if z1 <= t[0] <= z2)
    if only_interior_of:
        ours = set(t for t in ours if interior(only_interior_of, t[0], t))
        theirs = set(t for t in theirs if interior(only_interior_of, t[0], t))
    only_ours, only_theirs = ours - theirs, theirs - ours
    both = ours & theirs
    if not both:
        fail("no tile in common")
    # A tile can exist on one side only where a few edge pixels differ, as many as the pixel tolerance allows.
    if len(only_ours) + len(only_theirs) > tolerance * len(ours | theirs):
        fail("tile sets differ: %d only in harmmap, %d only in gdal2tiles (of %d)"
             % (len(only_ours), len(only_theirs), len(ours | theirs)))
    differing = total = 0
    for t in sorted(both):
        a = rgba(path_of(hm, *t))[:, :, 3] > 0
        b = rgba(path_of(g2t, *t))[:, :, 3] > 0
        differing += int((a != b).sum())
        total += a.size
    share = differing / total
    print("gdal2tiles: %d tiles in common, %d/%d only on one side; opaque/transparent differ at %.4f%% of pixels"
          % (len(both), len(only_ours), len(only_theirs), 100 * share))
    if share > tolerance:
        fail("transparent/opaque pixels disagree at %.3f%% of pixels (tolerance %.3f%%)" % (100 * share,
                                                                                        100 * tolerance))


def check_screenshot(path):
    img = rgba(path).astype(np.int32)
    r, g, b = img[:, :, 0], img[:, :, 1], img[:, :, 2]
    saturation = np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)
    coloured = saturation > 60
    share = coloured.mean()
    distinct = len(np.unique(img[coloured][:, :3], axis=0)) if coloured.any() else 0
    print("screenshot %s: %dx%d, %.1f%% of pixels in colour, %d distinct colours"
          % (path, img.shape[1], img.shape[0], 100 * share, distinct))
    if share < 0.02 or distinct < 20:
        fail("the screenshot is blank or shows no tiles")


cmd = sys.argv[1]
if cmd == "pngs":
    check_pngs(sys.argv[2], int(sys.argv[3]))
elif cmd == "list":
    for t in tiles(sys.argv[2], "--tms" in sys.argv):
        print("%d %d %d" % t)
elif cmd == "mbtiles":
    check_mbtiles(sys.argv[2], sys.argv[3])
elif cmd == "gdal2tiles":
    check_gdal2tiles(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]),
                     sys.argv[7] if len(sys.argv) > 7 else None)
elif cmd == "truth":
    check_truth(sys.argv[2], sys.argv[3], int(sys.argv[4]))
elif cmd == "screenshot":
    check_screenshot(sys.argv[2])
else:
    fail("unknown check " + cmd)
