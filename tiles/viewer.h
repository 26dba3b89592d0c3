/*
 * viewer.h - index.html: an offline map of the tile folder, opened straight from disk (file://) in a browser.
 *
 * It uses Leaflet from Debian's libjs-leaflet (copied into the folder, so nothing is fetched from the
 * network) with the tiles, the legend and, when given, a vector overlay (ward boundaries, say) converted to
 * GeoJSON in WGS84 and embedded as overlay.js: browsers refuse fetch() of local files, but load <script>
 * files. There is no base map: the point of the folder is to work without the Internet.
 */
#ifndef HM_VIEWER_H
#define HM_VIEWER_H

#include "context.h"

#define HM_LEAFLET_DIR "/usr/share/javascript/leaflet"

typedef struct hm_viewer_info {
    const char *title;
    const char *attribution;
    int min_zoom, max_zoom;
    int tile_size_px;
    int tms;
    double west_deg, south_deg, east_deg, north_deg;
    double value_min, value_max, threshold;
    const char *ramp_name;
    const char *overlay_path;  /* any OGR vector source, or NULL */
    const char *overlay_layer; /* NULL: the first layer */
    const char *leaflet_dir;   /* NULL: HM_LEAFLET_DIR */
    int overlay_written;       /* overlay.js is there already (hm_viewer_overlay_start) */
} hm_viewer_info;

/* Writes index.html (and leaflet.js, leaflet.css, images/, overlay.js unless overlay_written) into `dir`. */
int hm_viewer_write(hm_ctx *ctx, const char *dir, const hm_viewer_info *info);

/* overlay.js depends on the overlay alone and its conversion takes a quarter of a second for 400 wards, so
 * tiles.c writes it on a thread of its own while the tiles are drawn: start (which copies the paths it
 * needs), then finish, which waits for the thread and returns HM_OK or the conversion's error (as
 * hm_viewer_write would have reported it). finish must be called once for every started overlay, whatever
 * happens meanwhile. */
typedef struct hm_viewer_overlay hm_viewer_overlay;
int hm_viewer_overlay_start(hm_ctx *ctx, const char *dir, const char *overlay_path, const char *overlay_layer,
                            hm_viewer_overlay **out);
int hm_viewer_overlay_finish(hm_ctx *ctx /* NULL: do not report */, hm_viewer_overlay *overlay);

#endif
