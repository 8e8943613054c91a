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
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "acgan/common.h"
#include "acgan/layers.h"

typedef struct {
    float eps, momentum;
    float *xhat;   /* (max_batch, C, H, W) normalised input of the last forward */
    float *invstd; /* (C) 1/sqrt(var + eps) used by the last forward */
    int last_n;    /* batch size of the last forward (0: none yet) */
    int last_train; /* 1 if the last forward used batch statistics */
} BatchNormPriv;

static void batchnorm2d_forward(Layer *l, const float *x, float *y, int n, const PassCtx *ctx)
{
    BatchNormPriv *p = l->priv;
    ACGAN_ASSERT(n > 0 && n <= l->max_batch, "batchnorm2d: batch %d outside [1, %d]", n, l->max_batch);
    ACGAN_ASSERT(ctx != NULL, "batchnorm2d: forward needs a PassCtx");
    const int C = l->in.c;
    const size_t HW = (size_t)l->in.h * l->in.w, cnt = (size_t)n * HW;
    const int train = ctx->train != 0;
    float *rmean = l->state, *rvar = l->state + C; /* (C), (C) */
    ACGAN_ASSERT(!(train && ctx->update_stats) || cnt > 1,
                 "batchnorm2d: need more than 1 value per channel to update running statistics");
    for (int c = 0; c < C; c++) {
        double mean, invstd;
        if (train) {
            double s = 0.0, ss = 0.0;
            for (int i = 0; i < n; i++) {
                const float *xc = x + ((size_t)i * C + c) * HW;
                for (size_t j = 0; j < HW; j++) s += xc[j];
            }
            mean = s / (double)cnt;
            for (int i = 0; i < n; i++) {
                const float *xc = x + ((size_t)i * C + c) * HW;
                for (size_t j = 0; j < HW; j++) {
                    double d = xc[j] - mean;
                    ss += d * d;
                }
            }
            double var = ss / (double)cnt;
            invstd = 1.0 / sqrt(var + (double)p->eps);
            if (ctx->update_stats) {
                double m = p->momentum, unbiased = var * (double)cnt / (double)(cnt - 1);
                rmean[c] = (float)((1.0 - m) * rmean[c] + m * mean);
                rvar[c] = (float)((1.0 - m) * rvar[c] + m * unbiased);
            }
        } else {
            mean = rmean[c];
            invstd = 1.0 / sqrt((double)rvar[c] + (double)p->eps);
        }
        p->invstd[c] = (float)invstd;
        const float g = l->w.data[c], beta = l->b.data[c];
        const float fmean = (float)mean, finv = (float)invstd;
        for (int i = 0; i < n; i++) {
            const size_t off = ((size_t)i * C + c) * HW;
            const float *xc = x + off;
            float *xh = p->xhat + off, *yc = y + off;
            for (size_t j = 0; j < HW; j++) {
                xh[j] = (xc[j] - fmean) * finv;
                yc[j] = g * xh[j] + beta;
            }
        }
    }
    p->last_n = n;
    p->last_train = train;
}

static void batchnorm2d_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n,
                                 int accum_params)
{
    BatchNormPriv *p = l->priv;
    ACGAN_ASSERT(n == p->last_n, "batchnorm2d: backward batch %d differs from the last forward's %d", n,
                 p->last_n);
    const int C = l->in.c;
    const size_t HW = (size_t)l->in.h * l->in.w, cnt = (size_t)n * HW;
    for (int c = 0; c < C; c++) {
        double sdy = 0.0, sdyx = 0.0;
        for (int i = 0; i < n; i++) {
            const size_t off = ((size_t)i * C + c) * HW;
            const float *dyc = dy + off, *xh = p->xhat + off;
            for (size_t j = 0; j < HW; j++) {
                sdy += dyc[j];
                sdyx += (double)dyc[j] * xh[j];
            }
        }
        if (accum_params) {
            l->w.grad[c] += (float)sdyx;
            l->b.grad[c] += (float)sdy;
        }
        if (!dx) continue;
        const float k = l->w.data[c] * p->invstd[c]; /* gamma * invstd */
        const float mdy = p->last_train ? (float)(sdy / (double)cnt) : 0.0f;
        const float mdyx = p->last_train ? (float)(sdyx / (double)cnt) : 0.0f;
        for (int i = 0; i < n; i++) {
            const size_t off = ((size_t)i * C + c) * HW;
            const float *dyc = dy + off, *xh = p->xhat + off;
            float *dxc = dx + off;
            for (size_t j = 0; j < HW; j++) dxc[j] = k * (dyc[j] - mdy - xh[j] * mdyx);
        }
    }
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
    l->priv = p;
    l->w.count = (size_t)in.c;
    l->b.count = (size_t)in.c;
    l->n_state = 2 * (size_t)in.c;
    return l;
}
