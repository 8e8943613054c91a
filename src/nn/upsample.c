/* upsample.c - nearest-neighbour upsampling by 2 in both spatial dimensions.
 *
 * Shapes: x (n, C, H, W), y (n, C, 2H, 2W).
 * Forward:  y[i][c][2h+a][2w+b] = x[i][c][h][w]            for a, b in {0, 1}
 * Backward: dx[i][c][h][w] = sum_{a,b} dy[i][c][2h+a][2w+b]  (the four children)
 * No parameters, caches nothing.
 */
#include "acgan/common.h"
#include "acgan/layers.h"

static void upsample2x_forward(Layer *l, const float *x, float *y, int n, const PassCtx *ctx)
{
    ACGAN_ASSERT(n > 0 && n <= l->max_batch, "upsample2x: batch %d outside [1, %d]", n, l->max_batch);
    const int H = l->in.h, W = l->in.w, OW = 2 * W;
    const size_t planes = (size_t)n * l->in.c;
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * (size_t)H * W;
        float *yp = y + pl * (size_t)4 * H * W;
        for (int h = 0; h < H; h++) {
            const float *xr = xp + (size_t)h * W;
            float *y0 = yp + (size_t)(2 * h) * OW, *y1 = y0 + OW;
            for (int w = 0; w < W; w++) {
                const float v = xr[w];
                y0[2 * w] = v;
                y0[2 * w + 1] = v;
                y1[2 * w] = v;
                y1[2 * w + 1] = v;
            }
        }
    }
}

static void upsample2x_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n,
                                int accum_params)
{
    ACGAN_ASSERT(n > 0 && n <= l->max_batch, "upsample2x: batch %d outside [1, %d]", n, l->max_batch);
    if (!dx) return;
    const int H = l->in.h, W = l->in.w, OW = 2 * W;
    const size_t planes = (size_t)n * l->in.c;
    for (size_t pl = 0; pl < planes; pl++) {
        float *dxp = dx + pl * (size_t)H * W;
        const float *dyp = dy + pl * (size_t)4 * H * W;
        for (int h = 0; h < H; h++) {
            float *dxr = dxp + (size_t)h * W;
            const float *d0 = dyp + (size_t)(2 * h) * OW, *d1 = d0 + OW;
            for (int w = 0; w < W; w++) dxr[w] = (d0[2 * w] + d0[2 * w + 1]) + (d1[2 * w] + d1[2 * w + 1]);
        }
    }
}

static const LayerOps upsample2x_ops = {
    .kind = "upsample2x",
    .forward = upsample2x_forward,
    .backward = upsample2x_backward,
    .init = NULL,
    .free = NULL,
};

Layer *upsample2x_create(Shape in, int max_batch)
{
    ACGAN_ASSERT(in.c > 0 && in.h > 0 && in.w > 0, "upsample2x: bad input shape (%d, %d, %d)", in.c, in.h, in.w);
    return layer_alloc(&upsample2x_ops, in, (Shape){in.c, 2 * in.h, 2 * in.w}, max_batch);
}
