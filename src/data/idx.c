/* idx.c - MNIST-style IDX readers (plain or gzip through zlib) and a bilinear u8 resize.
 *
 * IDX header: 4-byte big-endian magic (0x0000 08 nd: type u8, nd dimensions), then nd big-endian
 * uint32 sizes, then the raw u8 payload in row-major order. gzread reads uncompressed files as-is,
 * so one code path serves both. Every short read is reported as a truncated file naming the path.
 *
 * Resize: out(y, x) = bilinear sample of in at (sy, sx), sy = (y + 0.5) * in_h / out_h - 0.5 clamped to
 * [0, in_h - 1] (the same for x), rounded to the nearest integer. This is PIL's / torchvision's
 * half-pixel convention for enlarging; shrinking uses no antialiasing filter.
 */
#include "acgan/idx.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define IDX_MAX_DIM 65536          /* sanity bound on H and W */
#define IDX_MAX_COUNT 0x7fffffffLL /* sanity bound on N */

/* Reads exactly len bytes (in pieces gzread can take); returns bytes read, or -1 on a zlib error. */
static int64_t idx_read_bytes(gzFile f, void *buf, int64_t len)
{
    int64_t done = 0;
    while (done < len) {
        int64_t piece = len - done;
        if (piece > (1 << 30)) piece = 1 << 30;
        int got = gzread(f, (char *)buf + done, (unsigned)piece);
        if (got < 0) return -1;
        if (got == 0) break;
        done += got;
    }
    return done;
}

/* Reason text for a short or failed read. */
static const char *idx_read_problem(gzFile f)
{
    int zerr = Z_OK;
    const char *msg = gzerror(f, &zerr);
    if (zerr != Z_OK && zerr != Z_BUF_ERROR && msg && msg[0]) return msg;
    return "unexpected end of file";
}

static uint32_t idx_be32(const unsigned char b[4])
{
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | (uint32_t)b[3];
}

static const char *idx_magic_hint(uint32_t magic)
{
    if (magic == IDX_MAGIC_IMAGES) return " (this is an IDX image file)";
    if (magic == IDX_MAGIC_LABELS) return " (this is an IDX label file)";
    return "";
}

/* Opens path and checks its magic and reads the nd sizes that follow (dims (nd)). */
static AcganStatus idx_open(const char *path, uint32_t want_magic, const char *what, int nd, uint32_t *dims,
                            gzFile *out, AcganError *err)
{
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return acgan_fail(err, ACGAN_ERR_DATA, "%s: cannot open IDX %s file: %s", path, what,
                          errno ? strerror(errno) : "out of memory");
    gzbuffer(f, 1 << 17);
    unsigned char hdr[4 * 4]; /* magic + up to 3 sizes */
    int64_t got = idx_read_bytes(f, hdr, 4);
    uint32_t magic = got == 4 ? idx_be32(hdr) : 0;
    if (got == 4 && magic != want_magic) {
        gzclose(f);
        return acgan_fail(err, ACGAN_ERR_DATA, "%s: bad IDX magic 0x%08x, expected 0x%08x for u8 %s%s", path,
                          (unsigned)magic, (unsigned)want_magic, what, idx_magic_hint(magic));
    }
    if (got == 4) {
        int64_t more = idx_read_bytes(f, hdr + 4, 4 * (int64_t)nd);
        got += more > 0 ? more : 0;
    }
    if (got != 4 * (int64_t)(1 + nd)) {
        AcganStatus st = acgan_fail(err, ACGAN_ERR_DATA, "%s: truncated IDX %s file: header has %lld of %lld bytes (%s)",
                                    path, what, (long long)(got > 0 ? got : 0), 4 * (long long)(1 + nd),
                                    idx_read_problem(f));
        gzclose(f);
        return st;
    }
    for (int i = 0; i < nd; i++) dims[i] = idx_be32(hdr + 4 * (1 + i));
    *out = f;
    return ACGAN_OK;
}

/* Reads the payload (len bytes) and checks nothing follows it. */
static AcganStatus idx_read_payload(gzFile f, const char *path, const char *what, uint8_t *buf, int64_t len,
                                    AcganError *err)
{
    int64_t got = idx_read_bytes(f, buf, len);
    if (got != len)
        return acgan_fail(err, ACGAN_ERR_DATA, "%s: truncated IDX %s file: expected %lld data bytes, got %lld (%s)", path,
                          what, (long long)len, (long long)(got < 0 ? 0 : got), idx_read_problem(f));
    unsigned char extra;
    if (gzread(f, &extra, 1) > 0)
        return acgan_fail(err, ACGAN_ERR_DATA, "%s: unexpected data after the %lld bytes the IDX %s header announces",
                          path, (long long)len, what);
    return ACGAN_OK;
}

AcganStatus idx_read_images(const char *path, uint8_t **images, int64_t *n, int *h, int *w, AcganError *err)
{
    *images = NULL;
    uint32_t dims[3]; /* N, H, W */
    gzFile f;
    AcganStatus st = idx_open(path, IDX_MAGIC_IMAGES, "images", 3, dims, &f, err);
    if (st != ACGAN_OK) return st;
    if (dims[0] > IDX_MAX_COUNT || dims[1] < 1 || dims[1] > IDX_MAX_DIM || dims[2] < 1 || dims[2] > IDX_MAX_DIM) {
        gzclose(f);
        return acgan_fail(err, ACGAN_ERR_DATA, "%s: implausible IDX image sizes %u x %u x %u", path, (unsigned)dims[0],
                          (unsigned)dims[1], (unsigned)dims[2]);
    }
    int64_t len = (int64_t)dims[0] * dims[1] * dims[2];
    uint8_t *buf = malloc(len ? (size_t)len : 1); /* (N, H, W); the size comes from the file, so no assert */
    if (!buf) {
        gzclose(f);
        return acgan_fail(err, ACGAN_ERR_NOMEM, "%s: cannot allocate %lld bytes for %u images", path, (long long)len,
                          (unsigned)dims[0]);
    }
    st = idx_read_payload(f, path, "images", buf, len, err);
    gzclose(f);
    if (st != ACGAN_OK) {
        free(buf);
        return st;
    }
    *images = buf;
    *n = dims[0];
    *h = (int)dims[1];
    *w = (int)dims[2];
    return ACGAN_OK;
}

AcganStatus idx_read_labels(const char *path, int32_t **labels, int64_t *n, AcganError *err)
{
    *labels = NULL;
    uint32_t count;
    gzFile f;
    AcganStatus st = idx_open(path, IDX_MAGIC_LABELS, "labels", 1, &count, &f, err);
    if (st != ACGAN_OK) return st;
    if (count > IDX_MAX_COUNT) {
        gzclose(f);
        return acgan_fail(err, ACGAN_ERR_DATA, "%s: implausible IDX label count %u", path, (unsigned)count);
    }
    uint8_t *raw = malloc(count ? count : 1);                   /* (N) */
    int32_t *out = malloc(count ? count * sizeof(int32_t) : 1); /* (N) */
    if (!raw || !out) {
        free(raw);
        free(out);
        gzclose(f);
        return acgan_fail(err, ACGAN_ERR_NOMEM, "%s: cannot allocate %u labels", path, (unsigned)count);
    }
    st = idx_read_payload(f, path, "labels", raw, count, err);
    gzclose(f);
    if (st != ACGAN_OK) {
        free(raw);
        free(out);
        return st;
    }
    for (uint32_t i = 0; i < count; i++) out[i] = raw[i];
    free(raw);
    *labels = out;
    *n = count;
    return ACGAN_OK;
}

/* Source coordinate of destination index i: integer base i0, neighbour i1 and weight t of i1. */
static void resize_coord(int i, int in, int out, int *i0, int *i1, double *t)
{
    double s = ((double)i + 0.5) * (double)in / (double)out - 0.5;
    if (s < 0) s = 0;
    if (s > in - 1) s = in - 1;
    int base = (int)floor(s);
    *i0 = base;
    *i1 = base + 1 < in ? base + 1 : in - 1;
    *t = s - base;
}

void image_resize_bilinear_u8(const uint8_t *src, int in_h, int in_w, uint8_t *dst, int out_h, int out_w)
{
    ACGAN_ASSERT(in_h > 0 && in_w > 0 && out_h > 0 && out_w > 0, "resize %dx%d -> %dx%d", in_h, in_w, out_h, out_w);
    if (in_h == out_h && in_w == out_w) {
        memcpy(dst, src, (size_t)in_h * in_w);
        return;
    }
    for (int y = 0; y < out_h; y++) {
        int y0, y1;
        double ty;
        resize_coord(y, in_h, out_h, &y0, &y1, &ty);
        const uint8_t *r0 = src + (size_t)y0 * in_w, *r1 = src + (size_t)y1 * in_w;
        for (int x = 0; x < out_w; x++) {
            int x0, x1;
            double tx;
            resize_coord(x, in_w, out_w, &x0, &x1, &tx);
            double top = (1 - tx) * r0[x0] + tx * r0[x1];
            double bot = (1 - tx) * r1[x0] + tx * r1[x1];
            double v = floor((1 - ty) * top + ty * bot + 0.5);
            dst[(size_t)y * out_w + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}
