/* test_rng.c - the counter-based RNG: pure function of (key, counter), independent streams,
 * correct ranges and moments. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "acgan/rng.h"

START_TEST(test_pure_function_of_key_and_counter)
{
    Rng a = rng_make(rng_key(42, RNG_STREAM_NOISE, 7, 3)), b = rng_make(rng_key(42, RNG_STREAM_NOISE, 7, 3));
    for (int i = 0; i < 100; i++) ck_assert_uint_eq(rng_u64(&a), rng_u64(&b));
    /* drawing the 50th value directly gives the same as drawing 49 first */
    Rng c = rng_make(rng_key(42, RNG_STREAM_NOISE, 7, 3)), d = c;
    for (int i = 0; i < 49; i++) rng_u64(&c);
    d.ctr = 49;
    ck_assert_uint_eq(rng_u64(&c), rng_u64(&d));
}
END_TEST

START_TEST(test_keys_differ_by_every_field)
{
    const uint64_t base = rng_key(1, 2, 3, 4);
    ck_assert_uint_ne(base, rng_key(2, 2, 3, 4));
    ck_assert_uint_ne(base, rng_key(1, 3, 3, 4));
    ck_assert_uint_ne(base, rng_key(1, 2, 4, 4));
    ck_assert_uint_ne(base, rng_key(1, 2, 3, 5));
    ck_assert_uint_ne(rng_key(1, 2, 3, 4), rng_key(1, 2, 4, 3)); /* a and b are not interchangeable */
}
END_TEST

START_TEST(test_uniform_and_normal_moments)
{
    Rng r = rng_make(rng_key(9, 9, 9, 9));
    const int n = 200000;
    double su = 0, sn = 0, sn2 = 0;
    for (int i = 0; i < n; i++) {
        float u = rng_uniform(&r);
        ck_assert(u >= 0.0f && u < 1.0f);
        su += u;
        float z = rng_normal(&r);
        ck_assert(isfinite(z));
        sn += z;
        sn2 += (double)z * z;
    }
    /* 5 standard errors */
    ck_assert_double_lt(fabs(su / n - 0.5), 5 * sqrt(1.0 / 12 / n));
    ck_assert_double_lt(fabs(sn / n), 5 * sqrt(1.0 / n));
    ck_assert_double_lt(fabs(sn2 / n - 1.0), 5 * sqrt(2.0 / n));
}
END_TEST

START_TEST(test_below_range_and_balance)
{
    Rng r = rng_make(rng_key(5, 5, 5, 5));
    int counts[7] = {0};
    const int n = 70000;
    for (int i = 0; i < n; i++) {
        uint32_t v = rng_below(&r, 7);
        ck_assert_uint_lt(v, 7);
        counts[v]++;
    }
    for (int k = 0; k < 7; k++) ck_assert_int_lt(abs(counts[k] - n / 7), 5 * (int)sqrt(n / 7.0)); /* ~5 sigma */
    ck_assert_uint_eq(rng_below(&r, 1), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rng");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_pure_function_of_key_and_counter);
    tcase_add_test(tc, test_keys_differ_by_every_field);
    tcase_add_test(tc, test_uniform_and_normal_moments);
    tcase_add_test(tc, test_below_range_and_balance);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
