/* linear.c - fully connected layer, PyTorch nn.Linear.
 *
 * Shapes: x (n, in) with Shape {in, 1, 1}, y (n, out) with Shape {out, 1, 1},
 *         W (out, in) row-major as PyTorch's weight, b (out).
 * Forward:  y = x W^T + b                    one sgemm over the whole batch (y pre-filled with b, beta = 1)
 * Backward: dW += dy^T x                      sgemm with beta = 1 (accumulates)
 *           db += sum over the batch of dy    column sums
 *           dx  = dy W                        sgemm with beta = 0 (written), skipped when dx == NULL
 * Init:     W, b ~ U(-1/sqrt(in), 1/sqrt(in)) (PyTorch's default: kaiming_uniform(a = sqrt(5)) and the
 *           matching bias bound), W first in row-major order, then b.
 * Caches nothing: backward only needs x, which the caller keeps.
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "acgan/common.h"
#include "acgan/layers.h"

static void linear_forward(Layer *l, const float *x, float *y, int n, const PassCtx *ctx)
{
    (void)ctx;
    ACGAN_ASSERT(n > 0 && n <= l->max_batch, "linear: batch %d outside [1, %d]", n, l->max_batch);
    const int in = l->in.c, out = l->out.c;
    const float *w = l->w.data; /* (out, in) */
    const float *b = l->b.data; /* (out) */
    for (int i = 0; i < n; i++) memcpy(y + (size_t)i * out, b, (size_t)out * sizeof(float));
    /* y (n, out) += x (n, in) * W^T (in, out) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, w, in, 1.0f, y, out);
}

static void linear_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n,
                            int accum_params)
{
    (void)y;
    ACGAN_ASSERT(n > 0 && n <= l->max_batch, "linear: batch %d outside [1, %d]", n, l->max_batch);
    const int in = l->in.c, out = l->out.c;
    if (accum_params) {
        float *dw = l->w.grad; /* (out, in) */
        float *db = l->b.grad; /* (out) */
        /* dW (out, in) += dy^T (out, n) * x (n, in) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f, dy, out, x, in, 1.0f, dw, in);
        for (int i = 0; i < n; i++) {
            const float *dyi = dy + (size_t)i * out;
            for (int j = 0; j < out; j++) db[j] += dyi[j];
        }
    }
    if (dx) {
        /* dx (n, in) = dy (n, out) * W (out, in) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, dy, out, l->w.data, in, 0.0f, dx,
                    in);
    }
}

static void linear_init(Layer *l, Rng *rng)
{
    const float bound = 1.0f / sqrtf((float)l->in.c);
    for (size_t i = 0; i < l->w.count; i++) l->w.data[i] = bound * (2.0f * rng_uniform(rng) - 1.0f);
    for (size_t i = 0; i < l->b.count; i++) l->b.data[i] = bound * (2.0f * rng_uniform(rng) - 1.0f);
}

static const LayerOps linear_ops = {
    .kind = "linear",
    .forward = linear_forward,
    .backward = linear_backward,
    .init = linear_init,
    .free = NULL,
};

Layer *linear_create(int in_features, int out_features, int max_batch)
{
    ACGAN_ASSERT(in_features > 0 && out_features > 0, "linear: bad sizes %d -> %d", in_features, out_features);
    Layer *l = layer_alloc(&linear_ops, (Shape){in_features, 1, 1}, (Shape){out_features, 1, 1}, max_batch);
    l->w.count = (size_t)out_features * (size_t)in_features;
    l->b.count = (size_t)out_features;
    return l;
}
