/* image.h - sample grids as PNG (libpng).
 *
 *   image_grid(imgs, c, h, w, rows, cols, 2, grid);          // (rows*cols, c, h, w) in [-1, 1]
 *   image_write_png(path, grid, image_grid_width(w, cols, 2), image_grid_height(h, rows, 2), c, &err);
 *
 * Pixels map [-1, 1] -> [0, 255] linearly, clamped; no per-image stretching. Grids are
 * interleaved (height, width, channels) uint8; 1 channel is grayscale, 3 is RGB.
 */
#ifndef ACGAN_IMAGE_H
#define ACGAN_IMAGE_H

#include <stdint.h>

#include "acgan/common.h"

int image_grid_width(int w, int cols, int pad);
int image_grid_height(int h, int rows, int pad);
void image_grid(const float *imgs, int c, int h, int w, int rows, int cols, int pad, uint8_t *out);
/* Written to path.tmp and renamed. */
AcganStatus image_write_png(const char *path, const uint8_t *pix, int width, int height, int channels, AcganError *err);
/* Reads an 8-bit gray or RGB PNG; *pix is malloc'd (caller frees). */
AcganStatus image_read_png(const char *path, uint8_t **pix, int *width, int *height, int *channels, AcganError *err);

#endif
