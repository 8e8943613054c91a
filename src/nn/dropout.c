/* dropout.c - Dropout (per element) and Dropout2d (per (sample, channel) plane), train mode only.
 *
 * Shapes: x, y (n, C, H, W). units = C*H*W (per element) or C (per_channel); mask (n, units) of 0/1.
 * Forward, train mode with p > 0:
 *   mask[i][j] = 1 iff rng_uniform(&r) >= p, drawn in order j = 0, 1, ... from
 *     r = rng_make(rng_key(pass_key, RNG_STREAM_DROPOUT, layer index, sample0 + i)),
 *   so a mask depends only on (pass_key, layer, global sample), not on how the batch is split;
 *   y = x * mask * scale with scale = 1/(1-p) (per_channel: mask[i][c] covers the whole plane).
 * Forward, eval mode or p == 0: y = x (exactly).
 * Backward: dx = dy * mask * scale (or dx = dy when the forward was the identity).
 *
 * Caches (allocated by the constructor): mask (max_batch, units) of the last forward, its batch size
 * and whether it applied a mask. dropout_set_fixed_mask replaces the random draws by a caller-owned
 * (n, units) 0/1 array, which must stay alive until it is cleared with NULL.
 */
#include <stdlib.h>
#include <string.h>

#include "acgan/common.h"
#include "acgan/layers.h"

typedef struct {
    float p, scale;     /* drop probability, 1/(1-p) */
    int per_channel;    /* 1: Dropout2d */
    size_t units;       /* mask entries per sample: C (per_channel) or C*H*W */
    size_t plane;       /* values covered by one mask entry: H*W (per_channel) or 1 */
    float *mask;        /* (max_batch, units) 0/1 mask of the last forward */
    const float *fixed; /* (n, units) caller-owned 0/1 mask replacing random draws, or NULL */
    int last_n;         /* batch size of the last forward (0: none yet) */
    int last_masked;    /* 1 if the last forward applied the mask, 0 if it was the identity */
} DropoutPriv;

/* y[0..len) = x[0..len) * m, in blocks of 8 that -O2 vectorises. */
static void dropout_scale(const float *restrict x, float *restrict y, size_t len, float m)
{
    size_t j = 0;
    for (; j + 8 <= len; j += 8)
#pragma GCC unroll 8
        for (int u = 0; u < 8; u++) y[j + u] = x[j + u] * m;
    for (; j < len; j++) y[j] = x[j] * m;
}

/* y = x * mask * scale with each mask entry covering `plane` consecutive values. */
static void dropout_apply(const DropoutPriv *p, const float *x, float *y, size_t count)
{
    if (p->plane == 1) {
        for (size_t u = 0; u < count; u++) y[u] = x[u] * (p->mask[u] * p->scale);
        return;
    }
    for (size_t u = 0; u < count; u++)
        dropout_scale(x + u * p->plane, y + u * p->plane, p->plane, p->mask[u] * p->scale);
}

static void dropout_forward(Layer *l, const float *x, float *y, int n, const PassCtx *ctx)
{
    DropoutPriv *p = l->priv;
    ACGAN_ASSERT(n > 0 && n <= l->max_batch, "dropout: batch %d outside [1, %d]", n, l->max_batch);
    ACGAN_ASSERT(ctx != NULL, "dropout: forward needs a PassCtx");
    const size_t total = (size_t)n * shape_size(l->in);
    p->last_n = n;
    p->last_masked = ctx->train && p->p > 0.0f;
    if (!p->last_masked) {
        if (y != x) memmove(y, x, total * sizeof(float));
        return;
    }
    const size_t nmask = (size_t)n * p->units;
    if (p->fixed) {
        memcpy(p->mask, p->fixed, nmask * sizeof(float));
    } else {
        for (int i = 0; i < n; i++) {
            Rng r = rng_make(rng_key(ctx->pass_key, RNG_STREAM_DROPOUT, (uint64_t)l->index,
                                     (uint64_t)(ctx->sample0 + i)));
            float *m = p->mask + (size_t)i * p->units;
            for (size_t j = 0; j < p->units; j++) m[j] = rng_uniform(&r) >= p->p ? 1.0f : 0.0f;
        }
    }
    dropout_apply(p, x, y, nmask);
}

static void dropout_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n,
                             int accum_params)
{
    DropoutPriv *p = l->priv;
    ACGAN_ASSERT(n == p->last_n, "dropout: backward batch %d differs from the last forward's %d", n, p->last_n);
    if (!dx) return;
    if (!p->last_masked) {
        if (dx != dy) memmove(dx, dy, (size_t)n * shape_size(l->in) * sizeof(float));
        return;
    }
    dropout_apply(p, dy, dx, (size_t)n * p->units);
}

static void dropout_free(Layer *l)
{
    DropoutPriv *p = l->priv;
    if (!p) return;
    free(p->mask);
    free(p);
    l->priv = NULL;
}

static const LayerOps dropout_ops = {
    .kind = "dropout",
    .forward = dropout_forward,
    .backward = dropout_backward,
    .init = NULL,
    .free = dropout_free,
};

Layer *dropout_create(Shape in, float p, int per_channel, int max_batch)
{
    ACGAN_ASSERT(in.c > 0 && in.h > 0 && in.w > 0, "dropout: bad input shape (%d, %d, %d)", in.c, in.h, in.w);
    ACGAN_ASSERT(p >= 0.0f && p < 1.0f, "dropout: p = %g outside [0, 1)", (double)p);
    Layer *l = layer_alloc(&dropout_ops, in, in, max_batch);
    DropoutPriv *d = acgan_calloc(1, sizeof *d);
    d->p = p;
    d->scale = 1.0f / (1.0f - p);
    d->per_channel = per_channel != 0;
    d->plane = d->per_channel ? (size_t)in.h * in.w : 1;
    d->units = d->per_channel ? (size_t)in.c : shape_size(in);
    d->mask = acgan_calloc((size_t)max_batch * d->units, sizeof(float));
    l->priv = d;
    return l;
}

void dropout_set_fixed_mask(Layer *l, const float *mask)
{
    ACGAN_ASSERT(l && l->ops == &dropout_ops, "dropout_set_fixed_mask: not a dropout layer");
    DropoutPriv *p = l->priv;
    p->fixed = mask;
}
