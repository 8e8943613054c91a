/* batchnorm2d.c - batch normalisation per channel over (n, H, W); with H = W = 1 it is BatchNorm1d.
 *
 * Shapes: x, y (n, C, H, W); gamma = w (C), beta = b (C); state = running mean (C) then running var (C).
 * cnt = n*H*W values per channel.
 *
 * Forward, train mode (ctx->train):
 *   mean_c = sum x / cnt,  var_c = sum (x - mean_c)^2 / cnt   (biased; sums in double)
 *   invstd_c = 1 / sqrt(var_c + eps),  xhat = (x - mean_c) * invstd_c,  y = gamma_c * xhat + beta_c
 *   if ctx->update_stats: rmean = (1-m) rmean + m mean_c,  rvar = (1-m) rvar + m var_c * cnt/(cnt-1)
 * Forward, eval mode: the same with mean_c = rmean_c, invstd_c = 1 / sqrt(rvar_c + eps).
 * Backward (x is not read: the cached xhat and invstd are used):
 *   dgamma_c += sum dy * xhat,  dbeta_c += sum dy                      (only when accum_params)
 *   train: dx = gamma invstd / cnt * (cnt dy - sum dy - xhat * sum(dy xhat))
 *   eval:  dx = gamma invstd dy        (mean and invstd are constants there)
 *
 * Caches (from the last forward, allocated by the constructor): xhat (max_batch, C, H, W),
 * invstd (C), the batch size and whether it was a train-mode pass. So backward must follow the
 * forward of the same batch.
 *
 * Speed: every pass over a (H, W) plane runs in blocks of 8 that -O2 vectorises. Sums go to 8 float
 * partial sums per plane, which are added in double across the planes of a channel (a plane has at most
 * a few thousand values, so the float rounding stays ~1e-7 relative), instead of one double add chain.
 * Channels are split into one range per BLAS thread (parallel.h) and walked in blocks of channels whose
 * values fit in L2 (BN_BLOCK_FLOATS), each pass over a block image by image, in memory order.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "acgan/common.h"
#include "acgan/layers.h"
#include "parallel.h"

/* Sum of a[0..len) - shift: 8 float partial sums, the tail and the total in double. */
static double bn_sum(const float *restrict a, size_t len, float shift)
{
    float s[8] = {0};
    size_t j = 0;
    for (; j + 8 <= len; j += 8)
#pragma GCC unroll 8
        for (int u = 0; u < 8; u++) s[u] += a[j + u] - shift;
    double t = (double)((s[0] + s[1]) + (s[2] + s[3])) + (double)((s[4] + s[5]) + (s[6] + s[7]));
    for (; j < len; j++) t += (double)a[j] - shift;
    return t;
}

/* Sum of (a[j] - mean)^2 over [0, len), like bn_sum. */
static double bn_sqdev(const float *restrict a, size_t len, float mean)
{
    float s[8] = {0};
    size_t j = 0;
    for (; j + 8 <= len; j += 8)
#pragma GCC unroll 8
        for (int u = 0; u < 8; u++) {
            const float d = a[j + u] - mean;
            s[u] += d * d;
        }
    double t = (double)((s[0] + s[1]) + (s[2] + s[3])) + (double)((s[4] + s[5]) + (s[6] + s[7]));
    for (; j < len; j++) {
        const double d = (double)a[j] - mean;
        t += d * d;
    }
    return t;
}

/* *sdy += sum dy, *sdyx += sum dy * xh over [0, len), like bn_sum. Written with GCC vector types: the
 * unrolled scalar form with two sums is not vectorised by -O2. */
typedef float BnVec4 __attribute__((vector_size(16)));

static inline BnVec4 bn_load4(const float *a)
{
    BnVec4 v;
    memcpy(&v, a, sizeof v);
    return v;
}

static void bn_sum_dy(const float *restrict dy, const float *restrict xh, size_t len, double *sdy, double *sdyx)
{
    BnVec4 s0 = {0}, s1 = {0}, p0 = {0}, p1 = {0};
    size_t j = 0;
    for (; j + 8 <= len; j += 8) {
        const BnVec4 d0 = bn_load4(dy + j), d1 = bn_load4(dy + j + 4);
        s0 += d0;
        s1 += d1;
        p0 += d0 * bn_load4(xh + j);
        p1 += d1 * bn_load4(xh + j + 4);
    }
    const BnVec4 s = s0 + s1, p = p0 + p1;
    double ts = (double)((s[0] + s[1]) + (s[2] + s[3])), tp = (double)((p[0] + p[1]) + (p[2] + p[3]));
    for (; j < len; j++) {
        ts += dy[j];
        tp += (double)dy[j] * xh[j];
    }
    *sdy += ts;
    *sdyx += tp;
}

/* xh = (x - mean) * inv, y = g * xh + beta over [0, len). */
static void bn_normalize(const float *restrict x, float *restrict xh, float *restrict y, size_t len, float mean,
                         float inv, float g, float beta)
{
    size_t j = 0;
    for (; j + 8 <= len; j += 8)
#pragma GCC unroll 8
        for (int u = 0; u < 8; u++) {
            const float h = (x[j + u] - mean) * inv;
            xh[j + u] = h;
            y[j + u] = g * h + beta;
        }
    for (; j < len; j++) {
        xh[j] = (x[j] - mean) * inv;
        y[j] = g * xh[j] + beta;
    }
}

/* dx = k * (dy - mdy - xh * mdyx) over [0, len). */
static void bn_input_grad(const float *restrict dy, const float *restrict xh, float *restrict dx, size_t len,
                          float k, float mdy, float mdyx)
{
    size_t j = 0;
    for (; j + 8 <= len; j += 8)
#pragma GCC unroll 8
        for (int u = 0; u < 8; u++) dx[j + u] = k * (dy[j + u] - mdy - xh[j + u] * mdyx);
    for (; j < len; j++) dx[j] = k * (dy[j] - mdy - xh[j] * mdyx);
}

typedef struct {
    float eps, momentum;
    float *xhat;   /* (max_batch, C, H, W) normalised input of the last forward */
    float *invstd; /* (C) 1/sqrt(var + eps) used by the last forward */
    float *mean;   /* (C) mean used by the last forward */
    double *sum, *sum2; /* (C), (C) per-channel sums of the call in progress */
    int last_n;    /* batch size of the last forward (0: none yet) */
    int last_train; /* 1 if the last forward used batch statistics */
} BatchNormPriv;

#define BN_BLOCK_FLOATS ((size_t)1 << 17) /* 512 KB: a channel block's values, re-read by the next pass */

/* One forward or backward call, split into tasks over channel ranges (parallel_for). A task walks its
 * channels in blocks, each pass over a block image by image (memory order, which matters for small
 * planes), with per-channel sums in p->sum / p->sum2. */
typedef struct {
    Layer *l;
    const float *x, *dy;
    float *y, *dx;
    int n, tasks, train, update_stats, accum_params;
} BatchNormJob;

/* Channels per block: a block's values (n * HW per channel) stay in L2 between the passes over it. */
static int batchnorm2d_block(const Layer *l, int n)
{
    const size_t per_channel = (size_t)n * l->in.h * l->in.w;
    const size_t b = BN_BLOCK_FLOATS / per_channel;
    return b < 1 ? 1 : b > (size_t)l->in.c ? l->in.c : (int)b;
}

/* Forward of channels [c0, c1): statistics (train) then normalisation, image by image. */
static void batchnorm2d_forward_block(const BatchNormJob *job, int c0, int c1)
{
    Layer *l = job->l;
    BatchNormPriv *p = l->priv;
    const int C = l->in.c, n = job->n;
    const size_t HW = (size_t)l->in.h * l->in.w, cnt = (size_t)n * HW;
    const float *x = job->x;
    float *rmean = l->state, *rvar = l->state + C; /* (C), (C) */
    float *mean = p->mean;
    if (job->train) {
        /* Shifted by each channel's first value so that float partial sums of a large common offset stay
         * exact; mean[c] holds the shift until the sums are in. */
        for (int c = c0; c < c1; c++) {
            mean[c] = x[(size_t)c * HW];
            p->sum[c] = p->sum2[c] = 0.0;
        }
        for (int i = 0; i < n; i++)
            for (int c = c0; c < c1; c++) p->sum[c] += bn_sum(x + ((size_t)i * C + c) * HW, HW, mean[c]);
        for (int c = c0; c < c1; c++) mean[c] = (float)(mean[c] + p->sum[c] / (double)cnt);
        for (int i = 0; i < n; i++)
            for (int c = c0; c < c1; c++) p->sum2[c] += bn_sqdev(x + ((size_t)i * C + c) * HW, HW, mean[c]);
        for (int c = c0; c < c1; c++) {
            const double var = p->sum2[c] / (double)cnt;
            p->invstd[c] = (float)(1.0 / sqrt(var + (double)p->eps));
            if (job->update_stats) {
                const double m = p->momentum, unbiased = var * (double)cnt / (double)(cnt - 1);
                rmean[c] = (float)((1.0 - m) * rmean[c] + m * mean[c]);
                rvar[c] = (float)((1.0 - m) * rvar[c] + m * unbiased);
            }
        }
    } else {
        for (int c = c0; c < c1; c++) {
            mean[c] = rmean[c];
            p->invstd[c] = (float)(1.0 / sqrt((double)rvar[c] + (double)p->eps));
        }
    }
    for (int i = 0; i < n; i++)
        for (int c = c0; c < c1; c++) {
            const size_t off = ((size_t)i * C + c) * HW;
            bn_normalize(x + off, p->xhat + off, job->y + off, HW, mean[c], p->invstd[c], l->w.data[c],
                         l->b.data[c]);
        }
}

static void batchnorm2d_forward_task(void *ctx, int task, int worker)
{
    const BatchNormJob *job = ctx;
    const int C = job->l->in.c, block = batchnorm2d_block(job->l, job->n);
    const int c0 = (int)((long)C * task / job->tasks), c1 = (int)((long)C * (task + 1) / job->tasks);
    for (int b = c0; b < c1; b += block) batchnorm2d_forward_block(job, b, b + block < c1 ? b + block : c1);
}

/* Tasks: one per thread, at most one per channel. */
static int batchnorm2d_tasks(const Layer *l)
{
    const int t = parallel_threads();
    return t < l->in.c ? t : l->in.c;
}

static void batchnorm2d_forward(Layer *l, const float *x, float *y, int n, const PassCtx *ctx)
{
    BatchNormPriv *p = l->priv;
    ACGAN_ASSERT(n > 0 && n <= l->max_batch, "batchnorm2d: batch %d outside [1, %d]", n, l->max_batch);
    ACGAN_ASSERT(ctx != NULL, "batchnorm2d: forward needs a PassCtx");
    const int train = ctx->train != 0;
    ACGAN_ASSERT(!(train && ctx->update_stats) || (size_t)n * l->in.h * l->in.w > 1,
                 "batchnorm2d: need more than 1 value per channel to update running statistics");
    BatchNormJob job = {.l = l, .x = x, .y = y, .n = n, .tasks = batchnorm2d_tasks(l), .train = train,
                        .update_stats = ctx->update_stats};
    parallel_for(job.tasks, job.tasks, batchnorm2d_forward_task, &job);
    p->last_n = n;
    p->last_train = train;
}

/* Backward of channels [c0, c1): sums of dy and dy * xhat, parameter gradients, then dx. */
static void batchnorm2d_backward_block(const BatchNormJob *job, int c0, int c1)
{
    Layer *l = job->l;
    BatchNormPriv *p = l->priv;
    const int C = l->in.c, n = job->n;
    const size_t HW = (size_t)l->in.h * l->in.w, cnt = (size_t)n * HW;
    const float *dy = job->dy;
    double *sdy = p->sum, *sdyx = p->sum2;
    for (int c = c0; c < c1; c++) sdy[c] = sdyx[c] = 0.0;
    for (int i = 0; i < n; i++)
        for (int c = c0; c < c1; c++) {
            const size_t off = ((size_t)i * C + c) * HW;
            bn_sum_dy(dy + off, p->xhat + off, HW, &sdy[c], &sdyx[c]);
        }
    if (job->accum_params)
        for (int c = c0; c < c1; c++) {
            l->w.grad[c] += (float)sdyx[c];
            l->b.grad[c] += (float)sdy[c];
        }
    if (!job->dx) return;
    for (int i = 0; i < n; i++)
        for (int c = c0; c < c1; c++) {
            const size_t off = ((size_t)i * C + c) * HW;
            const float k = l->w.data[c] * p->invstd[c]; /* gamma * invstd */
            const float mdy = p->last_train ? (float)(sdy[c] / (double)cnt) : 0.0f;
            const float mdyx = p->last_train ? (float)(sdyx[c] / (double)cnt) : 0.0f;
            bn_input_grad(dy + off, p->xhat + off, job->dx + off, HW, k, mdy, mdyx);
        }
}

static void batchnorm2d_backward_task(void *ctx, int task, int worker)
{
    const BatchNormJob *job = ctx;
    const int C = job->l->in.c, block = batchnorm2d_block(job->l, job->n);
    const int c0 = (int)((long)C * task / job->tasks), c1 = (int)((long)C * (task + 1) / job->tasks);
    for (int b = c0; b < c1; b += block) batchnorm2d_backward_block(job, b, b + block < c1 ? b + block : c1);
}

static void batchnorm2d_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n,
                                 int accum_params)
{
    BatchNormPriv *p = l->priv;
    ACGAN_ASSERT(n == p->last_n, "batchnorm2d: backward batch %d differs from the last forward's %d", n,
                 p->last_n);
    BatchNormJob job = {.l = l, .dy = dy, .dx = dx, .n = n, .tasks = batchnorm2d_tasks(l),
                        .accum_params = accum_params};
    parallel_for(job.tasks, job.tasks, batchnorm2d_backward_task, &job);
}

/* gamma ~ N(1, 0.02), beta = 0, running mean 0, running var 1. */
static void batchnorm2d_init(Layer *l, Rng *rng)
{
    const int C = l->in.c;
    for (int c = 0; c < C; c++) {
        l->w.data[c] = 1.0f + 0.02f * rng_normal(rng);
        l->b.data[c] = 0.0f;
        l->state[c] = 0.0f;
        l->state[C + c] = 1.0f;
    }
}

static void batchnorm2d_free(Layer *l)
{
    BatchNormPriv *p = l->priv;
    if (!p) return;
    free(p->xhat);
    free(p->invstd);
    free(p->mean);
    free(p->sum);
    free(p->sum2);
    free(p);
    l->priv = NULL;
}

static const LayerOps batchnorm2d_ops = {
    .kind = "batchnorm2d",
    .forward = batchnorm2d_forward,
    .backward = batchnorm2d_backward,
    .init = batchnorm2d_init,
    .free = batchnorm2d_free,
};

Layer *batchnorm2d_create(Shape in, float eps, float momentum, int max_batch)
{
    ACGAN_ASSERT(in.c > 0 && in.h > 0 && in.w > 0, "batchnorm2d: bad input shape (%d, %d, %d)", in.c, in.h,
                 in.w);
    ACGAN_ASSERT(eps > 0.0f && momentum >= 0.0f && momentum <= 1.0f,
                 "batchnorm2d: need eps > 0 and momentum in [0, 1], got %g and %g", (double)eps, (double)momentum);
    Layer *l = layer_alloc(&batchnorm2d_ops, in, in, max_batch);
    BatchNormPriv *p = acgan_calloc(1, sizeof *p);
    p->eps = eps;
    p->momentum = momentum;
    p->xhat = acgan_calloc((size_t)max_batch * shape_size(in), sizeof(float));
    p->invstd = acgan_calloc((size_t)in.c, sizeof(float));
    p->mean = acgan_calloc((size_t)in.c, sizeof(float));
    p->sum = acgan_calloc((size_t)in.c, sizeof(double));
    p->sum2 = acgan_calloc((size_t)in.c, sizeof(double));
    l->priv = p;
    l->w.count = (size_t)in.c;
    l->b.count = (size_t)in.c;
    l->n_state = 2 * (size_t)in.c;
    return l;
}
