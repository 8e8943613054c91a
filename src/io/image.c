/* image.c - sample grids and PNG files (libpng).
 *
 * image_grid lays out rows*cols images of shape (c, h, w), float in [-1, 1], row-major
 * (image r*cols + col at grid cell (r, col)), with `pad` black pixels between images and around the
 * border. Output is interleaved uint8 (H, W, c) with H = rows*h + (rows+1)*pad and
 * W = cols*w + (cols+1)*pad; value v becomes clamp(round((v + 1) * 127.5), 0, 255) (NaN -> 0).
 *
 * image_write_png writes 8-bit gray (c = 1) or RGB (c = 3) to PATH.tmp, checks fclose, then renames, so a
 * reader never sees a half-written PNG. image_read_png returns 8-bit gray or RGB: 16-bit samples are
 * reduced to 8, palettes expanded to RGB, low bit depths to 8 bits, alpha channels dropped.
 * libpng reports errors by longjmp; every local that changes after setjmp is volatile.
 */
#include "acgan/image.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int image_grid_width(int w, int cols, int pad) { return cols * w + (cols + 1) * pad; }
int image_grid_height(int h, int rows, int pad) { return rows * h + (rows + 1) * pad; }

static uint8_t pixel_from_float(float v)
{
    double t = ((double)v + 1.0) * 127.5;
    if (!(t > 0.0)) return 0; /* also NaN */
    if (t >= 255.0) return 255;
    return (uint8_t)floor(t + 0.5);
}

void image_grid(const float *imgs, int c, int h, int w, int rows, int cols, int pad, uint8_t *out)
{
    ACGAN_ASSERT(c > 0 && h > 0 && w > 0 && rows > 0 && cols > 0 && pad >= 0, "bad grid %dx%d of (%d,%d,%d) pad %d",
                 rows, cols, c, h, w, pad);
    const int W = image_grid_width(w, cols, pad), H = image_grid_height(h, rows, pad);
    memset(out, 0, (size_t)W * H * c);
    for (int r = 0; r < rows; r++)
        for (int q = 0; q < cols; q++) {
            const float *img = imgs + (size_t)(r * cols + q) * c * h * w; /* (c, h, w) */
            const int y0 = pad + r * (h + pad), x0 = pad + q * (w + pad);
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < h; y++) {
                    const float *src = img + ((size_t)ch * h + y) * w;
                    uint8_t *dst = out + ((size_t)(y0 + y) * W + x0) * c + ch;
                    for (int x = 0; x < w; x++) dst[(size_t)x * c] = pixel_from_float(src[x]);
                }
        }
}

/* libpng error callback: keep the message, unwind to the setjmp in the caller. */
typedef struct {
    char msg[256];
} PngErr;

static void png_on_error(png_structp png, png_const_charp msg)
{
    PngErr *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

AcganStatus image_write_png(const char *path, const uint8_t *pix, int width, int height, int channels, AcganError *err)
{
    if (channels != 1 && channels != 3)
        return acgan_fail(err, ACGAN_ERR_IO, "%s: cannot write a PNG with %d channels (expected 1 or 3)", path,
                          channels);
    if (width <= 0 || height <= 0)
        return acgan_fail(err, ACGAN_ERR_IO, "%s: cannot write a %dx%d PNG", path, width, height);
    const size_t n = strlen(path);
    char *tmp = acgan_malloc(n + 5);
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);

    FILE *f = fopen(tmp, "wb");
    if (!f) {
        acgan_fail(err, ACGAN_ERR_IO, "cannot write %s: cannot create %s: %s", path, tmp, strerror(errno));
        free(tmp);
        return ACGAN_ERR_IO;
    }
    PngErr perr = {{0}};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &perr, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    AcganStatus st = ACGAN_OK;
    if (!png || !info) {
        st = acgan_fail(err, ACGAN_ERR_NOMEM, "%s: cannot set up libpng", path);
    } else if (setjmp(png_jmpbuf(png))) {
        st = acgan_fail(err, ACGAN_ERR_IO, "%s: libpng: %s", tmp, perr.msg);
    } else {
        png_init_io(png, f);
        png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                     channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        for (int y = 0; y < height; y++) png_write_row(png, pix + (size_t)y * width * channels);
        png_write_end(png, info);
    }
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);

    if (st == ACGAN_OK && (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0)) /* on disk before the rename */
        st = acgan_fail(err, ACGAN_ERR_IO, "%s: write error: %s", tmp, strerror(errno));
    if (fclose(f) != 0 && st == ACGAN_OK)
        st = acgan_fail(err, ACGAN_ERR_IO, "%s: write error on close: %s", tmp, strerror(errno));
    if (st == ACGAN_OK && rename(tmp, path) != 0)
        st = acgan_fail(err, ACGAN_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (st != ACGAN_OK) remove(tmp);
    free(tmp);
    return st;
}

AcganStatus image_read_png(const char *path, uint8_t **pix, int *width, int *height, int *channels, AcganError *err)
{
    *pix = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return acgan_fail(err, ACGAN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    png_byte sig[8];
    if (fread(sig, 1, sizeof sig, f) != sizeof sig || png_sig_cmp(sig, 0, sizeof sig) != 0) {
        fclose(f);
        return acgan_fail(err, ACGAN_ERR_IO, "%s: not a PNG file", path);
    }
    PngErr perr = {{0}};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &perr, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    uint8_t *volatile buf = NULL;      /* (H, W, C) */
    png_bytep *volatile rows = NULL;   /* H pointers into buf */
    AcganStatus st = ACGAN_OK;
    if (!png || !info) {
        st = acgan_fail(err, ACGAN_ERR_NOMEM, "%s: cannot set up libpng", path);
    } else if (setjmp(png_jmpbuf(png))) {
        st = acgan_fail(err, ACGAN_ERR_IO, "%s: invalid PNG: %s", path, perr.msg);
    } else {
        png_init_io(png, f);
        png_set_sig_bytes(png, sizeof sig);
        png_read_info(png, info);
        const png_byte color = png_get_color_type(png, info);
        png_set_strip_16(png);
        png_set_packing(png);
        if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
        if (color == PNG_COLOR_TYPE_GRAY) png_set_expand_gray_1_2_4_to_8(png);
        if (color & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
        png_set_interlace_handling(png);
        png_read_update_info(png, info);
        const size_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
        const int c = png_get_channels(png, info);
        if ((c != 1 && c != 3) || png_get_bit_depth(png, info) != 8 || png_get_rowbytes(png, info) != w * c) {
            st = acgan_fail(err, ACGAN_ERR_IO, "%s: unsupported PNG format (color type %d, %d channels after conversion)",
                            path, (int)color, c);
        } else {
            buf = malloc(w * h * c + 1);
            rows = malloc(h * sizeof(png_bytep));
            if (!buf || !rows) {
                st = acgan_fail(err, ACGAN_ERR_NOMEM, "%s: out of memory for a %zux%zu image", path, w, h);
            } else {
                for (size_t y = 0; y < h; y++) rows[y] = buf + y * w * c;
                png_read_image(png, rows);
                png_read_end(png, NULL);
                *width = (int)w;
                *height = (int)h;
                *channels = c;
            }
        }
    }
    png_destroy_read_struct(png ? &png : NULL, info ? &info : NULL, NULL);
    fclose(f);
    free(rows);
    if (st != ACGAN_OK) {
        free(buf);
        return st;
    }
    *pix = buf;
    return ACGAN_OK;
}
