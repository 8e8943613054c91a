/* conv2d.c - 2-D convolution with stride and zero padding, as one GEMM over the whole batch.
 *
 * Shapes: x (n, C, H, W), W (OC, C, K, K) [PyTorch layout], b (OC), y (n, OC, OH, OW) with
 *   OH = (H + 2*pad - K) / stride + 1, OW likewise, P = OH*OW.
 *
 * Forward:
 *   col (C*K*K, n*P)  = im2col of all n images side by side: col[(c,ki,kj)][i*P + (oh,ow)]
 *                       = x[i][c][oh*stride - pad + ki][ow*stride - pad + kj] (0 outside the image)
 *   tmp (OC, n*P)     = W (OC, C*K*K) @ col                       -- one sgemm
 *   y[i][oc][p]       = tmp[oc][i*P + p] + b[oc]
 * Backward:
 *   dyM (OC, n*P)     = dy gathered like tmp
 *   dW (OC, C*K*K)   += dyM @ col^T   (col recomputed from x)     -- only when accum_params
 *   db[oc]           += sum_j dyM[oc][j]                          -- only when accum_params
 *   dcol (C*K*K, n*P) = W^T @ dyM;  dx = col2im(dcol)  (written with =, skipped when dx == NULL)
 *
 * Caches nothing between calls. Scratch (shared, max_batch-sized): [col or dcol][tmp or dyM], i.e.
 * max_batch*P*(C*K*K + OC) floats; backward reuses the col area for dcol after dW is done.
 */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "acgan/common.h"
#include "acgan/layers.h"

typedef struct {
    int k, stride, pad;
} Conv2dPriv;

/* Range [*lo, *hi) of output columns ow whose input column ow*stride - pad + kj lies in [0, w). */
static void conv2d_valid_range(int kj, int stride, int pad, int w, int ow_n, int *lo, int *hi)
{
    int first = pad - kj; /* need ow*stride >= first */
    int l = first <= 0 ? 0 : (first + stride - 1) / stride;
    int last = w - 1 + pad - kj; /* need ow*stride <= last */
    int h = last < 0 ? 0 : last / stride + 1;
    if (h > ow_n) h = ow_n;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* dst[0..len) += src[0..len); unrolled so that -O2 (SLP) vectorises it. */
static inline void conv2d_add_row(float *restrict dst, const float *restrict src, int len)
{
    int j = 0;
    for (; j + 8 <= len; j += 8) {
        dst[j + 0] += src[j + 0];
        dst[j + 1] += src[j + 1];
        dst[j + 2] += src[j + 2];
        dst[j + 3] += src[j + 3];
        dst[j + 4] += src[j + 4];
        dst[j + 5] += src[j + 5];
        dst[j + 6] += src[j + 6];
        dst[j + 7] += src[j + 7];
    }
    for (; j < len; j++) dst[j] += src[j];
}

/* col (C*K*K, n*P) from x (n, C, H, W). Each output row is written contiguously. */
static void conv2d_im2col(const Layer *l, const Conv2dPriv *p, const float *x, int n, float *col)
{
    const int C = l->in.c, H = l->in.h, W = l->in.w, OH = l->out.h, OW = l->out.w;
    const int K = p->k, S = p->stride, PAD = p->pad;
    const size_t P = (size_t)OH * OW, HW = (size_t)H * W, np = (size_t)n * P;
    for (int c = 0; c < C; c++)
        for (int ki = 0; ki < K; ki++)
            for (int kj = 0; kj < K; kj++) {
                float *row = col + ((size_t)(c * K + ki) * K + kj) * np;
                int lo, hi;
                conv2d_valid_range(kj, S, PAD, W, OW, &lo, &hi);
                for (int i = 0; i < n; i++) {
                    const float *xc = x + ((size_t)i * C + c) * HW;
                    float *dst = row + (size_t)i * P;
                    for (int oh = 0; oh < OH; oh++, dst += OW) {
                        int ih = oh * S - PAD + ki;
                        if (ih < 0 || ih >= H) {
                            memset(dst, 0, (size_t)OW * sizeof(float));
                            continue;
                        }
                        for (int ow = 0; ow < lo; ow++) dst[ow] = 0.0f;
                        if (lo < hi) {
                            const float *src = xc + (size_t)ih * W + (lo * S - PAD + kj);
                            if (S == 1) {
                                memcpy(dst + lo, src, (size_t)(hi - lo) * sizeof(float));
                            } else {
                                for (int ow = lo; ow < hi; ow++) dst[ow] = src[(size_t)(ow - lo) * S];
                            }
                        }
                        for (int ow = hi; ow < OW; ow++) dst[ow] = 0.0f;
                    }
                }
            }
}

/* dx (n, C, H, W) = col2im(dcol (C*K*K, n*P)): the adjoint of conv2d_im2col. */
static void conv2d_col2im(const Layer *l, const Conv2dPriv *p, const float *dcol, int n, float *dx)
{
    const int C = l->in.c, H = l->in.h, W = l->in.w, OH = l->out.h, OW = l->out.w;
    const int K = p->k, S = p->stride, PAD = p->pad;
    const size_t P = (size_t)OH * OW, HW = (size_t)H * W, np = (size_t)n * P;
    memset(dx, 0, (size_t)n * C * HW * sizeof(float));
    for (int c = 0; c < C; c++)
        for (int ki = 0; ki < K; ki++)
            for (int kj = 0; kj < K; kj++) {
                const float *row = dcol + ((size_t)(c * K + ki) * K + kj) * np;
                int lo, hi;
                conv2d_valid_range(kj, S, PAD, W, OW, &lo, &hi);
                for (int i = 0; i < n; i++) {
                    float *dxc = dx + ((size_t)i * C + c) * HW;
                    const float *src = row + (size_t)i * P;
                    for (int oh = 0; oh < OH; oh++, src += OW) {
                        int ih = oh * S - PAD + ki;
                        if (ih < 0 || ih >= H || lo >= hi) continue;
                        float *dst = dxc + (size_t)ih * W + (lo * S - PAD + kj);
                        if (S == 1) {
                            conv2d_add_row(dst, src + lo, hi - lo);
                        } else {
                            for (int ow = lo; ow < hi; ow++) dst[(size_t)(ow - lo) * S] += src[ow];
                        }
                    }
                }
            }
}

static void conv2d_forward(Layer *l, const float *x, float *y, int n, const PassCtx *ctx)
{
    const Conv2dPriv *p = l->priv;
    ACGAN_ASSERT(n > 0 && n <= l->max_batch, "conv2d: batch %d outside [1, %d]", n, l->max_batch);
    const int OC = l->out.c, CKK = l->in.c * p->k * p->k;
    const size_t P = (size_t)l->out.h * l->out.w, np = (size_t)n * P;
    float *col = l->scratch;                                          /* (C*K*K, n*P) */
    float *tmp = l->scratch + (size_t)CKK * l->max_batch * P;         /* (OC, n*P) */
    conv2d_im2col(l, p, x, n, col);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, (int)np, CKK, 1.0f, l->w.data, CKK, col,
                (int)np, 0.0f, tmp, (int)np);
    for (int i = 0; i < n; i++)
        for (int oc = 0; oc < OC; oc++) {
            const float *src = tmp + (size_t)oc * np + (size_t)i * P;
            float *dst = y + ((size_t)i * OC + oc) * P;
            const float bias = l->b.data[oc];
            for (size_t j = 0; j < P; j++) dst[j] = src[j] + bias;
        }
}

static void conv2d_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n,
                            int accum_params)
{
    const Conv2dPriv *p = l->priv;
    ACGAN_ASSERT(n > 0 && n <= l->max_batch, "conv2d: batch %d outside [1, %d]", n, l->max_batch);
    if (!dx && !accum_params) return;
    const int OC = l->out.c, CKK = l->in.c * p->k * p->k;
    const size_t P = (size_t)l->out.h * l->out.w, np = (size_t)n * P;
    float *col = l->scratch;                                          /* (C*K*K, n*P), later dcol */
    float *dym = l->scratch + (size_t)CKK * l->max_batch * P;         /* (OC, n*P) */
    for (int i = 0; i < n; i++)
        for (int oc = 0; oc < OC; oc++)
            memcpy(dym + (size_t)oc * np + (size_t)i * P, dy + ((size_t)i * OC + oc) * P, P * sizeof(float));
    if (accum_params) {
        conv2d_im2col(l, p, x, n, col);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, OC, CKK, (int)np, 1.0f, dym, (int)np, col,
                    (int)np, 1.0f, l->w.grad, CKK);
        for (int oc = 0; oc < OC; oc++) {
            const float *row = dym + (size_t)oc * np;
            double s = 0.0;
            for (size_t j = 0; j < np; j++) s += row[j];
            l->b.grad[oc] += (float)s;
        }
    }
    if (dx) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CKK, (int)np, OC, 1.0f, l->w.data, CKK, dym,
                    (int)np, 0.0f, col, (int)np);
        conv2d_col2im(l, p, col, n, dx);
    }
}

/* W ~ N(0, 0.02), b = 0 (the ACGAN weights_init_normal). */
static void conv2d_init(Layer *l, Rng *rng)
{
    for (size_t i = 0; i < l->w.count; i++) l->w.data[i] = 0.02f * rng_normal(rng);
    memset(l->b.data, 0, l->b.count * sizeof(float));
}

static void conv2d_free(Layer *l)
{
    free(l->priv);
    l->priv = NULL;
}

static const LayerOps conv2d_ops = {
    .kind = "conv2d",
    .forward = conv2d_forward,
    .backward = conv2d_backward,
    .init = conv2d_init,
    .free = conv2d_free,
};

Layer *conv2d_create(Shape in, int out_channels, int kernel, int stride, int pad, int max_batch)
{
    ACGAN_ASSERT(in.c > 0 && in.h > 0 && in.w > 0, "conv2d: bad input shape (%d, %d, %d)", in.c, in.h, in.w);
    ACGAN_ASSERT(out_channels > 0 && kernel > 0 && stride > 0 && pad >= 0,
                 "conv2d: bad out_channels %d, kernel %d, stride %d or pad %d", out_channels, kernel, stride, pad);
    ACGAN_ASSERT(in.h + 2 * pad >= kernel && in.w + 2 * pad >= kernel,
                 "conv2d: kernel %d larger than padded input %dx%d (pad %d)", kernel, in.h, in.w, pad);
    Shape out = {out_channels, (in.h + 2 * pad - kernel) / stride + 1, (in.w + 2 * pad - kernel) / stride + 1};
    Layer *l = layer_alloc(&conv2d_ops, in, out, max_batch);
    Conv2dPriv *p = acgan_calloc(1, sizeof *p);
    p->k = kernel;
    p->stride = stride;
    p->pad = pad;
    l->priv = p;
    const size_t ckk = (size_t)in.c * kernel * kernel, P = (size_t)out.h * out.w;
    l->w.count = (size_t)out_channels * ckk;
    l->b.count = (size_t)out_channels;
    l->n_scratch = (size_t)max_batch * P * (ckk + (size_t)out_channels);
    ACGAN_ASSERT((size_t)max_batch * P <= (size_t)INT32_MAX && ckk <= (size_t)INT32_MAX,
                 "conv2d: GEMM dimensions exceed int range");
    return l;
}
