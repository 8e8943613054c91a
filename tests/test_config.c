/* test_config.c - Check suite for config.c: defaults, files, overrides, error messages, INI round trip.
 *
 * Bad inputs are written to a file in a fresh temp dir with the offending line at a known line
 * number; the message must name the file, that line and the key.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acgan/config.h"
#include "testutil.h"

/* Writes text to a fresh temp dir as DIR/name; the path goes to path. */
static void write_file(char *path, size_t cap, const char *name, const char *text)
{
    const char *dir = test_tmpdir("config");
    ck_assert_ptr_nonnull(dir);
    snprintf(path, cap, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* Loads text as a config file with the given overrides; expects ACGAN_ERR_CONFIG and a message that
 * contains "FILE:LINE: " (unless line is 0: errors in overrides) and the needles that are not NULL. */
static void expect_error(const char *text, int n_over, char **over, int line, const char *needle1, const char *needle2)
{
    char path[512], where[600];
    write_file(path, sizeof path, "bad.cfg", text);
    Config c;
    AcganError err = {0};
    ck_assert_int_eq(config_load(&c, path, n_over, over, &err), ACGAN_ERR_CONFIG);
    if (line > 0) {
        snprintf(where, sizeof where, "%s:%d: ", path, line);
        ck_assert_msg(strstr(err.msg, where) != NULL, "message '%s' lacks '%s'", err.msg, where);
    }
    if (needle1) ck_assert_msg(strstr(err.msg, needle1) != NULL, "message '%s' lacks '%s'", err.msg, needle1);
    if (needle2) ck_assert_msg(strstr(err.msg, needle2) != NULL, "message '%s' lacks '%s'", err.msg, needle2);
    remove(path);
    *strrchr(path, '/') = '\0';
    rmdir(path);
}

START_TEST(test_defaults)
{
    Config c;
    config_defaults(&c);
    ck_assert_str_eq(c.data_train, "data/fashion-mnist-train.h5");
    ck_assert_int_eq(c.latent_dim, 100);
    ck_assert_int_eq(c.img_size, 32);
    ck_assert_double_eq(c.bn_eps, 0.8);
    ck_assert_double_eq(c.bn_momentum, 0.1);
    ck_assert_str_eq(c.discriminator, "conv");
    ck_assert_str_eq(c.label_input, "concat");
    ck_assert_str_eq(c.aux_loss, "logits");
    ck_assert_int_eq(c.batch_size, 64);
    ck_assert_int_eq(c.epochs, 200);
    ck_assert_int_eq(c.max_steps, 0);
    ck_assert_double_eq(c.lr, 0.0002);
    ck_assert_double_eq(c.beta1, 0.5);
    ck_assert_double_eq(c.beta2, 0.999);
    ck_assert_uint_eq(c.seed, 42);
    ck_assert_int_eq(c.log_interval, 50);
    ck_assert_str_eq(c.out_dir, "runs/fashion");
    ck_assert_int_eq(c.sample_interval, 400);
    ck_assert_int_eq(c.checkpoint_interval, 2000);
    ck_assert_str_eq(c.resume, "auto");

    /* config_load without a file gives the same bytes. */
    Config d;
    AcganError err = {0};
    memset(&d, 0xAB, sizeof d);
    ck_assert_int_eq(config_load(&d, NULL, 0, NULL, &err), ACGAN_OK);
    ck_assert(memcmp(&c, &d, sizeof c) == 0);
}
END_TEST

START_TEST(test_good_file)
{
    char path[512];
    write_file(path, sizeof path, "good.cfg",
               "; a comment\n"
               "# another comment\n"
               "[data]\n"
               "train = a.h5,b.h5\n"
               "\n"
               "[model]\n"
               "latent_dim = 64\n"
               "img_size=28   ; inline comment\n"
               "bn_eps = 1e-5\n"
               "discriminator = mlp\n"
               "label_input = multiply\n"
               "aux_loss = softmax_then_ce\n"
               "[train]\n"
               "batch_size = 128\n"
               "batch_size = 256\n" /* duplicate: later wins */
               "max_steps = 10000000000\n"
               "lr = 1e-3\n"
               "beta2 = 0\n"
               "seed = 18446744073709551615\n"
               "[output]\n"
               "dir = /tmp/run one\n"
               "sample_interval = 0\n"
               "resume = never\n"
               "[model]\n" /* sections may repeat */
               "bn_momentum = 1\n");
    Config c;
    AcganError err = {0};
    ck_assert_msg(config_load(&c, path, 0, NULL, &err) == ACGAN_OK, "%s", err.msg);
    ck_assert_str_eq(c.data_train, "a.h5,b.h5");
    ck_assert_int_eq(c.latent_dim, 64);
    ck_assert_int_eq(c.img_size, 28);
    ck_assert_double_eq(c.bn_eps, 1e-5);
    ck_assert_double_eq(c.bn_momentum, 1.0);
    ck_assert_str_eq(c.discriminator, "mlp");
    ck_assert_str_eq(c.label_input, "multiply");
    ck_assert_str_eq(c.aux_loss, "softmax_then_ce");
    ck_assert_int_eq(c.batch_size, 256);
    ck_assert(c.max_steps == 10000000000LL);
    ck_assert_double_eq(c.lr, 1e-3);
    ck_assert_double_eq(c.beta2, 0.0);
    ck_assert(c.seed == UINT64_MAX);
    ck_assert_str_eq(c.out_dir, "/tmp/run one");
    ck_assert_int_eq(c.sample_interval, 0);
    ck_assert_str_eq(c.resume, "never");
    ck_assert_int_eq(c.epochs, 200); /* untouched keys keep defaults */
}
END_TEST

START_TEST(test_overrides)
{
    char path[512];
    write_file(path, sizeof path, "o.cfg", "[train]\nbatch_size = 32\nepochs = 5\n[output]\ndir = from_file\n");
    char *over[] = {"train.batch_size=16", "output.dir = cli dir", "train.batch_size=8", "model.discriminator=mlp"};
    Config c;
    AcganError err = {0};
    ck_assert_msg(config_load(&c, path, 4, over, &err) == ACGAN_OK, "%s", err.msg);
    ck_assert_int_eq(c.batch_size, 8);
    ck_assert_int_eq(c.epochs, 5);
    ck_assert_str_eq(c.out_dir, "cli dir");
    ck_assert_str_eq(c.discriminator, "mlp");

    /* config_set directly, and a failed load leaves the Config untouched. */
    ck_assert_int_eq(config_set(&c, "train", "lr", "0.01", "test", &err), ACGAN_OK);
    ck_assert_double_eq(c.lr, 0.01);
    Config before = c;
    char *bad[] = {"train.epochs=3", "train.lr=-1"};
    ck_assert_int_eq(config_load(&c, path, 2, bad, &err), ACGAN_ERR_CONFIG);
    ck_assert(memcmp(&before, &c, sizeof c) == 0);
    ck_assert_msg(strstr(err.msg, "command line argument 'train.lr=-1'") && strstr(err.msg, "train.lr") &&
                      strstr(err.msg, "> 0"),
                  "%s", err.msg);
}
END_TEST

START_TEST(test_bad_inputs)
{
    expect_error("[train]\nepochs = 3\n[foo]\nx = 1\n", 0, NULL, 3, "unknown section [foo]", NULL);
    expect_error("[train]\n[foo]\n", 0, NULL, 2, "unknown section [foo]", NULL); /* empty unknown section */
    expect_error("[model]\nlatent_dim = 3\n\n[train]\nbatchsize = 3\n", 0, NULL, 5, "train.batchsize",
                 "did you mean train.batch_size");
    expect_error("[train]\nepochs = 3\nwhatever = 1\n", 0, NULL, 3, "train.whatever", "batch_size, epochs");
    expect_error("epochs = 3\n", 0, NULL, 1, "epochs", "outside any section");
    expect_error("[train]\n\n\nbatch_size = abc\n", 0, NULL, 4, "train.batch_size: expected an integer >= 1, got 'abc'",
                 NULL);
    expect_error("[train]\nbatch_size = 64x\n", 0, NULL, 2, "train.batch_size", "'64x'");
    expect_error("[train]\nbatch_size = 0\n", 0, NULL, 2, "train.batch_size", ">= 1");
    expect_error("[train]\nbatch_size = 99999999999\n", 0, NULL, 2, "train.batch_size", "out of range");
    expect_error("[train]\nmax_steps = -1\n", 0, NULL, 2, "train.max_steps", ">= 0");
    expect_error("[train]\nseed = -1\n", 0, NULL, 2, "train.seed", "'-1'");
    expect_error("[model]\nimg_size = 30\n", 0, NULL, 2, "model.img_size", "multiple of 4");
    expect_error("[model]\nimg_size = 4\n", 0, NULL, 2, "model.img_size", "[8, 1024]");
    expect_error("[model]\nlatent_dim = 5000\n", 0, NULL, 2, "model.latent_dim", "[1, 4096]");
    expect_error("[model]\nbn_eps = 0\n", 0, NULL, 2, "model.bn_eps", "> 0");
    expect_error("[model]\nbn_momentum = 1.5\n", 0, NULL, 2, "model.bn_momentum", "[0, 1]");
    expect_error("[train]\nbeta1 = 1\n", 0, NULL, 2, "train.beta1", "[0, 1)");
    expect_error("[train]\nlr = 0.1.2\n", 0, NULL, 2, "train.lr", "'0.1.2'");
    expect_error("[train]\nlr = nan\n", 0, NULL, 2, "train.lr", "'nan'");
    expect_error("[train]\nlr = 1e999\n", 0, NULL, 2, "train.lr", "out of range");
    expect_error("[train]\nlr =\n", 0, NULL, 2, "train.lr", "got ''");
    expect_error("[model]\ndiscriminator = cnn\n", 0, NULL, 2, "model.discriminator", "one of conv|mlp, got 'cnn'");
    expect_error("[output]\ndir =\n", 0, NULL, 2, "output.dir", "empty");
    expect_error("[model]\nlatent_dim = 3\n  img_size = 16\n", 0, NULL, 3, "indented", NULL);
    expect_error("[train]\nepochs 3\n", 0, NULL, 2, "syntax error", NULL);
    expect_error("[train\nepochs = 3\n", 0, NULL, 1, "syntax error", NULL);
    /* The first error wins, whichever check finds it. */
    expect_error("[train]\nnonsense\nbatch_size = abc\n", 0, NULL, 2, "syntax error", NULL);
    expect_error("[train]\nbatch_size = abc\nnonsense\n", 0, NULL, 2, "train.batch_size", NULL);

    /* A line longer than inih's buffer is an error, not a silently truncated value. */
    char longline[600];
    int n = snprintf(longline, sizeof longline, "[data]\ntrain = ");
    memset(longline + n, 'x', 400);
    snprintf(longline + n + 400, sizeof longline - (size_t)n - 400, "\n");
    expect_error(longline, 0, NULL, 2, "too long", NULL);

    /* Overrides: bad values, malformed arguments, unknown section. */
    char *o1[] = {"train.batch_size=abc"};
    expect_error("[train]\n", 1, o1, 0, "command line argument 'train.batch_size=abc'", "expected an integer >= 1");
    char *o2[] = {"train.batch_size"};
    char *o3[] = {"batch_size=3"};
    char *o4[] = {"foo.bar=1"};
    char *o5[] = {"train.nope=1"};
    const struct {
        char **over;
        const char *needle;
    } bad_over[] = {{o2, "expected section.key=value"}, {o3, "expected section.key=value"},
                    {o4, "unknown section [foo]"}, {o5, "unknown key train.nope"}};
    for (size_t i = 0; i < sizeof bad_over / sizeof bad_over[0]; i++) {
        Config c;
        AcganError err = {0};
        ck_assert_int_eq(config_load(&c, NULL, 1, bad_over[i].over, &err), ACGAN_ERR_CONFIG);
        ck_assert_msg(strstr(err.msg, bad_over[i].over[0]) && strstr(err.msg, bad_over[i].needle), "%s", err.msg);
    }

    /* A path value longer than the buffer. */
    char big[CONFIG_PATH_MAX + 32] = "output.dir=";
    memset(big + strlen(big), 'd', CONFIG_PATH_MAX + 5);
    char *o6[] = {big};
    Config c;
    AcganError err = {0};
    ck_assert_int_eq(config_load(&c, NULL, 1, o6, &err), ACGAN_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "output.dir: value is too long"), "%s", err.msg);
}
END_TEST

START_TEST(test_missing_file)
{
    const char *dir = test_tmpdir("config");
    char path[512];
    snprintf(path, sizeof path, "%s/does_not_exist.cfg", dir);
    Config c;
    AcganError err = {0};
    ck_assert_int_eq(config_load(&c, path, 0, NULL, &err), ACGAN_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "cannot open"), "%s", err.msg);
}
END_TEST

START_TEST(test_ini_round_trip)
{
    char *over[] = {"data.train=x/a.h5,x/b.h5", "model.bn_eps=1e-5",       "model.bn_momentum=0.3",
                    "model.aux_loss=softmax_then_ce", "train.lr=0.1",          "train.beta2=0.99999",
                    "train.seed=12345678901234",      "train.max_steps=77",    "output.resume=ck/step_1.h5",
                    "output.checkpoint_interval=0",   "model.img_size=64",     "train.beta1=0.123456789",
                    "model.bn_momentum=1e-40" /* subnormal float */};
    Config a, b;
    AcganError err = {0};
    ck_assert_msg(config_load(&a, NULL, (int)(sizeof over / sizeof over[0]), over, &err) == ACGAN_OK, "%s", err.msg);
    ck_assert(a.bn_momentum > 0);

    size_t need = config_to_ini(&a, NULL, 0);
    ck_assert_uint_gt(need, 100);
    char *ini = malloc(need + 1);
    ck_assert_uint_eq(config_to_ini(&a, ini, need + 1), need);
    ck_assert_uint_eq(strlen(ini), need);
    ck_assert_msg(strstr(ini, "[train]\nbatch_size = 64\n") != NULL, "%s", ini);
    ck_assert_msg(strstr(ini, "lr = 0.1\n") != NULL, "%s", ini); /* shortest text that round-trips */

    /* Truncated output is still terminated and reports the full size. */
    char small[16];
    ck_assert_uint_eq(config_to_ini(&a, small, sizeof small), need);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);

    char path[512];
    write_file(path, sizeof path, "dump.cfg", ini);
    ck_assert_msg(config_load(&b, path, 0, NULL, &err) == ACGAN_OK, "%s", err.msg);
    ck_assert(memcmp(&a, &b, sizeof a) == 0);

    /* Defaults survive the trip as well. */
    config_defaults(&a);
    config_to_ini(&a, ini, need + 1);
    write_file(path, sizeof path, "dump2.cfg", ini);
    ck_assert_msg(config_load(&b, path, 0, NULL, &err) == ACGAN_OK, "%s", err.msg);
    ck_assert(memcmp(&a, &b, sizeof a) == 0);
    free(ini);
}
END_TEST

START_TEST(test_help)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    config_print_help(f);
    fclose(f);
    const char *expect[] = {"acgan_mpi CONFIG [section.key=value ...]",
                            "[data]",
                            "data.train = data/fashion-mnist-train.h5",
                            "model.latent_dim = 100",
                            "model.bn_eps = 0.8",
                            "model.discriminator = conv",
                            "conv|mlp",
                            "train.batch_size = 64",
                            "train.lr = 0.0002",
                            "train.max_steps = 0",
                            "output.dir = runs/fashion",
                            "output.sample_interval = 400",
                            "0 = never",
                            "output.resume = auto"};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++)
        ck_assert_msg(strstr(text, expect[i]) != NULL, "help lacks '%s':\n%s", expect[i], text);
    free(text);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_good_file);
    tcase_add_test(tc, test_overrides);
    tcase_add_test(tc, test_bad_inputs);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_ini_round_trip);
    tcase_add_test(tc, test_help);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
