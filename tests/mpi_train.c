/* mpi_train.c - distributed training under mpiexec (np 1, 2, 4):
 * - after several ACGAN steps on different data per rank, parameters, BatchNorm running statistics and Adam
 *   moments are bitwise identical on all ranks;
 * - N straight training steps vs N/2 + resume from checkpoint + N/2 give bitwise identical checkpoints;
 * - bad input stops every rank with an error status (no hang).
 * Check runs without fork (fork after MPI_Init is not allowed). All collective work happens before
 * any assertion so a failing rank cannot leave the others waiting. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acgan/acgan.h"
#include "acgan/checkpoint.h"
#include "acgan/config.h"
#include "acgan/dataset.h"
#include "acgan/dist.h"
#include "acgan/rng.h"
#include "acgan/train.h"
#include "testutil.h"

static char g_dir[256]; /* shared temp dir, made by rank 0 */

static uint64_t hash_floats(const float *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n * sizeof(float); i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* Rank 0 writes the dataset; every rank learns whether it worked before anyone asserts. */
static void make_dataset(const char *path, int n, int size, int classes)
{
    int ok = dist_rank() != 0 || test_write_synthetic_dataset(path, n, size, classes) == ACGAN_OK;
    ck_assert_msg(dist_agree(ok, ""), "rank 0 could not write %s", path);
}

START_TEST(test_replicas_identical)
{
    AcganSpec s = acgan_spec_default(3, 1, 8);
    s.latent_dim = 8;
    const int B = 4;
    Acgan *a = acgan_create(&s, B);
    acgan_broadcast(a);
    float real[4 * 64];
    int32_t labels[4];
    Rng r = rng_make(rng_key(3, 3, (uint64_t)dist_rank(), 0)); /* different data on every rank */
    AcganStepStats st;
    for (int step = 0; step < 5; step++) {
        for (int i = 0; i < B * 64; i++) real[i] = 2 * rng_uniform(&r) - 1;
        for (int i = 0; i < B; i++) labels[i] = (int32_t)rng_below(&r, 3);
        acgan_train_step(a, real, labels, B, step, (int64_t)dist_rank() * B, &st);
    }
    const Model *ms[2] = {a->g, a->d};
    const Adam *os[2] = {a->opt_g, a->opt_d};
    int same_params = 1, same_state = 1, same_m = 1, same_v = 1;
    for (int i = 0; i < 2; i++) {
        same_params &= dist_all_equal_u64(hash_floats(ms[i]->params, ms[i]->n_params));
        same_state &= dist_all_equal_u64(hash_floats(ms[i]->state, ms[i]->n_state));
        same_m &= dist_all_equal_u64(hash_floats(os[i]->m, os[i]->n));
        same_v &= dist_all_equal_u64(hash_floats(os[i]->v, os[i]->n));
    }
    /* the BatchNorm statistics saw different data on each rank, yet must agree (averaged every step),
     * and must have moved from their initial values (mean 0, var 1) */
    int moved = a->g->state[0] != 0.0f;
    acgan_free(a);
    ck_assert_msg(same_params, "parameters differ across ranks");
    ck_assert_msg(same_state, "BatchNorm running statistics differ across ranks");
    ck_assert_msg(same_m && same_v, "Adam moments differ across ranks");
    ck_assert_msg(moved, "BatchNorm running mean never updated");
}
END_TEST

static Config tiny_config(const char *out, int64_t max_steps)
{
    Config c;
    config_defaults(&c);
    snprintf(c.data_train, sizeof c.data_train, "%s/tiny.h5", g_dir);
    snprintf(c.out_dir, sizeof c.out_dir, "%s/%s", g_dir, out);
    c.img_size = 8;
    c.latent_dim = 8;
    c.batch_size = 8;
    c.epochs = 10;
    c.max_steps = max_steps;
    c.log_interval = 1;
    c.sample_interval = 3;
    c.checkpoint_interval = 0;
    return c;
}

/* Loads every tensor of a training-state checkpoint into freshly allocated buffers. */
static int load_all(const char *path, Acgan *shape_of, float **bufs, CkptMeta *meta)
{
    const char *names[8] = {"G/params", "G/bn_state", "G/adam_m", "G/adam_v", "D/params", "D/bn_state", "D/adam_m", "D/adam_v"};
    size_t counts[8] = {shape_of->g->n_params, shape_of->g->n_state, shape_of->g->n_params, shape_of->g->n_params,
                        shape_of->d->n_params, shape_of->d->n_state, shape_of->d->n_params, shape_of->d->n_params};
    CkptTensor t[8];
    for (int i = 0; i < 8; i++) {
        bufs[i] = calloc(counts[i] + 1, sizeof(float));
        t[i] = (CkptTensor){names[i], bufs[i], counts[i]};
    }
    AcganError err;
    int st = ckpt_load(path, t, 8, meta, NULL, 0, &err);
    if (st != ACGAN_OK) fprintf(stderr, "%s\n", err.msg);
    return st;
}

START_TEST(test_resume_bitwise)
{
    make_dataset(strcat(strcpy((char[300]){0}, g_dir), "/tiny.h5"), 50, 8, 3);
    AcganError err = {0};
    Config straight = tiny_config("straight", 10);
    int st1 = train_run(&straight, &err);
    Config half = tiny_config("resumed", 5);
    int st2 = train_run(&half, &err);
    Config rest = tiny_config("resumed", 10);
    int st3 = train_run(&rest, &err);
    ck_assert_int_eq(st1, ACGAN_OK);
    ck_assert_int_eq(st2, ACGAN_OK);
    ck_assert_int_eq(st3, ACGAN_OK);
    if (dist_rank() != 0) return;
    AcganSpec s = acgan_spec_default(3, 1, 8);
    s.latent_dim = 8;
    Acgan *shape = acgan_create(&s, 1);
    float *a[8], *b[8];
    CkptMeta ma, mb;
    char pa[512], pb[512];
    snprintf(pa, sizeof pa, "%s/straight/checkpoints/step_0000010.h5", g_dir);
    snprintf(pb, sizeof pb, "%s/resumed/checkpoints/step_0000010.h5", g_dir);
    ck_assert_int_eq(load_all(pa, shape, a, &ma), ACGAN_OK);
    ck_assert_int_eq(load_all(pb, shape, b, &mb), ACGAN_OK);
    size_t counts[8] = {shape->g->n_params, shape->g->n_state, shape->g->n_params, shape->g->n_params,
                        shape->d->n_params, shape->d->n_state, shape->d->n_params, shape->d->n_params};
    for (int i = 0; i < 8; i++) {
        ck_assert_msg(memcmp(a[i], b[i], counts[i] * sizeof(float)) == 0, "tensor %d differs after resume", i);
        free(a[i]);
        free(b[i]);
    }
    ck_assert_int_eq(ma.step, 10);
    ck_assert_int_eq(mb.step, 10);
    ck_assert_int_eq(ma.adam_t_g, mb.adam_t_g);
    acgan_free(shape);
}
END_TEST

/* Eval-mode samples from a model equal, bitwise, those of the same model saved and loaded again. */
START_TEST(test_eval_samples_survive_checkpoint)
{
    AcganSpec s = acgan_spec_default(3, 1, 8);
    s.latent_dim = 8;
    const int B = 4, n = 9;
    Acgan *a = acgan_create(&s, B);
    acgan_broadcast(a);
    float real[4 * 64], z[9 * 8], before[9 * 64], after[9 * 64];
    int32_t labels[4] = {0, 1, 2, 0}, cls[9];
    test_fill_uniform(real, 4 * 64, -1, 1, 11);
    test_fill_uniform(z, 9 * 8, -2, 2, 12);
    for (int i = 0; i < n; i++) cls[i] = i / 3;
    AcganStepStats st;
    for (int step = 0; step < 3; step++) acgan_train_step(a, real, labels, B, step, (int64_t)dist_rank() * B, &st);
    acgan_generate(a, z, cls, n, before);
    char path[512];
    snprintf(path, sizeof path, "%s/eval_%d.h5", g_dir, dist_rank());
    Config cfg;
    config_defaults(&cfg);
    AcganError err = {0};
    int saved = train_save_checkpoint(path, a, &cfg, 3, 0, &err);
    Acgan *b = acgan_create(&s, B);
    float *bufs[8];
    CkptMeta meta;
    int loaded = load_all(path, b, bufs, &meta);
    if (loaded == ACGAN_OK) {
        memcpy(b->g->params, bufs[0], b->g->n_params * sizeof(float));
        memcpy(b->g->state, bufs[1], b->g->n_state * sizeof(float));
    }
    for (int i = 0; i < 8; i++) free(bufs[i]);
    acgan_generate(b, z, cls, n, after);
    acgan_free(a);
    acgan_free(b);
    ck_assert_int_eq(saved, ACGAN_OK);
    ck_assert_int_eq(loaded, ACGAN_OK);
    ck_assert_msg(memcmp(before, after, sizeof before) == 0, "eval-mode samples differ after save + load");
}
END_TEST

START_TEST(test_bad_input_all_ranks_fail)
{
    AcganError err = {0};
    Config c = tiny_config("bad", 2);
    snprintf(c.data_train, sizeof c.data_train, "%s/does_not_exist.h5", g_dir);
    /* every collective first, assertions last: a rank that fails a check cannot strand the others */
    int st_missing = train_run(&c, &err);
    make_dataset(strcat(strcpy((char[300]){0}, g_dir), "/tiny.h5"), 50, 8, 3);
    c = tiny_config("bad2", 2);
    c.batch_size = 4 * dist_size() + (dist_size() > 1); /* not divisible when np > 1 */
    int st_divide = dist_size() > 1 ? train_run(&c, &err) : ACGAN_ERR_CONFIG;
    c = tiny_config("bad3", 2);
    c.batch_size = 64 * dist_size(); /* more than the dataset holds */
    int st_small = train_run(&c, &err);
    ck_assert_int_eq(st_missing, ACGAN_ERR_DATA);
    ck_assert_int_eq(st_divide, ACGAN_ERR_CONFIG);
    ck_assert_int_eq(st_small, ACGAN_ERR_DATA);
}
END_TEST

int main(int argc, char **argv)
{
    dist_init(&argc, &argv);
    if (dist_rank() == 0) snprintf(g_dir, sizeof g_dir, "%s", test_tmpdir("mpi"));
    dist_bcast(g_dir, sizeof g_dir, 0);
    Suite *s = suite_create("mpi_train");
    TCase *tc = tcase_create("mpi");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_replicas_identical);
    tcase_add_test(tc, test_resume_bitwise);
    tcase_add_test(tc, test_eval_samples_survive_checkpoint);
    tcase_add_test(tc, test_bad_input_all_ranks_fail);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, dist_rank() == 0 ? CK_NORMAL : CK_SILENT);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    int all_ok = dist_agree(failed == 0, "");
    dist_finalize();
    return all_ok ? 0 : 1;
}
