/* reshape.c - reinterpret each sample with a new shape of the same size (PyTorch view/reshape).
 *
 * Shapes: x (n, in.c, in.h, in.w), y (n, out.c, out.h, out.w), shape_size(in) == shape_size(out).
 * Forward:  y = x    (memcpy: the memory layout is unchanged, only the per-sample shape differs)
 * Backward: dx = dy  (memcpy)
 * Caches nothing, no parameters.
 */
#include <string.h>

#include "acgan/common.h"
#include "acgan/layers.h"

static void reshape_forward(Layer *l, const float *x, float *y, int n, const PassCtx *ctx)
{
    (void)ctx;
    ACGAN_ASSERT(n > 0 && n <= l->max_batch, "reshape: batch %d outside [1, %d]", n, l->max_batch);
    if (y != x) memcpy(y, x, (size_t)n * shape_size(l->in) * sizeof(float));
}

static void reshape_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n,
                             int accum_params)
{
    (void)x;
    (void)y;
    (void)accum_params;
    ACGAN_ASSERT(n > 0 && n <= l->max_batch, "reshape: batch %d outside [1, %d]", n, l->max_batch);
    if (dx && dx != dy) memcpy(dx, dy, (size_t)n * shape_size(l->in) * sizeof(float));
}

static const LayerOps reshape_ops = {
    .kind = "reshape",
    .forward = reshape_forward,
    .backward = reshape_backward,
    .init = NULL,
    .free = NULL,
};

Layer *reshape_create(Shape in, Shape out, int max_batch)
{
    ACGAN_ASSERT(shape_size(in) > 0 && shape_size(in) == shape_size(out),
                 "reshape: {%d, %d, %d} (%zu) and {%d, %d, %d} (%zu) differ in size", in.c, in.h, in.w,
                 shape_size(in), out.c, out.h, out.w, shape_size(out));
    return layer_alloc(&reshape_ops, in, out, max_batch);
}
