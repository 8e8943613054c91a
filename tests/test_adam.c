/* test_adam.c - Adam against the textbook formulas evaluated here in double:
 *
 *   m_t = b1 m + (1 - b1) g,  v_t = b2 v + (1 - b2) g^2,
 *   mhat = m_t / (1 - b1^t),  vhat = v_t / (1 - b2^t),  p -= lr mhat / (sqrt(vhat) + eps)
 *
 * (the same update as torch's lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps), written differently on purpose).
 * Hyper-parameters are the decimals a user writes (0.999, not float(0.999)), as torch holds them.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "acgan/adam.h"

enum { NP = 7, STEPS = 3 };

typedef struct {
    double lr, b1, b2, eps;
} Hyper;

/* Per step grads: mixed signs and magnitudes, an exact zero, one grad that vanishes after step 1. */
static const float grads[STEPS][NP] = {
    {0.5f, -1.25f, 100.0f, 1e-6f, 0.0f, -0.03f, 2.0f},
    {0.4f, 2.0f, -50.0f, 2e-6f, 0.0f, -0.01f, 0.0f},
    {-0.1f, 1.5f, 25.0f, -3e-6f, 0.0f, 0.02f, 0.0f},
};
static const float params0[NP] = {0.05f, -0.02f, 0.03f, 0.01f, -0.04f, 0.0f, 0.025f};

static void run_and_compare(Hyper h)
{
    Adam *a = adam_create(NP, h.lr, h.b1, h.b2, h.eps);
    ck_assert_int_eq((int)a->t, 0);
    ck_assert_uint_eq(a->n, NP);
    float p[NP];
    double ep[NP], em[NP] = {0}, ev[NP] = {0};
    for (int i = 0; i < NP; i++) {
        p[i] = params0[i];
        ep[i] = params0[i];
        ck_assert(a->m[i] == 0.0f && a->v[i] == 0.0f);
    }
    for (int s = 0; s < STEPS; s++) {
        adam_step(a, p, grads[s]);
        const int t = s + 1;
        ck_assert_int_eq((int)a->t, t);
        for (int i = 0; i < NP; i++) {
            const double g = grads[s][i];
            const double prev = ep[i];
            em[i] = h.b1 * em[i] + (1.0 - h.b1) * g;
            ev[i] = h.b2 * ev[i] + (1.0 - h.b2) * g * g;
            const double mhat = em[i] / (1.0 - pow(h.b1, t));
            const double vhat = ev[i] / (1.0 - pow(h.b2, t));
            ep[i] -= h.lr * mhat / (sqrt(vhat) + h.eps);

            ck_assert_msg(fabs(p[i] - ep[i]) < 1e-6, "lr %g step %d p[%d] = %.9g, expected %.9g", h.lr, t, i, p[i],
                          ep[i]);
            /* the update itself to 1e-4 relative (params are small, so float keeps its digits) */
            const double du = (double)p[i] - (double)(float)prev, de = ep[i] - prev;
            ck_assert_msg(fabs(du - de) <= 1e-4 * fabs(de) + 1e-9, "lr %g step %d p[%d]: update %.9g, expected %.9g",
                          h.lr, t, i, du, de);
            ck_assert_msg(fabs(a->m[i] - em[i]) <= 1e-6 * fabs(em[i]), "step %d m[%d] = %.9g, expected %.9g", t, i,
                          a->m[i], em[i]);
            ck_assert_msg(fabs(a->v[i] - ev[i]) <= 1e-6 * fabs(ev[i]), "step %d v[%d] = %.9g, expected %.9g", t, i,
                          a->v[i], ev[i]);
        }
    }
    adam_free(a);
}

START_TEST(test_adam_torch_defaults)
{
    run_and_compare((Hyper){1e-3, 0.9, 0.999, 1e-8});
}
END_TEST

START_TEST(test_adam_acgan_settings)
{
    run_and_compare((Hyper){2e-4, 0.5, 0.999, 1e-8});
}
END_TEST

START_TEST(test_adam_large_lr_eps)
{
    run_and_compare((Hyper){0.01, 0.8, 0.99, 1e-3});
}
END_TEST

/* The first step is lr * sign(g) (up to eps), whatever the magnitude of g. */
START_TEST(test_adam_first_step_is_lr_sign)
{
    const float g[4] = {3.0f, -0.5f, 1e3f, -1e-3f};
    float p[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    Adam *a = adam_create(4, 0.01, 0.9, 0.999, 1e-8);
    adam_step(a, p, g);
    for (int i = 0; i < 4; i++) ck_assert_double_eq_tol(p[i], g[i] > 0 ? -0.01 : 0.01, 1e-7);
    adam_free(a);
}
END_TEST

/* Zero gradients: from a fresh state nothing moves; after a nonzero step momentum keeps moving params in
 * the same direction, by the amount the formula gives. */
START_TEST(test_adam_zero_grads_momentum)
{
    const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const float zero[3] = {0.0f, 0.0f, 0.0f}, g1[3] = {1.0f, -2.0f, 0.0f};
    float p[3] = {0.5f, -0.5f, 0.25f};
    Adam *a = adam_create(3, lr, b1, b2, eps);

    adam_step(a, p, zero);
    ck_assert_int_eq((int)a->t, 1);
    ck_assert(p[0] == 0.5f && p[1] == -0.5f && p[2] == 0.25f);

    adam_step(a, p, g1); /* t = 2: m = 0.1 g, v = 0.001 g^2 */
    float after_g[3] = {p[0], p[1], p[2]};
    ck_assert(p[0] < 0.5f && p[1] > -0.5f && p[2] == 0.25f);

    for (int s = 0; s < 3; s++) {
        adam_step(a, p, zero);
        const int t = 3 + s;
        ck_assert_int_eq((int)a->t, t);
        ck_assert_msg(p[0] < after_g[0] && p[1] > after_g[1], "step %d: momentum did not keep moving params", t);
        ck_assert(p[2] == 0.25f);
        after_g[0] = p[0];
        after_g[1] = p[1];
    }
    /* expected after the last step (t = 5) from the formula: m = 0.1 g b1^3, v = 0.001 g^2 b2^3 */
    double ep = 0.5;
    double m = 0, v = 0;
    const double gs[5] = {0.0, 1.0, 0.0, 0.0, 0.0};
    for (int t = 1; t <= 5; t++) {
        m = b1 * m + (1 - b1) * gs[t - 1];
        v = b2 * v + (1 - b2) * gs[t - 1] * gs[t - 1];
        ep -= lr * (m / (1 - pow(b1, t))) / (sqrt(v / (1 - pow(b2, t))) + eps);
    }
    ck_assert_msg(fabs(p[0] - ep) < 1e-6, "p[0] = %.9g, expected %.9g", p[0], ep);
    adam_free(a);
}
END_TEST

static Suite *adam_suite(void)
{
    Suite *s = suite_create("adam");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_adam_torch_defaults);
    tcase_add_test(tc, test_adam_acgan_settings);
    tcase_add_test(tc, test_adam_large_lr_eps);
    tcase_add_test(tc, test_adam_first_step_is_lr_sign);
    tcase_add_test(tc, test_adam_zero_grads_momentum);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(adam_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
