/* test_layers_dense.c - Linear, Embedding, LeakyReLU, Tanh and Reshape: forward values against naive
 * loops, backward against finite differences (inputs and parameters), accumulation semantics.
 *
 * Gradient checks use L = sum(r .* y) and central differences; the tolerance GC_TOL is tight enough that
 * a sign flip (rel err ~2) or a factor of two (rel err ~0.5) fails by a wide margin.
 */
#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "acgan/common.h"
#include "acgan/layers.h"
#include "testutil.h"

#define GC_TOL 5e-3
#define GC_H 1e-2f

/* ---- Linear ---- */

static void check_linear_grad(int in, int out, int n)
{
    Layer *l = linear_create(in, out, n);
    test_bind_layer(l, 11 + (uint64_t)in * 131 + (uint64_t)out);
    float *x = malloc((size_t)n * in * sizeof(float));
    test_fill_uniform(x, (size_t)n * in, -1.0f, 1.0f, 5 + (uint64_t)in);
    double err = gradcheck_layer(l, x, n, GC_H, NULL);
    ck_assert_msg(err < GC_TOL, "linear %d->%d n=%d: gradcheck rel err %g", in, out, n, err);
    free(x);
    test_unbind_layer(l);
    layer_free(l);
}

START_TEST(test_linear_gradcheck)
{
    check_linear_grad(1, 1, 3);
    check_linear_grad(5, 3, 4);
    check_linear_grad(3, 7, 5);
    check_linear_grad(16, 9, 3);
    check_linear_grad(33, 17, 6);
}
END_TEST

START_TEST(test_linear_forward_naive)
{
    const int in = 13, out = 7, n = 5;
    Layer *l = linear_create(in, out, 8);
    ck_assert_str_eq(l->ops->kind, "linear");
    ck_assert(shape_eq(l->in, (Shape){in, 1, 1}) && shape_eq(l->out, (Shape){out, 1, 1}));
    ck_assert_uint_eq(l->w.count, (size_t)in * out);
    ck_assert_uint_eq(l->b.count, (size_t)out);
    test_bind_layer(l, 3);
    float x[5 * 13], y[5 * 7];
    test_fill_uniform(x, sizeof x / sizeof x[0], -2.0f, 2.0f, 17);
    l->ops->forward(l, x, y, n, NULL);
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            double s = l->b.data[o];
            for (int k = 0; k < in; k++) s += (double)x[i * in + k] * l->w.data[o * in + k]; /* W[out][in] */
            ck_assert_msg(fabs(s - y[i * out + o]) < 1e-5, "y[%d][%d] = %g, expected %g", i, o, y[i * out + o], s);
        }
    test_unbind_layer(l);
    layer_free(l);
}
END_TEST

START_TEST(test_linear_init_bounds)
{
    const int in = 64, out = 50;
    Layer *l = linear_create(in, out, 1);
    test_bind_layer(l, 42);
    const float bound = 1.0f / sqrtf((float)in);
    double mean = 0, maxabs = 0;
    for (size_t i = 0; i < l->w.count; i++) {
        ck_assert(fabsf(l->w.data[i]) <= bound);
        mean += l->w.data[i];
        maxabs = fmax(maxabs, fabsf(l->w.data[i]));
    }
    mean /= (double)l->w.count;
    ck_assert_msg(fabs(mean) < 0.1 * bound, "W mean %g not centred", mean);
    ck_assert_msg(maxabs > 0.9 * bound, "W max |w| %g does not reach the bound %g", maxabs, bound);
    int nonzero_b = 0;
    for (size_t i = 0; i < l->b.count; i++) {
        ck_assert(fabsf(l->b.data[i]) <= bound);
        nonzero_b += l->b.data[i] != 0.0f;
    }
    ck_assert_int_gt(nonzero_b, out / 2);
    test_unbind_layer(l);
    layer_free(l);
}
END_TEST

/* backward: parameter grads accumulate (+=), dx is written (=), accum_params = 0 and dx = NULL skip. */
START_TEST(test_linear_backward_semantics)
{
    const int in = 6, out = 4, n = 3;
    Layer *l = linear_create(in, out, n);
    test_bind_layer(l, 8);
    float x[3 * 6], y[3 * 4], dy[3 * 4], dx[3 * 6], dw1[24], db1[4];
    test_fill_uniform(x, 18, -1.0f, 1.0f, 1);
    test_fill_uniform(dy, 12, -1.0f, 1.0f, 2);
    l->ops->forward(l, x, y, n, NULL);

    /* reference: one backward into zeroed grads */
    memset(l->w.grad, 0, l->w.count * sizeof(float));
    memset(l->b.grad, 0, l->b.count * sizeof(float));
    for (int i = 0; i < 18; i++) dx[i] = NAN;
    l->ops->backward(l, x, y, dy, dx, n, 1);
    memcpy(dw1, l->w.grad, sizeof dw1);
    memcpy(db1, l->b.grad, sizeof db1);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < in; k++) {
            double s = 0;
            for (int o = 0; o < out; o++) s += (double)dy[i * out + o] * l->w.data[o * in + k];
            ck_assert_msg(fabs(s - dx[i * in + k]) < 1e-5, "dx[%d][%d] = %g, expected %g", i, k, dx[i * in + k], s);
        }
    for (int o = 0; o < out; o++) {
        double sb = 0;
        for (int i = 0; i < n; i++) sb += dy[i * out + o];
        ck_assert(fabs(sb - db1[o]) < 1e-5);
        for (int k = 0; k < in; k++) {
            double s = 0;
            for (int i = 0; i < n; i++) s += (double)dy[i * out + o] * x[i * in + k];
            ck_assert(fabs(s - dw1[o * in + k]) < 1e-5);
        }
    }

    /* second backward without dx: grads double, dx untouched */
    float dx_keep[18];
    memcpy(dx_keep, dx, sizeof dx_keep);
    l->ops->backward(l, x, y, dy, NULL, n, 1);
    for (int i = 0; i < 24; i++) ck_assert(fabsf(l->w.grad[i] - 2.0f * dw1[i]) < 1e-5f);
    for (int i = 0; i < 4; i++) ck_assert(fabsf(l->b.grad[i] - 2.0f * db1[i]) < 1e-5f);

    /* accum_params = 0: grads untouched, dx still written (=, not +=) */
    l->ops->backward(l, x, y, dy, dx, n, 0);
    for (int i = 0; i < 24; i++) ck_assert(fabsf(l->w.grad[i] - 2.0f * dw1[i]) < 1e-5f);
    for (int i = 0; i < 4; i++) ck_assert(fabsf(l->b.grad[i] - 2.0f * db1[i]) < 1e-5f);
    for (int i = 0; i < 18; i++) ck_assert(fabsf(dx[i] - dx_keep[i]) < 1e-6f);
    test_unbind_layer(l);
    layer_free(l);
}
END_TEST

/* ---- Activations and reshape ---- */

/* Values with |x| in [0.1, 1] and random signs, so a finite-difference step never crosses 0. */
static void fill_away_from_zero(float *x, size_t count, uint64_t seed)
{
    float *s = malloc(count * sizeof(float));
    test_fill_uniform(x, count, 0.1f, 1.0f, seed);
    test_fill_uniform(s, count, -1.0f, 1.0f, seed + 1);
    for (size_t i = 0; i < count; i++)
        if (s[i] < 0) x[i] = -x[i];
    free(s);
}

START_TEST(test_leaky_relu)
{
    const Shape sh = {3, 4, 5};
    const int n = 3;
    const size_t count = (size_t)n * shape_size(sh);
    const float slopes[] = {0.2f, 0.01f, 0.5f};
    for (int si = 0; si < 3; si++) {
        Layer *l = leaky_relu_create(sh, slopes[si], n);
        ck_assert_str_eq(l->ops->kind, "leaky_relu");
        ck_assert(shape_eq(l->out, sh));
        test_bind_layer(l, 1);
        float *x = malloc(count * sizeof(float)), *y = malloc(count * sizeof(float));
        fill_away_from_zero(x, count, 100 + (uint64_t)si);
        int neg = 0;
        l->ops->forward(l, x, y, n, NULL);
        for (size_t i = 0; i < count; i++) {
            float e = x[i] > 0 ? x[i] : slopes[si] * x[i];
            neg += x[i] < 0;
            ck_assert_float_eq_tol(y[i], e, 1e-7f);
        }
        ck_assert_int_gt(neg, (int)count / 4);
        double err = gradcheck_layer(l, x, n, GC_H, NULL);
        ck_assert_msg(err < GC_TOL, "leaky_relu slope %g: gradcheck rel err %g", slopes[si], err);
        free(x);
        free(y);
        test_unbind_layer(l);
        layer_free(l);
    }
}
END_TEST

START_TEST(test_tanh)
{
    const Shape sh = {2, 3, 3};
    const int n = 4;
    const size_t count = (size_t)n * shape_size(sh);
    Layer *l = tanh_create(sh, n);
    ck_assert_str_eq(l->ops->kind, "tanh");
    test_bind_layer(l, 1);
    float *x = malloc(count * sizeof(float)), *y = malloc(count * sizeof(float));
    test_fill_uniform(x, count, -2.5f, 2.5f, 9);
    l->ops->forward(l, x, y, n, NULL);
    for (size_t i = 0; i < count; i++) ck_assert_float_eq_tol(y[i], (float)tanh(x[i]), 1e-6f);
    double err = gradcheck_layer(l, x, n, GC_H, NULL);
    ck_assert_msg(err < GC_TOL, "tanh: gradcheck rel err %g", err);
    free(x);
    free(y);
    test_unbind_layer(l);
    layer_free(l);
}
END_TEST

START_TEST(test_reshape)
{
    const Shape in = {24, 1, 1}, out = {2, 3, 4};
    const int n = 3;
    const size_t count = (size_t)n * shape_size(in);
    Layer *l = reshape_create(in, out, n);
    ck_assert_str_eq(l->ops->kind, "reshape");
    ck_assert(shape_eq(l->in, in) && shape_eq(l->out, out));
    test_bind_layer(l, 1);
    float *x = malloc(count * sizeof(float)), *y = malloc(count * sizeof(float));
    test_fill_uniform(x, count, -1.0f, 1.0f, 4);
    l->ops->forward(l, x, y, n, NULL);
    ck_assert(memcmp(x, y, count * sizeof(float)) == 0);
    double err = gradcheck_layer(l, x, n, GC_H, NULL);
    ck_assert_msg(err < GC_TOL, "reshape: gradcheck rel err %g", err);
    free(x);
    free(y);
    test_unbind_layer(l);
    layer_free(l);
}
END_TEST

START_TEST(test_reshape_size_mismatch_aborts)
{
    reshape_create((Shape){24, 1, 1}, (Shape){2, 3, 5}, 1);
}
END_TEST

/* ---- Embedding ---- */

START_TEST(test_embedding_forward)
{
    const int classes = 5, dim = 6, n = 7;
    Layer *l = embedding_create(classes, dim, n);
    ck_assert_str_eq(l->ops->kind, "embedding");
    ck_assert(l->ops->forward == NULL && l->ops->backward == NULL && l->ops->init != NULL);
    ck_assert_uint_eq(l->w.count, (size_t)classes * dim);
    ck_assert_uint_eq(l->b.count, 0);
    ck_assert_int_eq(l->out.c, dim);
    test_bind_layer(l, 21);
    /* N(0,1) init: rows differ, values spread */
    double sq = 0;
    for (size_t i = 0; i < l->w.count; i++) sq += (double)l->w.data[i] * l->w.data[i];
    ck_assert_msg(sq / (double)l->w.count > 0.3 && sq / (double)l->w.count < 3.0, "init variance %g",
                  sq / (double)l->w.count);
    const int32_t labels[7] = {4, 0, 2, 2, 1, 4, 3};
    float y[7 * 6];
    embedding_forward(l, labels, y, n);
    for (int i = 0; i < n; i++)
        ck_assert(memcmp(y + i * dim, l->w.data + labels[i] * dim, (size_t)dim * sizeof(float)) == 0);
    test_unbind_layer(l);
    layer_free(l);
}
END_TEST

/* L = sum(r .* embedding(labels)); central differences over every W entry, with repeated labels and one
 * class never drawn (its gradient must stay exactly zero). */
START_TEST(test_embedding_backward_fd)
{
    const int classes = 5, dim = 4, n = 6;
    const int32_t labels[6] = {2, 0, 2, 3, 0, 2}; /* 1 and 4 never drawn */
    Layer *l = embedding_create(classes, dim, n);
    test_bind_layer(l, 5);
    float y[6 * 4], r[6 * 4];
    test_fill_uniform(r, (size_t)n * dim, -1.0f, 1.0f, 77);

    memset(l->w.grad, 0, l->w.count * sizeof(float));
    embedding_backward(l, labels, r, n);

    double worst = 0;
    for (size_t p = 0; p < l->w.count; p++) {
        float keep = l->w.data[p];
        double lp = 0, lm = 0;
        l->w.data[p] = keep + GC_H;
        embedding_forward(l, labels, y, n);
        for (int i = 0; i < n * dim; i++) lp += (double)r[i] * y[i];
        l->w.data[p] = keep - GC_H;
        embedding_forward(l, labels, y, n);
        for (int i = 0; i < n * dim; i++) lm += (double)r[i] * y[i];
        l->w.data[p] = keep;
        double num = (lp - lm) / (2.0 * GC_H);
        double a = l->w.grad[p];
        double err = fabs(num - a) / fmax(1e-2, fmax(fabs(num), fabs(a)));
        worst = fmax(worst, err);
    }
    ck_assert_msg(worst < GC_TOL, "embedding: gradcheck rel err %g", worst);
    for (int j = 0; j < dim; j++) {
        ck_assert(l->w.grad[1 * dim + j] == 0.0f);
        ck_assert(l->w.grad[4 * dim + j] == 0.0f);
        /* class 2 drawn three times: sum of rows 0, 2, 5 */
        ck_assert_float_eq_tol(l->w.grad[2 * dim + j], r[0 * dim + j] + r[2 * dim + j] + r[5 * dim + j], 1e-6f);
    }

    /* accumulates: a second backward doubles every entry */
    float g1[20];
    memcpy(g1, l->w.grad, sizeof g1);
    embedding_backward(l, labels, r, n);
    for (int i = 0; i < classes * dim; i++) ck_assert_float_eq_tol(l->w.grad[i], 2.0f * g1[i], 1e-6f);
    test_unbind_layer(l);
    layer_free(l);
}
END_TEST

START_TEST(test_embedding_bad_label_aborts)
{
    Layer *l = embedding_create(3, 2, 2);
    test_bind_layer(l, 1);
    const int32_t labels[2] = {0, 3};
    float y[4];
    embedding_forward(l, labels, y, 2);
}
END_TEST

static Suite *layers_dense_suite(void)
{
    Suite *s = suite_create("layers_dense");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_linear_gradcheck);
    tcase_add_test(tc, test_linear_forward_naive);
    tcase_add_test(tc, test_linear_init_bounds);
    tcase_add_test(tc, test_linear_backward_semantics);
    tcase_add_test(tc, test_leaky_relu);
    tcase_add_test(tc, test_tanh);
    tcase_add_test(tc, test_reshape);
    tcase_add_test(tc, test_embedding_forward);
    tcase_add_test(tc, test_embedding_backward_fd);
    suite_add_tcase(s, tc);
    return s;
}

/* Broken invariants abort the process, so these run only in Check's fork mode (the default). */
static Suite *layers_dense_assert_suite(void)
{
    Suite *s = suite_create("layers_dense_asserts");
    TCase *tc = tcase_create("asserts");
    tcase_add_test_raise_signal(tc, test_reshape_size_mismatch_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, test_embedding_bad_label_aborts, SIGABRT);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(layers_dense_suite());
    if (srunner_fork_status(sr) != CK_NOFORK) srunner_add_suite(sr, layers_dense_assert_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
