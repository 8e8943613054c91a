/* test_layers_conv.c - Check suite for conv2d, batchnorm2d, upsample2x and dropout. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acgan/common.h"
#include "acgan/layers.h"
#include "testutil.h"

static float *alloc_fill(size_t n, float lo, float hi, uint64_t seed)
{
    float *buf = acgan_malloc(n * sizeof(float));
    test_fill_uniform(buf, n, lo, hi, seed);
    return buf;
}

static const PassCtx TRAIN = {.train = 1, .update_stats = 0, .pass_key = 42, .sample0 = 0};
static const PassCtx EVAL = {.train = 0, .update_stats = 0, .pass_key = 42, .sample0 = 0};

/* ---------------------------------------------------------------- conv2d */

/* Direct convolution in double: y (n, OC, OH, OW). */
static void conv_naive(const float *x, const float *w, const float *b, double *y, int n, int C, int H, int W,
                       int OC, int K, int S, int P, int OH, int OW)
{
    for (int i = 0; i < n; i++)
        for (int oc = 0; oc < OC; oc++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double s = b[oc];
                    for (int c = 0; c < C; c++)
                        for (int ki = 0; ki < K; ki++)
                            for (int kj = 0; kj < K; kj++) {
                                int ih = oh * S - P + ki, iw = ow * S - P + kj;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                s += (double)x[((size_t)(i * C + c) * H + ih) * W + iw] *
                                     w[((size_t)(oc * C + c) * K + ki) * K + kj];
                            }
                    y[((size_t)(i * OC + oc) * OH + oh) * OW + ow] = s;
                }
}

typedef struct {
    int c, h, w, oc, k, s, p, n;
} ConvCase;

static const ConvCase conv_cases[] = {
    {3, 6, 6, 4, 3, 1, 1, 2},  /* stride 1 pad 1 */
    {2, 8, 8, 3, 3, 2, 1, 3},  /* stride 2 pad 1 (the ACGAN discriminator block) */
    {3, 7, 5, 2, 3, 2, 0, 2},  /* non-square, odd, stride 2, no pad */
    {2, 5, 7, 3, 4, 3, 2, 2},  /* even kernel, stride 3, pad 2 */
    {4, 4, 4, 5, 1, 1, 0, 2},  /* 1x1 */
    {1, 3, 3, 2, 5, 1, 2, 2},  /* kernel wider than input (all padding interplay) */
};
#define N_CONV_CASES ((int)(sizeof conv_cases / sizeof conv_cases[0]))

static Layer *conv_make(const ConvCase *cc, int max_batch, uint64_t seed)
{
    Layer *l = conv2d_create((Shape){cc->c, cc->h, cc->w}, cc->oc, cc->k, cc->s, cc->p, max_batch);
    test_bind_layer(l, seed);
    /* Larger weights and a nonzero bias than the N(0, 0.02) init, so everything is exercised. */
    test_fill_uniform(l->w.data, l->w.count, -1.0f, 1.0f, seed + 1);
    test_fill_uniform(l->b.data, l->b.count, -1.0f, 1.0f, seed + 2);
    return l;
}

START_TEST(test_conv2d_shapes_and_init)
{
    Layer *l = conv2d_create((Shape){3, 7, 5}, 8, 3, 2, 1, 4);
    ck_assert_str_eq(l->ops->kind, "conv2d");
    ck_assert_int_eq(l->out.c, 8);
    ck_assert_int_eq(l->out.h, 4);
    ck_assert_int_eq(l->out.w, 3);
    ck_assert_uint_eq(l->w.count, 8 * 3 * 3 * 3);
    ck_assert_uint_eq(l->b.count, 8);
    ck_assert_uint_eq(l->n_state, 0);
    test_bind_layer(l, 5);
    double s = 0, ss = 0;
    for (size_t i = 0; i < l->w.count; i++) {
        s += l->w.data[i];
        ss += (double)l->w.data[i] * l->w.data[i];
    }
    double mean = s / l->w.count, sd = sqrt(ss / l->w.count - mean * mean);
    ck_assert_msg(fabs(mean) < 0.01 && sd > 0.015 && sd < 0.025, "init mean %g sd %g", mean, sd);
    for (size_t i = 0; i < l->b.count; i++) ck_assert(l->b.data[i] == 0.0f);
    test_unbind_layer(l);
    layer_free(l);
}
END_TEST

START_TEST(test_conv2d_forward_naive)
{
    const ConvCase *cc = &conv_cases[_i];
    /* max_batch larger than n: the scratch layout must not depend on n. */
    Layer *l = conv_make(cc, cc->n + 2, 100 + _i);
    size_t nx = (size_t)cc->n * shape_size(l->in), ny = (size_t)cc->n * shape_size(l->out);
    float *x = alloc_fill(nx, -1.0f, 1.0f, 200 + _i);
    float *y = acgan_malloc(ny * sizeof(float));
    double *ref = acgan_malloc(ny * sizeof(double));
    l->ops->forward(l, x, y, cc->n, &TRAIN);
    conv_naive(x, l->w.data, l->b.data, ref, cc->n, cc->c, cc->h, cc->w, cc->oc, cc->k, cc->s, cc->p, l->out.h,
               l->out.w);
    double worst = 0;
    for (size_t i = 0; i < ny; i++) {
        double e = fabs(y[i] - ref[i]) / fmax(1.0, fabs(ref[i]));
        if (e > worst) worst = e;
    }
    ck_assert_msg(worst < 1e-5, "case %d: conv forward vs naive rel err %g", _i, worst);
    free(x);
    free(y);
    free(ref);
    test_unbind_layer(l);
    layer_free(l);
}
END_TEST

START_TEST(test_conv2d_gradcheck)
{
    const ConvCase *cc = &conv_cases[_i];
    Layer *l = conv_make(cc, cc->n, 300 + _i);
    float *x = alloc_fill((size_t)cc->n * shape_size(l->in), -1.0f, 1.0f, 400 + _i);
    /* Convolution is linear in x and in W, so central differences have no truncation error and a
     * large step only shrinks float rounding: worst seen ~3e-4, while a factor-2 error gives 0.5. */
    double err = gradcheck_layer(l, x, cc->n, 1e-1f, &TRAIN);
    ck_assert_msg(err < 1e-3, "case %d: conv2d gradcheck rel err %g", _i, err);
    free(x);
    test_unbind_layer(l);
    layer_free(l);
}
END_TEST

/* dW/db accumulate with +=, dx is written with =, dx == NULL and accum_params == 0 skip their parts. */
START_TEST(test_conv2d_backward_accumulates)
{
    const ConvCase *cc = &conv_cases[1];
    Layer *l = conv_make(cc, cc->n, 500);
    size_t nx = (size_t)cc->n * shape_size(l->in), ny = (size_t)cc->n * shape_size(l->out);
    float *x = alloc_fill(nx, -1.0f, 1.0f, 501), *dy = alloc_fill(ny, -1.0f, 1.0f, 502);
    float *y = acgan_malloc(ny * sizeof(float));
    float *dx1 = acgan_malloc(nx * sizeof(float)), *dx2 = acgan_malloc(nx * sizeof(float));
    float *dw1 = acgan_malloc(l->w.count * sizeof(float)), *db1 = acgan_malloc(l->b.count * sizeof(float));
    l->ops->forward(l, x, y, cc->n, &TRAIN);
    l->ops->backward(l, x, y, dy, dx1, cc->n, 1);
    memcpy(dw1, l->w.grad, l->w.count * sizeof(float));
    memcpy(db1, l->b.grad, l->b.count * sizeof(float));
    for (size_t i = 0; i < nx; i++) dx2[i] = 123.0f; /* must be overwritten, not added to */
    l->ops->backward(l, x, y, dy, dx2, cc->n, 1);
    ck_assert(memcmp(dx1, dx2, nx * sizeof(float)) == 0);
    for (size_t i = 0; i < l->w.count; i++) ck_assert_float_eq_tol(l->w.grad[i], 2.0f * dw1[i], 1e-5f);
    for (size_t i = 0; i < l->b.count; i++) ck_assert_float_eq_tol(l->b.grad[i], 2.0f * db1[i], 1e-5f);
    l->ops->backward(l, x, y, dy, dx2, cc->n, 0); /* params untouched */
    l->ops->backward(l, x, y, dy, NULL, cc->n, 0);
    for (size_t i = 0; i < l->w.count; i++) ck_assert_float_eq_tol(l->w.grad[i], 2.0f * dw1[i], 1e-5f);
    ck_assert(memcmp(dx1, dx2, nx * sizeof(float)) == 0);
    l->ops->backward(l, x, y, dy, NULL, cc->n, 1); /* params only */
    for (size_t i = 0; i < l->b.count; i++) ck_assert_float_eq_tol(l->b.grad[i], 3.0f * db1[i], 1e-5f);
    free(x), free(dy), free(y), free(dx1), free(dx2), free(dw1), free(db1);
    test_unbind_layer(l);
    layer_free(l);
}
END_TEST

/* The gradient check must catch a factor-2 or sign error: wrap the real backward and break it. */
static const LayerOps *g_real_ops; /* test-only: the ops the broken wrapper forwards to */
static int g_break_mode;           /* 0: dx *= 2, 1: dW = -dW, 2: db *= 0.5 */

static void broken_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n,
                            int accum_params)
{
    g_real_ops->backward(l, x, y, dy, dx, n, accum_params);
    if (g_break_mode == 0 && dx)
        for (size_t i = 0; i < (size_t)n * shape_size(l->in); i++) dx[i] *= 2.0f;
    if (g_break_mode == 1)
        for (size_t i = 0; i < l->w.count; i++) l->w.grad[i] = -l->w.grad[i];
    if (g_break_mode == 2)
        for (size_t i = 0; i < l->b.count; i++) l->b.grad[i] *= 0.5f;
}

START_TEST(test_gradcheck_catches_wrong_backward)
{
    Layer *layers[2];
    layers[0] = conv_make(&conv_cases[1], 3, 600);
    layers[1] = batchnorm2d_create((Shape){3, 3, 3}, 1e-5f, 0.1f, 4);
    test_bind_layer(layers[1], 601);
    test_fill_uniform(layers[1]->b.data, 3, -0.5f, 0.5f, 602);
    int ns[2] = {3, 4};
    printf("(the gradcheck lines below are expected: deliberately broken backward passes)\n");
    for (int k = 0; k < 2; k++) {
        Layer *l = layers[k];
        float *x = alloc_fill((size_t)ns[k] * shape_size(l->in), -1.0f, 1.0f, 603);
        LayerOps broken = *l->ops;
        broken.backward = broken_backward;
        g_real_ops = l->ops;
        l->ops = &broken;
        for (g_break_mode = 0; g_break_mode < 3; g_break_mode++) {
            double err = gradcheck_layer(l, x, ns[k], 1e-2f, &TRAIN);
            ck_assert_msg(err > 0.3, "%s: break mode %d not caught (rel err %g)", g_real_ops->kind, g_break_mode,
                          err);
        }
        l->ops = g_real_ops;
        free(x);
        test_unbind_layer(l);
        layer_free(l);
    }
}
END_TEST

/* ---------------------------------------------------------------- batchnorm2d */

START_TEST(test_batchnorm_gradcheck)
{
    /* _i: 0 = eps 0.8 (the ACGAN generator's BatchNorm2d(c, 0.8)), 1 = eps 1e-5, 2 = BatchNorm1d, 3 = eval. */
    const float eps[] = {0.8f, 1e-5f, 1e-5f, 1e-5f};
    const Shape shapes[] = {{3, 4, 4}, {3, 4, 4}, {6, 1, 1}, {3, 4, 3}};
    const int ns[] = {2, 3, 8, 2};
    Layer *l = batchnorm2d_create(shapes[_i], eps[_i], 0.1f, ns[_i]);
    test_bind_layer(l, 700 + _i);
    /* Spread gamma/beta and running stats so a wrong term cannot hide behind gamma = 1, beta = 0. */
    test_fill_uniform(l->w.data, l->w.count, 0.5f, 1.5f, 701);
    test_fill_uniform(l->b.data, l->b.count, -0.5f, 0.5f, 702);
    test_fill_uniform(l->state, shapes[_i].c, -0.3f, 0.3f, 703);
    test_fill_uniform(l->state + shapes[_i].c, shapes[_i].c, 0.5f, 2.0f, 704);
    float *x = alloc_fill((size_t)ns[_i] * shape_size(shapes[_i]), -1.0f, 2.0f, 705 + _i);
    /* Train mode is nonlinear; with h = 1e-2 the worst error seen is ~3.5e-3 (float rounding of the
     * loss over a whole channel, against the 1e-2 floor). A dropped term or a 1/cnt vs 1/(cnt-1) slip
     * gives > 2e-2; a factor-2 error gives 0.5. Eval mode is affine, hence the tighter bound. */
    double err = gradcheck_layer(l, x, ns[_i], 1e-2f, _i == 3 ? &EVAL : &TRAIN);
    ck_assert_msg(err < (_i == 3 ? 1e-3 : 1e-2), "case %d: batchnorm gradcheck rel err %g", _i, err);
    free(x);
    test_unbind_layer(l);
    layer_free(l);
}
END_TEST

START_TEST(test_batchnorm_running_stats_and_eval)
{
    const int C = 2, H = 2, W = 3, n = 3;
    const size_t hw = (size_t)H * W, cnt = (size_t)n * hw, nx = (size_t)n * C * hw;
    Layer *l = batchnorm2d_create((Shape){C, H, W}, 1e-5f, 0.1f, n);
    ck_assert_str_eq(l->ops->kind, "batchnorm2d");
    ck_assert_uint_eq(l->n_state, 2 * C);
    test_bind_layer(l, 800);
    for (int c = 0; c < C; c++) {
        ck_assert(l->state[c] == 0.0f && l->state[C + c] == 1.0f && l->b.data[c] == 0.0f);
        ck_assert(fabsf(l->w.data[c] - 1.0f) < 0.1f);
    }
    l->w.data[1] = 1.5f;
    l->b.data[1] = -0.25f;
    float *xs[2] = {alloc_fill(nx, -1.0f, 1.0f, 801), alloc_fill(nx, 0.0f, 3.0f, 802)};
    float *y = acgan_malloc(nx * sizeof(float));
    double rm[2] = {0.0, 0.0}, rv[2] = {1.0, 1.0};
    PassCtx upd = {.train = 1, .update_stats = 1};
    for (int pass = 0; pass < 2; pass++) {
        l->ops->forward(l, xs[pass], y, n, &upd);
        for (int c = 0; c < C; c++) {
            double s = 0, ss = 0;
            for (int i = 0; i < n; i++)
                for (size_t j = 0; j < hw; j++) s += xs[pass][((size_t)i * C + c) * hw + j];
            double mean = s / cnt;
            for (int i = 0; i < n; i++)
                for (size_t j = 0; j < hw; j++) {
                    double d = xs[pass][((size_t)i * C + c) * hw + j] - mean;
                    ss += d * d;
                }
            rm[c] = 0.9 * rm[c] + 0.1 * mean;
            rv[c] = 0.9 * rv[c] + 0.1 * ss / (cnt - 1); /* unbiased */
            /* Train output uses the batch statistics (biased variance). */
            double inv = 1.0 / sqrt(ss / cnt + 1e-5);
            for (int i = 0; i < n; i++)
                for (size_t j = 0; j < hw; j++) {
                    size_t k = ((size_t)i * C + c) * hw + j;
                    double ref = l->w.data[c] * (xs[pass][k] - mean) * inv + l->b.data[c];
                    ck_assert_msg(fabs(y[k] - ref) < 1e-5, "train y[%zu] = %g, want %g", k, y[k], ref);
                }
        }
    }
    for (int c = 0; c < C; c++) {
        ck_assert_msg(fabs(l->state[c] - rm[c]) < 1e-6 * fmax(1, fabs(rm[c])), "rmean[%d] %g want %g", c,
                      l->state[c], rm[c]);
        ck_assert_msg(fabs(l->state[C + c] - rv[c]) < 1e-6 * fmax(1, rv[c]), "rvar[%d] %g want %g", c,
                      l->state[C + c], rv[c]);
    }
    /* Train mode without update_stats leaves the running statistics alone. */
    float saved[4];
    memcpy(saved, l->state, sizeof saved);
    l->ops->forward(l, xs[0], y, n, &TRAIN);
    ck_assert(memcmp(saved, l->state, sizeof saved) == 0);
    /* Eval mode: running statistics, nothing updated; also with a batch of one. */
    PassCtx ev = {.train = 0, .update_stats = 1};
    const int batches[2] = {n, 1};
    for (int b = 0; b < 2; b++) {
        const int nn = batches[b];
        l->ops->forward(l, xs[0], y, nn, &ev);
        ck_assert(memcmp(saved, l->state, sizeof saved) == 0);
        for (int i = 0; i < nn; i++)
            for (int c = 0; c < C; c++)
                for (size_t j = 0; j < hw; j++) {
                    size_t k = ((size_t)i * C + c) * hw + j;
                    double ref = l->w.data[c] * (xs[0][k] - rm[c]) / sqrt(rv[c] + 1e-5) + l->b.data[c];
                    ck_assert_msg(fabs(y[k] - ref) < 1e-5, "eval y[%zu] = %g, want %g", k, y[k], ref);
                }
    }
    free(xs[0]), free(xs[1]), free(y);
    test_unbind_layer(l);
    layer_free(l);
}
END_TEST

/* ---------------------------------------------------------------- upsample2x */

START_TEST(test_upsample_forward_and_gradcheck)
{
    const int n = 2, C = 3, H = 3, W = 2;
    Layer *l = upsample2x_create((Shape){C, H, W}, n);
    ck_assert_str_eq(l->ops->kind, "upsample2x");
    ck_assert(shape_eq(l->out, (Shape){C, 2 * H, 2 * W}));
    ck_assert_uint_eq(l->w.count + l->b.count + l->n_state, 0);
    test_bind_layer(l, 900);
    size_t nx = (size_t)n * C * H * W;
    float *x = alloc_fill(nx, -1.0f, 1.0f, 901), *y = acgan_malloc(4 * nx * sizeof(float));
    l->ops->forward(l, x, y, n, &TRAIN);
    for (int p = 0; p < n * C; p++)
        for (int oh = 0; oh < 2 * H; oh++)
            for (int ow = 0; ow < 2 * W; ow++)
                ck_assert(y[((size_t)p * 2 * H + oh) * 2 * W + ow] == x[((size_t)p * H + oh / 2) * W + ow / 2]);
    /* Backward sums the four children: with dy = 1, dx = 4 everywhere. */
    float *ones = acgan_malloc(4 * nx * sizeof(float)), *dx = acgan_malloc(nx * sizeof(float));
    for (size_t i = 0; i < 4 * nx; i++) ones[i] = 1.0f;
    l->ops->backward(l, x, y, ones, dx, n, 1);
    for (size_t i = 0; i < nx; i++) ck_assert(dx[i] == 4.0f);
    double err = gradcheck_layer(l, x, n, 1e-2f, &TRAIN);
    ck_assert_msg(err < 1e-3, "upsample gradcheck rel err %g", err);
    free(x), free(y), free(ones), free(dx);
    test_unbind_layer(l);
    layer_free(l);
}
END_TEST

/* ---------------------------------------------------------------- dropout */

START_TEST(test_dropout_gradcheck_fixed_mask)
{
    const int n = 3;
    const Shape s = {4, 3, 2};
    for (int per_channel = 0; per_channel <= 1; per_channel++) {
        Layer *l = dropout_create(s, 0.4f, per_channel, n);
        ck_assert_str_eq(l->ops->kind, "dropout");
        test_bind_layer(l, 1000);
        size_t units = per_channel ? (size_t)s.c : shape_size(s), nx = n * shape_size(s);
        float *mask = acgan_malloc(n * units * sizeof(float));
        for (size_t i = 0; i < n * units; i++) mask[i] = (float)((i * 7 + 3) % 3 != 0);
        dropout_set_fixed_mask(l, mask);
        float *x = alloc_fill(nx, -1.0f, 1.0f, 1001), *y = acgan_malloc(nx * sizeof(float));
        l->ops->forward(l, x, y, n, &TRAIN);
        for (size_t k = 0; k < nx; k++) {
            size_t u = per_channel ? k / (s.h * s.w) : k;
            ck_assert(y[k] == x[k] * (mask[u] * (1.0f / 0.6f)));
        }
        double err = gradcheck_layer(l, x, n, 1e-2f, &TRAIN);
        ck_assert_msg(err < 1e-3, "dropout gradcheck rel err %g", err);
        /* NULL restores random masks: with many units they differ from the fixed pattern. */
        dropout_set_fixed_mask(l, NULL);
        l->ops->forward(l, x, y, n, &TRAIN);
        int differs = 0;
        for (size_t k = 0; k < nx; k++) {
            size_t u = per_channel ? k / (s.h * s.w) : k;
            differs |= (y[k] == 0.0f) != (mask[u] == 0.0f);
        }
        ck_assert(differs);
        free(mask), free(x), free(y);
        test_unbind_layer(l);
        layer_free(l);
    }
}
END_TEST

START_TEST(test_dropout2d_zeroes_whole_channels)
{
    const int n = 5, C = 8, H = 3, W = 4;
    const size_t hw = (size_t)H * W, nx = (size_t)n * C * hw;
    Layer *l = dropout_create((Shape){C, H, W}, 0.5f, 1, n);
    test_bind_layer(l, 1100);
    float *x = alloc_fill(nx, 0.5f, 1.5f, 1101), *y = acgan_malloc(nx * sizeof(float));
    l->ops->forward(l, x, y, n, &TRAIN);
    int dropped = 0, kept = 0;
    for (int p = 0; p < n * C; p++) {
        int zeros = 0;
        for (size_t j = 0; j < hw; j++) {
            size_t k = p * hw + j;
            if (y[k] == 0.0f)
                zeros++;
            else
                ck_assert(y[k] == x[k] * 2.0f);
        }
        ck_assert_msg(zeros == 0 || zeros == (int)hw, "plane %d partially dropped (%d zeros)", p, zeros);
        dropped += zeros == (int)hw;
        kept += zeros == 0;
    }
    ck_assert(dropped > 0 && kept > 0);
    /* Backward uses the same planes. */
    float *dy = alloc_fill(nx, 0.5f, 1.5f, 1102), *dx = acgan_malloc(nx * sizeof(float));
    l->ops->backward(l, x, y, dy, dx, n, 1);
    for (size_t k = 0; k < nx; k++) ck_assert(dx[k] == (y[k] == 0.0f ? 0.0f : dy[k] * 2.0f));
    free(x), free(y), free(dy), free(dx);
    test_unbind_layer(l);
    layer_free(l);
}
END_TEST

START_TEST(test_dropout_identity_cases)
{
    const int n = 3;
    const Shape s = {5, 2, 3};
    const size_t nx = n * shape_size(s);
    float *x = alloc_fill(nx, -2.0f, 2.0f, 1200), *y = acgan_malloc(nx * sizeof(float));
    float *dy = alloc_fill(nx, -2.0f, 2.0f, 1201), *dx = acgan_malloc(nx * sizeof(float));
    /* p = 0 in train mode and any p in eval mode are the exact identity, forward and backward. */
    const float ps[] = {0.0f, 0.0f, 0.5f, 0.9f};
    const int pcs[] = {0, 1, 0, 1};
    for (int k = 0; k < 4; k++) {
        Layer *l = dropout_create(s, ps[k], pcs[k], n);
        test_bind_layer(l, 1202);
        l->ops->forward(l, x, y, n, ps[k] == 0.0f ? &TRAIN : &EVAL);
        ck_assert(memcmp(x, y, nx * sizeof(float)) == 0);
        l->ops->backward(l, x, y, dy, dx, n, 1);
        ck_assert(memcmp(dx, dy, nx * sizeof(float)) == 0);
        test_unbind_layer(l);
        layer_free(l);
    }
    free(x), free(y), free(dy), free(dx);
}
END_TEST

START_TEST(test_dropout_statistics)
{
    /* 64 samples x 2048 units; kept fraction within 4 sigma of 1-p, kept values scaled by 1/(1-p). */
    const int n = 64;
    const Shape s = {32, 8, 8};
    const float p = 0.3f;
    const size_t nx = n * shape_size(s);
    Layer *l = dropout_create(s, p, 0, n);
    test_bind_layer(l, 1300);
    float *x = alloc_fill(nx, 0.5f, 1.5f, 1301), *y = acgan_malloc(nx * sizeof(float));
    l->ops->forward(l, x, y, n, &TRAIN);
    size_t kept = 0;
    const float scale = 1.0f / (1.0f - p);
    for (size_t k = 0; k < nx; k++) {
        if (y[k] == 0.0f) continue;
        kept++;
        ck_assert(y[k] == x[k] * scale);
    }
    double frac = (double)kept / nx, sigma = sqrt(p * (1.0 - p) / nx);
    ck_assert_msg(fabs(frac - (1.0 - p)) < 4 * sigma, "kept fraction %g, want %g +- %g", frac, 1.0 - p, 4 * sigma);
    free(x), free(y);
    test_unbind_layer(l);
    layer_free(l);
}
END_TEST

START_TEST(test_dropout_masks_are_keyed)
{
    /* _i: 0 per element, 1 per channel. */
    const Shape s = {6, 3, 3};
    const size_t per = shape_size(s), nx = 4 * per;
    const float p = 0.5f;
    Layer *l = dropout_create(s, p, _i, 4);
    test_bind_layer(l, 1400);
    l->index = 7;
    float *x = alloc_fill(nx, 0.5f, 1.5f, 1401);
    float *y4 = acgan_malloc(nx * sizeof(float)), *y2 = acgan_malloc(nx * sizeof(float));
    float *yk = acgan_malloc(nx * sizeof(float));
    PassCtx ctx = {.train = 1, .pass_key = 99, .sample0 = 10};
    l->ops->forward(l, x, y4, 4, &ctx);
    /* The same samples split into two batches of two give the same masks. */
    l->ops->forward(l, x, y2, 2, &ctx);
    ctx.sample0 = 12;
    l->ops->forward(l, x + 2 * per, y2 + 2 * per, 2, &ctx);
    ck_assert(memcmp(y4, y2, nx * sizeof(float)) == 0);
    /* The masks follow the documented formula exactly. */
    const size_t units = _i ? (size_t)s.c : per, plane = _i ? (size_t)s.h * s.w : 1;
    for (int i = 0; i < 4; i++) {
        Rng r = rng_make(rng_key(99, RNG_STREAM_DROPOUT, 7, (uint64_t)(10 + i)));
        for (size_t u = 0; u < units; u++) {
            int keep = rng_uniform(&r) >= p;
            for (size_t j = 0; j < plane; j++) {
                size_t k = i * per + u * plane + j;
                ck_assert(y4[k] == (keep ? x[k] * 2.0f : 0.0f));
            }
        }
    }
    /* A different pass key or layer index gives different masks. */
    ctx.sample0 = 10;
    ctx.pass_key = 100;
    l->ops->forward(l, x, yk, 4, &ctx);
    ck_assert(memcmp(y4, yk, nx * sizeof(float)) != 0);
    ctx.pass_key = 99;
    l->index = 8;
    l->ops->forward(l, x, yk, 4, &ctx);
    ck_assert(memcmp(y4, yk, nx * sizeof(float)) != 0);
    free(x), free(y4), free(y2), free(yk);
    test_unbind_layer(l);
    layer_free(l);
}
END_TEST

static Suite *layers_conv_suite(void)
{
    Suite *s = suite_create("layers_conv");
    TCase *tc = tcase_create("conv2d");
    tcase_add_test(tc, test_conv2d_shapes_and_init);
    tcase_add_loop_test(tc, test_conv2d_forward_naive, 0, N_CONV_CASES);
    tcase_add_loop_test(tc, test_conv2d_gradcheck, 0, N_CONV_CASES);
    tcase_add_test(tc, test_conv2d_backward_accumulates);
    tcase_add_test(tc, test_gradcheck_catches_wrong_backward);
    suite_add_tcase(s, tc);
    tc = tcase_create("batchnorm2d");
    tcase_add_loop_test(tc, test_batchnorm_gradcheck, 0, 4);
    tcase_add_test(tc, test_batchnorm_running_stats_and_eval);
    suite_add_tcase(s, tc);
    tc = tcase_create("upsample2x");
    tcase_add_test(tc, test_upsample_forward_and_gradcheck);
    suite_add_tcase(s, tc);
    tc = tcase_create("dropout");
    tcase_add_test(tc, test_dropout_gradcheck_fixed_mask);
    tcase_add_test(tc, test_dropout2d_zeroes_whole_channels);
    tcase_add_test(tc, test_dropout_identity_cases);
    tcase_add_test(tc, test_dropout_statistics);
    tcase_add_loop_test(tc, test_dropout_masks_are_keyed, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(layers_conv_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
