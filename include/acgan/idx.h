/* idx.h - reading MNIST-style IDX files (plain or gzip) and resizing 8-bit images.
 *
 *   uint8_t *img; int32_t *lab; int64_t n, nl; int h, w;
 *   if (idx_read_images("train-images-idx3-ubyte.gz", &img, &n, &h, &w, &err) != ACGAN_OK) ...
 *   if (idx_read_labels("train-labels-idx1-ubyte.gz", &lab, &nl, &err) != ACGAN_OK) ...
 *   image_resize_bilinear_u8(img + i * h * w, h, w, out + i * 32 * 32, 32, 32);
 *   free(img); free(lab);
 *
 * IDX: big-endian magic 0x00000803 + counts N, H, W + u8 pixels (N, H, W) for images;
 * magic 0x00000801 + count N + u8 labels (N) for labels. Files are read through zlib's gzread,
 * which reads uncompressed files transparently.
 */
#ifndef ACGAN_IDX_H
#define ACGAN_IDX_H

#include <stdint.h>

#include "acgan/common.h"

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u

/* Reads an IDX image file; *images (N, H, W) is malloc'd, free with free(). */
AcganStatus idx_read_images(const char *path, uint8_t **images, int64_t *n, int *h, int *w, AcganError *err);
/* Reads an IDX label file; *labels (N) is malloc'd as int32, free with free(). */
AcganStatus idx_read_labels(const char *path, int32_t **labels, int64_t *n, AcganError *err);

/* Bilinear resize of one single-channel image src (in_h, in_w) into dst (out_h, out_w), with half-pixel
 * centres like PIL/torchvision (src = (dst + 0.5) * in / out - 0.5, clamped to the edges), rounded to
 * the nearest uint8. Equal sizes copy. No antialiasing filter when shrinking. */
void image_resize_bilinear_u8(const uint8_t *src, int in_h, int in_w, uint8_t *dst, int out_h, int out_w);

#endif
