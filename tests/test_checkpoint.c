/* test_checkpoint.c - HDF5 checkpoints: bitwise round trip, atomic save, and every way a load must fail.
 *
 * Corruption is made the way it happens: a copy cut to half its size, one byte flipped inside the raw float
 * data (found by searching the file for the bytes of a stored value), so Fletcher32 has to catch it.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acgan/checkpoint.h"
#include "testutil.h"

enum { NG = 1000, ND = 37, NM = 300000 }; /* NM spans two 1 MiB chunks */

static const char CONFIG[] = "[train]\nbatch_size = 64\nlr = 0.0002\n\n[model]\nnz = 100\n";

typedef struct {
    float *g, *d, *m; /* (NG), (ND), (NM) */
    CkptTensor t[4];
    CkptMeta meta;
} Fixture;

static void fixture_make(Fixture *f, uint64_t seed)
{
    f->g = malloc(NG * sizeof(float));
    f->d = malloc(ND * sizeof(float));
    f->m = malloc(NM * sizeof(float));
    test_fill_uniform(f->g, NG, -1, 1, seed);
    test_fill_uniform(f->d, ND, -1e-3f, 1e3f, seed + 1);
    for (int i = 0; i < NM; i++) f->m[i] = 1000.0f + 0.25f * (float)i; /* distinct values, findable in the file */
    f->d[3] = -0.0f;
    f->t[0] = (CkptTensor){"G/params", f->g, NG};
    f->t[1] = (CkptTensor){"D/params", f->d, ND};
    f->t[2] = (CkptTensor){"D/adam/m", f->m, NM};
    f->t[3] = (CkptTensor){"G/state", NULL, 0}; /* an empty buffer (no BatchNorm) */
    f->meta = (CkptMeta){.step = 400, .epoch = 3, .adam_t_g = 400, .adam_t_d = 401,
                         .seed = 0xFEDCBA9876543210ull, .world_size = 4};
}

/* Same names and counts, buffers filled with a sentinel. */
static void fixture_blank(Fixture *f)
{
    f->g = malloc(NG * sizeof(float));
    f->d = malloc(ND * sizeof(float));
    f->m = malloc(NM * sizeof(float));
    memset(f->g, 0x7f, NG * sizeof(float));
    memset(f->d, 0x7f, ND * sizeof(float));
    memset(f->m, 0x7f, NM * sizeof(float));
    f->t[0] = (CkptTensor){"G/params", f->g, NG};
    f->t[1] = (CkptTensor){"D/params", f->d, ND};
    f->t[2] = (CkptTensor){"D/adam/m", f->m, NM};
    f->t[3] = (CkptTensor){"G/state", NULL, 0};
    memset(&f->meta, 0, sizeof f->meta);
}

static void fixture_free(Fixture *f)
{
    free(f->g);
    free(f->d);
    free(f->m);
}

static void save_ok(const char *path, Fixture *f)
{
    AcganError err = {0};
    ck_assert_msg(ckpt_save(path, f->t, 4, &f->meta, CONFIG, &err) == ACGAN_OK, "%s", err.msg);
}

static void rm_dir(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Whole file into a malloc'd buffer. */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(*len);
    ck_assert_uint_eq(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

static void spit(const char *path, const unsigned char *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert(f != NULL);
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    fclose(f);
}

START_TEST(test_round_trip_bitwise)
{
    char dir[256], path[512], tmp[600];
    snprintf(dir, sizeof dir, "%s", test_tmpdir("ckpt"));
    snprintf(path, sizeof path, "%s/step_0000400.h5", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    Fixture a, b;
    fixture_make(&a, 7);
    save_ok(path, &a);
    ck_assert(exists(path));
    ck_assert_msg(!exists(tmp), "%s left behind", tmp);

    fixture_blank(&b);
    char config[256];
    AcganError err = {0};
    ck_assert_msg(ckpt_load(path, b.t, 4, &b.meta, config, sizeof config, &err) == ACGAN_OK, "%s", err.msg);
    ck_assert_mem_eq(b.g, a.g, NG * sizeof(float));
    ck_assert_mem_eq(b.d, a.d, ND * sizeof(float));
    ck_assert_mem_eq(b.m, a.m, NM * sizeof(float));
    ck_assert_int_eq(b.meta.step, 400);
    ck_assert_int_eq(b.meta.epoch, 3);
    ck_assert_int_eq(b.meta.adam_t_g, 400);
    ck_assert_int_eq(b.meta.adam_t_d, 401);
    ck_assert(b.meta.seed == 0xFEDCBA9876543210ull);
    ck_assert_int_eq(b.meta.world_size, 4);
    ck_assert_str_eq(config, CONFIG);

    /* A subset of tensors, no meta, config truncated to the buffer. */
    char small[8];
    memset(b.g, 0, NG * sizeof(float));
    ck_assert_msg(ckpt_load(path, b.t, 1, NULL, small, sizeof small, &err) == ACGAN_OK, "%s", err.msg);
    ck_assert_mem_eq(b.g, a.g, NG * sizeof(float));
    ck_assert_str_eq(small, "[train]");

    /* Saving again over an existing file replaces it. */
    a.g[0] = 42.0f;
    a.meta.step = 401;
    save_ok(path, &a);
    ck_assert_msg(ckpt_load(path, b.t, 4, &b.meta, NULL, 0, &err) == ACGAN_OK, "%s", err.msg);
    ck_assert(b.g[0] == 42.0f);
    ck_assert_int_eq(b.meta.step, 401);
    fixture_free(&a);
    fixture_free(&b);
    rm_dir(dir);
}
END_TEST

START_TEST(test_load_mismatch_and_missing)
{
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "%s", test_tmpdir("ckpt"));
    snprintf(path, sizeof path, "%s/c.h5", dir);
    Fixture a, b;
    fixture_make(&a, 8);
    save_ok(path, &a);
    fixture_blank(&b);
    AcganError err = {0};

    CkptTensor wrong[2] = {{"D/params", b.d, ND}, {"G/params", b.g, NG - 1}};
    ck_assert_int_eq(ckpt_load(path, wrong, 2, &b.meta, NULL, 0, &err), ACGAN_ERR_CKPT);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "'G/params'") && strstr(err.msg, "1000") &&
                      strstr(err.msg, "999"),
                  "%s", err.msg);
    ck_assert_int_eq(((unsigned char *)b.d)[0], 0x7f); /* nothing copied before the failure was found */

    CkptTensor missing[2] = {{"G/params", b.g, NG}, {"E/params", b.d, ND}};
    ck_assert_int_eq(ckpt_load(path, missing, 2, NULL, NULL, 0, &err), ACGAN_ERR_CKPT);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "'E/params'") && strstr(err.msg, "missing"), "%s", err.msg);
    CkptTensor nested[1] = {{"D/adam/v", b.d, ND}};
    ck_assert_int_eq(ckpt_load(path, nested, 1, NULL, NULL, 0, &err), ACGAN_ERR_CKPT);
    ck_assert_msg(strstr(err.msg, "'D/adam/v'") && strstr(err.msg, "missing"), "%s", err.msg);
    ck_assert_int_eq(((unsigned char *)b.g)[0], 0x7f);

    char none[600];
    snprintf(none, sizeof none, "%s/nope.h5", dir);
    ck_assert_int_eq(ckpt_load(none, b.t, 4, NULL, NULL, 0, &err), ACGAN_ERR_CKPT);
    ck_assert_msg(strstr(err.msg, none) != NULL, "%s", err.msg);
    fixture_free(&a);
    fixture_free(&b);
    rm_dir(dir);
}
END_TEST

START_TEST(test_truncated_file)
{
    char dir[256], path[512], cut[600];
    snprintf(dir, sizeof dir, "%s", test_tmpdir("ckpt"));
    snprintf(path, sizeof path, "%s/c.h5", dir);
    snprintf(cut, sizeof cut, "%s/cut.h5", dir);
    Fixture a, b;
    fixture_make(&a, 9);
    save_ok(path, &a);
    size_t len;
    unsigned char *buf = slurp(path, &len);
    spit(cut, buf, len / 2);
    fixture_blank(&b);
    AcganError err = {0};
    ck_assert_int_eq(ckpt_load(cut, b.t, 4, &b.meta, NULL, 0, &err), ACGAN_ERR_CKPT);
    ck_assert_msg(strstr(err.msg, cut) != NULL, "%s", err.msg);
    ck_assert_int_eq(((unsigned char *)b.m)[0], 0x7f);
    free(buf);
    fixture_free(&a);
    fixture_free(&b);
    rm_dir(dir);
}
END_TEST

START_TEST(test_flipped_byte_fails_checksum)
{
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "%s", test_tmpdir("ckpt"));
    snprintf(path, sizeof path, "%s/c.h5", dir);
    Fixture a, b;
    fixture_make(&a, 10);
    save_ok(path, &a);
    size_t len;
    unsigned char *buf = slurp(path, &len);
    const unsigned char *needle = (const unsigned char *)&a.m[NM / 2 + 17]; /* little-endian float in the file */
    size_t at = 0;
    int found = 0;
    for (size_t i = 0; i + 4 <= len && !found; i++)
        if (memcmp(buf + i, needle, 4) == 0) at = i, found = 1;
    ck_assert_msg(found, "stored value not found in %s", path);
    ck_assert(memcmp(buf + at - 4, &a.m[NM / 2 + 16], 4) == 0); /* really inside the tensor's data */
    buf[at + 1] ^= 0x10;
    spit(path, buf, len);
    fixture_blank(&b);
    AcganError err = {0};
    ck_assert_int_eq(ckpt_load(path, b.t, 4, &b.meta, NULL, 0, &err), ACGAN_ERR_CKPT);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "'D/adam/m'") && strstr(err.msg, "checksum"), "%s",
                  err.msg);
    ck_assert_int_eq(((unsigned char *)b.g)[0], 0x7f); /* G/params was read fine but not handed out */
    free(buf);
    fixture_free(&a);
    fixture_free(&b);
    rm_dir(dir);
}
END_TEST

static void touch(const char *dir, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    fclose(f);
}

START_TEST(test_find_latest)
{
    char dir[256], want[600], got[600];
    snprintf(dir, sizeof dir, "%s", test_tmpdir("ckpt"));
    ck_assert_int_eq(ckpt_find_latest(dir, got, sizeof got), -1);
    ck_assert_int_eq(ckpt_find_latest("/nonexistent/acgan/ckpt", got, sizeof got), -1);
    const char *names[] = {"step_0000100.h5", "step_0000200.h5", "step_0000300.h5.tmp", "step_0000900.h5.bak",
                           "step_.h5",        "step_12a.h5",     "xstep_0000999.h5",    "notes.txt",
                           "step_0000050.h5"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) touch(dir, names[i]);
    ck_assert_int_eq(ckpt_find_latest(dir, got, sizeof got), 0);
    snprintf(want, sizeof want, "%s/step_0000200.h5", dir);
    ck_assert_str_eq(got, want);
    touch(dir, "step_1000.h5"); /* numeric, not lexical, order */
    ck_assert_int_eq(ckpt_find_latest(dir, got, sizeof got), 0);
    snprintf(want, sizeof want, "%s/step_1000.h5", dir);
    ck_assert_str_eq(got, want);
    char tiny[8];
    ck_assert_int_eq(ckpt_find_latest(dir, tiny, sizeof tiny), -1); /* does not fit */
    rm_dir(dir);
}
END_TEST

START_TEST(test_failed_save_keeps_good_file)
{
    char dir[256], good[512], bad[600], blocker[600];
    snprintf(dir, sizeof dir, "%s", test_tmpdir("ckpt"));
    snprintf(good, sizeof good, "%s/step_0000100.h5", dir);
    Fixture a, b;
    fixture_make(&a, 11);
    save_ok(good, &a);
    size_t len0;
    unsigned char *before = slurp(good, &len0);

    AcganError err = {0};
    snprintf(bad, sizeof bad, "%s/missing/step_0000200.h5", dir);
    ck_assert_int_eq(ckpt_save(bad, a.t, 4, &a.meta, CONFIG, &err), ACGAN_ERR_IO);
    ck_assert_msg(strstr(err.msg, bad) != NULL, "%s", err.msg);

    /* A failure on the same path (its .tmp name is blocked by a directory) leaves the old file as it was. */
    snprintf(blocker, sizeof blocker, "%s.tmp", good);
    ck_assert_int_eq(mkdir(blocker, 0755), 0);
    a.g[0] = 123.0f;
    ck_assert_int_eq(ckpt_save(good, a.t, 4, &a.meta, CONFIG, &err), ACGAN_ERR_IO);
    ck_assert_msg(strstr(err.msg, good) != NULL, "%s", err.msg);
    size_t len1;
    unsigned char *after = slurp(good, &len1);
    ck_assert_uint_eq(len1, len0);
    ck_assert_mem_eq(after, before, len0);
    fixture_blank(&b);
    ck_assert_msg(ckpt_load(good, b.t, 4, &b.meta, NULL, 0, &err) == ACGAN_OK, "%s", err.msg);
    ck_assert(b.g[0] != 123.0f);
    free(before);
    free(after);
    fixture_free(&a);
    fixture_free(&b);
    rm_dir(dir);
}
END_TEST

static Suite *checkpoint_suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_round_trip_bitwise);
    tcase_add_test(tc, test_load_mismatch_and_missing);
    tcase_add_test(tc, test_truncated_file);
    tcase_add_test(tc, test_flipped_byte_fails_checksum);
    tcase_add_test(tc, test_find_latest);
    tcase_add_test(tc, test_failed_save_keeps_good_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(checkpoint_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
