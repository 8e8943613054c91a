/* test_loss.c - BCE-with-logits, cross-entropy and softmax-then-CE: values against formulas evaluated
 * here in double, gradients against finite differences, strided rows, the scale factor, n_correct.
 */
#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "acgan/loss.h"
#include "testutil.h"

#define SENTINEL 12345.0f

/* ---- reference formulas, written naively in double ---- */

static double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* -t log s(x) - (1 - t) log(1 - s(x)); only for moderate |x| */
static double ref_bce(double x, double t) { return -t * log(ref_sigmoid(x)) - (1.0 - t) * log(1.0 - ref_sigmoid(x)); }

static double ref_ce(const double *x, int k, int y)
{
    double s = 0;
    for (int j = 0; j < k; j++) s += exp(x[j]);
    return -log(exp(x[y]) / s);
}

static double ref_softmax_then_ce(const float *x, int k, int y)
{
    double p[64], s = 0;
    for (int j = 0; j < k; j++) s += exp((double)x[j]);
    for (int j = 0; j < k; j++) p[j] = exp((double)x[j]) / s;
    return ref_ce(p, k, y);
}

/* ---- values ---- */

START_TEST(test_bce_values)
{
    const float zero = 0.0f;
    float d;
    ck_assert_double_eq_tol(loss_bce_logits(&zero, 1, 1, 1.0f, 1.0f, &d), log(2.0), 1e-7);
    ck_assert_float_eq_tol(d, -0.5f, 1e-7f);
    ck_assert_double_eq_tol(loss_bce_logits(&zero, 1, 1, 0.0f, 1.0f, &d), log(2.0), 1e-7);
    ck_assert_float_eq_tol(d, 0.5f, 1e-7f);

    /* a batch of moderate logits, both targets, against the naive formula */
    const float x[6] = {-3.0f, -0.7f, 0.2f, 1.5f, 4.0f, -8.0f};
    float dx[6];
    for (int ti = 0; ti < 2; ti++) {
        const double t = ti ? 1.0 : 0.0;
        double e = 0;
        for (int i = 0; i < 6; i++) e += ref_bce(x[i], t);
        e /= 6;
        float l = loss_bce_logits(x, 1, 6, (float)t, 1.0f, dx);
        ck_assert_msg(fabs(l - e) < 1e-6 * fmax(1.0, e), "bce t=%g: %g vs %g", t, l, e);
        for (int i = 0; i < 6; i++) ck_assert_double_eq_tol(dx[i], (ref_sigmoid(x[i]) - t) / 6, 1e-7);
    }
    /* label smoothing style target 0.9 */
    double e = 0;
    for (int i = 0; i < 6; i++) e += ref_bce(x[i], 0.9);
    ck_assert_double_eq_tol(loss_bce_logits(x, 1, 6, 0.9f, 1.0f, NULL), e / 6, 1e-6);
}
END_TEST

START_TEST(test_bce_large_logits)
{
    const float x[2] = {100.0f, -100.0f};
    float d[2];
    /* target 1: (~0 + 100) / 2 */
    float l = loss_bce_logits(x, 1, 2, 1.0f, 1.0f, d);
    ck_assert(isfinite(l) && isfinite(d[0]) && isfinite(d[1]));
    ck_assert_double_eq_tol(l, 50.0, 1e-5);
    ck_assert_double_eq_tol(d[0], 0.0, 1e-7);
    ck_assert_double_eq_tol(d[1], -0.5, 1e-7);
    /* target 0 */
    l = loss_bce_logits(x, 1, 2, 0.0f, 1.0f, d);
    ck_assert(isfinite(l));
    ck_assert_double_eq_tol(l, 50.0, 1e-5);
    ck_assert_double_eq_tol(d[0], 0.5, 1e-7);
    ck_assert_double_eq_tol(d[1], 0.0, 1e-7);
    /* the confident right answer costs nothing */
    ck_assert_double_eq_tol(loss_bce_logits(&x[0], 1, 1, 1.0f, 1.0f, NULL), 0.0, 1e-30);
    ck_assert_double_eq_tol(loss_bce_logits(&x[1], 1, 1, 0.0f, 1.0f, NULL), 0.0, 1e-30);
}
END_TEST

START_TEST(test_ce_values)
{
    const int k = 10;
    float x[10] = {10.0f};
    int32_t y = 0;
    /* CE: log(e^10 + 9) - 10 = log(1 + 9 e^-10) ~ 4.085e-4 (4.54e-4 would be ten zero logits, k = 11) */
    const double e_ce = log(exp(10.0) + 9.0) - 10.0;
    /* softmax then CE: p0 = e^10 / (e^10 + 9), pj = 1 / (e^10 + 9); log(e^p0 + 9 e^pj) - p0 ~ 1.4615 */
    const double z = exp(10.0) + 9.0, p0 = exp(10.0) / z, pj = 1.0 / z;
    const double e_sce = log(exp(p0) + 9.0 * exp(pj)) - p0;
    ck_assert_double_eq_tol(e_ce, 4.0852e-4, 1e-8);
    ck_assert_double_eq_tol(e_sce, 1.46150, 1e-5);
    int correct = -1;
    float l = loss_cross_entropy(x, k, k, &y, 1, 1.0f, NULL, &correct);
    ck_assert_msg(fabs(l - e_ce) < 1e-6 * e_ce + 1e-9, "ce %.9g vs %.9g", l, e_ce);
    ck_assert_int_eq(correct, 1);
    correct = -1;
    l = loss_softmax_then_ce(x, k, k, &y, 1, 1.0f, NULL, &correct);
    ck_assert_msg(fabs(l - e_sce) < 1e-6, "softmax_then_ce %.9g vs %.9g", l, e_sce);
    ck_assert_int_eq(correct, 1);

    /* a wrong label: CE = log(e^10 + 9) */
    y = 3;
    l = loss_cross_entropy(x, k, k, &y, 1, 1.0f, NULL, &correct);
    ck_assert_double_eq_tol(l, log(z), 1e-5);
    ck_assert_int_eq(correct, 0);

    /* large logits stay finite (max subtraction) */
    float big[3] = {1000.0f, -1000.0f, 999.0f};
    float dbig[3];
    y = 2;
    l = loss_cross_entropy(big, 3, 3, &y, 1, 1.0f, dbig, NULL);
    ck_assert_double_eq_tol(l, log1p(exp(-1.0)) + 1.0, 1e-5);
    for (int j = 0; j < 3; j++) ck_assert(isfinite(dbig[j]));
    l = loss_softmax_then_ce(big, 3, 3, &y, 1, 1.0f, dbig, NULL);
    ck_assert(isfinite(l));
    ck_assert_double_eq_tol(l, ref_softmax_then_ce((float[]){1.0f, -1999.0f, 0.0f}, 3, 2), 1e-5);
    for (int j = 0; j < 3; j++) ck_assert(isfinite(dbig[j]));

    /* a random batch against the naive formulas */
    enum { N = 5, K = 7 };
    float xb[N * K];
    int32_t yb[N] = {0, 6, 3, 3, 1};
    test_fill_uniform(xb, N * K, -3.0f, 3.0f, 31);
    double e1 = 0, e2 = 0;
    for (int i = 0; i < N; i++) {
        double xd[K];
        for (int j = 0; j < K; j++) xd[j] = xb[i * K + j];
        e1 += ref_ce(xd, K, yb[i]);
        e2 += ref_softmax_then_ce(xb + i * K, K, yb[i]);
    }
    ck_assert_double_eq_tol(loss_cross_entropy(xb, K, K, yb, N, 1.0f, NULL, NULL), e1 / N, 1e-6);
    ck_assert_double_eq_tol(loss_softmax_then_ce(xb, K, K, yb, N, 1.0f, NULL, NULL), e2 / N, 1e-6);
}
END_TEST

START_TEST(test_mean_sigmoid)
{
    const float x[5] = {-100.0f, -1.0f, 0.0f, 2.0f, 100.0f};
    double e = 0;
    for (int i = 0; i < 5; i++) e += ref_sigmoid(x[i]);
    ck_assert_double_eq_tol(loss_mean_sigmoid(x, 1, 5), e / 5, 1e-7);
    /* strided: only column 0 of rows of 3 */
    const float xs[9] = {0.0f, 50.0f, 50.0f, 2.0f, 50.0f, 50.0f, -1.0f, 50.0f, 50.0f};
    e = (0.5 + ref_sigmoid(2.0) + ref_sigmoid(-1.0)) / 3;
    ck_assert_double_eq_tol(loss_mean_sigmoid(xs, 3, 3), e, 1e-7);
}
END_TEST

/* ---- gradients by finite differences ---- */

enum { LOSS_BCE, LOSS_CE, LOSS_SCE };

static float eval_loss(int which, const float *x, int stride, int k, const int32_t *y, int n, float t, float scale,
                       float *dx)
{
    switch (which) {
    case LOSS_BCE: return loss_bce_logits(x, stride, n, t, scale, dx);
    case LOSS_CE: return loss_cross_entropy(x, stride, k, y, n, scale, dx, NULL);
    default: return loss_softmax_then_ce(x, stride, k, y, n, scale, dx, NULL);
    }
}

/* Central differences of the mean loss; the analytic gradient carries scale, so compare with scale * numeric.
 * Returns max |a - num| / max(1e-3, |a|, |num|). */
static double fd_check(int which, int n, int k, float t, float scale, uint64_t seed)
{
    const int stride = k;
    const float h = 5e-2f;
    float *x = malloc((size_t)n * stride * sizeof(float));
    float *dx = malloc((size_t)n * stride * sizeof(float));
    int32_t *y = malloc((size_t)n * sizeof(int32_t));
    test_fill_uniform(x, (size_t)n * stride, -2.0f, 2.0f, seed);
    for (int i = 0; i < n; i++) y[i] = (int32_t)((i * 7 + 3) % k);
    eval_loss(which, x, stride, k, y, n, t, scale, dx);
    double worst = 0;
    for (int i = 0; i < n * stride; i++) {
        float keep = x[i];
        x[i] = keep + h;
        double lp = eval_loss(which, x, stride, k, y, n, t, scale, NULL);
        x[i] = keep - h;
        double lm = eval_loss(which, x, stride, k, y, n, t, scale, NULL);
        x[i] = keep;
        double num = scale * (lp - lm) / (2.0 * h);
        double err = fabs(dx[i] - num) / fmax(1e-3, fmax(fabs(num), fabs(dx[i])));
        worst = fmax(worst, err);
    }
    free(x);
    free(dx);
    free(y);
    return worst;
}

START_TEST(test_gradients_fd)
{
    const float scales[2] = {1.0f, 0.3f};
    for (int si = 0; si < 2; si++) {
        const float sc = scales[si];
        double e;
        e = fd_check(LOSS_BCE, 7, 1, 1.0f, sc, 1);
        ck_assert_msg(e < 1e-2, "bce t=1 scale %g: rel err %g", sc, e);
        e = fd_check(LOSS_BCE, 7, 1, 0.0f, sc, 2);
        ck_assert_msg(e < 1e-2, "bce t=0 scale %g: rel err %g", sc, e);
        e = fd_check(LOSS_CE, 4, 5, 0.0f, sc, 3);
        ck_assert_msg(e < 1e-2, "ce scale %g: rel err %g", sc, e);
        e = fd_check(LOSS_CE, 3, 10, 0.0f, sc, 4);
        ck_assert_msg(e < 1e-2, "ce k=10 scale %g: rel err %g", sc, e);
        e = fd_check(LOSS_SCE, 4, 5, 0.0f, sc, 5);
        ck_assert_msg(e < 1e-2, "softmax_then_ce scale %g: rel err %g", sc, e);
        e = fd_check(LOSS_SCE, 3, 10, 0.0f, sc, 6);
        ck_assert_msg(e < 1e-2, "softmax_then_ce k=10 scale %g: rel err %g", sc, e);
    }
}
END_TEST

/* The loss value ignores scale; the gradient is exactly proportional to it. */
START_TEST(test_scale)
{
    enum { N = 4, K = 6 };
    float x[N * K], d1[N * K], d2[N * K];
    int32_t y[N] = {5, 0, 2, 2};
    test_fill_uniform(x, N * K, -2.0f, 2.0f, 8);
    for (int which = LOSS_BCE; which <= LOSS_SCE; which++) {
        const int n = which == LOSS_BCE ? N * K : N, k = which == LOSS_BCE ? 1 : K;
        float l1 = eval_loss(which, x, k, k, y, n, 1.0f, 1.0f, d1);
        float l2 = eval_loss(which, x, k, k, y, n, 1.0f, 0.25f, d2);
        ck_assert(l1 == l2);
        for (int i = 0; i < N * K; i++) ck_assert_float_eq_tol(d2[i], 0.25f * d1[i], 1e-8f);
        float l3 = eval_loss(which, x, k, k, y, n, 1.0f, -2.0f, d2);
        ck_assert(l1 == l3);
        for (int i = 0; i < N * K; i++) ck_assert_float_eq_tol(d2[i], -2.0f * d1[i], 1e-7f);
    }
}
END_TEST

/* Both heads of one (n, 1 + k) output addressed in place, as the discriminator step does: rows of
 * stride 1 + k + 2 (two padding columns), adversarial logit in column 0, class logits in 1..k. Results
 * must equal the contiguous computation and nothing outside the addressed columns may be written. */
START_TEST(test_strided)
{
    enum { N = 5, K = 4, S = 1 + K + 2 };
    float out[N * S], dout[N * S];
    float cls[N * K], dcls[N * K], adv[N], dadv[N];
    int32_t y[N] = {3, 1, 0, 3, 2};
    test_fill_uniform(out, N * S, -2.0f, 2.0f, 12);
    for (int i = 0; i < N; i++) {
        adv[i] = out[i * S];
        for (int j = 0; j < K; j++) cls[i * K + j] = out[i * S + 1 + j];
    }
    for (int which = LOSS_CE; which <= LOSS_SCE; which++) {
        for (int i = 0; i < N * S; i++) dout[i] = SENTINEL;
        int c1 = -1, c2 = -2;
        float lb = loss_bce_logits(out, S, N, 1.0f, 0.5f, dout);
        float lb_ref = loss_bce_logits(adv, 1, N, 1.0f, 0.5f, dadv);
        float lc, lc_ref;
        if (which == LOSS_CE) {
            lc = loss_cross_entropy(out + 1, S, K, y, N, 0.5f, dout + 1, &c1);
            lc_ref = loss_cross_entropy(cls, K, K, y, N, 0.5f, dcls, &c2);
        } else {
            lc = loss_softmax_then_ce(out + 1, S, K, y, N, 0.5f, dout + 1, &c1);
            lc_ref = loss_softmax_then_ce(cls, K, K, y, N, 0.5f, dcls, &c2);
        }
        ck_assert(lb == lb_ref);
        ck_assert(lc == lc_ref);
        ck_assert_int_eq(c1, c2);
        for (int i = 0; i < N; i++) {
            ck_assert(dout[i * S] == dadv[i]);
            for (int j = 0; j < K; j++) ck_assert(dout[i * S + 1 + j] == dcls[i * K + j]);
            for (int j = 1 + K; j < S; j++) ck_assert(dout[i * S + j] == SENTINEL);
        }
    }
}
END_TEST

START_TEST(test_n_correct)
{
    enum { N = 6, K = 4 };
    /* argmaxes: 2, 0, 3, 1, 1, 0 (row 5 ties between 0 and 3: the first maximum counts) */
    const float x[N * K] = {
        0.1f, 0.2f, 0.9f, 0.0f,  /* 2 */
        5.0f, -1.0f, 4.9f, 0.0f, /* 0 */
        -3.0f, -2.0f, -4.0f, -1.0f, /* 3 */
        0.0f, 0.3f, 0.1f, 0.2f,  /* 1 */
        -1.0f, 2.0f, 1.0f, 1.5f, /* 1 */
        1.0f, 0.0f, 0.0f, 1.0f,  /* 0 (tie with 3) */
    };
    const int32_t y[N] = {2, 1, 3, 1, 0, 0}; /* rows 0, 2, 3, 5 right */
    int c = -1;
    loss_cross_entropy(x, K, K, y, N, 1.0f, NULL, &c);
    ck_assert_int_eq(c, 4);
    c = -1;
    loss_softmax_then_ce(x, K, K, y, N, 1.0f, NULL, &c);
    ck_assert_int_eq(c, 4);
    const int32_t all[N] = {2, 0, 3, 1, 1, 0};
    loss_cross_entropy(x, K, K, all, N, 1.0f, NULL, &c);
    ck_assert_int_eq(c, N);
    const int32_t none[N] = {0, 1, 0, 0, 0, 1};
    loss_softmax_then_ce(x, K, K, none, N, 1.0f, NULL, &c);
    ck_assert_int_eq(c, 0);
}
END_TEST

/* Gradients of CE sum to zero over each row, with one negative entry at the label. */
START_TEST(test_ce_gradient_structure)
{
    enum { N = 3, K = 5 };
    float x[N * K], d[N * K];
    const int32_t y[N] = {4, 0, 2};
    test_fill_uniform(x, N * K, -1.0f, 1.0f, 21);
    loss_cross_entropy(x, K, K, y, N, 1.0f, d, NULL);
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int j = 0; j < K; j++) {
            s += d[i * K + j];
            if (j == y[i]) ck_assert(d[i * K + j] < 0);
            else ck_assert(d[i * K + j] > 0);
        }
        ck_assert_double_eq_tol(s, 0.0, 1e-7);
    }
    loss_softmax_then_ce(x, K, K, y, N, 1.0f, d, NULL);
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int j = 0; j < K; j++) s += d[i * K + j];
        ck_assert_double_eq_tol(s, 0.0, 1e-7);
        ck_assert(d[i * K + y[i]] < 0);
    }
}
END_TEST

START_TEST(test_bad_label_aborts)
{
    const float x[3] = {0.0f, 1.0f, 2.0f};
    const int32_t y = 3;
    loss_cross_entropy(x, 3, 3, &y, 1, 1.0f, NULL, NULL);
}
END_TEST

static Suite *loss_suite(void)
{
    Suite *s = suite_create("loss");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_bce_values);
    tcase_add_test(tc, test_bce_large_logits);
    tcase_add_test(tc, test_ce_values);
    tcase_add_test(tc, test_mean_sigmoid);
    tcase_add_test(tc, test_gradients_fd);
    tcase_add_test(tc, test_scale);
    tcase_add_test(tc, test_strided);
    tcase_add_test(tc, test_n_correct);
    tcase_add_test(tc, test_ce_gradient_structure);
    suite_add_tcase(s, tc);
    return s;
}

/* Broken invariants abort the process, so these run only in Check's fork mode (the default). */
static Suite *loss_assert_suite(void)
{
    Suite *s = suite_create("loss_asserts");
    TCase *tc = tcase_create("asserts");
    tcase_add_test_raise_signal(tc, test_bad_label_aborts, SIGABRT);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(loss_suite());
    if (srunner_fork_status(sr) != CK_NOFORK) srunner_add_suite(sr, loss_assert_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
