/* upsample.c - nearest-neighbour upsampling by 2 in both spatial dimensions.
 *
 * Shapes: x (n, C, H, W), y (n, C, 2H, 2W).
 * Forward:  y[i][c][2h+a][2w+b] = x[i][c][h][w]            for a, b in {0, 1}
 * Backward: dx[i][c][h][w] = sum_{a,b} dy[i][c][2h+a][2w+b]  (the four children)
 * No parameters, caches nothing. Rows are processed in blocks of 8 input pixels that -O2 vectorises;
 * forward writes each doubled row once and copies it to the row below. Large tensors are split into one
 * range of planes per BLAS thread (parallel.h).
 */
#include <string.h>

#include "acgan/common.h"
#include "acgan/layers.h"
#include "parallel.h"

/* y0[2w] = y0[2w+1] = xr[w] for w in [0, W). */
static void upsample2x_row(const float *restrict xr, float *restrict y0, int W)
{
    int w = 0;
    for (; w + 8 <= W; w += 8)
#pragma GCC unroll 8
        for (int u = 0; u < 8; u++) {
            y0[2 * (w + u)] = xr[w + u];
            y0[2 * (w + u) + 1] = xr[w + u];
        }
    for (; w < W; w++) y0[2 * w] = y0[2 * w + 1] = xr[w];
}

/* dxr[w] = (d0[2w] + d0[2w+1]) + (d1[2w] + d1[2w+1]) for w in [0, W). */
static void upsample2x_row_grad(const float *restrict d0, const float *restrict d1, float *restrict dxr, int W)
{
    int w = 0;
    for (; w + 8 <= W; w += 8)
#pragma GCC unroll 8
        for (int u = 0; u < 8; u++) {
            const int j = 2 * (w + u);
            dxr[w + u] = (d0[j] + d0[j + 1]) + (d1[j] + d1[j + 1]);
        }
    for (; w < W; w++) dxr[w] = (d0[2 * w] + d0[2 * w + 1]) + (d1[2 * w] + d1[2 * w + 1]);
}

/* One call split into tasks over ranges of (image, channel) planes. */
typedef struct {
    const Layer *l;
    const float *x, *dy;
    float *y, *dx;
    size_t planes;
    int tasks;
} UpsampleJob;

static void upsample2x_forward_task(void *ctx, int task, int worker)
{
    const UpsampleJob *job = ctx;
    const int H = job->l->in.h, W = job->l->in.w, OW = 2 * W;
    const size_t p0 = job->planes * task / job->tasks, p1 = job->planes * (task + 1) / job->tasks;
    for (size_t pl = p0; pl < p1; pl++) {
        const float *xp = job->x + pl * (size_t)H * W;
        float *yp = job->y + pl * (size_t)4 * H * W;
        for (int h = 0; h < H; h++) {
            float *y0 = yp + (size_t)(2 * h) * OW;
            upsample2x_row(xp + (size_t)h * W, y0, W);
            memcpy(y0 + OW, y0, (size_t)OW * sizeof(float));
        }
    }
}

static void upsample2x_backward_task(void *ctx, int task, int worker)
{
    const UpsampleJob *job = ctx;
    const int H = job->l->in.h, W = job->l->in.w, OW = 2 * W;
    const size_t p0 = job->planes * task / job->tasks, p1 = job->planes * (task + 1) / job->tasks;
    for (size_t pl = p0; pl < p1; pl++) {
        float *dxp = job->dx + pl * (size_t)H * W;
        const float *dyp = job->dy + pl * (size_t)4 * H * W;
        for (int h = 0; h < H; h++) {
            const float *d0 = dyp + (size_t)(2 * h) * OW;
            upsample2x_row_grad(d0, d0 + OW, dxp + (size_t)h * W, W);
        }
    }
}

/* One task per thread, or one in all for small tensors. */
static int upsample2x_tasks(const Layer *l, int n)
{
    const size_t planes = (size_t)n * l->in.c;
    const int t = parallel_threads();
    if ((size_t)n * shape_size(l->out) < 65536) return 1;
    return (size_t)t < planes ? t : (int)planes;
}

static void upsample2x_forward(Layer *l, const float *x, float *y, int n, const PassCtx *ctx)
{
    ACGAN_ASSERT(n > 0 && n <= l->max_batch, "upsample2x: batch %d outside [1, %d]", n, l->max_batch);
    UpsampleJob job = {.l = l, .x = x, .y = y, .planes = (size_t)n * l->in.c, .tasks = upsample2x_tasks(l, n)};
    parallel_for(job.tasks, job.tasks, upsample2x_forward_task, &job);
}

static void upsample2x_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n,
                                int accum_params)
{
    ACGAN_ASSERT(n > 0 && n <= l->max_batch, "upsample2x: batch %d outside [1, %d]", n, l->max_batch);
    if (!dx) return;
    UpsampleJob job = {.l = l, .dy = dy, .dx = dx, .planes = (size_t)n * l->in.c, .tasks = upsample2x_tasks(l, n)};
    parallel_for(job.tasks, job.tasks, upsample2x_backward_task, &job);
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
