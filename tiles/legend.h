/*
 * legend.h - legend.png: the colour ramp as a bar with the value scale under it (min, quarter points, max),
 * so that a tile set read on its own says what its colours mean. Numbers are drawn with a built-in 3x5 pixel
 * font (digits, '.', '-', '+', 'e') doubled in size: no font library needed.
 */
#ifndef HM_LEGEND_H
#define HM_LEGEND_H

#include "context.h"
#include "ramp.h"

#define HM_LEGEND_WIDTH_PX 296
#define HM_LEGEND_HEIGHT_PX 46

int hm_legend_write_png(hm_ctx *ctx, const char *path, const hm_ramp *ramp, double value_min,
                        double value_max);

#endif
