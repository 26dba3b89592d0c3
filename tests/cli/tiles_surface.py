#!/usr/bin/python3
"""Makes Float32 GeoTIFF test surfaces for the tiles tests and scripts/bench-tiles (run with /usr/bin/python3).

A surface is a sum of quartic-kernel bumps (exactly zero beyond the bandwidth, like a kernel density surface) at
points clustered around a few towns, on a grid in British National Grid (EPSG:27700) near E 360000 N 170000.

  tiles_surface.py OUT.tif [--width-km 60] [--height-km 40] [--cell-m 25] [--points 2000] [--seed 1]
                   [--bandwidth-m 500] [--add-points N --add-near E,N --add-radius-m R]
                   [--nodata V] [--no-georef] [--crs local]

--add-points puts N more points within R metres of (E, N): the "new incidents in one district" change.
"""
import argparse
import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--width-km", type=float, default=60)
p.add_argument("--height-km", type=float, default=40)
p.add_argument("--cell-m", type=float, default=25)
p.add_argument("--points", type=int, default=2000)
p.add_argument("--seed", type=int, default=1)
p.add_argument("--bandwidth-m", type=float, default=500)
p.add_argument("--add-points", type=int, default=0)
p.add_argument("--add-near", default="")
p.add_argument("--add-radius-m", type=float, default=1000)
p.add_argument("--nodata", type=float, default=None)
p.add_argument("--no-georef", action="store_true")
p.add_argument("--crs", default="EPSG:27700")
a = p.parse_args()

west, north = 360000 - a.width_km * 500, 170000 + a.height_km * 500
nx, ny = int(round(a.width_km * 1000 / a.cell_m)), int(round(a.height_km * 1000 / a.cell_m))
rng = np.random.default_rng(a.seed)
mx, my = min(5000, a.width_km * 200), min(5000, a.height_km * 200)
towns = rng.uniform([west + mx, north - a.height_km * 1000 + my], [west + a.width_km * 1000 - mx, north - my],
                    size=(6, 2))
spread = rng.uniform(1500, 4000, size=6) * min(1, a.width_km / 40)
which = rng.integers(0, 6, size=a.points)
pts = towns[which] + rng.normal(size=(a.points, 2)) * spread[which, None]
weights = rng.choice([1.0, 2.0, 5.0, 20.0], size=a.points, p=[0.6, 0.25, 0.1, 0.05])
if a.add_points:
    e, n = (float(v) for v in a.add_near.split(","))
    extra_rng = np.random.default_rng(a.seed + 1000)
    ang = extra_rng.uniform(0, 2 * np.pi, a.add_points)
    rad = a.add_radius_m * np.sqrt(extra_rng.uniform(0, 1, a.add_points))
    extra = np.stack([e + rad * np.cos(ang), n + rad * np.sin(ang)], axis=1)
    pts = np.concatenate([pts, extra])
    weights = np.concatenate([weights, extra_rng.choice([1.0, 2.0, 5.0], size=a.add_points)])

grid = np.zeros((ny, nx), dtype=np.float64)
h = a.bandwidth_m
r = int(np.ceil(h / a.cell_m)) + 1
offs = (np.arange(-r, r + 1)) * a.cell_m
for (px, py), wgt in zip(pts, weights):
    cx = int((px - west) / a.cell_m)
    cy = int((north - py) / a.cell_m)
    x0, x1 = max(cx - r, 0), min(cx + r + 1, nx)
    y0, y1 = max(cy - r, 0), min(cy + r + 1, ny)
    if x0 >= x1 or y0 >= y1:
        continue
    xs = west + (np.arange(x0, x1) + 0.5) * a.cell_m - px
    ys = north - (np.arange(y0, y1) + 0.5) * a.cell_m - py
    d2 = (xs[None, :] ** 2 + ys[:, None] ** 2) / (h * h)
    k = np.where(d2 < 1, (1 - d2) ** 2, 0.0) * (3 / (np.pi * h * h)) * 1e6 * wgt  # per km^2
    grid[y0:y1, x0:x1] += k
grid = grid.astype(np.float32)
if a.nodata is not None:
    grid[:, :3] = a.nodata

ds = gdal.GetDriverByName("GTiff").Create(a.out, nx, ny, 1, gdal.GDT_Float32, ["COMPRESS=DEFLATE", "TILED=YES"])
if not a.no_georef:
    ds.SetGeoTransform((west, a.cell_m, 0, north, 0, -a.cell_m))
    if a.crs == "local":
        srs = osr.SpatialReference()
        srs.SetLocalCS("site grid")
        ds.SetProjection(srs.ExportToWkt())
    else:
        srs = osr.SpatialReference()
        srs.SetFromUserInput(a.crs)
        ds.SetProjection(srs.ExportToWkt())
band = ds.GetRasterBand(1)
if a.nodata is not None:
    band.SetNoDataValue(a.nodata)
band.WriteArray(grid)
ds = None
