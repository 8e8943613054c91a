/* conv2d.c - 2-D convolution with stride and zero padding.
 *
 * Shapes: x (n, C, H, W), W (OC, C, K, K) [PyTorch layout], b (OC), y (n, OC, OH, OW) with
 *   OH = (H + 2*pad - K) / stride + 1, OW likewise, P = OH*OW, CKK = C*K*K.
 *
 * Math:
 *   y[i][oc][p]  = b[oc] + sum_{c,ki,kj} W[oc][c][ki][kj] x[i][c][oh*stride - pad + ki][ow*stride - pad + kj]
 *   dW          += sum_i dy_i (OC, P) @ col_i^T     col_i (CKK, P) = im2col(x_i)      -- when accum_params
 *   db[oc]      += sum_{i,p} dy[i][oc][p]                                            -- when accum_params
 *   dx           = col2im(W^T @ dy)  (the adjoint of the forward; written with =, skipped when dx == NULL)
 *
 * Two engines, chosen once by conv2d_create:
 * - direct (stride 1, pad < K, CPU with AVX-512; the generator's layers). Per image, x_i is zero-padded
 *   into xpad (C, H+2pad, W+2pad) and register-tiled kernels (conv2d_direct.c, which says why they beat
 *   im2col + sgemm) read it in place: no im2col matrix, no scatter, no GEMM packing.
 *     y_i  = conv2d_direct_image(xpad, W) + b, written straight into y, which is already NCHW;
 *     dx_i = the same kernel on dy_i zero-padded by pad' = K-1-pad, with the flipped, transposed weights
 *            Wf[c][oc][ki][kj] = W[oc][c][K-1-ki][K-1-kj];
 *     dW  += conv2d_direct_dweight: im2col(x_i) @ dy_i^T read from xpad and dyt = dy_i^T (P, OC),
 *            accumulated transposed per task in dwt (CKK, OC) and added to dW at the end (fewer than
 *            CONV2D_DW_VECTOR_OC output channels: the pixel-vectorised conv2d_direct_dweight_small).
 *   Images are split into one contiguous range per thread (parallel.h): with one thread per rank that
 *   is one task; a single process with T BLAS threads runs T. Each task has its own scratch slot, and
 *   the tasks' dW parts are added in task order, so results depend on T but not on timing.
 * - gemm (everything else: the discriminator's stride-2 layers, small enough that OpenBLAS is fine):
 *   images in chunks of `chunk`, sized so that a chunk's col (CKK, chunk*P) and tmp (OC, chunk*P) stay
 *   cache-sized; im2col of the chunk side by side, one sgemm per chunk (a one-image chunk writes y_i
 *   directly), and in backward dW += dyM @ col^T and dcol = W^T @ dyM followed by col2im.
 *
 * Caches nothing between calls. Scratch (shared with the model's other layers, sized by the constructor):
 *   direct  p->workers slots of [xpad | dyt (P, OC) | dwt | dypad (OC, OH+2pad', OW+2pad') + slack], then
 *           Wf (C, OC, K, K)
 *   gemm    col or dcol (CKK, chunk*P), then tmp or dyM (OC, chunk*P)
 */
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acgan/common.h"
#include "acgan/layers.h"
#include "conv2d_direct.h"
#include "parallel.h"

#define CONV2D_CHUNK_FLOATS ((size_t)1 << 20) /* gemm engine: col + tmp of one chunk, 4 MB */
/* direct dW: from this many output channels the kernel vectorised over channels (conv2d_direct_dweight)
 * beats the one vectorised over pixels (conv2d_direct_dweight_small); the crossover measured near 4-6. */
#define CONV2D_DW_VECTOR_OC 4

typedef struct {
    int k, stride, pad;
    int direct;             /* 1: direct engine, 0: gemm engine */
    int chunk;              /* gemm engine: images per im2col chunk */
    int pad_b;              /* direct: padding of dy for dx, K-1-pad */
    Conv2dSlot *slots_f;    /* direct: (nslots_f) output vectors of y's plane, rows of xpad */
    Conv2dSlot *slots_b;    /* direct: (nslots_b) output vectors of dx's plane, rows of dypad */
    int nslots_f, nslots_b;
    int32_t *joff;          /* direct: (CKK) offset of im2col row (c,ki,kj) in xpad's first channel plane */
    int workers;            /* direct: scratch slots, parallel_threads() when created */
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

/* Sum of a[0..len): 8 float partial sums (vectorised) over blocks of 1024, blocks added in double. */
static double conv2d_sum(const float *restrict a, size_t len)
{
    double total = 0.0;
    for (size_t b = 0; b < len; b += 1024) {
        const size_t e = len - b < 1024 ? len : b + 1024;
        float s[8] = {0};
        size_t j = b;
        for (; j + 8 <= e; j += 8)
            for (int u = 0; u < 8; u++) s[u] += a[j + u];
        double t = (double)((s[0] + s[1]) + (s[2] + s[3])) + (double)((s[4] + s[5]) + (s[6] + s[7]));
        for (; j < e; j++) t += a[j];
        total += t;
    }
    return total;
}

/* Rows (c, ki, kj) with c in [c0, c1) of col (C*K*K, n*P) from x (n, C, H, W), each written contiguously. */
static void conv2d_im2col_range(const Layer *l, const Conv2dPriv *p, const float *x, int n, float *col, int c0,
                                int c1)
{
    const int C = l->in.c, H = l->in.h, W = l->in.w, OH = l->out.h, OW = l->out.w;
    const int K = p->k, S = p->stride, PAD = p->pad;
    const size_t P = (size_t)OH * OW, HW = (size_t)H * W, np = (size_t)n * P;
    for (int c = c0; c < c1; c++)
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

/* Channels [c0, c1) of dx (n, C, H, W) = col2im(dcol (C*K*K, n*P)): the adjoint of im2col. */
static void conv2d_col2im_range(const Layer *l, const Conv2dPriv *p, const float *dcol, int n, float *dx, int c0,
                                int c1)
{
    const int C = l->in.c, H = l->in.h, W = l->in.w, OH = l->out.h, OW = l->out.w;
    const int K = p->k, S = p->stride, PAD = p->pad;
    const size_t P = (size_t)OH * OW, HW = (size_t)H * W, np = (size_t)n * P;
    for (int i = 0; i < n; i++) memset(dx + ((size_t)i * C + c0) * HW, 0, (size_t)(c1 - c0) * HW * sizeof(float));
    for (int c = c0; c < c1; c++)
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

/* im2col or col2im of n images, split into input-channel ranges over the BLAS threads when large. */
typedef struct {
    const Layer *l;
    const Conv2dPriv *p;
    const float *src;
    float *dst;
    int n, tasks, adjoint;
} Conv2dColJob;

static void conv2d_col_task(void *ctx, int task, int worker)
{
    const Conv2dColJob *job = ctx;
    const int C = job->l->in.c;
    const int c0 = (int)((long)C * task / job->tasks), c1 = (int)((long)C * (task + 1) / job->tasks);
    if (job->adjoint)
        conv2d_col2im_range(job->l, job->p, job->src, job->n, job->dst, c0, c1);
    else
        conv2d_im2col_range(job->l, job->p, job->src, job->n, job->dst, c0, c1);
}

static void conv2d_col_run(const Layer *l, const Conv2dPriv *p, const float *src, int n, float *dst, int adjoint)
{
    const size_t work = (size_t)l->in.c * p->k * p->k * n * l->out.h * l->out.w;
    int tasks = work < 65536 ? 1 : parallel_threads();
    if (tasks > l->in.c) tasks = l->in.c;
    Conv2dColJob job = {.l = l, .p = p, .src = src, .dst = dst, .n = n, .tasks = tasks, .adjoint = adjoint};
    parallel_for(tasks, tasks, conv2d_col_task, &job);
}

/* col (C*K*K, n*P) = im2col(x (n, C, H, W)). */
static void conv2d_im2col(const Layer *l, const Conv2dPriv *p, const float *x, int n, float *col)
{
    conv2d_col_run(l, p, x, n, col, 0);
}

/* dx (n, C, H, W) = col2im(dcol (C*K*K, n*P)). */
static void conv2d_col2im(const Layer *l, const Conv2dPriv *p, const float *dcol, int n, float *dx)
{
    conv2d_col_run(l, p, dcol, n, dx, 1);
}

/* dst[0..len) = src[0..len) in blocks of 8 that -O2 vectorises (rows here are too short for memcpy). */
static inline void conv2d_copy_row(float *restrict dst, const float *restrict src, int len)
{
    int j = 0;
    for (; j + 8 <= len; j += 8)
#pragma GCC unroll 8
        for (int u = 0; u < 8; u++) dst[j + u] = src[j + u];
    for (; j < len; j++) dst[j] = src[j];
}

/* dst (C, H+2p, W+2p) = src (C, H, W) framed by p zeros on every side, then CONV2D_DIRECT_SLACK zeros. */
static void conv2d_pad(const float *src, int C, int H, int W, int p, float *dst)
{
    const int Wp = W + 2 * p;
    const size_t top = (size_t)p * Wp;
    for (int c = 0; c < C; c++) {
        const float *s = src + (size_t)c * H * W;
        memset(dst, 0, top * sizeof(float));
        dst += top;
        for (int h = 0; h < H; h++, dst += Wp) {
            for (int k = 0; k < p; k++) dst[k] = dst[p + W + k] = 0.0f;
            conv2d_copy_row(dst + p, s + (size_t)h * W, W);
        }
        memset(dst, 0, top * sizeof(float));
        dst += top;
    }
    memset(dst, 0, CONV2D_DIRECT_SLACK * sizeof(float));
}

/* ------------------------------------------------------------------------------------ direct engine */

#define CONV2D_ROUND16(n) (((n) + 15) / 16 * 16)

/* Next 64-byte-aligned block of count floats from *cur; *cur moves to the block's end rounded up to 16
 * floats, so a base aligned to 64 bytes advances by CONV2D_ROUND16(count). */
static float *conv2d_carve(float **cur, size_t count)
{
    float *p = (float *)(((uintptr_t)*cur + 63) & ~(uintptr_t)63);
    *cur = p + CONV2D_ROUND16(count);
    return p;
}

/* One scratch slot of the direct engine (conv2d_create reserves p->workers of them, then Wf). */
typedef struct {
    float *xpad;  /* (C, H+2pad, W+2pad) + slack: x_i padded */
    float *dyt;   /* (P, OC): dy_i transposed */
    float *dwt;   /* (CKK, OC): this slot's weight gradient, transposed; small OC: (OC, CKK, 16) lane sums */
    float *dypad; /* (OC, OH+2pad', OW+2pad') + slack: dy_i padded for dx */
} Conv2dSlotBufs;

static void conv2d_direct_sizes(const Layer *l, const Conv2dPriv *p, size_t size[4])
{
    const size_t C = (size_t)l->in.c, OC = (size_t)l->out.c, CKK = C * p->k * p->k;
    size[0] = C * (l->in.h + 2 * p->pad) * (l->in.w + 2 * p->pad) + CONV2D_DIRECT_SLACK;
    size[1] = (size_t)l->out.h * l->out.w * OC;
    size[2] = CKK * OC * (OC < CONV2D_DW_VECTOR_OC ? 16 : 1);
    size[3] = OC * (l->out.h + 2 * p->pad_b) * (l->out.w + 2 * p->pad_b) + CONV2D_DIRECT_SLACK;
}

/* Floats per slot: the four blocks rounded to 16 floats, plus 16 to align an unaligned slot start. */
static size_t conv2d_direct_slot_floats(const Layer *l, const Conv2dPriv *p)
{
    size_t size[4], total = 16;
    conv2d_direct_sizes(l, p, size);
    for (int k = 0; k < 4; k++) total += CONV2D_ROUND16(size[k]);
    return total;
}

static Conv2dSlotBufs conv2d_direct_bufs(const Layer *l, const Conv2dPriv *p, int slot)
{
    size_t size[4];
    conv2d_direct_sizes(l, p, size);
    float *cur = l->scratch + (size_t)slot * conv2d_direct_slot_floats(l, p);
    Conv2dSlotBufs b;
    b.xpad = conv2d_carve(&cur, size[0]);
    b.dyt = conv2d_carve(&cur, size[1]);
    b.dwt = conv2d_carve(&cur, size[2]);
    b.dypad = conv2d_carve(&cur, size[3]);
    return b;
}

/* One forward or backward call; task t handles images [n*t/tasks, n*(t+1)/tasks) with scratch slot t. */
typedef struct {
    Layer *l;
    const Conv2dPriv *p;
    const float *x, *dy;
    float *y, *dx;
    const float *wf; /* (C, OC, K, K) flipped weights for dx */
    int n, tasks, accum_params;
} Conv2dJob;

static void conv2d_direct_forward_task(void *ctx, int task, int worker)
{
    const Conv2dJob *job = ctx;
    const Layer *l = job->l;
    const Conv2dPriv *p = job->p;
    const int C = l->in.c, H = l->in.h, W = l->in.w, OC = l->out.c, Wp = W + 2 * p->pad;
    const size_t plane = (size_t)(H + 2 * p->pad) * Wp, HW = (size_t)H * W, P = (size_t)l->out.h * l->out.w;
    float *xpad = conv2d_direct_bufs(l, p, task).xpad;
    const int i0 = (int)((long)job->n * task / job->tasks), i1 = (int)((long)job->n * (task + 1) / job->tasks);
    for (int i = i0; i < i1; i++) {
        conv2d_pad(job->x + (size_t)i * C * HW, C, H, W, p->pad, xpad);
        conv2d_direct_image(xpad, C, plane, Wp, p->k, l->w.data, OC, p->slots_f, p->nslots_f,
                            job->y + (size_t)i * OC * P, P, l->b.data);
    }
}

/* Backward of images [i0, i1): dW into this slot's dwt (CKK, OC) (written, not accumulated), dx written. */
static void conv2d_direct_backward_task(void *ctx, int task, int worker)
{
    const Conv2dJob *job = ctx;
    const Layer *l = job->l;
    const Conv2dPriv *p = job->p;
    const int C = l->in.c, H = l->in.h, W = l->in.w, OC = l->out.c, OH = l->out.h, OW = l->out.w;
    const int K = p->k, CKK = C * K * K, Wpf = W + 2 * p->pad, Wpb = OW + 2 * p->pad_b;
    const size_t P = (size_t)OH * OW, HW = (size_t)H * W;
    const size_t plane_b = (size_t)(OH + 2 * p->pad_b) * Wpb;
    const Conv2dSlotBufs b = conv2d_direct_bufs(l, p, task);
    float *xpad = b.xpad, *dyt = b.dyt, *dwt = b.dwt, *dypad = b.dypad;
    const int i0 = (int)((long)job->n * task / job->tasks), i1 = (int)((long)job->n * (task + 1) / job->tasks);
    const int small = OC < CONV2D_DW_VECTOR_OC;
    if (job->accum_params) memset(dwt, 0, (size_t)CKK * OC * (small ? 16 : 1) * sizeof(float));
    for (int i = i0; i < i1; i++) {
        const float *dyi = job->dy + (size_t)i * OC * P; /* (OC, P) */
        if (job->accum_params) {
            conv2d_pad(job->x + (size_t)i * C * HW, C, H, W, p->pad, xpad);
            if (small) {
                conv2d_direct_dweight_small(xpad, C, (size_t)(H + 2 * p->pad) * Wpf, Wpf, K, p->slots_f, p->nslots_f,
                                            dyi, OC, P, dwt);
            } else {
                for (size_t p0 = 0; p0 < P; p0 += 16) { /* dyt = dyi^T, in strips of 16 pixels */
                    const size_t p1 = P - p0 < 16 ? P : p0 + 16;
                    for (int oc = 0; oc < OC; oc++)
                        for (size_t q = p0; q < p1; q++) dyt[q * OC + oc] = dyi[(size_t)oc * P + q];
                }
                conv2d_direct_dweight(xpad, p->joff, CKK, Wpf, OH, OW, dyt, OC, dwt);
            }
        }
        if (job->dx) {
            conv2d_pad(dyi, OC, OH, OW, p->pad_b, dypad);
            conv2d_direct_image(dypad, OC, plane_b, Wpb, K, job->wf, C, p->slots_b, p->nslots_b,
                                job->dx + (size_t)i * C * HW, HW, NULL);
        }
    }
}

/* Tasks for n images: one per worker slot, at most one per image. */
static int conv2d_direct_tasks(const Conv2dPriv *p, int n)
{
    int t = parallel_threads();
    if (t > p->workers) t = p->workers;
    return t < n ? t : n;
}

static void conv2d_direct_forward(Layer *l, const Conv2dPriv *p, const float *x, float *y, int n)
{
    Conv2dJob job = {.l = l, .p = p, .x = x, .y = y, .n = n, .tasks = conv2d_direct_tasks(p, n)};
    parallel_for(job.tasks, job.tasks, conv2d_direct_forward_task, &job);
}

static void conv2d_direct_backward(Layer *l, const Conv2dPriv *p, const float *x, const float *dy, float *dx,
                                   int n, int accum_params)
{
    const int C = l->in.c, OC = l->out.c, KK = p->k * p->k, CKK = C * KK;
    const size_t P = (size_t)l->out.h * l->out.w, slot = conv2d_direct_slot_floats(l, p);
    Conv2dJob job = {.l = l, .p = p, .x = x, .dy = dy, .dx = dx, .n = n, .tasks = conv2d_direct_tasks(p, n),
                     .accum_params = accum_params};
    if (dx) {
        float *wf = l->scratch + (size_t)p->workers * slot; /* (C, OC, K, K) */
        for (int oc = 0; oc < OC; oc++)
            for (int c = 0; c < C; c++) {
                const float *src = l->w.data + ((size_t)oc * C + c) * KK;
                float *dst = wf + ((size_t)c * OC + oc) * KK;
                for (int t = 0; t < KK; t++) dst[t] = src[KK - 1 - t];
            }
        job.wf = wf;
    }
    parallel_for(job.tasks, job.tasks, conv2d_direct_backward_task, &job);
    if (!accum_params) return;
    /* dW += the tasks' dwt^T (or lane sums), added in task order: deterministic for a given thread count. */
    for (int t = 0; t < job.tasks; t++) {
        const float *dwt = conv2d_direct_bufs(l, p, t).dwt;
        for (int oc = 0; oc < OC; oc++) {
            float *g = l->w.grad + (size_t)oc * CKK;
            if (OC < CONV2D_DW_VECTOR_OC)
                for (int j = 0; j < CKK; j++) g[j] += (float)conv2d_sum(dwt + ((size_t)oc * CKK + j) * 16, 16);
            else
                for (int j = 0; j < CKK; j++) g[j] += dwt[(size_t)j * OC + oc];
        }
    }
    for (int i = 0; i < n; i++)
        for (int oc = 0; oc < OC; oc++) l->b.grad[oc] += (float)conv2d_sum(dy + ((size_t)i * OC + oc) * P, P);
}

/* -------------------------------------------------------------------------------------- gemm engine */

static void conv2d_gemm_forward(Layer *l, const Conv2dPriv *p, const float *x, float *y, int n)
{
    const int C = l->in.c, OC = l->out.c, CKK = C * p->k * p->k;
    const size_t P = (size_t)l->out.h * l->out.w, HW = (size_t)l->in.h * l->in.w;
    float *col = l->scratch;                                   /* (CKK, chunk*P) */
    float *tmp = col + (size_t)CKK * p->chunk * P;             /* (OC, chunk*P) */
    for (int i0 = 0; i0 < n; i0 += p->chunk) {
        const int m = n - i0 < p->chunk ? n - i0 : p->chunk;
        const size_t mp = (size_t)m * P;
        float *yi = y + (size_t)i0 * OC * P;
        float *out = m == 1 ? yi : tmp; /* one image: (OC, P) is already y's layout */
        conv2d_im2col(l, p, x + (size_t)i0 * C * HW, m, col);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, (int)mp, CKK, 1.0f, l->w.data, CKK, col,
                    (int)mp, 0.0f, out, (int)mp);
        for (int i = 0; i < m; i++)
            for (int oc = 0; oc < OC; oc++) {
                const float *src = out + (size_t)oc * mp + (size_t)i * P;
                float *dst = yi + ((size_t)i * OC + oc) * P;
                const float bias = l->b.data[oc];
                for (size_t j = 0; j < P; j++) dst[j] = src[j] + bias;
            }
    }
}

static void conv2d_gemm_backward(Layer *l, const Conv2dPriv *p, const float *x, const float *dy, float *dx, int n,
                                 int accum_params)
{
    const int C = l->in.c, OC = l->out.c, CKK = C * p->k * p->k;
    const size_t P = (size_t)l->out.h * l->out.w, HW = (size_t)l->in.h * l->in.w;
    float *col = l->scratch;                                   /* (CKK, chunk*P), later dcol */
    float *tmp = col + (size_t)CKK * p->chunk * P;             /* (OC, chunk*P) */
    for (int i0 = 0; i0 < n; i0 += p->chunk) {
        const int m = n - i0 < p->chunk ? n - i0 : p->chunk;
        const size_t mp = (size_t)m * P;
        const float *dyi = dy + (size_t)i0 * OC * P, *dym = dyi; /* dyM (OC, m*P) */
        if (m > 1) {
            for (int i = 0; i < m; i++)
                for (int oc = 0; oc < OC; oc++)
                    memcpy(tmp + (size_t)oc * mp + (size_t)i * P, dyi + ((size_t)i * OC + oc) * P, P * sizeof(float));
            dym = tmp;
        }
        if (accum_params) {
            conv2d_im2col(l, p, x + (size_t)i0 * C * HW, m, col);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, OC, CKK, (int)mp, 1.0f, dym, (int)mp, col, (int)mp,
                        1.0f, l->w.grad, CKK);
            for (int oc = 0; oc < OC; oc++) l->b.grad[oc] += (float)conv2d_sum(dym + (size_t)oc * mp, mp);
        }
        if (dx) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CKK, (int)mp, OC, 1.0f, l->w.data, CKK, dym,
                        (int)mp, 0.0f, col, (int)mp);
            conv2d_col2im(l, p, col, m, dx + (size_t)i0 * C * HW);
        }
    }
}

/* ------------------------------------------------------------------------------------------- layer */

static void conv2d_forward(Layer *l, const float *x, float *y, int n, const PassCtx *ctx)
{
    const Conv2dPriv *p = l->priv;
    ACGAN_ASSERT(n > 0 && n <= l->max_batch, "conv2d: batch %d outside [1, %d]", n, l->max_batch);
    if (p->direct)
        conv2d_direct_forward(l, p, x, y, n);
    else
        conv2d_gemm_forward(l, p, x, y, n);
}

static void conv2d_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n,
                            int accum_params)
{
    const Conv2dPriv *p = l->priv;
    ACGAN_ASSERT(n > 0 && n <= l->max_batch, "conv2d: batch %d outside [1, %d]", n, l->max_batch);
    if (!dx && !accum_params) return;
    if (p->direct)
        conv2d_direct_backward(l, p, x, dy, dx, n, accum_params);
    else
        conv2d_gemm_backward(l, p, x, dy, dx, n, accum_params);
}

/* W ~ N(0, 0.02), b = 0 (the ACGAN weights_init_normal). */
static void conv2d_init(Layer *l, Rng *rng)
{
    for (size_t i = 0; i < l->w.count; i++) l->w.data[i] = 0.02f * rng_normal(rng);
    memset(l->b.data, 0, l->b.count * sizeof(float));
}

static void conv2d_free(Layer *l)
{
    Conv2dPriv *p = l->priv;
    if (!p) return;
    free(p->slots_f);
    free(p->slots_b);
    free(p->joff);
    free(p);
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
    ACGAN_ASSERT((size_t)max_batch * P <= (size_t)INT32_MAX && ckk <= (size_t)INT32_MAX,
                 "conv2d: GEMM dimensions exceed int range");
    p->direct = stride == 1 && pad < kernel && conv2d_direct_available();
    if (p->direct) {
        const int Wp = in.w + 2 * pad, pb = kernel - 1 - pad, Wpb = out.w + 2 * pb;
        p->pad_b = pb;
        p->nslots_f = conv2d_direct_slots(out.h, out.w, Wp, NULL);
        p->slots_f = acgan_calloc((size_t)p->nslots_f, sizeof *p->slots_f);
        conv2d_direct_slots(out.h, out.w, Wp, p->slots_f);
        p->nslots_b = conv2d_direct_slots(in.h, in.w, Wpb, NULL);
        p->slots_b = acgan_calloc((size_t)p->nslots_b, sizeof *p->slots_b);
        conv2d_direct_slots(in.h, in.w, Wpb, p->slots_b);
        p->joff = acgan_calloc(ckk, sizeof *p->joff);
        for (size_t j = 0; j < ckk; j++) {
            const int c = (int)(j / ((size_t)kernel * kernel)), t = (int)(j % ((size_t)kernel * kernel));
            p->joff[j] = (int32_t)((size_t)c * (in.h + 2 * pad) * Wp + (size_t)(t / kernel) * Wp + t % kernel);
        }
        p->workers = parallel_threads();
        l->n_scratch = (size_t)p->workers * conv2d_direct_slot_floats(l, p) + ckk * out_channels;
    } else {
        const size_t per_image = P * (ckk + (size_t)out_channels);
        size_t chunk = CONV2D_CHUNK_FLOATS / per_image;
        if (chunk < 1) chunk = 1;
        if (chunk > (size_t)max_batch) chunk = (size_t)max_batch;
        p->chunk = (int)chunk;
        l->n_scratch = chunk * per_image;
    }
    return l;
}
