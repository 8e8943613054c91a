/* activation.c - element-wise activations: LeakyReLU and Tanh (shape-preserving, no parameters).
 *
 * Shapes: x, y, dy, dx all (n, c, h, w) with the same per-sample shape.
 * LeakyReLU: y = x > 0 ? x : slope x          dx = dy * (x > 0 ? 1 : slope)   (uses x)
 * Tanh:      y = tanh(x)                      dx = dy * (1 - y^2)             (uses y)
 * Cache nothing beyond the hyper-parameter slope (priv); backward reads the caller's x or y.
 * The LeakyReLU loops run in blocks of 8 with restrict pointers so that -O2 vectorises them: y = m * x with
 * m = (x > 0 ? 1 : slope), bit-identical to the scalar x > 0 ? x : slope * x. Large tensors are split into
 * one range per BLAS thread (parallel.h).
 */
#include <math.h>
#include <stdlib.h>

#include "acgan/common.h"
#include "acgan/layers.h"
#include "parallel.h"

typedef struct {
    float slope; /* negative-side slope, PyTorch's negative_slope */
} LeakyReluPriv;

/* out[i] = (x[i] > 0 ? 1 : slope) * v[i]; x == v in forward, v = dy in backward. */
static void leaky_relu_apply(const float *restrict x, const float *restrict v, float *restrict out, size_t count,
                             float slope)
{
    size_t i = 0;
    for (; i + 8 <= count; i += 8)
#pragma GCC unroll 8
        for (int u = 0; u < 8; u++) out[i + u] = (x[i + u] > 0.0f ? 1.0f : slope) * v[i + u];
    for (; i < count; i++) out[i] = (x[i] > 0.0f ? 1.0f : slope) * v[i];
}

/* leaky_relu_apply over [0, count) in one task per thread, each a range of whole 16-float blocks. */
typedef struct {
    const float *x, *v;
    float *out;
    size_t count;
    float slope;
    int tasks;
} LeakyReluJob;

static void leaky_relu_task(void *ctx, int task, int worker)
{
    const LeakyReluJob *job = ctx;
    const size_t blocks = (job->count + 15) / 16;
    const size_t b0 = blocks * task / job->tasks * 16, b1 = blocks * (task + 1) / job->tasks * 16;
    const size_t e = b1 < job->count ? b1 : job->count;
    if (b0 < e) leaky_relu_apply(job->x + b0, job->v + b0, job->out + b0, e - b0, job->slope);
}

static void leaky_relu_run(const float *x, const float *v, float *out, size_t count, float slope)
{
    LeakyReluJob job = {.x = x, .v = v, .out = out, .count = count, .slope = slope, .tasks = parallel_threads()};
    if (count < 65536) job.tasks = 1; /* not worth waking a thread */
    parallel_for(job.tasks, job.tasks, leaky_relu_task, &job);
}

static void leaky_relu_forward(Layer *l, const float *x, float *y, int n, const PassCtx *ctx)
{
    (void)ctx;
    ACGAN_ASSERT(n > 0 && n <= l->max_batch, "leaky_relu: batch %d outside [1, %d]", n, l->max_batch);
    const float slope = ((const LeakyReluPriv *)l->priv)->slope;
    const size_t count = (size_t)n * shape_size(l->in);
    leaky_relu_run(x, x, y, count, slope);
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
    leaky_relu_run(x, dy, dx, count, slope);
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
