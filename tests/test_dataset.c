/* test_dataset.c - HDF5 dataset shards, validation messages, IDX reading and the bilinear resize.
 *
 * Sample g of the reference dataset has pixels (g * 16 + j * 7 + 3) mod 256 (j = 0..15 over 1x4x4) and
 * label g mod 3, so any shard can be checked against its global indices. Malformed files are made with
 * the raw HDF5 API; each must fail with ACGAN_ERR_DATA and a message naming the file and the dataset.
 * Resize expectations are computed here from per-axis weight tables, not from the resize formula.
 */
#include <check.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "acgan/dataset.h"
#include "acgan/idx.h"
#include "testutil.h"

enum { N = 10, C = 1, H = 4, W = 4, CHW = C * H * W, NC = 3 };

static const char *const NAMES[NC] = {"zero", "one", "two"};

static uint8_t pixel_of(int64_t g, int j) { return (uint8_t)((g * 16 + j * 7 + 3) % 256); }

/* Writes samples [g0, g0 + n) of the reference dataset to path with dataset_write. */
static void write_reference(const char *path, int64_t g0, int64_t n, int h, int n_classes)
{
    int chw = C * h * W;
    uint8_t *img = malloc((size_t)n * chw); /* (n, C, h, W) */
    int32_t *lab = malloc((size_t)n * sizeof(int32_t));
    for (int64_t i = 0; i < n; i++) {
        for (int j = 0; j < chw; j++) img[i * chw + j] = pixel_of(g0 + i, j);
        lab[i] = (int32_t)((g0 + i) % NC);
    }
    AcganError err = {0};
    AcganStatus st = dataset_write(path, img, lab, n, C, h, W, n_classes, n_classes == NC ? NAMES : NULL, &err);
    ck_assert_msg(st == ACGAN_OK, "dataset_write: %s", err.msg);
    free(img);
    free(lab);
}

static void join(char *out, size_t cap, const char *dir, const char *name) { snprintf(out, cap, "%s/%s", dir, name); }

static void rm_dir(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Checks d holds exactly the reference samples [r*N/p, (r+1)*N/p), through the arrays and dataset_batch. */
static void check_shard(const Dataset *d, int64_t n_total, int rank, int world)
{
    ck_assert_int_eq(d->n_total, n_total);
    ck_assert_int_eq(d->shard_begin, n_total * rank / world);
    ck_assert_int_eq(d->shard_count, n_total * (rank + 1) / world - n_total * rank / world);
    ck_assert_int_eq(d->c, C);
    ck_assert_int_eq(d->h, H);
    ck_assert_int_eq(d->w, W);
    ck_assert_int_eq(d->n_classes, NC);
    for (int k = 0; k < NC; k++) ck_assert_str_eq(d->class_names[k], NAMES[k]);
    int n = (int)d->shard_count;
    int64_t idx[N];
    float x[N * CHW];
    int32_t y[N];
    for (int i = 0; i < n; i++) idx[i] = n - 1 - i; /* reversed, to check indexing */
    dataset_batch(d, idx, n, x, y);
    for (int i = 0; i < n; i++) {
        int64_t g = d->shard_begin + i;
        ck_assert_int_eq(d->labels[i], g % NC);
        for (int j = 0; j < CHW; j++) ck_assert_int_eq(d->images[i * CHW + j], pixel_of(g, j));
        int64_t gb = d->shard_begin + idx[i];
        ck_assert_int_eq(y[i], gb % NC);
        for (int j = 0; j < CHW; j++)
            ck_assert_msg(x[i * CHW + j] == (float)pixel_of(gb, j) / 127.5f - 1.0f, "x[%d][%d] = %.9g", i, j,
                          x[i * CHW + j]);
    }
}

START_TEST(test_shards_cover_all_ranks)
{
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "%s", test_tmpdir("dataset"));
    join(path, sizeof path, dir, "ref.h5");
    write_reference(path, 0, N, H, NC);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ck_assert_msg(access(tmp, F_OK) != 0, "%s left behind", tmp);
    for (int world = 1; world <= 3; world++) {
        int64_t next = 0;
        for (int rank = 0; rank < world; rank++) {
            Dataset d;
            AcganError err = {0};
            ck_assert_msg(dataset_open_shard(&d, path, rank, world, &err) == ACGAN_OK, "%s", err.msg);
            ck_assert_int_eq(d.shard_begin, next);
            next += d.shard_count;
            check_shard(&d, N, rank, world);
            dataset_free(&d);
        }
        ck_assert_int_eq(next, N);
    }
    rm_dir(dir);
}
END_TEST

/* A file held open for writing by another process cannot be locked: the message names the remedy. */
START_TEST(test_locked_file_names_env_var)
{
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "%s", test_tmpdir("lock"));
    join(path, sizeof path, dir, "locked.h5");
    write_reference(path, 0, N, H, NC);
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) { /* the writer: holds the file open read-write until killed */
        hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
        char c = f >= 0 ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1) _exit(1);
        sleep(30);
        _exit(0);
    }
    char c = 0;
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    Dataset d;
    AcganError err = {0};
    AcganStatus st = dataset_open_shard(&d, path, 0, 1, &err);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    ck_assert_int_eq(c, 'y');
    ck_assert_int_eq(st, ACGAN_ERR_DATA);
    ck_assert_msg(strstr(err.msg, "HDF5_USE_FILE_LOCKING") && strstr(err.msg, "locked.h5"), "message: %s", err.msg);
    rm_dir(dir);
}
END_TEST

START_TEST(test_shards_span_files)
{
    char dir[256], a[512], b[512], list[1100];
    snprintf(dir, sizeof dir, "%s", test_tmpdir("dataset"));
    join(a, sizeof a, dir, "a.h5");
    join(b, sizeof b, dir, "b.h5");
    write_reference(a, 0, 4, H, NC);
    write_reference(b, 4, N - 4, H, NC);
    snprintf(list, sizeof list, "%s, %s", a, b); /* a space after the comma is allowed */
    for (int world = 1; world <= 3; world++)
        for (int rank = 0; rank < world; rank++) {
            Dataset d;
            AcganError err = {0};
            ck_assert_msg(dataset_open_shard(&d, list, rank, world, &err) == ACGAN_OK, "%s", err.msg);
            check_shard(&d, N, rank, world); /* world 3 rank 1 is [3, 6): across the boundary */
            dataset_free(&d);
        }
    rm_dir(dir);
}
END_TEST

START_TEST(test_files_must_agree)
{
    char dir[256], a[512], b[512], c[512], list[1100];
    snprintf(dir, sizeof dir, "%s", test_tmpdir("dataset"));
    join(a, sizeof a, dir, "a.h5");
    join(b, sizeof b, dir, "taller.h5");
    join(c, sizeof c, dir, "moreclasses.h5");
    write_reference(a, 0, 4, H, NC);
    write_reference(b, 4, 3, H + 1, NC);
    write_reference(c, 4, 3, H, NC + 2);
    Dataset d;
    AcganError err = {0};
    snprintf(list, sizeof list, "%s,%s", a, b);
    ck_assert_int_eq(dataset_open_shard(&d, list, 0, 1, &err), ACGAN_ERR_DATA);
    ck_assert_msg(strstr(err.msg, "taller.h5") && strstr(err.msg, "images"), "%s", err.msg);
    ck_assert_ptr_null(d.images);
    snprintf(list, sizeof list, "%s,%s", a, c);
    ck_assert_int_eq(dataset_open_shard(&d, list, 0, 1, &err), ACGAN_ERR_DATA);
    ck_assert_msg(strstr(err.msg, "moreclasses.h5") && strstr(err.msg, "n_classes"), "%s", err.msg);
    rm_dir(dir);
}
END_TEST

/* A hand-made file: what to put in it. */
typedef struct {
    int img_rank;      /* 4 normal, 3 wrong, 0 omitted */
    int img_float;     /* images as float32 */
    int lab_len;       /* entries in labels, -1 omitted */
    int lab_float;     /* labels as float32 */
    int bad_at;        /* file-local index whose label is 7, -1 none */
    int n_classes;     /* 0 omits the attribute */
    int nc_float;      /* n_classes as a float attribute */
    int fixed_names;   /* fixed-length class_names */
} RawSpec;

enum { RN = 6 };

static void write_raw(const char *path, RawSpec s)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(f >= 0);
    if (s.img_rank) {
        hsize_t dims[4] = {RN, 1, 2, 2};
        if (s.img_rank == 3) dims[1] = 2, dims[2] = 2;
        uint8_t u[RN * 4];
        float fl[RN * 4];
        for (int i = 0; i < RN * 4; i++) u[i] = (uint8_t)i, fl[i] = (float)i;
        hid_t sp = H5Screate_simple(s.img_rank, dims, NULL);
        hid_t t = s.img_float ? H5T_NATIVE_FLOAT : H5T_NATIVE_UINT8;
        hid_t ds = H5Dcreate2(f, "images", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        ck_assert(H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, s.img_float ? (void *)fl : (void *)u) >= 0);
        H5Dclose(ds);
        H5Sclose(sp);
    }
    if (s.lab_len >= 0) {
        hsize_t n = (hsize_t)s.lab_len;
        int64_t l[RN + 4];
        float fl[RN + 4];
        for (int i = 0; i < s.lab_len; i++) l[i] = i % 2, fl[i] = (float)(i % 2);
        if (s.bad_at >= 0) l[s.bad_at] = 7;
        hid_t sp = H5Screate_simple(1, &n, NULL);
        hid_t t = s.lab_float ? H5T_NATIVE_FLOAT : H5T_STD_I64BE; /* big-endian int64: HDF5 converts */
        hid_t mt = s.lab_float ? H5T_NATIVE_FLOAT : H5T_NATIVE_INT64;
        hid_t ds = H5Dcreate2(f, "labels", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        ck_assert(H5Dwrite(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, s.lab_float ? (void *)fl : (void *)l) >= 0);
        H5Dclose(ds);
        H5Sclose(sp);
    }
    if (s.n_classes) {
        hid_t sp = H5Screate(H5S_SCALAR);
        hid_t t = s.nc_float ? H5T_NATIVE_DOUBLE : H5T_STD_U8LE;
        double dv = s.n_classes;
        uint8_t uv = (uint8_t)s.n_classes;
        hid_t a = H5Acreate2(f, "n_classes", t, sp, H5P_DEFAULT, H5P_DEFAULT);
        ck_assert(H5Awrite(a, s.nc_float ? H5T_NATIVE_DOUBLE : H5T_NATIVE_UINT8, s.nc_float ? (void *)&dv : (void *)&uv) >=
                  0);
        H5Aclose(a);
        H5Sclose(sp);
    }
    if (s.fixed_names) {
        char names[2][6] = {"alpha", "beta"}; /* "alpha" fills all 5 bytes: NULLPAD, no terminator */
        hsize_t n = 2;
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, 5);
        H5Tset_strpad(t, H5T_STR_NULLPAD);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, 6);
        hid_t sp = H5Screate_simple(1, &n, NULL);
        hid_t ds = H5Dcreate2(f, "class_names", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        ck_assert(H5Dwrite(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, names) >= 0);
        H5Dclose(ds);
        H5Sclose(sp);
        H5Tclose(mt);
        H5Tclose(t);
    }
    H5Fclose(f);
}

static const RawSpec GOOD = {4, 0, RN, 0, -1, 2, 0, 0};

/* Opens list (world 1) and checks it fails with ACGAN_ERR_DATA and a message containing want1..3 (may be NULL). */
static void expect_data_error(const char *list, const char *want1, const char *want2, const char *want3)
{
    Dataset d;
    AcganError err = {0};
    AcganStatus st = dataset_open_shard(&d, list, 0, 1, &err);
    ck_assert_msg(st == ACGAN_ERR_DATA, "status %d for %s (%s)", st, list, err.msg);
    ck_assert_msg(strstr(err.msg, want1) != NULL, "'%s' not in: %s", want1, err.msg);
    ck_assert_msg(!want2 || strstr(err.msg, want2) != NULL, "'%s' not in: %s", want2, err.msg);
    ck_assert_msg(!want3 || strstr(err.msg, want3) != NULL, "'%s' not in: %s", want3, err.msg);
    ck_assert_ptr_null(d.images);
    ck_assert_ptr_null(d.labels);
}

static void expect_raw_error(const char *dir, const char *name, RawSpec s, const char *want1, const char *want2)
{
    char path[512];
    join(path, sizeof path, dir, name);
    write_raw(path, s);
    expect_data_error(path, name, want1, want2);
}

START_TEST(test_malformed_files)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s", test_tmpdir("dataset"));
    RawSpec s;
    s = GOOD, s.img_rank = 3;
    expect_raw_error(dir, "rank3.h5", s, "'images'", "rank 4");
    s = GOOD, s.img_float = 1;
    expect_raw_error(dir, "floatimg.h5", s, "'images'", "uint8");
    s = GOOD, s.img_rank = 0;
    expect_raw_error(dir, "noimages.h5", s, "'images'", "missing");
    s = GOOD, s.lab_len = -1;
    expect_raw_error(dir, "nolabels.h5", s, "'labels'", "missing");
    s = GOOD, s.lab_len = RN - 1;
    expect_raw_error(dir, "shortlabels.h5", s, "'labels'", "5 entries");
    s = GOOD, s.lab_float = 1;
    expect_raw_error(dir, "floatlabels.h5", s, "'labels'", "integer");
    s = GOOD, s.n_classes = 0;
    expect_raw_error(dir, "noclasses.h5", s, "'n_classes'", "missing");
    s = GOOD, s.nc_float = 1;
    expect_raw_error(dir, "floatclasses.h5", s, "'n_classes'", "integer");
    s = GOOD, s.bad_at = 4;
    expect_raw_error(dir, "badlabel.h5", s, "'labels'", "global index 4");
    expect_data_error("/nonexistent/dir/none.h5", "/nonexistent/dir/none.h5", "no such file", NULL);

    char path[512];
    join(path, sizeof path, dir, "text.h5");
    FILE *f = fopen(path, "w");
    fputs("not hdf5\n", f);
    fclose(f);
    expect_data_error(path, "text.h5", "not an HDF5 file", NULL);
    rm_dir(dir);
}
END_TEST

START_TEST(test_label_error_names_global_index)
{
    char dir[256], a[512], b[512], list[1100];
    snprintf(dir, sizeof dir, "%s", test_tmpdir("dataset"));
    join(a, sizeof a, dir, "first.h5");
    join(b, sizeof b, dir, "second.h5");
    RawSpec s = GOOD;
    write_raw(a, s);
    s.bad_at = 2;
    write_raw(b, s);
    snprintf(list, sizeof list, "%s,%s", a, b);
    expect_data_error(list, "second.h5", "'labels'", "global index 8"); /* RN + 2 */
    Dataset d;
    AcganError err = {0};
    ck_assert_msg(dataset_open_shard(&d, list, 0, 2, &err) == ACGAN_OK, "rank 0 holds [0, 6): %s", err.msg);
    dataset_free(&d);
    ck_assert_int_eq(dataset_open_shard(&d, list, 1, 2, &err), ACGAN_ERR_DATA);
    ck_assert_msg(strstr(err.msg, "global index 8") && strstr(err.msg, "label 7"), "%s", err.msg);
    rm_dir(dir);
}
END_TEST

START_TEST(test_class_names_fixed_and_missing)
{
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "%s", test_tmpdir("dataset"));
    join(path, sizeof path, dir, "fixed.h5");
    RawSpec s = GOOD;
    s.fixed_names = 1;
    write_raw(path, s);
    Dataset d;
    AcganError err = {0};
    ck_assert_msg(dataset_open_shard(&d, path, 0, 1, &err) == ACGAN_OK, "%s", err.msg);
    ck_assert_str_eq(d.class_names[0], "alpha");
    ck_assert_str_eq(d.class_names[1], "beta");
    ck_assert_int_eq(d.labels[3], 1); /* int64 big-endian labels converted */
    dataset_free(&d);
    write_raw(path, GOOD);
    ck_assert_msg(dataset_open_shard(&d, path, 0, 1, &err) == ACGAN_OK, "%s", err.msg);
    ck_assert_str_eq(d.class_names[0], "");
    ck_assert_str_eq(d.class_names[1], "");
    dataset_free(&d);
    rm_dir(dir);
}
END_TEST

/* Writes an IDX file: big-endian magic and dims (nd), then payload (len bytes); gzip when gz. */
static void write_idx(const char *path, uint32_t magic, const uint32_t *dims, int nd, const uint8_t *payload,
                      size_t len, int gz)
{
    unsigned char hdr[16]; /* magic + up to 3 dims */
    uint32_t v[4] = {magic, 0, 0, 0};
    for (int i = 0; i < nd; i++) v[1 + i] = dims[i];
    for (int i = 0; i <= nd; i++)
        for (int b = 0; b < 4; b++) hdr[4 * i + b] = (unsigned char)(v[i] >> (24 - 8 * b));
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ck_assert(f != NULL);
        gzwrite(f, hdr, 4 * (nd + 1));
        if (len) gzwrite(f, payload, (unsigned)len);
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert(f != NULL);
        fwrite(hdr, 1, 4 * (nd + 1), f);
        if (len) fwrite(payload, 1, len, f);
        fclose(f);
    }
}

START_TEST(test_idx_read)
{
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "%s", test_tmpdir("idx"));
    uint8_t px[3 * 2 * 5]; /* (3, 2, 5) */
    for (int i = 0; i < 30; i++) px[i] = (uint8_t)(i * 9 + 1);
    uint8_t lab[3] = {2, 0, 9};
    for (int gz = 0; gz <= 1; gz++) {
        uint32_t idims[3] = {3, 2, 5}, ldims[1] = {3};
        join(path, sizeof path, dir, gz ? "img.gz" : "img");
        write_idx(path, IDX_MAGIC_IMAGES, idims, 3, px, sizeof px, gz);
        uint8_t *img;
        int64_t n;
        int h, w;
        AcganError err = {0};
        ck_assert_msg(idx_read_images(path, &img, &n, &h, &w, &err) == ACGAN_OK, "%s", err.msg);
        ck_assert_int_eq(n, 3);
        ck_assert_int_eq(h, 2);
        ck_assert_int_eq(w, 5);
        ck_assert_mem_eq(img, px, sizeof px);
        free(img);
        join(path, sizeof path, dir, gz ? "lab.gz" : "lab");
        write_idx(path, IDX_MAGIC_LABELS, ldims, 1, lab, 3, gz);
        int32_t *l;
        ck_assert_msg(idx_read_labels(path, &l, &n, &err) == ACGAN_OK, "%s", err.msg);
        ck_assert_int_eq(n, 3);
        ck_assert_int_eq(l[0], 2);
        ck_assert_int_eq(l[1], 0);
        ck_assert_int_eq(l[2], 9);
        free(l);
    }
    rm_dir(dir);
}
END_TEST

START_TEST(test_idx_errors)
{
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "%s", test_tmpdir("idx"));
    uint8_t px[30] = {0};
    uint32_t idims[3] = {3, 2, 5}, ldims[1] = {3};
    uint8_t *img = NULL;
    int32_t *l = NULL;
    int64_t n;
    int h, w;
    AcganError err = {0};

    join(path, sizeof path, dir, "labels-as-images");
    write_idx(path, IDX_MAGIC_LABELS, ldims, 1, px, 3, 0);
    ck_assert_int_eq(idx_read_images(path, &img, &n, &h, &w, &err), ACGAN_ERR_DATA);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "magic"), "%s", err.msg);
    ck_assert_ptr_null(img);

    join(path, sizeof path, dir, "images-as-labels.gz");
    write_idx(path, IDX_MAGIC_IMAGES, idims, 3, px, 30, 1);
    ck_assert_int_eq(idx_read_labels(path, &l, &n, &err), ACGAN_ERR_DATA);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "magic"), "%s", err.msg);

    for (int gz = 0; gz <= 1; gz++) {
        join(path, sizeof path, dir, gz ? "short.gz" : "short");
        write_idx(path, IDX_MAGIC_IMAGES, idims, 3, px, 29, gz); /* one byte missing */
        ck_assert_int_eq(idx_read_images(path, &img, &n, &h, &w, &err), ACGAN_ERR_DATA);
        ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "truncated"), "%s", err.msg);
        join(path, sizeof path, dir, gz ? "header.gz" : "header");
        write_idx(path, IDX_MAGIC_IMAGES, idims, 1, NULL, 0, gz); /* header cut after N */
        ck_assert_int_eq(idx_read_images(path, &img, &n, &h, &w, &err), ACGAN_ERR_DATA);
        ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "truncated"), "%s", err.msg);
        join(path, sizeof path, dir, gz ? "lshort.gz" : "lshort");
        write_idx(path, IDX_MAGIC_LABELS, ldims, 1, px, 2, gz);
        ck_assert_int_eq(idx_read_labels(path, &l, &n, &err), ACGAN_ERR_DATA);
        ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "truncated"), "%s", err.msg);
    }
    /* A gzip stream cut in the middle. */
    join(path, sizeof path, dir, "full.gz");
    uint8_t big[3000];
    for (int i = 0; i < 3000; i++) big[i] = (uint8_t)(i * 37 % 251);
    uint32_t bdims[3] = {30, 10, 10};
    write_idx(path, IDX_MAGIC_IMAGES, bdims, 3, big, sizeof big, 1);
    FILE *f = fopen(path, "rb");
    unsigned char gzbuf[8192];
    size_t got = fread(gzbuf, 1, sizeof gzbuf, f);
    fclose(f);
    join(path, sizeof path, dir, "cut.gz");
    f = fopen(path, "wb");
    fwrite(gzbuf, 1, got / 2, f);
    fclose(f);
    ck_assert_int_eq(idx_read_images(path, &img, &n, &h, &w, &err), ACGAN_ERR_DATA);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "truncated"), "%s", err.msg);

    join(path, sizeof path, dir, "missing");
    ck_assert_int_eq(idx_read_images(path, &img, &n, &h, &w, &err), ACGAN_ERR_DATA);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);
    rm_dir(dir);
}
END_TEST

START_TEST(test_resize_2x2_to_4x4)
{
    const uint8_t src[2][2] = {{10, 50}, {90, 201}};
    /* Half-pixel centres, scale 1/2: destination i samples source (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25,
     * clamped to [0, 1]: weights of source pixels 0 and 1 per destination index. */
    const double wt[4][2] = {{1, 0}, {0.75, 0.25}, {0.25, 0.75}, {0, 1}};
    uint8_t dst[16];
    image_resize_bilinear_u8(&src[0][0], 2, 2, dst, 4, 4);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) {
            double v = 0;
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++) v += wt[y][i] * wt[x][j] * src[i][j];
            int want = (int)floor(v + 0.5);
            ck_assert_msg(dst[y * 4 + x] == want, "(%d,%d) = %d, expected %d (%.4f)", y, x, dst[y * 4 + x], want, v);
        }
    ck_assert_int_eq(dst[0], 10);
    ck_assert_int_eq(dst[15], 201);
    ck_assert_int_eq(dst[5], 44); /* by hand: 0.5625*10 + 0.1875*50 + 0.1875*90 + 0.0625*201 = 44.4375 */
}
END_TEST

START_TEST(test_resize_constant_and_copy)
{
    uint8_t src[28 * 28], dst[32 * 32], small[14 * 14];
    memset(src, 77, sizeof src);
    image_resize_bilinear_u8(src, 28, 28, dst, 32, 32);
    for (int i = 0; i < 32 * 32; i++) ck_assert_int_eq(dst[i], 77);
    image_resize_bilinear_u8(src, 28, 28, small, 14, 14);
    for (int i = 0; i < 14 * 14; i++) ck_assert_int_eq(small[i], 77);

    for (int i = 0; i < 28 * 28; i++) src[i] = (uint8_t)(i * 131 % 256);
    image_resize_bilinear_u8(src, 28, 28, dst, 32, 32);
    ck_assert_int_eq(dst[0], src[0]); /* corners sample the clamped corner pixels */
    ck_assert_int_eq(dst[32 * 32 - 1], src[28 * 28 - 1]);
    uint8_t same[28 * 28];
    image_resize_bilinear_u8(src, 28, 28, same, 28, 28);
    ck_assert_mem_eq(same, src, sizeof src);
    uint8_t r[5 * 7], r2[5 * 7];
    for (int i = 0; i < 35; i++) r[i] = (uint8_t)(i * 53 + 7);
    image_resize_bilinear_u8(r, 5, 7, r2, 5, 7);
    ck_assert_mem_eq(r2, r, sizeof r);
}
END_TEST

static Suite *dataset_suite(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("hdf5");
    tcase_add_test(tc, test_shards_cover_all_ranks);
    tcase_add_test(tc, test_shards_span_files);
    tcase_add_test(tc, test_locked_file_names_env_var);
    tcase_add_test(tc, test_files_must_agree);
    tcase_add_test(tc, test_malformed_files);
    tcase_add_test(tc, test_label_error_names_global_index);
    tcase_add_test(tc, test_class_names_fixed_and_missing);
    suite_add_tcase(s, tc);
    TCase *ti = tcase_create("idx");
    tcase_add_test(ti, test_idx_read);
    tcase_add_test(ti, test_idx_errors);
    tcase_add_test(ti, test_resize_2x2_to_4x4);
    tcase_add_test(ti, test_resize_constant_and_copy);
    suite_add_tcase(s, ti);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(dataset_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
