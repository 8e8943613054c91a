/* activation.c - element-wise activations: LeakyReLU and Tanh (shape-preserving, no parameters).
 *
 * Shapes: x, y, dy, dx all (n, c, h, w) with the same per-sample shape.
 * LeakyReLU: y = x > 0 ? x : slope x          dx = dy * (x > 0 ? 1 : slope)   (uses x)
 * Tanh:      y = tanh(x)                      dx = dy * (1 - y^2)             (uses y)
 * Cache nothing beyond the hyper-parameter slope (priv); backward reads the caller's x or y.
 */
#include <math.h>
#include <stdlib.h>

#include "acgan/common.h"
#include "acgan/layers.h"

typedef struct {
    float slope; /* negative-side slope, PyTorch's negative_slope */
} LeakyReluPriv;

static void leaky_relu_forward(Layer *l, const float *x, float *y, int n, const PassCtx *ctx)
{
    (void)ctx;
    ACGAN_ASSERT(n > 0 && n <= l->max_batch, "leaky_relu: batch %d outside [1, %d]", n, l->max_batch);
    const float slope = ((const LeakyReluPriv *)l->priv)->slope;
    const size_t count = (size_t)n * shape_size(l->in);
    for (size_t i = 0; i < count; i++) y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
}

static void leaky_relu_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n,
                                int accum_params)
{
    (void)y;
    (void)accum_params;
    ACGAN_ASSERT(n > 0 && n <= l->max_batch, "leaky_relu: batch %d outside [1, %d]", n, l->max_batch);
    if (!dx) return;
    const float slope = ((const LeakyReluPriv *)l->priv)->slope;
    const size_t count = (size_t)n * shape_size(l->in);
    for (size_t i = 0; i < count; i++) dx[i] = x[i] > 0.0f ? dy[i] : slope * dy[i];
}

static void leaky_relu_free(Layer *l)
{
    free(l->priv);
    l->priv = NULL;
}

static const LayerOps leaky_relu_ops = {
    .kind = "leaky_relu",
    .forward = leaky_relu_forward,
    .backward = leaky_relu_backward,
    .init = NULL,
    .free = leaky_relu_free,
};

Layer *leaky_relu_create(Shape in, float slope, int max_batch)
{
    ACGAN_ASSERT(shape_size(in) > 0, "leaky_relu: empty shape {%d, %d, %d}", in.c, in.h, in.w);
    ACGAN_ASSERT(isfinite(slope), "leaky_relu: slope must be finite");
    Layer *l = layer_alloc(&leaky_relu_ops, in, in, max_batch);
    LeakyReluPriv *p = acgan_malloc(sizeof *p);
    p->slope = slope;
    l->priv = p;
    return l;
}

static void tanh_forward(Layer *l, const float *x, float *y, int n, const PassCtx *ctx)
{
    (void)ctx;
    ACGAN_ASSERT(n > 0 && n <= l->max_batch, "tanh: batch %d outside [1, %d]", n, l->max_batch);
    const size_t count = (size_t)n * shape_size(l->in);
    for (size_t i = 0; i < count; i++) y[i] = tanhf(x[i]);
}

static void tanh_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n,
                          int accum_params)
{
    (void)x;
    (void)accum_params;
    ACGAN_ASSERT(n > 0 && n <= l->max_batch, "tanh: batch %d outside [1, %d]", n, l->max_batch);
    if (!dx) return;
    const size_t count = (size_t)n * shape_size(l->in);
    for (size_t i = 0; i < count; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

static const LayerOps tanh_ops = {
    .kind = "tanh",
    .forward = tanh_forward,
    .backward = tanh_backward,
    .init = NULL,
    .free = NULL,
};

Layer *tanh_create(Shape in, int max_batch)
{
    ACGAN_ASSERT(shape_size(in) > 0, "tanh: empty shape {%d, %d, %d}", in.c, in.h, in.w);
    return layer_alloc(&tanh_ops, in, in, max_batch);
}
