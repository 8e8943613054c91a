/* test_metrics.c - Check suite for metrics.c: fresh file, resume truncation, errors.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acgan/metrics.h"
#include "testutil.h"

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static MetricsRow row_at(int64_t step)
{
    return (MetricsRow){.step = step, .epoch = step / 100, .d_loss = 1.25, .g_loss = 0.5, .d_real = 0.75,
                        .d_fake = 0.125, .aux_acc = 1.0 / 3.0, .img_per_sec = 12345.678};
}

START_TEST(test_fresh_and_resume)
{
    const char *dir = test_tmpdir("metrics");
    char path[512];
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    Metrics m;
    AcganError err = {0};
    ck_assert_msg(metrics_open(&m, path, 0, &err) == ACGAN_OK, "%s", err.msg);
    for (int64_t s = 50; s <= 200; s += 50) {
        MetricsRow r = row_at(s);
        metrics_log(&m, &r);
    }
    /* Rows are flushed as they are logged, before close. */
    ck_assert_str_eq(read_all(path), METRICS_HEADER "\n"
                                                    "50,0,1.25,0.5,0.75,0.125,0.333333,12345.7\n"
                                                    "100,1,1.25,0.5,0.75,0.125,0.333333,12345.7\n"
                                                    "150,1,1.25,0.5,0.75,0.125,0.333333,12345.7\n"
                                                    "200,2,1.25,0.5,0.75,0.125,0.333333,12345.7\n");
    metrics_close(&m);
    metrics_close(&m); /* harmless twice */

    /* Resume from step 100: rows 150 and 200 came after the checkpoint and go away. */
    ck_assert_msg(metrics_open(&m, path, 100, &err) == ACGAN_OK, "%s", err.msg);
    MetricsRow r = row_at(150);
    r.d_loss = 2.0;
    metrics_log(&m, &r);
    metrics_close(&m);
    ck_assert_str_eq(read_all(path), METRICS_HEADER "\n"
                                                    "50,0,1.25,0.5,0.75,0.125,0.333333,12345.7\n"
                                                    "100,1,1.25,0.5,0.75,0.125,0.333333,12345.7\n"
                                                    "150,1,2,0.5,0.75,0.125,0.333333,12345.7\n");

    /* resume_step 0 starts over even though the file exists. */
    ck_assert_msg(metrics_open(&m, path, 0, &err) == ACGAN_OK, "%s", err.msg);
    metrics_close(&m);
    ck_assert_str_eq(read_all(path), METRICS_HEADER "\n");

    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ck_assert_ptr_null(fopen(tmp, "r"));
}
END_TEST

START_TEST(test_resume_edge_cases)
{
    const char *dir = test_tmpdir("metrics");
    char path[512];
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    Metrics m;
    AcganError err = {0};

    /* Missing file with resume_step > 0: fresh header. */
    ck_assert_msg(metrics_open(&m, path, 500, &err) == ACGAN_OK, "%s", err.msg);
    metrics_close(&m);
    ck_assert_str_eq(read_all(path), METRICS_HEADER "\n");

    /* A row cut short by a crash (no newline) and garbage rows are dropped; steps are compared
     * as numbers, not text. */
    write_text(path, METRICS_HEADER "\n"
                                    "9,0,1,1,1,1,1,1\n"
                                    "10,0,1,1,1,1,1,1\n"
                                    "junk\n"
                                    "11,0,1,1,1,1,1,1\n"
                                    "100,0,1,1,1,1,1,1\n"
                                    "12,0,1,1");
    ck_assert_msg(metrics_open(&m, path, 11, &err) == ACGAN_OK, "%s", err.msg);
    metrics_close(&m);
    ck_assert_str_eq(read_all(path), METRICS_HEADER "\n"
                                                    "9,0,1,1,1,1,1,1\n"
                                                    "10,0,1,1,1,1,1,1\n"
                                                    "11,0,1,1,1,1,1,1\n");

    /* A file that is not ours is left alone, with an error naming it. */
    write_text(path, "time,loss\n1,2\n");
    ck_assert_int_eq(metrics_open(&m, path, 5, &err), ACGAN_ERR_IO);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "header"), "%s", err.msg);
    ck_assert_ptr_null(m.f);
    ck_assert_str_eq(read_all(path), "time,loss\n1,2\n");

    /* A directory that does not exist. */
    snprintf(path, sizeof path, "%s/nope/metrics.csv", dir);
    ck_assert_int_eq(metrics_open(&m, path, 0, &err), ACGAN_ERR_IO);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_fresh_and_resume);
    tcase_add_test(tc, test_resume_edge_cases);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(metrics_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
