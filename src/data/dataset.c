/* dataset.c - open this rank's shard of one or more HDF5 image files; write files in the same schema.
 *
 * Schema: `images` uint8 (N, C, H, W); `labels` integer (N) in [0, n_classes); root attribute
 * `n_classes` (integer, 1..DATASET_MAX_CLASSES); optional `class_names` strings (n_classes),
 * variable- or fixed-length.
 *
 * Opening validates every file first (shapes, types, agreement of C, H, W and n_classes across files),
 * then reads from disk only the samples [r*N/p, (r+1)*N/p) of the concatenation, file by file with
 * hyperslab selections. Labels are converted to int32 by HDF5 and range-checked for the shard read.
 * Batches are pixels x / 127.5 - 1 in (n, C, H, W).
 *
 * HDF5's automatic error printing is switched off inside these functions (and restored after); every
 * failure becomes one message naming the file, the dataset and what was expected.
 */
#include "acgan/dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acgan/h5util.h"

#define DATASET_PATH_MAX 4096


/* "uint8", "float32", "string", ... for messages. */
static const char *h5_type_name(hid_t type, char *buf, size_t cap)
{
    size_t size = H5Tget_size(type);
    switch (H5Tget_class(type)) {
    case H5T_INTEGER:
        snprintf(buf, cap, "%sint%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", 8 * size);
        break;
    case H5T_FLOAT: snprintf(buf, cap, "float%zu", 8 * size); break;
    case H5T_STRING: snprintf(buf, cap, "string"); break;
    case H5T_COMPOUND: snprintf(buf, cap, "compound"); break;
    case H5T_ENUM: snprintf(buf, cap, "enum"); break;
    default: snprintf(buf, cap, "a non-numeric type"); break;
    }
    return buf;
}

/* Opens path read-only with a specific message for missing, non-HDF5 and unopenable files. */
static AcganStatus h5_open_read(const char *path, hid_t *out, AcganError *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0) return acgan_fail(err, ACGAN_ERR_DATA, "%s: no such file", path);
    if (!S_ISREG(sb.st_mode)) return acgan_fail(err, ACGAN_ERR_DATA, "%s: not a regular file", path);
    if (H5Fis_hdf5(path) == 0) return acgan_fail(err, ACGAN_ERR_DATA, "%s: not an HDF5 file", path);
    hid_t fapl = h5_fapl();
    *out = H5Fopen(path, H5F_ACC_RDONLY, fapl < 0 ? H5P_DEFAULT : fapl);
    h5_close_id(fapl);
    if (*out < 0)
        return acgan_fail(err, ACGAN_ERR_DATA, "%s: cannot open HDF5 file (corrupt or truncated?)" H5_LOCK_HINT,
                          path);
    return ACGAN_OK;
}

/* One input file: its open handles and sample count. */
typedef struct {
    const char *path; /* into the caller's copy of the path list */
    hid_t file, images, labels;
    int64_t n;
    int c, h, w, n_classes;
} ShardFile;

/* Opens dataset `name` in f, or fails with a message saying what was expected. */
static AcganStatus shard_open_dataset(const ShardFile *f, const char *name, const char *expect, hid_t *out,
                                      AcganError *err)
{
    if (H5Lexists(f->file, name, H5P_DEFAULT) <= 0)
        return acgan_fail(err, ACGAN_ERR_DATA, "%s: dataset '%s' missing (expected %s)", f->path, name, expect);
    *out = H5Dopen2(f->file, name, H5P_DEFAULT);
    if (*out < 0)
        return acgan_fail(err, ACGAN_ERR_DATA, "%s: '%s' is not a readable dataset (expected %s)", f->path, name, expect);
    return ACGAN_OK;
}

/* Rank and dims (up to 4) of a dataset. */
static int shard_dims(hid_t ds, hsize_t dims[4])
{
    hid_t space = H5Dget_space(ds);
    int rank = H5Sget_simple_extent_ndims(space);
    if (rank >= 0 && rank <= 4) H5Sget_simple_extent_dims(space, dims, NULL);
    h5_close_id(space);
    return rank;
}

static AcganStatus shard_check_images(ShardFile *f, AcganError *err)
{
    const char *expect = "uint8 (N, C, H, W)";
    AcganStatus st = shard_open_dataset(f, "images", expect, &f->images, err);
    if (st != ACGAN_OK) return st;
    char tn[32];
    hid_t type = H5Dget_type(f->images);
    int ok = H5Tget_class(type) == H5T_INTEGER && H5Tget_size(type) == 1 && H5Tget_sign(type) == H5T_SGN_NONE;
    h5_type_name(type, tn, sizeof tn);
    h5_close_id(type);
    if (!ok) return acgan_fail(err, ACGAN_ERR_DATA, "%s: dataset 'images': expected uint8, got %s", f->path, tn);
    hsize_t d[4];
    int rank = shard_dims(f->images, d);
    if (rank != 4)
        return acgan_fail(err, ACGAN_ERR_DATA, "%s: dataset 'images': expected rank 4 (N, C, H, W), got rank %d", f->path,
                          rank);
    if (d[1] < 1 || d[2] < 1 || d[3] < 1 || d[1] > INT_MAX || d[2] > INT_MAX || d[3] > INT_MAX ||
        d[1] * d[2] > INT_MAX / d[3])
        return acgan_fail(err, ACGAN_ERR_DATA, "%s: dataset 'images': bad image shape %llu x %llu x %llu", f->path,
                          (unsigned long long)d[1], (unsigned long long)d[2], (unsigned long long)d[3]);
    if (d[0] > DATASET_MAX_SAMPLES)
        return acgan_fail(err, ACGAN_ERR_DATA, "%s: dataset 'images': %llu samples, more than the %lld supported", f->path,
                          (unsigned long long)d[0], (long long)DATASET_MAX_SAMPLES);
    f->n = (int64_t)d[0];
    f->c = (int)d[1];
    f->h = (int)d[2];
    f->w = (int)d[3];
    return ACGAN_OK;
}

static AcganStatus shard_check_labels(ShardFile *f, AcganError *err)
{
    AcganStatus st = shard_open_dataset(f, "labels", "integer (N)", &f->labels, err);
    if (st != ACGAN_OK) return st;
    char tn[32];
    hid_t type = H5Dget_type(f->labels);
    int ok = H5Tget_class(type) == H5T_INTEGER;
    h5_type_name(type, tn, sizeof tn);
    h5_close_id(type);
    if (!ok) return acgan_fail(err, ACGAN_ERR_DATA, "%s: dataset 'labels': expected an integer type, got %s", f->path, tn);
    hsize_t d[4];
    int rank = shard_dims(f->labels, d);
    if (rank != 1)
        return acgan_fail(err, ACGAN_ERR_DATA, "%s: dataset 'labels': expected rank 1 (N), got rank %d", f->path, rank);
    if ((int64_t)d[0] != f->n)
        return acgan_fail(err, ACGAN_ERR_DATA, "%s: dataset 'labels' has %llu entries but 'images' has %lld samples",
                          f->path, (unsigned long long)d[0], (long long)f->n);
    return ACGAN_OK;
}

static AcganStatus shard_check_n_classes(ShardFile *f, AcganError *err)
{
    if (H5Aexists(f->file, "n_classes") <= 0)
        return acgan_fail(err, ACGAN_ERR_DATA, "%s: attribute 'n_classes' missing on the file root (expected an integer)",
                          f->path);
    hid_t attr = H5Aopen(f->file, "n_classes", H5P_DEFAULT);
    hid_t type = attr < 0 ? -1 : H5Aget_type(attr);
    hid_t space = attr < 0 ? -1 : H5Aget_space(attr);
    char tn[32] = "unreadable";
    int is_int = type >= 0 && H5Tget_class(type) == H5T_INTEGER;
    if (type >= 0) h5_type_name(type, tn, sizeof tn);
    long long v = 0;
    int read_ok = is_int && space >= 0 && H5Sget_simple_extent_npoints(space) == 1 &&
                  H5Aread(attr, H5T_NATIVE_LLONG, &v) >= 0;
    h5_close_id(space);
    h5_close_id(type);
    h5_close_id(attr);
    if (!is_int)
        return acgan_fail(err, ACGAN_ERR_DATA, "%s: attribute 'n_classes': expected an integer, got %s", f->path, tn);
    if (!read_ok)
        return acgan_fail(err, ACGAN_ERR_DATA, "%s: attribute 'n_classes': expected a single integer", f->path);
    if (v < 1 || v > DATASET_MAX_CLASSES)
        return acgan_fail(err, ACGAN_ERR_DATA, "%s: attribute 'n_classes' is %lld, expected 1..%d", f->path, v,
                          DATASET_MAX_CLASSES);
    f->n_classes = (int)v;
    return ACGAN_OK;
}

/* Copies s into a DATASET_NAME_MAX slot, cutting at a UTF-8 character boundary. */
static void name_copy(char *dst, const char *s)
{
    size_t len = s ? strlen(s) : 0;
    if (len > DATASET_NAME_MAX - 1) {
        len = DATASET_NAME_MAX - 1;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80) len--;
    }
    if (len) memcpy(dst, s, len);
    dst[len] = '\0';
}

/* Reads the optional `class_names` (n entries, variable- or fixed-length strings) into names (n). */
static AcganStatus shard_read_class_names(const ShardFile *f, char (*names)[DATASET_NAME_MAX], int n, int *found,
                                          AcganError *err)
{
    *found = 0;
    if (H5Lexists(f->file, "class_names", H5P_DEFAULT) <= 0) return ACGAN_OK;
    hid_t ds = H5Dopen2(f->file, "class_names", H5P_DEFAULT);
    if (ds < 0) return acgan_fail(err, ACGAN_ERR_DATA, "%s: 'class_names' is not a readable dataset", f->path);
    hid_t ftype = H5Dget_type(ds), space = H5Dget_space(ds), mtype = -1;
    AcganStatus st = ACGAN_OK;
    char tn[32];
    if (H5Tget_class(ftype) != H5T_STRING) {
        st = acgan_fail(err, ACGAN_ERR_DATA, "%s: dataset 'class_names': expected strings, got %s", f->path,
                        h5_type_name(ftype, tn, sizeof tn));
        goto done;
    }
    hssize_t count = H5Sget_simple_extent_npoints(space);
    if (count != n || H5Sget_simple_extent_ndims(space) > 1) {
        st = acgan_fail(err, ACGAN_ERR_DATA, "%s: dataset 'class_names' has %lld entries, expected n_classes = %d",
                        f->path, (long long)count, n);
        goto done;
    }
    mtype = H5Tcopy(H5T_C_S1);
    H5Tset_cset(mtype, H5Tget_cset(ftype));
    if (H5Tis_variable_str(ftype) > 0) {
        H5Tset_size(mtype, H5T_VARIABLE);
        char **buf = acgan_calloc((size_t)n, sizeof(char *)); /* (n) */
        if (H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
            st = acgan_fail(err, ACGAN_ERR_DATA, "%s: dataset 'class_names': read failed", f->path);
        } else {
            for (int i = 0; i < n; i++) name_copy(names[i], buf[i]);
            H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, buf);
        }
        free(buf);
    } else {
        size_t sz = H5Tget_size(ftype) + 1;
        H5Tset_size(mtype, sz);
        H5Tset_strpad(mtype, H5T_STR_NULLTERM);
        char *buf = acgan_calloc((size_t)n, sz); /* (n, sz) */
        if (H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
            st = acgan_fail(err, ACGAN_ERR_DATA, "%s: dataset 'class_names': read failed", f->path);
        else
            for (int i = 0; i < n; i++) name_copy(names[i], buf + (size_t)i * sz);
        free(buf);
    }
    if (st == ACGAN_OK) *found = 1;
done:
    h5_close_id(mtype);
    h5_close_id(space);
    h5_close_id(ftype);
    h5_close_id(ds);
    return st;
}

/* Reads samples [lo, lo + cnt) of one file (file-local indices) into images (cnt, C, H, W) and labels (cnt),
 * the labels as int64 so that any integer type converts without clamping before the range check. */
static AcganStatus shard_read_range(const ShardFile *f, int64_t lo, int64_t cnt, uint8_t *images, int64_t *labels,
                                    AcganError *err)
{
    hsize_t start[4] = {(hsize_t)lo, 0, 0, 0};
    hsize_t count[4] = {(hsize_t)cnt, (hsize_t)f->c, (hsize_t)f->h, (hsize_t)f->w};
    const char *what = "images";
    hid_t fspace = H5Dget_space(f->images);
    hid_t mspace = H5Screate_simple(4, count, NULL);
    herr_t rc = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
    if (rc >= 0) rc = H5Dread(f->images, H5T_NATIVE_UINT8, mspace, fspace, H5P_DEFAULT, images);
    h5_close_id(mspace);
    h5_close_id(fspace);
    if (rc >= 0) {
        what = "labels";
        fspace = H5Dget_space(f->labels);
        mspace = H5Screate_simple(1, count, NULL);
        rc = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
        if (rc >= 0) rc = H5Dread(f->labels, H5T_NATIVE_INT64, mspace, fspace, H5P_DEFAULT, labels);
        h5_close_id(mspace);
        h5_close_id(fspace);
    }
    if (rc < 0)
        return acgan_fail(err, ACGAN_ERR_DATA, "%s: dataset '%s': reading samples [%lld, %lld) failed (corrupt or truncated file?)",
                          f->path, what, (long long)lo, (long long)(lo + cnt));
    return ACGAN_OK;
}

/* Splits the comma-separated list in buf (modified in place) into files (cap); returns the count. */
static int shard_split_paths(char *buf, ShardFile *files, int cap)
{
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t') tok++;
        char *end = tok + strlen(tok);
        while (end > tok && (end[-1] == ' ' || end[-1] == '\t')) *--end = '\0';
        if (!*tok) continue;
        if (n < cap) {
            files[n].path = tok;
            files[n].file = files[n].images = files[n].labels = -1;
        }
        n++;
    }
    return n;
}

AcganStatus dataset_open_shard(Dataset *d, const char *paths, int rank, int world, AcganError *err)
{
    ACGAN_ASSERT(d && paths && world >= 1 && rank >= 0 && rank < world, "rank %d of %d", rank, world);
    memset(d, 0, sizeof *d);
    char *list = acgan_malloc(strlen(paths) + 1);
    strcpy(list, paths);
    int nf = 0;
    for (const char *p = paths; *p; p++) nf += *p == ',';
    ShardFile *files = acgan_calloc((size_t)nf + 1, sizeof *files); /* (nf) */
    nf = shard_split_paths(list, files, nf + 1);
    H5Quiet quiet;
    h5_quiet_begin(&quiet);
    AcganStatus st = ACGAN_OK;
    if (nf == 0) st = acgan_fail(err, ACGAN_ERR_DATA, "dataset path list '%s' names no file", paths);

    /* Pass 1: validate every file and check they agree. */
    int64_t n_total = 0;
    for (int i = 0; i < nf && st == ACGAN_OK; i++) {
        ShardFile *f = &files[i];
        st = h5_open_read(f->path, &f->file, err);
        if (st == ACGAN_OK) st = shard_check_images(f, err);
        if (st == ACGAN_OK) st = shard_check_labels(f, err);
        if (st == ACGAN_OK) st = shard_check_n_classes(f, err);
        if (st != ACGAN_OK || i == 0) {
            n_total += f->n;
            continue;
        }
        const ShardFile *f0 = &files[0];
        if (f->c != f0->c || f->h != f0->h || f->w != f0->w)
            st = acgan_fail(err, ACGAN_ERR_DATA, "%s: dataset 'images' has images %d x %d x %d but %s has %d x %d x %d; "
                            "all files must agree", f->path, f->c, f->h, f->w, f0->path, f0->c, f0->h, f0->w);
        else if (f->n_classes != f0->n_classes)
            st = acgan_fail(err, ACGAN_ERR_DATA, "%s: attribute 'n_classes' is %d but %s has %d; all files must agree",
                            f->path, f->n_classes, f0->path, f0->n_classes);
        n_total += f->n;
    }
    if (st == ACGAN_OK && n_total == 0) st = acgan_fail(err, ACGAN_ERR_DATA, "%s: dataset 'images' has no samples", paths);
    if (st == ACGAN_OK) {
        d->n_total = n_total;
        d->c = files[0].c;
        d->h = files[0].h;
        d->w = files[0].w;
        d->n_classes = files[0].n_classes;
        d->class_names = acgan_calloc((size_t)d->n_classes, DATASET_NAME_MAX);
        int found = 0;
        for (int i = 0; i < nf && st == ACGAN_OK && !found; i++)
            st = shard_read_class_names(&files[i], d->class_names, d->n_classes, &found, err);
    }

    /* Pass 2: read this rank's slice [begin, end) of the concatenation, file by file. */
    if (st == ACGAN_OK) {
        int64_t begin = n_total * rank / world, end = n_total * (rank + 1) / world;
        size_t chw = (size_t)d->c * d->h * d->w;
        d->shard_begin = begin;
        d->shard_count = end - begin;
        d->images = acgan_malloc((size_t)d->shard_count * chw);
        d->labels = acgan_malloc((size_t)d->shard_count * sizeof(int32_t));
        int64_t off = 0; /* global index of the current file's first sample */
        for (int i = 0; i < nf && st == ACGAN_OK; off += files[i].n, i++) {
            int64_t lo = begin > off ? begin : off;
            int64_t hi = end < off + files[i].n ? end : off + files[i].n;
            if (hi <= lo) continue;
            int64_t *lab = acgan_malloc((size_t)(hi - lo) * sizeof(int64_t)); /* (hi - lo) */
            st = shard_read_range(&files[i], lo - off, hi - lo, d->images + (size_t)(lo - begin) * chw, lab, err);
            for (int64_t k = 0; st == ACGAN_OK && k < hi - lo; k++) {
                if (lab[k] < 0 || lab[k] >= d->n_classes)
                    st = acgan_fail(err, ACGAN_ERR_DATA,
                                    "%s: dataset 'labels': sample %lld (global index %lld) has label %lld, expected "
                                    "0..%d (n_classes = %d)",
                                    files[i].path, (long long)(lo - off + k), (long long)(lo + k), (long long)lab[k],
                                    d->n_classes - 1, d->n_classes);
                d->labels[lo - begin + k] = (int32_t)lab[k];
            }
            free(lab);
        }
    }

    for (int i = 0; i < nf; i++) {
        h5_close_id(files[i].labels);
        h5_close_id(files[i].images);
        h5_close_id(files[i].file);
    }
    h5_quiet_end(&quiet);
    free(files);
    free(list);
    if (st != ACGAN_OK) dataset_free(d);
    return st;
}

void dataset_free(Dataset *d)
{
    if (!d) return;
    free(d->class_names);
    free(d->images);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

void dataset_batch(const Dataset *d, const int64_t *idx, int n, float *x, int32_t *y)
{
    size_t chw = (size_t)d->c * d->h * d->w;
    for (int i = 0; i < n; i++) {
        ACGAN_ASSERT(idx[i] >= 0 && idx[i] < d->shard_count, "sample %lld outside shard of %lld", (long long)idx[i],
                     (long long)d->shard_count);
        const uint8_t *src = d->images + (size_t)idx[i] * chw; /* (C, H, W) */
        float *dst = x + (size_t)i * chw;                      /* (C, H, W) */
        for (size_t j = 0; j < chw; j++) dst[j] = (float)src[j] / 127.5f - 1.0f;
        if (y) y[i] = d->labels[idx[i]];
    }
}

/* Creates a chunked, deflated dataset of the given file type and shape (rank dims) and writes buf into it. */
static herr_t write_chunked(hid_t file, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims,
                            const hsize_t *chunk, const void *buf)
{
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    herr_t rc = space < 0 || dcpl < 0 ? -1 : 0;
    if (rc >= 0 && dims[0] > 0) { /* a chunk cannot be larger than a zero-length fixed dimension */
        rc = H5Pset_chunk(dcpl, rank, chunk);
        if (rc >= 0) rc = H5Pset_deflate(dcpl, 4);
    }
    hid_t ds = rc < 0 ? -1 : H5Dcreate2(file, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (ds < 0) rc = -1;
    if (rc >= 0 && dims[0] > 0) rc = H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    h5_close_id(ds);
    h5_close_id(dcpl);
    h5_close_id(space);
    return rc;
}

/* Writes every part of the schema into the open file; returns the name of the part that failed, or NULL. */
static const char *write_contents(hid_t file, const uint8_t *images, const int32_t *labels, int64_t n, int c, int h,
                                  int w, int n_classes, const char *const *class_names)
{
    size_t chw = (size_t)c * h * w;
    hsize_t per_chunk = (1u << 20) / chw ? (1u << 20) / chw : 1; /* about 1 MiB of pixels per chunk */
    hsize_t dims[4] = {(hsize_t)n, (hsize_t)c, (hsize_t)h, (hsize_t)w};
    hsize_t chunk[4] = {(hsize_t)n < per_chunk ? (hsize_t)n : per_chunk, (hsize_t)c, (hsize_t)h, (hsize_t)w};
    if (write_chunked(file, "images", H5T_STD_U8LE, H5T_NATIVE_UINT8, 4, dims, chunk, images) < 0) return "images";
    hsize_t lchunk = (hsize_t)n < 65536 ? (hsize_t)n : 65536;
    if (write_chunked(file, "labels", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, dims, &lchunk, labels) < 0) return "labels";

    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(file, "n_classes", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT);
    int32_t nc = n_classes;
    herr_t rc = attr < 0 ? -1 : H5Awrite(attr, H5T_NATIVE_INT32, &nc);
    h5_close_id(attr);
    h5_close_id(space);
    if (rc < 0) return "n_classes";

    if (!class_names) return NULL;
    const char **names = acgan_calloc((size_t)n_classes, sizeof(char *)); /* (n_classes) */
    for (int i = 0; i < n_classes; i++) names[i] = class_names[i] ? class_names[i] : "";
    hsize_t nn = (hsize_t)n_classes;
    hid_t stype = H5Tcopy(H5T_C_S1);
    H5Tset_size(stype, H5T_VARIABLE);
    H5Tset_cset(stype, H5T_CSET_UTF8);
    space = H5Screate_simple(1, &nn, NULL);
    hid_t ds = H5Dcreate2(file, "class_names", stype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    rc = ds < 0 ? -1 : H5Dwrite(ds, stype, H5S_ALL, H5S_ALL, H5P_DEFAULT, names);
    h5_close_id(ds);
    h5_close_id(space);
    h5_close_id(stype);
    free(names);
    return rc < 0 ? "class_names" : NULL;
}

/* Forces a closed file's contents to disk, so the rename that follows never exposes an empty file. */
static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

AcganStatus dataset_write(const char *path, const uint8_t *images, const int32_t *labels, int64_t n, int c, int h,
                          int w, int n_classes, const char *const *class_names, AcganError *err)
{
    ACGAN_ASSERT(path && n >= 0 && c >= 1 && h >= 1 && w >= 1 && (n == 0 || (images && labels)),
                 "dataset_write(%lld, %d, %d, %d)", (long long)n, c, h, w);
    if (n_classes < 1 || n_classes > DATASET_MAX_CLASSES)
        return acgan_fail(err, ACGAN_ERR_DATA, "%s: n_classes %d outside 1..%d", path, n_classes, DATASET_MAX_CLASSES);
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= n_classes)
            return acgan_fail(err, ACGAN_ERR_DATA, "%s: label %d of sample %lld outside 0..%d", path, (int)labels[i],
                              (long long)i, n_classes - 1);
    char tmp[DATASET_PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return acgan_fail(err, ACGAN_ERR_IO, "%s: path too long", path);

    H5Quiet quiet;
    h5_quiet_begin(&quiet);
    AcganStatus st = ACGAN_OK;
    hid_t fapl = h5_fapl();
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl < 0 ? H5P_DEFAULT : fapl);
    h5_close_id(fapl);
    if (file < 0) {
        st = acgan_fail(err, ACGAN_ERR_IO, "%s: cannot create HDF5 file (missing directory or no permission?)", tmp);
    } else {
        const char *failed = write_contents(file, images, labels, n, c, h, w, n_classes, class_names);
        herr_t rc = H5Fclose(file);
        if (failed)
            st = acgan_fail(err, ACGAN_ERR_IO, "%s: writing '%s' failed (disk full?)", tmp, failed);
        else if (rc < 0 || fsync_path(tmp) != 0)
            st = acgan_fail(err, ACGAN_ERR_IO, "%s: flushing the file failed (disk full?)", tmp);
        else if (rename(tmp, path) != 0)
            st = acgan_fail(err, ACGAN_ERR_IO, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
        if (st != ACGAN_OK) remove(tmp);
    }
    h5_quiet_end(&quiet);
    return st;
}
