"""sampledata.py - a synthetic but realistic harm-mapping data set in British National Grid (EPSG:27700).

Used by scripts/make-sample-data. Everything comes from one seeded numpy Generator, in a fixed order, and every
file is written without timestamps (GeoPackages with OGR_CURRENT_DATE pinned), so a run gives the same bytes on
the same Debian release (GDAL 3.6.2, SQLite 3.40.1, PROJ 9.1.1, numpy 1.24, shapely 1.8).

How the boundaries are made, and why it yields an exact tiling:
  1. A convex outline frame and ward seeds (blue-noise, denser near the city centre, so central wards are small).
  2. Voronoi cells of the seeds clipped to the frame by half-planes. Every cell edge is labelled with what made
     it (the neighbouring seed, or a side of the frame) and every cell vertex is keyed by the three labels that
     meet there, so a vertex shared by three cells has one key and one coordinate.
  3. Each edge is replaced once by a wiggly polyline (a Brownian bridge of "knots" every ~150 m, plus fine points
     with metre-scale noise every few tens of metres) that both neighbouring cells use, one of them reversed:
     shared boundaries are identical vertex for vertex.
  4. The polyline is kept inside the edge's "diamond": the triangles (seed, edge end, edge end) on either side,
     shrunk to 45% of their height. A convex cell is the fan of such triangles around its seed, so the triangles
     of different edges never overlap and no two boundaries can cross: the wards are valid and tile the outline
     with no gaps or overlaps by construction (and tests check it).
  5. One ward gets a hole around its seed (inside every shrunk triangle, so it touches nothing) that is filled by
     a detached second part of a neighbouring ward.
Beats are a second, coarser Voronoi tiling with their own wiggly edges, cut to the same outline by polygonizing
the outline ring together with the beat edges, so the beats' union is the wards' union.

Incidents are snapped to "street points", as data.police.uk does: short synthetic streets placed by an urban
density surface, a few long main roads through the centres (hot spots), and named public places (Supermarket,
Nightclub, Parking Area ...). Each crime type draws street points with its own weights (shoplifting near shops,
vehicle crime at car parks, violence on the night-time economy streets). Longitude/latitude come from PROJ's
OSGB36 Helmert transformation, pinned as an explicit pipeline so a machine with the OSTN15 grid gives the same
numbers.
"""

import math
import os
import shutil

import numpy as np

from osgeo import gdal, ogr, osr
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.ops import polygonize, unary_union
import shapely.vectorized
from shapely import wkb as shapely_wkb

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()

FIXED_DATE = "2026-01-01T00:00:00.000Z"  # the GeoPackage format wants milliseconds (validate_gpkg.py)

# OSGB36 / British National Grid -> WGS84 lon/lat: PROJ's default choice on Debian bookworm (no OSTN15 grid),
# written out so that the result does not depend on which grids a machine has.
BNG_TO_WGS84 = ("+proj=pipeline "
                "+step +inv +proj=tmerc +lat_0=49 +lon_0=-2 +k=0.9996012717 +x_0=400000 +y_0=-100000 +ellps=airy "
                "+step +proj=push +v_3 +step +proj=cart +ellps=airy "
                "+step +proj=helmert +x=446.448 +y=-125.157 +z=542.06 +rx=0.15 +ry=0.247 +rz=0.842 +s=-20.489 "
                "+convention=position_vector "
                "+step +inv +proj=cart +ellps=WGS84 +step +proj=pop +v_3 "
                "+step +proj=unitconvert +xy_in=rad +xy_out=deg")

FORCE = "Avon and Somerset Constabulary"
MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]
MONTH_SHARE = [0.155, 0.150, 0.166, 0.164, 0.180, 0.185]  # mild spring rise, as in real series

# data.police.uk categories and their shares in the real Avon and Somerset file for 2023-01 (12,566 rows).
CRIME_TYPES = [
    ("Violence and sexual offences", 4737), ("Anti-social behaviour", 1511), ("Public order", 1239),
    ("Criminal damage and arson", 1047), ("Shoplifting", 992), ("Other theft", 875), ("Vehicle crime", 710),
    ("Burglary", 603), ("Other crime", 238), ("Drugs", 211), ("Bicycle theft", 149), ("Robbery", 124),
    ("Theft from the person", 70), ("Possession of weapons", 60)]

OUTCOMES_OPEN = "Under investigation"
OUTCOMES_CLOSED = [
    ("Unable to prosecute suspect", 40), ("Investigation complete; no suspect identified", 30),
    ("Awaiting court outcome", 6), ("Local resolution", 4), ("Further investigation is not in the public interest", 3),
    ("Formal action is not in the public interest", 3), ("Offender given a caution", 3),
    ("Action to be taken by another organisation", 2), ("Further action is not in the public interest", 2),
    ("Suspect charged as part of another case", 1), ("Court result unavailable", 1)]
# Proactive offences are found with a suspect in hand: more of them end in court or a caution.
OUTCOMES_PROACTIVE = [
    ("Local resolution", 22), ("Awaiting court outcome", 18), ("Offender given a caution", 14),
    ("Unable to prosecute suspect", 14), ("Formal action is not in the public interest", 8),
    ("Offender given a drugs possession warning", 10), ("Further action is not in the public interest", 5),
    ("Suspect charged as part of another case", 3)]

PLACE_NAMES = ["Supermarket", "Parking Area", "Petrol Station", "Nightclub", "Shopping Area",
               "Sports/Recreation Area", "Further/Higher Educational Building", "Hospital", "Police Station",
               "Theatre/Concert Hall", "Conference/Exhibition Centre"]

WARD_STEMS = ["Ash", "Alder", "Barrow", "Beck", "Birch", "Bramble", "Brook", "Bur", "Chal", "Clay", "Cold", "Cran",
              "Dun", "East", "Elm", "Fair", "Fern", "Glen", "Hay", "Hart", "Hazel", "Holly", "Kings", "Lang",
              "Lark", "Lime", "Long", "March", "Mill", "Moor", "Nether", "North", "Oak", "Old", "Pen", "Pill",
              "Red", "Rock", "Rose", "Rush", "Sand", "South", "Stan", "Stock", "Stone", "Thorn", "Up", "Wal",
              "West", "Whit", "Wick", "Willow", "Wind", "Wood", "Yew", "Hen", "Frog", "Lynd", "Bre", "Quen"]
WARD_SUFFIXES = ["bury", "combe", "cote", "down", "field", "ford", "gate", "ham", "hill", "hurst", "leigh", "ley",
                 "mead", "more", "stead", "stoke", "ton", "well", "wick", "wood", "worth", "brook"]
WARD_QUALIFIERS = ["Park", "Vale", "Common", "Heath", "Green", "Central", "East", "West", "North", "South"]

STREET_STEMS = ["Abbot", "Albert", "Alma", "Ashley", "Avon", "Beaufort", "Belmont", "Berkeley", "Bishop",
                "Brunswick", "Cabot", "Canterbury", "Carlton", "Castle", "Cedar", "Chapel", "Chester", "Church",
                "Clarence", "College", "Coronation", "Cromwell", "Dean", "Dover", "Duke", "Elmgrove", "Exeter",
                "Fairfield", "Grange", "Grosvenor", "Hamilton", "Hanover", "Harcourt", "Holmes", "Jubilee",
                "Kenilworth", "Kensington", "King", "Lancaster", "Linden", "Manor", "Marlborough", "Meadow",
                "Melbourne", "Mill", "Nelson", "Newton", "Orchard", "Pembroke", "Priory", "Queen", "Richmond",
                "Rodney", "Russell", "St. Andrew'S", "St. John'S", "St. Mark'S", "Canon'S", "School", "Somerset",
                "Spring", "Station", "Stanley", "Sycamore", "Trinity", "Union", "Vicarage", "Victoria", "Waterloo",
                "Wellington", "Willow", "Windsor", "York", "Addison", "Blenheim", "Badminton", "Coombe", "Dunster",
                "Fremantle", "Glebe", "Harbour", "Ivy", "Kingsley", "Lawrence", "Morley", "Norfolk", "Oxford",
                "Percival", "Quarry", "Raleigh", "Seymour", "Tyndale", "Upton", "Vernon", "Whiteway", "Wyndham"]
STREET_TYPES = [("Road", 25), ("Street", 13), ("Close", 12), ("Lane", 6), ("Avenue", 4.5), ("Way", 3),
                ("Drive", 2.5), ("Court", 2.4), ("Place", 2.2), ("Walk", 2.1), ("Gardens", 1.9), ("Crescent", 1.6),
                ("Grove", 1.3), ("Park", 1.2), ("Hill", 1.2), ("Square", 1.0), ("Terrace", 1.0), ("Parade", 0.7),
                ("View", 0.7), ("Mews", 0.6), ("Mead", 0.4), ("Row", 0.4), ("Green", 0.35), ("Rise", 0.3)]
MAIN_STREET_NAMES = ["High Street", "Broad Street", "Gloucester Road", "Bath Road", "Stapleton Road", "North Street",
                     "Church Road", "Station Road", "Market Street", "London Road", "Wells Road", "West Street",
                     "East Street", "Regent Street", "Bridge Street", "Fishponds Road", "Whiteladies Road",
                     "Coronation Road", "Park Street", "Victoria Street", "Queen Street", "Castle Street",
                     "New Road", "Mill Lane", "Cheltenham Road", "Bedminster Parade", "Two Mile Hill Road",
                     "Soundwell Road", "Filton Road", "Kingsway", "Hotwell Road", "Winterstoke Road"]

INTEL_CATEGORIES = [("Drugs supply", 34), ("County lines", 16), ("Exploitation", 10), ("Firearms", 6),
                    ("Knife crime", 12), ("Money laundering", 7), ("Modern slavery", 5), ("Acquisitive crime", 10)]

# Local authority districts (real codes and names; the wards inside them are invented).
LAD_BRISTOL = ("E06000023", "Bristol")
LAD_SOUTH_GLOS = ("E06000025", "South Gloucestershire")
LAD_NORTH_SOMERSET = ("E06000024", "North Somerset")
LAD_BANES = ("E06000022", "Bath and North East Somerset")
LAD_SOMERSET = ("E06000066", "Somerset")


class Config:
    """Scale parameters of one data set (sample or large)."""

    def __init__(self, large, incidents=None, seed=None):
        self.large = large
        self.centre = (360000.0, 170000.0) if not large else (360000.0, 167000.0)
        if not large:
            self.seed = 20260101 if seed is None else seed
            self.size = (12000.0, 9000.0)
            self.wards = 36
            self.beats = 6
            self.target_vertices = 9000
            self.knot_spacing = 150.0
            self.incidents = 3600 if incidents is None else incidents
            self.intel = 400
            self.postcodes = 400
            self.lsoa_spacing = 700.0
            self.streets = 900
            self.main_streets = 6
            self.district_centres = 5
            self.towns = 0
            self.city_sigma = 3000.0
            self.rural_floor = 0.08
            self.rings = [1500.0, 3500.0, 1e12]
        else:
            self.seed = 20260102 if seed is None else seed
            self.size = (60000.0, 40000.0)
            self.wards = 400
            self.beats = 60
            self.target_vertices = 95000
            self.knot_spacing = 200.0
            self.incidents = 1000000 if incidents is None else incidents
            self.intel = max(300, self.incidents // 50)
            self.postcodes = 8000
            self.lsoa_spacing = 900.0
            self.streets = 16000
            self.main_streets = 32
            self.district_centres = 14
            self.towns = 5
            self.city_sigma = 4500.0
            self.rural_floor = 0.02
            self.rings = [2000.0, 5000.0, 12000.0, 20000.0, 1e12]


# ---------------------------------------------------------------------------------------------------------------
# Density surface: where people, streets and crime are.

class Density:
    """Sum of Gaussian urban centres over a rural floor; coordinates are local (metres from the centre)."""

    def __init__(self, cfg, rng, frame):
        w, h = cfg.size
        self.centres = [(0.0, 0.0, 1.0, cfg.city_sigma)]
        self.district = []
        for _ in range(cfg.district_centres):
            while True:
                r = rng.uniform(0.25, 0.85) * min(w, h) / 2 if not cfg.large else rng.uniform(2500, 14000)
                a = rng.uniform(0, 2 * math.pi)
                x, y = r * math.cos(a), r * math.sin(a)
                if frame.contains(Point(x, y)):
                    break
            self.centres.append((x, y, 0.55, rng.uniform(500, 900)))
            self.district.append((x, y))
        for _ in range(cfg.towns):
            while True:
                x, y = rng.uniform(-0.42, 0.42) * w, rng.uniform(-0.4, 0.4) * h
                if math.hypot(x, y) > 14000 and frame.contains(Point(x, y)):
                    break
            self.centres.append((x, y, 0.7, rng.uniform(1200, 2000)))
            self.district.append((x, y))
        self.floor = cfg.rural_floor
        self.cache = {}

    def __call__(self, x, y):
        d = np.full(np.shape(x), self.floor, dtype=float)
        for cx, cy, amp, sigma in self.centres:
            d += amp * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma * sigma))
        return d

    def sample(self, rng, n, frame_bounds, power=1.0, cell=100.0):
        """n points drawn from density**power over the bounds (grid cells of `cell` metres, uniform inside)."""
        key = (tuple(frame_bounds), power, cell)
        if key not in self.cache:
            x0, y0, x1, y1 = frame_bounds
            xs = np.arange(x0, x1, cell) + cell / 2
            ys = np.arange(y0, y1, cell) + cell / 2
            gx, gy = np.meshgrid(xs, ys)
            p = self(gx.ravel(), gy.ravel()) ** power
            self.cache[key] = (gx.ravel(), gy.ravel(), np.cumsum(p / p.sum()))
        gx, gy, cdf = self.cache[key]
        idx = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), cdf.size - 1)
        return (gx[idx] + rng.uniform(-cell / 2, cell / 2, n),
                gy[idx] + rng.uniform(-cell / 2, cell / 2, n))


# ---------------------------------------------------------------------------------------------------------------
# Frame, seeds and labelled Voronoi cells.

def make_frame(cfg, rng):
    """A convex, rounded-rectangle-like outline (local coordinates, counter-clockwise, no repeated vertex)."""
    w, h = cfg.size
    n = 14
    pts = []
    for k in range(n):
        a = 2 * math.pi * (k + rng.uniform(-0.3, 0.3)) / n
        c, s = math.cos(a), math.sin(a)
        # superellipse of exponent 4: close to the rectangle w x h with rounded corners
        r = 1.0 / (abs(c) ** 4 + abs(s * w / h) ** 4) ** 0.25
        r *= rng.uniform(0.93, 1.0)
        pts.append((0.5 * w * r * c, 0.5 * w * r * s))
    hull = Polygon(pts).convex_hull
    coords = list(hull.exterior.coords)[:-1]
    if Polygon(coords).exterior.is_ccw is False:
        coords.reverse()
    return [(round(x, 2), round(y, 2)) for x, y in coords]


def blue_noise_seeds(rng, n, density, frame_poly, power, candidates=24, margin=150.0):
    """Best-candidate sampling: each new seed is the candidate farthest from the others, in units of the local
    spacing expected from the density, so seeds are even but denser where the density is high."""
    inner = frame_poly.buffer(-margin)
    bounds = frame_poly.bounds
    pts = np.empty((0, 2))
    while len(pts) < n:
        cx, cy = density.sample(rng, candidates, bounds, power=power)
        inside = shapely.vectorized.contains(inner, cx, cy)
        cx, cy = cx[inside], cy[inside]
        if cx.size == 0:
            continue
        if len(pts) == 0:
            pts = np.array([[cx[0], cy[0]]])
            continue
        spacing = density(cx, cy) ** (-power / 2)
        d = np.sqrt((cx[:, None] - pts[None, :, 0]) ** 2 + (cy[:, None] - pts[None, :, 1]) ** 2).min(axis=1)
        best = int(np.argmax(d / spacing))
        pts = np.vstack([pts, [cx[best], cy[best]]])
    return pts


def frame_label(side):
    return -(side + 1)


def voronoi_cells(seeds, frame):
    """Voronoi cells of `seeds` clipped to the convex `frame`, by half-plane clipping.

    Returns (cells, vertices): cells[i] is a list of (vertex_key, edge_label) in counter-clockwise order, where
    edge_label labels the edge from that vertex to the next (a neighbour's index, or frame_label(side));
    vertices maps a key (the sorted triple of labels meeting there, the cell's own index included) to (x, y).
    """
    n = len(seeds)
    frame_cell = [((x, y), frame_label(k)) for k, (x, y) in enumerate(frame)]
    cells, vertices = [], {}
    for i in range(n):
        sx, sy = seeds[i]
        poly = list(frame_cell)
        order = np.argsort((seeds[:, 0] - sx) ** 2 + (seeds[:, 1] - sy) ** 2, kind="stable")
        for j in order:
            j = int(j)
            if j == i:
                continue
            dist = math.hypot(seeds[j, 0] - sx, seeds[j, 1] - sy)
            reach = max(math.hypot(p[0] - sx, p[1] - sy) for p, _ in poly)
            if dist > 2 * reach:
                break
            a, b = seeds[j, 0] - sx, seeds[j, 1] - sy
            c = (seeds[j, 0] ** 2 + seeds[j, 1] ** 2 - sx * sx - sy * sy) / 2
            poly = clip_half_plane(poly, a, b, c, j)
        ring = []
        for k, (p, label) in enumerate(poly):
            incoming = poly[k - 1][1]
            key = tuple(sorted((i, incoming, label)))
            if len(set(key)) != 3:
                raise RuntimeError("degenerate Voronoi cell %d (choose another --seed)" % i)
            if key not in vertices:
                vertices[key] = (round(p[0], 2), round(p[1], 2))
            ring.append((key, label))
        cells.append(ring)
    return cells, vertices


def clip_half_plane(poly, a, b, c, label):
    """Sutherland-Hodgman clip of a convex labelled polygon to a*x + b*y <= c; the cut edge gets `label`."""
    out = []
    m = len(poly)
    for k in range(m):
        (px, py), lab = poly[k]
        (qx, qy), _ = poly[(k + 1) % m]
        fp, fq = a * px + b * py - c, a * qx + b * qy - c
        if fp <= 0:
            out.append(((px, py), lab))
            if fq > 0:
                t = fp / (fp - fq)
                out.append(((px + t * (qx - px), py + t * (qy - py)), label))
        elif fq <= 0:
            t = fp / (fp - fq)
            out.append(((px + t * (qx - px), py + t * (qy - py)), lab))
    return out


def cell_edges(cells):
    """Edges as {edge_key: (vertex_key_a, vertex_key_b, left_seed, right_seed)} with a < b canonical order; the
    seed on each side of a->b (None outside the frame)."""
    edges = {}
    for i, ring in enumerate(cells):
        m = len(ring)
        for k in range(m):
            va, label = ring[k]
            vb = ring[(k + 1) % m][0]
            ek = (min(i, label), max(i, label)) if label >= 0 else (i, label)
            # cell i is counter-clockwise, so it lies on the left of va->vb
            if va < vb:
                entry = (va, vb, i, None if label < 0 else label)
            else:
                entry = (vb, va, None if label < 0 else label, i)
            if ek in edges:
                if (edges[ek][0], edges[ek][1]) != (entry[0], entry[1]):
                    raise RuntimeError("Voronoi edge %s seen with different ends (choose another --seed)" % (ek,))
            else:
                edges[ek] = entry
    return edges


# ---------------------------------------------------------------------------------------------------------------
# Wiggly edges.

def triangle_height(t, p0, p1, apex):
    """Height over segment p0->p1 (at parameter t) of the triangle (p0, p1, apex), towards the apex."""
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    length2 = dx * dx + dy * dy
    ax, ay = apex[0] - p0[0], apex[1] - p0[1]
    tp = (ax * dx + ay * dy) / length2
    hp = abs(ax * dy - ay * dx) / math.sqrt(length2)
    h = np.full(np.shape(t), np.inf)
    if tp > 0:
        h = np.minimum(h, hp * t / tp)
    if tp < 1:
        h = np.minimum(h, hp * (1 - t) / (1 - tp))
    return h


def wiggle(rng, p0, p1, left_apex, right_apex, seg_m, knot_m, fine_sigma_m):
    """Polyline from p0 to p1 that meanders (Brownian bridge knots + fine noise) but stays inside the shrunk
    triangles towards the apexes (an apex of None: outside the frame, use an isosceles triangle of height
    0.3 x length). Returns an (n, 2) array rounded to the centimetre, ends exactly p0 and p1."""
    length = math.hypot(p1[0] - p0[0], p1[1] - p0[1])
    n_knots = max(1, int(round(length / knot_m)))
    steps = rng.normal(0.0, 0.35 * knot_m, n_knots)
    walk = np.concatenate([[0.0], np.cumsum(steps)])
    tk = np.linspace(0.0, 1.0, n_knots + 1)
    walk -= tk * walk[-1]
    n_fine = max(1, int(round(length / seg_m)))
    t = np.linspace(0.0, 1.0, n_fine + 1)
    off = np.interp(t, tk, walk) + rng.normal(0.0, fine_sigma_m, n_fine + 1)
    off[0] = off[-1] = 0.0

    def limit(apex):
        if apex is None:
            return 0.6 * length * np.minimum(t, 1 - t)
        return triangle_height(t, p0, p1, apex)

    off = np.where(off >= 0, np.minimum(off, 0.45 * limit(left_apex)), np.maximum(off, -0.45 * limit(right_apex)))
    ux, uy = (p1[0] - p0[0]) / length, (p1[1] - p0[1]) / length
    x = p0[0] + t * (p1[0] - p0[0]) - uy * off
    y = p0[1] + t * (p1[1] - p0[1]) + ux * off
    pts = np.round(np.column_stack([x, y]), 2)
    pts[0], pts[-1] = p0, p1
    return pts


def edge_polylines(rng, edges, vertices, seeds, seg_m, knot_m, fine_sigma_m):
    lines = {}
    for ek in sorted(edges, key=repr):
        va, vb, left, right = edges[ek]
        lines[ek] = wiggle(rng, vertices[va], vertices[vb], None if left is None else seeds[left],
                           None if right is None else seeds[right], seg_m, knot_m, fine_sigma_m)
    return lines


def cell_ring(i, ring, edges, lines):
    """The closed coordinate ring of cell i from its shared edge polylines."""
    parts = []
    m = len(ring)
    for k in range(m):
        va, label = ring[k]
        ek = (min(i, label), max(i, label)) if label >= 0 else (i, label)
        line = lines[ek]
        parts.append(line[:-1] if edges[ek][0] == va else line[::-1][:-1])
    coords = np.vstack(parts)
    return np.vstack([coords, coords[:1]])


def total_edge_length(edges, vertices, outside_factor=1.0):
    total = 0.0
    for va, vb, left, right in edges.values():
        (x0, y0), (x1, y1) = vertices[va], vertices[vb]
        total += math.hypot(x1 - x0, y1 - y0) * (2 if left is not None and right is not None else outside_factor)
    return total


# ---------------------------------------------------------------------------------------------------------------
# Names and codes.

def ward_names(rng, n):
    names, seen = [], set()
    while len(names) < n:
        a = WARD_STEMS[rng.integers(len(WARD_STEMS))] + WARD_SUFFIXES[rng.integers(len(WARD_SUFFIXES))]
        roll = rng.random()
        if roll < 0.12:
            b = WARD_STEMS[rng.integers(len(WARD_STEMS))] + WARD_SUFFIXES[rng.integers(len(WARD_SUFFIXES))]
            name = "%s and %s" % (a, b)
        elif roll < 0.22:
            name = "%s %s" % (a, WARD_QUALIFIERS[rng.integers(len(WARD_QUALIFIERS))])
        else:
            name = a
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def street_name(rng, type_names, type_p):
    stem = STREET_STEMS[rng.integers(len(STREET_STEMS))]
    if rng.random() < 0.25:
        stem = WARD_STEMS[rng.integers(len(WARD_STEMS))] + WARD_SUFFIXES[rng.integers(len(WARD_SUFFIXES))]
    return "%s %s" % (stem, type_names[rng.choice(len(type_names), p=type_p)])


def lad_by_position(x, y, cfg):
    """The local authority a place belongs to, by distance and bearing from the city centre."""
    r = math.hypot(x, y)
    bearing = math.degrees(math.atan2(y, x)) % 360  # 0 = east, counter-clockwise
    inner = 4200.0 if not cfg.large else 7500.0
    if r < inner:
        return LAD_BRISTOL
    if 0 <= bearing < 110:
        return LAD_SOUTH_GLOS
    if 110 <= bearing < 235:
        return LAD_NORTH_SOMERSET
    if 235 <= bearing < 290 and cfg.large and r > 16000:
        return LAD_SOMERSET
    if bearing >= 290 or bearing < 0:
        return LAD_BANES
    return LAD_BRISTOL if not cfg.large else LAD_NORTH_SOMERSET


def postcode_district(x, y, cfg):
    r = math.hypot(x, y)
    sector = int(((math.degrees(math.atan2(y, x)) + 22.5) % 360) // 45)  # 0 = east, 1 = north-east ...
    rings = [["BS2", "BS2", "BS1", "BS1", "BS1", "BS1", "BS1", "BS2"],
             ["BS5", "BS5", "BS7", "BS6", "BS8", "BS3", "BS4", "BS4"],
             ["BS15", "BS16", "BS34", "BS10", "BS11", "BS13", "BS14", "BS31"],
             ["BS30", "BS37", "BS35", "BS20", "BS21", "BS40", "BS39", "BS31"],
             ["BA1", "GL12", "BS35", "BS20", "BS22", "BS24", "BS25", "BA2"]]
    for k, limit in enumerate(cfg.rings):
        if r < limit:
            return rings[min(k, len(rings) - 1)][sector]
    return rings[-1][sector]


# ---------------------------------------------------------------------------------------------------------------
# The data set.

class DataSet:
    pass


def build(cfg):
    rng = np.random.Generator(np.random.PCG64(cfg.seed))
    ds = DataSet()
    ds.cfg = cfg
    cx, cy = cfg.centre
    ds.offset, ds.offset_x, ds.offset_y = (cx, cy), cx, cy

    frame = make_frame(cfg, rng)
    frame_poly = Polygon(frame)
    density = Density(cfg, rng, frame_poly)
    ds.density = density

    # --- wards
    seeds = blue_noise_seeds(rng, cfg.wards, density, frame_poly, power=0.55)
    cells, vertices = voronoi_cells(seeds, frame)
    edges = cell_edges(cells)
    seg_m = total_edge_length(edges, vertices) / cfg.target_vertices
    ds.seg_m = seg_m
    lines = edge_polylines(rng, edges, vertices, seeds, seg_m, cfg.knot_spacing, 1.5)
    rings = [cell_ring(i, cells[i], edges, lines) for i in range(len(cells))]
    polygons = [[Polygon(r)] for r in rings]

    # A ward with a hole: the cell whose seed is farthest from its boundary lines (away from the centre), the
    # hole filled by a detached part of its neighbour with the longest shared edge.
    def clearance(i):
        best = math.inf
        sx, sy = seeds[i]
        m = len(cells[i])
        for k in range(m):
            p0 = vertices[cells[i][k][0]]
            p1 = vertices[cells[i][(k + 1) % m][0]]
            dx, dy = p1[0] - p0[0], p1[1] - p0[1]
            best = min(best, abs((sx - p0[0]) * dy - (sy - p0[1]) * dx) / math.hypot(dx, dy))
        return best

    candidates = [i for i in range(len(cells)) if math.hypot(*seeds[i]) > 0.15 * min(cfg.size)]
    holder = max(candidates, key=lambda i: (clearance(i), -i))
    neighbours = [lab for _, lab in cells[holder] if lab >= 0]

    def shared_length(j):
        ek = (min(holder, j), max(holder, j))
        line = lines[ek]
        return float(np.hypot(*np.diff(line, axis=0).T).sum())

    exclave_owner = max(neighbours, key=lambda j: (shared_length(j), -j))
    radius = 0.3 * clearance(holder)
    k = 48
    ang = np.linspace(0, 2 * math.pi, k, endpoint=False) + rng.uniform(0, 0.1)
    rad = radius * (1 + 0.12 * np.sin(3 * ang + rng.uniform(0, 6.28)) + rng.uniform(-0.05, 0.05, k))
    enclave = np.round(np.column_stack([seeds[holder, 0] + rad * np.cos(ang),
                                        seeds[holder, 1] + rad * np.sin(ang)]), 2)
    enclave = np.vstack([enclave, enclave[:1]])  # counter-clockwise
    polygons[holder] = [Polygon(rings[holder], [enclave[::-1]])]
    polygons[exclave_owner].append(Polygon(enclave))

    names = ward_names(rng, len(cells))
    lads = [lad_by_position(seeds[i, 0], seeds[i, 1], cfg) for i in range(len(cells))]
    order = sorted(range(len(cells)), key=lambda i: (lads[i][0], names[i]))
    first = 900001 + int(rng.integers(0, 40)) * 100
    ward_code = {}
    for rank, i in enumerate(order):
        ward_code[i] = "E05%06d" % (first + rank)
    ds.wards = []
    for i in order:
        geom = MultiPolygon(polygons[i])
        pop_raw = density(seeds[i, 0], seeds[i, 1]) ** 0.5 * geom.area
        ds.wards.append({"code": ward_code[i], "name": names[i], "lad": lads[i][0], "lad_name": lads[i][1],
                         "geom": geom, "pop_raw": pop_raw, "bounds": geom.bounds})
    ds.hole_ward = ward_code[holder]
    ds.two_part_ward = ward_code[exclave_owner]
    raw = np.array([w["pop_raw"] for w in ds.wards])
    pops = raw / raw.mean() * (11800 if not cfg.large else 10500) * rng.lognormal(0, 0.08, len(raw))
    pops = np.clip(pops, 5200, 21000)
    for w, p in zip(ds.wards, pops):
        w["population"] = int(round(p / 1.0))
    ds.vertex_count = sum(sum(len(p.exterior.coords) + sum(len(r.coords) for r in p.interiors)
                              for p in w["geom"].geoms) for w in ds.wards)

    # The outline: the frame edges chained counter-clockwise.
    frame_edges = {}
    for i, ring in enumerate(cells):
        m = len(ring)
        for k in range(m):
            va, label = ring[k]
            if label < 0:
                vb = ring[(k + 1) % m][0]
                line = lines[(i, label)]
                frame_edges[va] = (line if edges[(i, label)][0] == va else line[::-1], vb)
    start = min(frame_edges)
    parts, v = [], start
    for _ in range(len(frame_edges)):
        line, v = frame_edges[v]
        parts.append(line[:-1])
        if v == start:
            break
    if v != start or len(parts) != len(frame_edges):
        raise RuntimeError("the outline's edges do not chain into one ring")
    outline_coords = np.vstack(parts)
    outline_coords = np.vstack([outline_coords, outline_coords[:1]])
    ds.outline = Polygon(outline_coords)
    ds.outline_ring = outline_coords

    # --- beats
    ds.beats = build_beats(rng, cfg, density, frame_poly, ds, seg_m)

    # --- LSOAs, street points, incidents, intelligence, postcodes
    build_lsoas(rng, cfg, ds)
    build_street_points(rng, cfg, density, ds)
    build_incidents(rng, cfg, ds)
    build_postcodes(rng, cfg, density, ds)
    build_intelligence(rng, cfg, density, ds)
    return ds


def build_beats(rng, cfg, density, frame_poly, ds, seg_m):
    big = frame_poly.buffer(0.08 * max(cfg.size), join_style=2)
    big_frame = [(round(x, 2), round(y, 2)) for x, y in list(big.exterior.coords)[:-1]]
    if not Polygon(big_frame).exterior.is_ccw:
        big_frame.reverse()
    for attempt in range(40):
        seeds = blue_noise_seeds(rng, cfg.beats, density, frame_poly, power=0.35, margin=600.0)
        cells, vertices = voronoi_cells(seeds, big_frame)
        edges = cell_edges(cells)
        lines = edge_polylines(rng, edges, vertices, seeds, seg_m * 1.3, cfg.knot_spacing * 1.3, 1.5)
        cell_polys = [Polygon(cell_ring(i, cells[i], edges, lines)) for i in range(len(cells))]
        inner = [LineString(lines[ek]) for ek in sorted(edges, key=repr) if edges[ek][2] is not None
                 and edges[ek][3] is not None]
        noded = unary_union([LineString(ds.outline_ring)] + inner)
        faces = {}
        for face in polygonize(noded):
            rp = face.representative_point()
            if not ds.outline.contains(rp):
                continue
            owner = [i for i, cp in enumerate(cell_polys) if cp.contains(rp)]
            faces.setdefault(owner[0], []).append(face)
        beats = {i: unary_union(faces[i]) for i in sorted(faces)}
        if len(beats) == len(cells) and all(b.geom_type == "Polygon" and not b.interiors for b in beats.values()):
            break
    else:
        raise RuntimeError("no clean beat tiling in 40 attempts (choose another --seed)")

    # Names from the wards they overlap most; ids from the postcode district of their centre.
    out, used_ids = [], set()
    for i in sorted(beats, key=lambda i: (-seeds[i, 1], seeds[i, 0])):
        geom = beats[i]
        gx0, gy0, gx1, gy1 = geom.bounds
        near = [w for w in ds.wards if not (w["bounds"][0] > gx1 or w["bounds"][2] < gx0 or w["bounds"][1] > gy1
                                            or w["bounds"][3] < gy0)]
        overlaps = sorted(((geom.intersection(w["geom"]).area, w["name"]) for w in near), reverse=True)
        c = geom.representative_point()
        if math.hypot(c.x, c.y) < 0.12 * min(cfg.size) and "City Centre" not in [b["name"] for b in out]:
            name = "City Centre"
        else:
            name = "%s and %s" % (overlaps[0][1], overlaps[1][1])
        district = postcode_district(c.x, c.y, cfg)
        nid, n = "ASP_" + district, 1
        while nid in used_ids:
            n += 1
            nid = "ASP_%s_%d" % (district, n)
        used_ids.add(nid)
        out.append({"id": nid, "name": name, "geom": MultiPolygon([geom])})
    return out


def build_lsoas(rng, cfg, ds):
    """LSOAs as the nearest-seed cells of a jittered grid (seeds within a quarter cell of the cell centre, so a
    point's nearest seed is always among the 3x3 cells around it). Codes in the unused E0109xxxx range; names as
    ONS writes them: LAD name, MSOA number (north to south), letter."""
    s = cfg.lsoa_spacing
    x0, y0, x1, y1 = ds.outline.bounds
    x0, y0 = x0 - 4 * s, y0 - 4 * s
    nx, ny = int((x1 + 4 * s - x0) // s) + 1, int((y1 + 4 * s - y0) // s) + 1
    jx = rng.uniform(-0.25, 0.25, (ny, nx))
    jy = rng.uniform(-0.25, 0.25, (ny, nx))
    gx = x0 + (np.arange(nx)[None, :] + 0.5 + jx) * s
    gy = y0 + (np.arange(ny)[:, None] + 0.5 + jy) * s
    ds.lsoa_grid = (x0, y0, s, nx, ny, gx, gy)
    # LAD of each seed: the ward containing it, or by position outside the wards.
    lad = np.empty((ny, nx), dtype=object)
    lad_name = {}
    for w in ds.wards:
        lad_name[w["lad"]] = w["lad_name"]
    flat_x, flat_y = gx.ravel(), gy.ravel()
    assigned = np.zeros(flat_x.size, dtype=bool)
    lad_flat = np.empty(flat_x.size, dtype=object)
    for w in ds.wards:
        inside = shapely.vectorized.contains(w["geom"], flat_x, flat_y) & ~assigned
        lad_flat[inside] = w["lad"]
        assigned |= inside
    for k in np.nonzero(~assigned)[0]:
        code, name = lad_by_position(flat_x[k], flat_y[k], cfg)
        lad_flat[k] = code
        lad_name[code] = name
    lad = lad_flat.reshape(ny, nx)
    # MSOAs: 2x2 blocks within a LAD, numbered north to south, then west to east.
    codes = np.empty((ny, nx), dtype=object)
    names = np.empty((ny, nx), dtype=object)
    blocks = {}
    for j in range(ny):
        for i in range(nx):
            blocks.setdefault((lad[j, i], j // 2, i // 2), []).append((j, i))
    by_lad = {}
    for key in blocks:
        by_lad.setdefault(key[0], []).append(key)
    entries = []
    for code in sorted(by_lad):
        keys = sorted(by_lad[code], key=lambda k: (-k[1], k[2]))
        for number, key in enumerate(keys, start=1):
            members = sorted(blocks[key], key=lambda ji: (-ji[0], ji[1]))
            for letter, (j, i) in enumerate(members):
                entries.append((lad_name[code], number, letter, j, i))
    entries.sort(key=lambda e: (e[0], e[1], e[2]))
    for n, (lname, number, letter, j, i) in enumerate(entries):
        codes[j, i] = "E01%06d" % (90001 + n)
        names[j, i] = "%s %03d%s" % (lname, number, "ABCDEFGH"[letter])
    ds.lsoa_codes, ds.lsoa_names = codes, names


def nearest_lsoa(ds, x, y):
    x0, y0, s, nx, ny, gx, gy = ds.lsoa_grid
    ci = np.clip(((x - x0) // s).astype(int), 1, nx - 2)
    cj = np.clip(((y - y0) // s).astype(int), 1, ny - 2)
    best = np.full(x.shape, np.inf)
    bi, bj = ci.copy(), cj.copy()
    for dj in (-1, 0, 1):
        for di in (-1, 0, 1):
            i, j = ci + di, cj + dj
            d = (gx[j, i] - x) ** 2 + (gy[j, i] - y) ** 2
            better = d < best
            best = np.where(better, d, best)
            bi, bj = np.where(better, i, bi), np.where(better, j, bj)
    return bj, bi


def build_street_points(rng, cfg, density, ds):
    """Snap points: ordinary streets placed by density, main roads through the centres, named places."""
    types, weights = zip(*STREET_TYPES)
    type_p = np.array(weights) / sum(weights)
    xs, ys, names, hot, kinds = [], [], [], [], []
    bounds = ds.outline.bounds
    # main roads: from a centre outwards, gently curving, a point every ~60 m
    centres = [(0.0, 0.0)] + list(density.district)
    main_names = list(MAIN_STREET_NAMES)
    rng.shuffle(main_names)
    for k in range(cfg.main_streets):
        cx, cy = centres[k % len(centres)] if k < 2 * len(centres) else centres[rng.integers(len(centres))]
        heading = rng.uniform(0, 2 * math.pi)
        length = rng.uniform(1500, 3200)
        x, y = cx + rng.normal(0, 150), cy + rng.normal(0, 150)
        name = main_names[k % len(main_names)]
        step = 60.0
        for _ in range(int(length / step)):
            xs.append(x + rng.normal(0, 4))
            ys.append(y + rng.normal(0, 4))
            names.append(name)
            # hotter near the centre end of the road
            hot.append(3.0 * math.exp(-math.hypot(x - cx, y - cy) / 1000.0) + 1.0)
            kinds.append("main")
            heading += rng.normal(0, 0.08)
            x += step * math.cos(heading)
            y += step * math.sin(heading)
    # ordinary streets
    sx, sy = density.sample(rng, cfg.streets, bounds, power=1.0)
    for k in range(cfg.streets):
        heading = rng.uniform(0, 2 * math.pi)
        npts = int(rng.integers(1, 7))
        step = rng.uniform(60, 110)
        name = street_name(rng, types, type_p)
        if rng.random() < 0.04:
            name = ""  # police.uk publishes some points as just "On or near "
        x, y = sx[k], sy[k]
        for _ in range(npts):
            xs.append(x)
            ys.append(y)
            names.append(name)
            hot.append(1.0)
            kinds.append("street")
            heading += rng.normal(0, 0.15)
            x += step * math.cos(heading)
            y += step * math.sin(heading)
    xs, ys = np.array(xs), np.array(ys)
    # named public places, near the centres
    n_places = max(20, len(xs) // 30)
    px, py = density.sample(rng, n_places, bounds, power=2.0)
    place = rng.choice(len(PLACE_NAMES), size=n_places, p=np.array([18, 16, 6, 6, 10, 8, 5, 2, 2, 3, 2]) / 78.0)
    xs = np.concatenate([xs, px])
    ys = np.concatenate([ys, py])
    names += [PLACE_NAMES[p] for p in place]
    hot += [1.0] * n_places
    kinds += ["place:" + PLACE_NAMES[p] for p in place]
    hot = np.array(hot)
    kinds = np.array(kinds, dtype=object)
    names = np.array(names, dtype=object)
    inside = shapely.vectorized.contains(ds.outline, xs, ys)
    # keep a few points just outside the outline: police.uk files include some from over the force border
    near = ~inside & shapely.vectorized.contains(ds.outline.buffer(1500), xs, ys)
    keep_out = np.zeros(xs.size, dtype=bool)
    out_idx = np.nonzero(near)[0]
    if out_idx.size:
        keep_out[rng.choice(out_idx, size=min(out_idx.size, max(3, xs.size // 400)), replace=False)] = True
    keep = inside | keep_out
    xs, ys, names, hot, kinds = xs[keep], ys[keep], names[keep], hot[keep], kinds[keep]
    xs, ys = np.round(xs, 1), np.round(ys, 1)
    # intrinsic weight: busier where denser, lognormal spread between points
    base = density(xs, ys) ** 0.8 * rng.lognormal(0, 0.6, xs.size) * hot
    bj, bi = nearest_lsoa(ds, xs, ys)
    ds.sp = {"x": xs, "y": ys, "name": names, "base": base, "kind": kinds, "hot": hot,
             "lsoa_code": ds.lsoa_codes[bj, bi], "lsoa_name": ds.lsoa_names[bj, bi],
             "outside": keep_out[keep]}


def type_weights(ds, crime):
    sp = ds.sp
    base = sp["base"].copy()
    kind = sp["kind"]
    is_main = kind == "main"
    def place(name):
        return kind == "place:" + name
    if crime == "Shoplifting":
        w = base * 0.05
        w[place("Supermarket")] *= 400
        w[place("Shopping Area")] *= 500
        w[is_main] *= 40
    elif crime == "Vehicle crime":
        w = base.copy()
        w[place("Parking Area")] *= 25
    elif crime == "Burglary":
        w = base / sp["hot"]  # homes: density, not the busy roads
    elif crime in ("Violence and sexual offences", "Public order", "Robbery", "Theft from the person",
                   "Drugs", "Possession of weapons", "Anti-social behaviour"):
        w = base * np.where(is_main, 2.0, 1.0)
        w[place("Nightclub")] *= 12
        w[place("Hospital")] *= 5
        w[place("Police Station")] *= 5
        if crime in ("Robbery", "Theft from the person", "Drugs"):
            w = w * np.where(is_main, 1.5, 1.0)
    elif crime == "Bicycle theft":
        w = base.copy()
        w[place("Further/Higher Educational Building")] *= 40
        w[place("Sports/Recreation Area")] *= 10
    else:
        w = base.copy()
    w[sp["outside"]] *= 0.3
    return w / w.sum()


def build_incidents(rng, cfg, ds):
    n = cfg.incidents
    month_counts = rng.multinomial(n, np.array(MONTH_SHARE) / sum(MONTH_SHARE))
    type_names = [c for c, _ in CRIME_TYPES]
    type_p = np.array([w for _, w in CRIME_TYPES], dtype=float)
    type_p /= type_p.sum()
    month = np.repeat(np.arange(len(MONTHS)), month_counts)
    ctype = rng.choice(len(type_names), size=n, p=type_p)
    sp = np.empty(n, dtype=np.int64)
    for t, name in enumerate(type_names):
        sel = np.nonzero(ctype == t)[0]
        if sel.size:
            sp[sel] = rng.choice(ds.sp["x"].size, size=sel.size, p=type_weights(ds, name))
    # withheld locations: about 1.5% of crimes (never anti-social behaviour, as in the real files)
    asb = ctype == type_names.index("Anti-social behaviour")
    no_location = (~asb) & (rng.random(n) < 0.015)
    sp[no_location] = -1
    # a few crimes at the points just over the border of the area (police.uk files have such rows)
    outside_points = np.nonzero(ds.sp["outside"])[0]
    over = (~asb) & (~no_location) & (rng.random(n) < 0.004)
    if outside_points.size:
        sp[over] = outside_points[rng.integers(0, outside_points.size, int(over.sum()))]
    # outcomes: the older the month, the fewer still under investigation
    closed_names = [o for o, _ in OUTCOMES_CLOSED]
    closed_p = np.array([w for _, w in OUTCOMES_CLOSED], dtype=float)
    pro_names = [o for o, _ in OUTCOMES_PROACTIVE]
    pro_p = np.array([w for _, w in OUTCOMES_PROACTIVE], dtype=float)
    outcome_names = [""] + [OUTCOMES_OPEN] + closed_names + [o for o in pro_names if o not in closed_names]
    index = {o: k for k, o in enumerate(outcome_names)}
    age = (len(MONTHS) - 1) - month
    open_p = 0.72 - 0.085 * age
    is_open = rng.random(n) < open_p
    closed_pick = np.array([index[o] for o in closed_names])[rng.choice(len(closed_names), size=n,
                                                                          p=closed_p / closed_p.sum())]
    pro_pick = np.array([index[o] for o in pro_names])[rng.choice(len(pro_names), size=n, p=pro_p / pro_p.sum())]
    proactive = np.isin(ctype, [type_names.index("Drugs"), type_names.index("Possession of weapons")])
    outcome = np.where(proactive, pro_pick, closed_pick)
    outcome = np.where(is_open, index[OUTCOMES_OPEN], outcome)
    outcome = np.where(asb, 0, outcome)
    ids = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    ds.inc = {"month": month, "type": ctype, "sp": sp, "outcome": outcome, "ids": ids, "asb": asb,
              "day": rng.integers(0, 28, n)}
    ds.type_names = type_names
    ds.outcome_names = outcome_names


def build_postcodes(rng, cfg, density, ds):
    """Postcode unit centroids where people live, with district by position and unique unit codes."""
    n = cfg.postcodes
    xs, ys = [], []
    while len(xs) < n:
        px, py = density.sample(rng, n, ds.outline.bounds, power=1.0)
        ok = shapely.vectorized.contains(ds.outline, px, py)
        xs.extend(px[ok].tolist())
        ys.extend(py[ok].tolist())
    xs, ys = np.round(np.array(xs[:n])), np.round(np.array(ys[:n]))
    letters = "ABDEFGHJLNPQRSTUWXYZ"  # unit letters never use C I K M O V
    seen, rows = set(), []
    for x, y in zip(xs, ys):
        district = postcode_district(x, y, cfg)
        # sector digit from the bearing around the district's typical position, 1..9
        sector = 1 + int(((math.degrees(math.atan2(y, x)) % 360) * 7 + math.hypot(x, y) / 97) % 9)
        while True:
            unit = "%s %d%s%s" % (district, sector, letters[rng.integers(20)], letters[rng.integers(20)])
            if unit not in seen:
                break
        seen.add(unit)
        rows.append([unit, x, y, "", ""])
    ward_of = np.full(len(rows), -1)
    for k, w in enumerate(ds.wards):
        inside = shapely.vectorized.contains(w["geom"], xs, ys)
        ward_of[inside & (ward_of < 0)] = k
    for r, k in zip(rows, ward_of):
        if k >= 0:
            r[3], r[4] = ds.wards[k]["lad"], ds.wards[k]["code"]
    rows = [r for r, k in zip(rows, ward_of) if k >= 0]

    def fixed7(pc):  # Code-Point Open writes 7 characters: "BS1 4DJ", "BS105AA"
        out, inw = pc.split(" ")
        return (out + " " * (4 - len(out)))[:4] + inw if len(out) < 4 else out + inw

    rows.sort(key=lambda r: fixed7(r[0]))
    ds.postcodes = [(fixed7(r[0]), r[0], r[1], r[2], r[3], r[4]) for r in rows]


def grid_ref(e, n, digits):
    """OS National Grid reference with `digits` figures per axis, e.g. ("ST", 58720, 73010) -> "ST 58720 73010"."""
    e100, n100 = int(e // 100000), int(n // 100000)
    first = (19 - n100) - (19 - n100) % 5 + (e100 + 10) // 5
    second = (19 - n100) * 5 % 25 + e100 % 5
    alphabet = "ABCDEFGHJKLMNOPQRSTUVWXYZ"
    letters = alphabet[first] + alphabet[second]
    scale = 10 ** (5 - digits)
    return "%s %0*d %0*d" % (letters, digits, int(e % 100000) // scale, digits, int(n % 100000) // scale)


def build_intelligence(rng, cfg, density, ds):
    """Intelligence records (vectorised: the large set has 20,000): about 45% belong to an organised crime group
    and sit around its home area, the rest follow the density; one location form per row."""
    n = cfg.intel
    n_ocg = 12 if not cfg.large else 60
    ocg_x, ocg_y = density.sample(rng, n_ocg, ds.outline.bounds, power=1.5)
    cats = [c for c, _ in INTEL_CATEGORIES]
    cat_p = np.array([w for _, w in INTEL_CATEGORIES], dtype=float)
    cat_p /= cat_p.sum()
    xs, ys, groups = [], [], []
    while sum(len(a) for a in xs) < n:
        m = 2 * n
        group = np.where(rng.random(m) < 0.45, rng.integers(0, n_ocg, m), -1)
        bx, by = density.sample(rng, m, ds.outline.bounds, power=1.3)
        gx = np.where(group >= 0, ocg_x[np.maximum(group, 0)] + rng.normal(0, 600, m), bx)
        gy = np.where(group >= 0, ocg_y[np.maximum(group, 0)] + rng.normal(0, 600, m), by)
        ok = shapely.vectorized.contains(ds.outline, gx, gy)
        xs.append(gx[ok])
        ys.append(gy[ok])
        groups.append(group[ok])
    x, y, group = np.concatenate(xs)[:n], np.concatenate(ys)[:n], np.concatenate(groups)[:n]
    day = rng.integers(0, 181, n)
    source = 1 + rng.choice(3, size=n, p=[0.2, 0.65, 0.15])
    assessment = rng.choice(5, size=n, p=[0.15, 0.35, 0.35, 0.10, 0.05])
    handling = rng.random(n) < 0.75
    cat = rng.choice(len(cats), size=n, p=cat_p)
    form = rng.random(n)
    digits = rng.choice([5, 4, 3], size=n, p=[0.7, 0.2, 0.1])
    style = rng.random(n)
    pc_x = np.array([p[2] for p in ds.postcodes])
    pc_y = np.array([p[3] for p in ds.postcodes])
    start = np.datetime64("2026-01-01")
    rows = []
    for k in range(n):
        e = nn = gr = pc = ""
        if form[k] < 0.70:
            e, nn = "%d" % round(x[k] + ds.offset_x), "%d" % round(y[k] + ds.offset_y)
        elif form[k] < 0.85:
            gr = grid_ref(x[k] + ds.offset_x, y[k] + ds.offset_y, int(digits[k]))
            if digits[k] == 3:
                gr = gr.replace(" ", "")
        else:
            pc = ds.postcodes[int(np.argmin((pc_x - x[k]) ** 2 + (pc_y - y[k]) ** 2))][1]
            if style[k] < 0.08:
                pc = pc.lower()
            elif style[k] < 0.14:
                pc = pc.replace(" ", "")
        rows.append([str(start + np.timedelta64(int(day[k]), "D")), str(source[k]), "ABCDE"[assessment[k]],
                     "P" if handling[k] else "C", "OCG-%02d" % (group[k] + 1) if group[k] >= 0 else "",
                     cats[cat[k]], e, nn, gr, pc])
    rows.sort(key=lambda r: r[0])
    ds.intel = [["INT-2026-%05d" % (k + 1)] + r for k, r in enumerate(rows)]


# ---------------------------------------------------------------------------------------------------------------
# Writers.

def shift(geom, dx, dy):
    """Local to BNG: centimetre vertices stay on the centimetre grid, others are shifted exactly."""
    def fix(v, d):
        return round(v + d, 2) if abs(v * 100 - round(v * 100)) < 1e-6 else v + d

    def ring(coords):
        return [(fix(x, dx), fix(y, dy)) for x, y in coords]
    return MultiPolygon([Polygon(ring(p.exterior.coords), [ring(r.coords) for r in p.interiors]) for p in geom.geoms])


def write_gpkg(path, layer_name, fields, rows):
    """rows: list of (values dict, shapely MultiPolygon in BNG)."""
    gdal.SetConfigOption("OGR_CURRENT_DATE", FIXED_DATE)
    if os.path.exists(path):
        os.remove(path)
    driver = ogr.GetDriverByName("GPKG")
    ds = driver.CreateDataSource(path)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(27700)
    layer = ds.CreateLayer(layer_name, srs, ogr.wkbMultiPolygon, options=["FID=fid", "GEOMETRY_NAME=geom"])
    for name, width in fields:
        fd = ogr.FieldDefn(name, ogr.OFTString)
        fd.SetWidth(width)
        layer.CreateField(fd)
    ds.StartTransaction()
    defn = layer.GetLayerDefn()
    for values, geom in rows:
        feat = ogr.Feature(defn)
        for name, _ in fields:
            feat.SetField(name, values[name])
        feat.SetGeometry(ogr.CreateGeometryFromWkb(shapely_wkb.dumps(geom)))
        layer.CreateFeature(feat)
    ds.CommitTransaction()
    ds = None


def write_text(path, text, crlf=False):
    data = text.replace("\n", "\r\n") if crlf else text
    with open(path, "wb") as f:
        f.write(data.encode("utf-8"))


def street_point_fields(ds):
    """Per street point: 'lon,lat,On or near X,LSOA code,LSOA name' (WGS84 via the pinned Helmert pipeline)."""
    sp = ds.sp
    e = sp["x"] + ds.offset_x
    n = sp["y"] + ds.offset_y
    options = osr.CoordinateTransformationOptions()
    options.SetOperation(BNG_TO_WGS84)
    src = osr.SpatialReference()
    src.ImportFromEPSG(27700)
    dst = osr.SpatialReference()
    dst.ImportFromEPSG(4326)
    dst.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ct = osr.CreateCoordinateTransformation(src, dst, options)
    lonlat = np.array(ct.TransformPoints(np.column_stack([e, n]).tolist()))[:, :2]
    # GDAL hands an explicit operation's output back in the target CRS's authority order (latitude first)
    if np.all(np.abs(lonlat[:, 0]) > 45):
        lonlat = lonlat[:, ::-1]
    if not (np.all((lonlat[:, 0] > -8) & (lonlat[:, 0] < 2)) and np.all((lonlat[:, 1] > 49) & (lonlat[:, 1] < 61))):
        raise RuntimeError("BNG -> WGS84 gave coordinates outside Great Britain")
    out = []
    for k in range(e.size):
        out.append("%.6f,%.6f,On or near %s,%s,%s" % (lonlat[k, 0], lonlat[k, 1], sp["name"][k],
                                                     sp["lsoa_code"][k], sp["lsoa_name"][k]))
    return out, e, n


def write_all(ds, out_dir, generic=False, street_files="monthly"):
    cfg = ds.cfg
    os.makedirs(out_dir, exist_ok=True)
    dx, dy = ds.offset
    files = []

    wards = sorted(ds.wards, key=lambda w: w["code"])
    write_gpkg(os.path.join(out_dir, "wards.gpkg"), "wards", [("WD23CD", 9), ("WD23NM", 60), ("LAD23CD", 9)],
               [({"WD23CD": w["code"], "WD23NM": w["name"], "LAD23CD": w["lad"]},
                 shift(w["geom"], dx, dy)) for w in wards])
    write_gpkg(os.path.join(out_dir, "beats.gpkg"), "beats", [("neighbourhood_id", 16), ("name", 80)],
               [({"neighbourhood_id": b["id"], "name": b["name"]}, shift(b["geom"], dx, dy))
                for b in ds.beats])
    files += ["wards.gpkg", "beats.gpkg"]

    write_text(os.path.join(out_dir, "population.csv"),
               "code,population\n" + "".join("%s,%d\n" % (w["code"], w["population"]) for w in wards))
    write_text(os.path.join(out_dir, "postcodes.csv"),
               "".join('"%s",10,%d,%d,"E92000001","E19000002","E18000010","","%s","%s"\n'
                       % (p[0], p[2] + dx, p[3] + dy, p[4], p[5]) for p in ds.postcodes), crlf=True)
    header = ("intel_id,report_date,source_evaluation,intelligence_assessment,handling_code,ocg_ref,category,"
              "easting,northing,grid_ref,postcode\n")
    write_text(os.path.join(out_dir, "intelligence.csv"), header + "".join(",".join(r) + "\n" for r in ds.intel))
    files += ["population.csv", "postcodes.csv", "intelligence.csv"]

    # police.uk street-level files: one per month, rows in LSOA name order, no-location rows last, CRLF.
    sp_text, sp_e, sp_n = street_point_fields(ds)
    inc = ds.inc
    n = inc["month"].size
    hexed = inc["ids"].tobytes().hex()
    crime_id = [("" if inc["asb"][k] else hexed[64 * k:64 * k + 64]) for k in range(n)]
    sp_list = inc["sp"].tolist()
    # LSOA name rank of each incident's point; no-location rows after every name
    _, sp_rank = np.unique(ds.sp["lsoa_name"].astype(str), return_inverse=True)
    rank = np.where(inc["sp"] < 0, sp_rank.max() + 1, sp_rank[np.maximum(inc["sp"], 0)])
    order = np.lexsort((inc["ids"][:, 0], ~inc["asb"], rank, inc["month"]))
    type_names, outcome_names = ds.type_names, ds.outcome_names
    street_dir = os.path.join(out_dir, "street")
    if os.path.isdir(street_dir):
        shutil.rmtree(street_dir)
    os.makedirs(street_dir)
    head = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,"
            "Last outcome category,Context\r\n")
    no_loc = ",,No Location,,"
    month_list = inc["month"].tolist()
    type_list = inc["type"].tolist()
    outcome_list = inc["outcome"].tolist()
    starts = np.searchsorted(inc["month"][order], np.arange(len(MONTHS) + 1))
    order_list = order.tolist()
    # the end of a row for each (crime type, outcome) pair
    tail = [["," + t + "," + o + ",\r\n" for o in outcome_names] for t in type_names]
    for m, month in enumerate(MONTHS):
        prefix = ",%s,%s,%s," % (month, FORCE, FORCE)
        where = [prefix + t for t in sp_text] + [prefix + no_loc]  # index -1: no location
        rows = [crime_id[k] + where[sp_list[k]] + tail[type_list[k]][outcome_list[k]]
                for k in order_list[starts[m]:starts[m + 1]]]
        name = "%s-avon-and-somerset-street.csv" % month
        with open(os.path.join(street_dir, name), "w", encoding="utf-8", newline="") as f:
            f.write(head)
            f.write("".join(rows))
        files.append("street/" + name)

    if generic:
        # The same incidents in a force-system style CSV: BNG coordinates of the snap points, a day in the month.
        days = inc["day"].tolist()
        where = [",%.1f,%.1f\n" % (e, n) for e, n in zip(sp_e.tolist(), sp_n.tolist())] + [",,\n"]
        dates = [[",%s-%02d," % (month, d + 1) for d in range(28)] for month in MONTHS]
        lines = ["incident_id,date,crime_type,easting,northing\n"]
        lines += ["INC%08d" % (row + 1) + dates[month_list[k]][days[k]] + type_names[type_list[k]]
                  + where[sp_list[k]] for row, k in enumerate(order_list)]
        write_text(os.path.join(out_dir, "incidents-generic.csv"), "".join(lines))
        files.append("incidents-generic.csv")
    return files


def write_readme(ds, out_dir, files, command):
    cfg = ds.cfg
    inc = ds.inc
    n = inc["month"].size
    no_loc = int((inc["sp"] < 0).sum())
    outside = int(ds.sp["outside"][inc["sp"][inc["sp"] >= 0]].sum())
    asb = int(inc["asb"].sum())
    per_month = ", ".join("%s: %d" % (m, int((inc["month"] == k).sum())) for k, m in enumerate(MONTHS))
    x0, y0, x1, y1 = ds.outline.bounds
    dx, dy = ds.offset
    sizes = {f: os.path.getsize(os.path.join(out_dir, f)) for f in files}
    hole = [w for w in ds.wards if w["code"] == ds.hole_ward][0]
    two = [w for w in ds.wards if w["code"] == ds.two_part_ward][0]
    intel_forms = {"easting/northing": sum(1 for r in ds.intel if r[7]),
                   "grid_ref": sum(1 for r in ds.intel if r[9]), "postcode": sum(1 for r in ds.intel if r[10])}
    lines = []
    add = lines.append
    add("# %s: a synthetic harm-mapping data set" % ("Sample" if not cfg.large else "Large benchmark"))
    add("")
    add("**Everything here is invented.** The wards, beats, postcodes, LSOAs, street names, incidents and")
    add("intelligence records are generated by `scripts/make-sample-data` from a seeded random number generator. They")
    add("look like the real files (same layouts, codes, categories and quirks) but describe no real place or person.")
    add("Ward codes use the unused range E059xxxxx and LSOA codes E0109xxxx, so they never collide with real ONS codes;")
    add("the local authority codes are the real ones for Bristol and its neighbours, to make the set look plausible.")
    add("")
    add("Regenerate (byte-identical on Debian bookworm: GDAL 3.6.2, SQLite 3.40, PROJ 9.1, numpy 1.24, shapely 1.8):")
    add("")
    add("    %s" % command)
    add("")
    add("`tests/cli/sample_data.sh` regenerates the sample and checks it is identical to the committed files, and")
    add("that the wards tile the area (sum of areas equals the area of the union; every ward valid; the beats cover")
    add("the same outline).")
    add("")
    add("## The area")
    add("")
    add("British National Grid (EPSG:27700), metres. Outline bounds E %.0f-%.0f, N %.0f-%.0f (%.1f km x %.1f km,"
        % (x0 + dx, x1 + dx, y0 + dy, y1 + dy, (x1 - x0) / 1000, (y1 - y0) / 1000))
    add("%.1f km2), centred near E %.0f N %.0f (a Bristol-like city in Avon and Somerset). Seed %d."
        % (ds.outline.area / 1e6, dx, dy, cfg.seed))
    add("")
    add("## Files")
    add("")
    add("| file | what | size |")
    add("|---|---|---|")
    desc = {
        "wards.gpkg": "layer `wards`, %d MultiPolygons (%d vertices), fields `WD23CD` (E05 + 6 digits), `WD23NM`, "
                      "`LAD23CD`" % (len(ds.wards), ds.vertex_count),
        "beats.gpkg": "layer `beats`, %d police neighbourhoods, fields `neighbourhood_id`, `name`" % len(ds.beats),
        "population.csv": "`code,population`: mid-year-style population of every ward (total %d)"
                          % sum(w["population"] for w in ds.wards),
        "postcodes.csv": "%d postcode centroids in OS Code-Point Open layout (no header, 7-character postcodes, "
                         "CRLF)" % len(ds.postcodes),
        "intelligence.csv": "%d intelligence records graded 3x5x2 (forms: %s)"
                            % (len(ds.intel), ", ".join("%s %d" % kv for kv in intel_forms.items())),
        "incidents-generic.csv": "the same incidents as a force-system CSV: `incident_id,date,crime_type,easting,"
                                 "northing` (BNG, empty for no location)",
    }
    for f in files:
        if f.startswith("street/"):
            month = f[len("street/"):len("street/") + 7]
            d = "data.police.uk street-level CSV, %d rows" % int((inc["month"] == MONTHS.index(month)).sum())
        else:
            d = desc[f]
        add("| `%s` | %s | %s |" % (f, d, "{:,} B".format(sizes[f])))
    add("")
    add("## Wards (`wards.gpkg`)")
    add("")
    add("Voronoi cells of %d seeds (denser near the centre, so central wards are smaller), clipped to a convex outline"
        % len(ds.wards))
    add("frame by half-planes. Each cell edge is replaced by one meandering polyline (a Brownian bridge of knots every")
    add("~%d m plus metre-scale noise, a vertex every ~%.0f m) that both neighbouring wards use, so shared boundaries"
        % (cfg.knot_spacing, total_seg_m(ds)))
    add("are identical vertex for vertex. Each polyline stays inside the triangles formed by its ends and the two")
    add("seeds, shrunk to 45%, so boundaries never cross: the wards tile the outline with no gaps or overlaps.")
    add("")
    add("- `%s` %s has a **hole**: an enclave that belongs to `%s` %s." % (hole["code"], hole["name"], two["code"],
                                                                          two["name"]))
    add("- `%s` %s is made of **two parts**: its main area and that enclave inside %s."
        % (two["code"], two["name"], hole["name"]))
    lad_counts = {}
    for w in ds.wards:
        lad_counts[(w["lad"], w["lad_name"])] = lad_counts.get((w["lad"], w["lad_name"]), 0) + 1
    add("- Local authorities (`LAD23CD`): %s." % "; ".join("%s %s (%d wards)" % (c, nm, k)
                                                        for (c, nm), k in sorted(lad_counts.items())))
    add("")
    add("## Beats (`beats.gpkg`)")
    add("")
    add("A second, coarser Voronoi tiling with its own meandering edges, not aligned with the wards, cut to exactly")
    add("the wards' outline (the outline ring and the beat edges are noded and polygonized together). Ids are")
    add("`ASP_` and the postcode district of the beat's centre; names come from the two wards each beat overlaps most.")
    add("")
    add("## Street-level crime (`street/YYYY-MM-avon-and-somerset-street.csv`)")
    add("")
    add("The data.police.uk layout exactly: the 12-column header, CRLF line endings, no quoting, `Crime ID` 64 hex")
    add("digits (empty for anti-social behaviour, whose outcome is empty too), longitude/latitude with 6 decimals")
    add("(WGS84, from OSGB36 with PROJ's Helmert transformation, pinned as an explicit pipeline), `On or near ...`,")
    add("LSOA code and name, crime type and last outcome, empty Context. Rows are in LSOA-name order with the")
    add("no-location rows last, as in the published files.")
    add("")
    add("- %d incidents (%s); %d anti-social behaviour." % (n, per_month, asb))
    add("- The 14 categories in the mix of the real Avon and Somerset file for January 2023.")
    add("- Locations snapped to %d street points: short synthetic streets placed by an urban density surface, a"
        % ds.sp["x"].size)
    add("  few long main roads through the centres (hot spots), and named places (Supermarket, Nightclub, Parking")
    add("  Area ...). Each crime type weights them differently (shoplifting at shops, vehicle crime at car parks,")
    add("  violence and public order on the main roads and at nightclubs).")
    add("- %d rows with no location (`No Location`, empty coordinates and LSOA); some points named just" % no_loc)
    add("  `On or near ` (empty street name), as police.uk publishes; %d rows at points up to 1.5 km outside the"
        % outside)
    add("  wards' outline (files include some incidents over the force border).")
    add("- Outcomes: the older the month, the fewer `Under investigation`.")
    add("")
    add("## Intelligence (`intelligence.csv`)")
    add("")
    add("Columns `intel_id,report_date,source_evaluation,intelligence_assessment,handling_code,ocg_ref,category,`")
    add("`easting,northing,grid_ref,postcode`. Grading 3x5x2: source 1/2/3, assessment A-E, handling P/C. About")
    add("45% carry an organised crime group reference `OCG-nn` and cluster around that group's home area. Each row")
    add("fills exactly one location form: easting/northing (whole metres), an OS grid reference (mostly 10-figure")
    add("`ST 58720 73010`, some 8-figure, a few 6-figure without spaces `ST587730`), or a postcode from")
    add("`postcodes.csv` (mostly `BS5 6XY`, a few lower case or without the space).")
    add("")
    add("## Postcodes (`postcodes.csv`)")
    add("")
    add("Code-Point Open columns (Postcode, Positional_quality_indicator, Eastings, Northings, Country_code,")
    add("NHS_regional_HA_code, NHS_HA_code, Admin_county_code, Admin_district_code, Admin_ward_code), postcodes")
    add("written in 7 characters (`BS1 4DJ`, `BS105AA`), sorted; district codes by bearing and distance from the")
    add("centre (BS1/BS2 central ...); ward and district codes are those of the synthetic ward containing the point.")
    add("")
    return "\n".join(lines)


def total_seg_m(ds):
    return ds.seg_m
