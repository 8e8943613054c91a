/* checkpoint.c - HDF5 checkpoints: named float32 tensors + run metadata, written atomically.
 *
 * Layout: one 1-D float32 dataset per tensor (chunked, Fletcher32 checksum per chunk; '/' in a name
 * makes groups), root attributes step, epoch, adam_t_g, adam_t_d (int64), seed (uint64), world_size and
 * format_version (int32), and a scalar variable-length UTF-8 string dataset `config`.
 *
 * Save: write path.tmp, H5Fflush, H5Fclose, fsync the file, rename onto path, fsync the directory.
 * A failure removes path.tmp and leaves any previous file at path untouched.
 * Load: checks every tensor exists with the expected count before reading, reads everything into one
 * staging buffer (total floats), and copies into the caller's tensors only when all reads succeeded,
 * so a failed load leaves the caller's buffers, meta and config untouched.
 */
#include "acgan/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acgan/h5util.h"

#define CKPT_FORMAT_VERSION 1
#define CKPT_PATH_MAX 4096
#define CKPT_CHUNK_FLOATS 262144 /* 1 MiB chunks: one checksum per chunk */


/* Error-stack walker: sets *found when an entry mentions a checksum failure. */
static herr_t ckpt_walk_checksum(unsigned n, const H5E_error2_t *e, void *found)
{
    if (e->desc && (strstr(e->desc, "checksum") || strstr(e->desc, "Fletcher"))) *(int *)found = 1;
    return 0;
}

static herr_t ckpt_write_attr(hid_t file, const char *name, hid_t ftype, hid_t mtype, const void *value)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = space < 0 ? -1 : H5Acreate2(file, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = attr < 0 ? -1 : H5Awrite(attr, mtype, value);
    h5_close_id(attr);
    h5_close_id(space);
    return rc;
}

/* One float32 tensor as a chunked, checksummed 1-D dataset (groups created as needed). */
static herr_t ckpt_write_tensor(hid_t file, hid_t lcpl, const CkptTensor *t)
{
    hsize_t dims = t->count, maxdims = t->count, chunk = t->count < CKPT_CHUNK_FLOATS ? t->count : CKPT_CHUNK_FLOATS;
    if (t->count == 0) { /* empty tensors still need a chunk size, which needs an extendible dimension */
        maxdims = H5S_UNLIMITED;
        chunk = 1;
    }
    hid_t space = H5Screate_simple(1, &dims, &maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    herr_t rc = space < 0 || dcpl < 0 ? -1 : H5Pset_chunk(dcpl, 1, &chunk);
    if (rc >= 0) rc = H5Pset_fletcher32(dcpl);
    hid_t ds = rc < 0 ? -1 : H5Dcreate2(file, t->name, H5T_IEEE_F32LE, space, lcpl, dcpl, H5P_DEFAULT);
    if (ds < 0) rc = -1;
    if (rc >= 0 && t->count > 0) rc = H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data);
    h5_close_id(ds);
    h5_close_id(dcpl);
    h5_close_id(space);
    return rc;
}

/* Writes tensors, metadata and config into the open file; returns what failed, or NULL. */
static const char *ckpt_write_contents(hid_t file, const CkptTensor *t, int n_t, const CkptMeta *meta,
                                       const char *config_ini)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0) {
        h5_close_id(lcpl);
        return "link properties";
    }
    for (int i = 0; i < n_t; i++)
        if (ckpt_write_tensor(file, lcpl, &t[i]) < 0) {
            h5_close_id(lcpl);
            return t[i].name;
        }
    h5_close_id(lcpl);

    int32_t version = CKPT_FORMAT_VERSION;
    if (ckpt_write_attr(file, "step", H5T_STD_I64LE, H5T_NATIVE_INT64, &meta->step) < 0 ||
        ckpt_write_attr(file, "epoch", H5T_STD_I64LE, H5T_NATIVE_INT64, &meta->epoch) < 0 ||
        ckpt_write_attr(file, "adam_t_g", H5T_STD_I64LE, H5T_NATIVE_INT64, &meta->adam_t_g) < 0 ||
        ckpt_write_attr(file, "adam_t_d", H5T_STD_I64LE, H5T_NATIVE_INT64, &meta->adam_t_d) < 0 ||
        ckpt_write_attr(file, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, &meta->seed) < 0 ||
        ckpt_write_attr(file, "world_size", H5T_STD_I32LE, H5T_NATIVE_INT32, &meta->world_size) < 0 ||
        ckpt_write_attr(file, "format_version", H5T_STD_I32LE, H5T_NATIVE_INT32, &version) < 0)
        return "metadata attributes";

    const char *text = config_ini ? config_ini : "";
    hid_t stype = H5Tcopy(H5T_C_S1);
    H5Tset_size(stype, H5T_VARIABLE);
    H5Tset_cset(stype, H5T_CSET_UTF8);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t ds = H5Dcreate2(file, "config", stype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = ds < 0 ? -1 : H5Dwrite(ds, stype, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text);
    h5_close_id(ds);
    h5_close_id(space);
    h5_close_id(stype);
    return rc < 0 ? "config" : NULL;
}

/* fsync of a file or directory by path; 0 on success. Directories that cannot be synced are tolerated. */
static int ckpt_fsync_path(const char *path, int is_dir)
{
    int fd = open(path, is_dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    if (rc != 0 && is_dir && (errno == EINVAL || errno == ENOTSUP)) rc = 0;
    close(fd);
    return rc;
}

AcganStatus ckpt_save(const char *path, const CkptTensor *t, int n_t, const CkptMeta *meta, const char *config_ini,
                      AcganError *err)
{
    ACGAN_ASSERT(path && meta && n_t >= 0 && (n_t == 0 || t), "ckpt_save arguments");
    char tmp[CKPT_PATH_MAX], dir[CKPT_PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return acgan_fail(err, ACGAN_ERR_IO, "checkpoint %s: path too long", path);
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';

    H5Quiet quiet;
    h5_quiet_begin(&quiet);
    hid_t fapl = h5_fapl();
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl < 0 ? H5P_DEFAULT : fapl);
    h5_close_id(fapl);
    if (file < 0) {
        h5_quiet_end(&quiet);
        return acgan_fail(err, ACGAN_ERR_IO,
                          "checkpoint %s: cannot create %s (does directory %s exist and is it writable?)", path, tmp,
                          dir);
    }
    AcganStatus st = ACGAN_OK;
    const char *failed = ckpt_write_contents(file, t, n_t, meta, config_ini);
    if (!failed && H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) failed = "flush";
    herr_t rc = H5Fclose(file);
    h5_quiet_end(&quiet);
    if (failed)
        st = acgan_fail(err, ACGAN_ERR_IO, "checkpoint %s: writing '%s' to %s failed (disk full?)", path, failed, tmp);
    else if (rc < 0)
        st = acgan_fail(err, ACGAN_ERR_IO, "checkpoint %s: closing %s failed (disk full?)", path, tmp);
    else if (ckpt_fsync_path(tmp, 0) != 0)
        st = acgan_fail(err, ACGAN_ERR_IO, "checkpoint %s: fsync of %s failed: %s", path, tmp, strerror(errno));
    else if (rename(tmp, path) != 0)
        st = acgan_fail(err, ACGAN_ERR_IO, "checkpoint %s: cannot rename %s into place: %s", path, tmp,
                        strerror(errno));
    if (st != ACGAN_OK) {
        remove(tmp);
        return st;
    }
    if (ckpt_fsync_path(dir, 1) != 0)
        return acgan_fail(err, ACGAN_ERR_IO, "checkpoint %s: written, but fsync of directory %s failed: %s", path, dir,
                          strerror(errno));
    return ACGAN_OK;
}

/* Reads integer root attribute name as mtype into out; 0 ok, -1 missing, -2 unreadable. */
static int ckpt_read_attr(hid_t file, const char *name, hid_t mtype, void *out)
{
    if (H5Aexists(file, name) <= 0) return -1;
    hid_t attr = H5Aopen(file, name, H5P_DEFAULT);
    hid_t type = attr < 0 ? -1 : H5Aget_type(attr);
    int rc = type >= 0 && H5Tget_class(type) == H5T_INTEGER && H5Aread(attr, mtype, out) >= 0 ? 0 : -2;
    h5_close_id(type);
    h5_close_id(attr);
    return rc;
}

/* 1 when every component of the '/'-separated name exists (H5Lexists needs the parents to exist). */
static int ckpt_link_exists(hid_t file, const char *name)
{
    char part[CKPT_PATH_MAX];
    size_t len = strlen(name);
    if (len == 0 || len >= sizeof part) return 0;
    for (size_t i = 1; i <= len; i++) {
        if (name[i] != '/' && name[i] != '\0') continue;
        memcpy(part, name, i);
        part[i] = '\0';
        if (H5Lexists(file, part, H5P_DEFAULT) <= 0) return 0;
    }
    return 1;
}

/* Checks metadata; fills meta. */
static AcganStatus ckpt_load_meta(hid_t file, const char *path, CkptMeta *meta, AcganError *err)
{
    int32_t version = 0;
    int rc = ckpt_read_attr(file, "format_version", H5T_NATIVE_INT32, &version);
    if (rc == -1)
        return acgan_fail(err, ACGAN_ERR_CKPT, "checkpoint %s: attribute 'format_version' missing (not an acgan checkpoint?)",
                          path);
    if (rc == 0 && version != CKPT_FORMAT_VERSION)
        return acgan_fail(err, ACGAN_ERR_CKPT, "checkpoint %s: format_version %d, this build reads version %d", path,
                          (int)version, CKPT_FORMAT_VERSION);
    const char *name = "format_version";
    if (rc == 0 && (rc = ckpt_read_attr(file, name = "step", H5T_NATIVE_INT64, &meta->step)) == 0 &&
        (rc = ckpt_read_attr(file, name = "epoch", H5T_NATIVE_INT64, &meta->epoch)) == 0 &&
        (rc = ckpt_read_attr(file, name = "adam_t_g", H5T_NATIVE_INT64, &meta->adam_t_g)) == 0 &&
        (rc = ckpt_read_attr(file, name = "adam_t_d", H5T_NATIVE_INT64, &meta->adam_t_d)) == 0 &&
        (rc = ckpt_read_attr(file, name = "seed", H5T_NATIVE_UINT64, &meta->seed)) == 0)
        rc = ckpt_read_attr(file, name = "world_size", H5T_NATIVE_INT32, &meta->world_size);
    if (rc != 0)
        return acgan_fail(err, ACGAN_ERR_CKPT, "checkpoint %s: attribute '%s' %s", path, name,
                          rc == -1 ? "missing" : "unreadable (expected an integer)");
    return ACGAN_OK;
}

/* Checks tensor t exists as a float 1-D dataset of t->count values and reads it into buf (count). */
static AcganStatus ckpt_load_tensor(hid_t file, const char *path, const CkptTensor *t, float *buf, int read,
                                    AcganError *err)
{
    if (!ckpt_link_exists(file, t->name))
        return acgan_fail(err, ACGAN_ERR_CKPT, "checkpoint %s: tensor '%s' missing (different model configuration?)",
                          path, t->name);
    hid_t ds = H5Dopen2(file, t->name, H5P_DEFAULT);
    if (ds < 0) return acgan_fail(err, ACGAN_ERR_CKPT, "checkpoint %s: '%s' is not a readable dataset", path, t->name);
    hid_t type = H5Dget_type(ds), space = H5Dget_space(ds);
    int is_float = type >= 0 && H5Tget_class(type) == H5T_FLOAT;
    int rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    hssize_t count = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
    h5_close_id(space);
    h5_close_id(type);
    AcganStatus st = ACGAN_OK;
    if (!is_float || rank != 1)
        st = acgan_fail(err, ACGAN_ERR_CKPT, "checkpoint %s: tensor '%s' is not a 1-D float dataset", path, t->name);
    else if (count != (hssize_t)t->count)
        st = acgan_fail(err, ACGAN_ERR_CKPT,
                        "checkpoint %s: tensor '%s' has %lld values, this model needs %zu (different model "
                        "configuration?)",
                        path, t->name, (long long)count, t->count);
    else if (read && t->count > 0 && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        int checksum = 0;
        H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, ckpt_walk_checksum, &checksum);
        st = acgan_fail(err, ACGAN_ERR_CKPT, "checkpoint %s: tensor '%s': %s", path, t->name,
                        checksum ? "checksum mismatch, the file is corrupted"
                                 : "read failed (truncated or corrupt file?)");
    }
    h5_close_id(ds);
    return st;
}

/* Reads the `config` string into text (cap); missing gives "". */
static AcganStatus ckpt_load_config(hid_t file, const char *path, char *text, size_t cap, AcganError *err)
{
    text[0] = '\0';
    if (H5Lexists(file, "config", H5P_DEFAULT) <= 0) return ACGAN_OK;
    hid_t ds = H5Dopen2(file, "config", H5P_DEFAULT);
    hid_t ftype = ds < 0 ? -1 : H5Dget_type(ds);
    hid_t space = ds < 0 ? -1 : H5Dget_space(ds);
    AcganStatus st = ACGAN_OK;
    if (ftype < 0 || H5Tget_class(ftype) != H5T_STRING || H5Tis_variable_str(ftype) <= 0 ||
        H5Sget_simple_extent_npoints(space) != 1) {
        st = acgan_fail(err, ACGAN_ERR_CKPT, "checkpoint %s: 'config' is not a variable-length string", path);
    } else {
        hid_t mtype = H5Tcopy(H5T_C_S1);
        H5Tset_size(mtype, H5T_VARIABLE);
        H5Tset_cset(mtype, H5Tget_cset(ftype));
        char *s = NULL;
        if (H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, &s) < 0) {
            st = acgan_fail(err, ACGAN_ERR_CKPT, "checkpoint %s: reading 'config' failed", path);
        } else {
            snprintf(text, cap, "%s", s ? s : "");
            H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, &s);
        }
        h5_close_id(mtype);
    }
    h5_close_id(space);
    h5_close_id(ftype);
    h5_close_id(ds);
    return st;
}

AcganStatus ckpt_load(const char *path, const CkptTensor *t, int n_t, CkptMeta *meta, char *config_ini, size_t cap,
                      AcganError *err)
{
    ACGAN_ASSERT(path && n_t >= 0 && (n_t == 0 || t), "ckpt_load arguments");
    struct stat sb;
    if (stat(path, &sb) != 0) return acgan_fail(err, ACGAN_ERR_CKPT, "checkpoint %s: no such file", path);
    H5Quiet quiet;
    h5_quiet_begin(&quiet);
    hid_t fapl = h5_fapl();
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, fapl < 0 ? H5P_DEFAULT : fapl);
    h5_close_id(fapl);
    if (file < 0) {
        h5_quiet_end(&quiet);
        return acgan_fail(err, ACGAN_ERR_CKPT,
                          "checkpoint %s: cannot open as HDF5 (truncated or corrupt file?)" H5_LOCK_HINT, path);
    }
    CkptMeta m = {0};
    size_t total = 0;
    for (int i = 0; i < n_t; i++) total += t[i].count;
    float *stage = acgan_malloc(total * sizeof(float)); /* (sum of counts) */
    char *text = config_ini && cap ? acgan_malloc(cap) : NULL; /* (cap) */
    AcganStatus st = ckpt_load_meta(file, path, &m, err);
    for (int i = 0; i < n_t && st == ACGAN_OK; i++) /* every tensor present with the right count... */
        st = ckpt_load_tensor(file, path, &t[i], NULL, 0, err);
    size_t off = 0;
    for (int i = 0; i < n_t && st == ACGAN_OK; off += t[i].count, i++) /* ...before reading any */
        st = ckpt_load_tensor(file, path, &t[i], stage + off, 1, err);
    if (st == ACGAN_OK && text) st = ckpt_load_config(file, path, text, cap, err);
    if (H5Fclose(file) < 0 && st == ACGAN_OK)
        st = acgan_fail(err, ACGAN_ERR_CKPT, "checkpoint %s: closing the file failed", path);
    h5_quiet_end(&quiet);
    if (st == ACGAN_OK) {
        off = 0;
        for (int i = 0; i < n_t; off += t[i].count, i++)
            if (t[i].count) memcpy(t[i].data, stage + off, t[i].count * sizeof(float));
        if (meta) *meta = m;
        if (text) memcpy(config_ini, text, cap);
    }
    free(text);
    free(stage);
    return st;
}

/* Step number of a name of the form step_<digits>.h5, or -1. */
static long long ckpt_parse_step(const char *name)
{
    if (strncmp(name, "step_", 5) != 0) return -1;
    const char *p = name + 5;
    long long step = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (digits >= 18) return -1;
        step = step * 10 + (*p - '0');
    }
    if (digits == 0 || strcmp(p, ".h5") != 0) return -1;
    return step;
}

static int ckpt_cmp_desc(const void *a, const void *b)
{
    const char *x = a, *y = b;
    long long sx = ckpt_parse_step(x), sy = ckpt_parse_step(y);
    if (sx != sy) return sx < sy ? 1 : -1;
    return -strcmp(x, y);
}

int ckpt_list(const char *dir, char (*paths)[CKPT_LIST_PATH], int cap)
{
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : -1;
    int n = 0, n_alloc = 16;
    char (*names)[256] = malloc((size_t)n_alloc * sizeof *names);
    struct dirent *e;
    while (names && (e = readdir(d)) != NULL) {
        if (ckpt_parse_step(e->d_name) < 0 || strlen(e->d_name) >= 256) continue;
        if (n == n_alloc) {
            n_alloc *= 2;
            char (*grown)[256] = realloc(names, (size_t)n_alloc * sizeof *names);
            if (!grown) break;
            names = grown;
        }
        snprintf(names[n++], 256, "%s", e->d_name);
    }
    closedir(d);
    if (!names) return 0;
    qsort(names, (size_t)n, sizeof *names, ckpt_cmp_desc);
    size_t dl = strlen(dir);
    const char *sep = dl > 0 && dir[dl - 1] == '/' ? "" : "/";
    int out = 0;
    for (int i = 0; i < n && out < cap; i++) {
        int len = snprintf(paths[out], CKPT_LIST_PATH, "%s%s%s", dir, sep, names[i]);
        if (len > 0 && len < CKPT_LIST_PATH) out++;
    }
    free(names);
    return out;
}

int ckpt_find_latest(const char *dir, char *path, size_t cap)
{
    char best[1][CKPT_LIST_PATH];
    if (ckpt_list(dir, best, 1) < 1) return -1;
    int len = snprintf(path, cap, "%s", best[0]);
    return len < 0 || (size_t)len >= cap ? -1 : 0;
}

/* ckpt_verify: read every float dataset in full, so HDF5 checks each chunk's Fletcher32 checksum. */
typedef struct {
    const char *path;
    AcganError *err;
    AcganStatus st;
    int n_tensors;
    uint64_t hash; /* over tensor names and contents, in name order */
} CkptVerify;

static uint64_t ckpt_hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001B3ull;
    return h;
}

static herr_t ckpt_verify_visit(hid_t root, const char *name, const H5L_info_t *info, void *data)
{
    CkptVerify *v = data;
    (void)info;
    if (strcmp(name, "config") == 0) return 0;
    hid_t obj = H5Oopen(root, name, H5P_DEFAULT);
    int is_dataset = obj >= 0 && H5Iget_type(obj) == H5I_DATASET;
    if (obj >= 0) H5Oclose(obj);
    if (!is_dataset) return 0;
    hid_t ds = H5Dopen2(root, name, H5P_DEFAULT);
    hid_t space = ds >= 0 ? H5Dget_space(ds) : -1;
    hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    float *buf = n >= 0 ? malloc((size_t)(n > 0 ? n : 1) * sizeof(float)) : NULL;
    herr_t rc = buf ? H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : -1;
    if (rc >= 0) {
        v->hash = ckpt_hash_bytes(v->hash, name, strlen(name) + 1);
        v->hash = ckpt_hash_bytes(v->hash, buf, (size_t)n * sizeof(float));
    }
    free(buf);
    h5_close_id(space);
    h5_close_id(ds);
    if (rc < 0) {
        v->st = acgan_fail(v->err, ACGAN_ERR_CKPT, "checkpoint %s: tensor '%s' cannot be read (corrupt or truncated file)",
                           v->path, name);
        return 1;
    }
    v->n_tensors++;
    return 0;
}

AcganStatus ckpt_verify(const char *path, CkptMeta *meta, uint64_t *hash, AcganError *err)
{
    H5Quiet q;
    h5_quiet_begin(&q);
    hid_t fapl = h5_fapl();
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    h5_close_id(fapl);
    CkptVerify v = {path, err, ACGAN_OK, 0, 0xCBF29CE484222325ull};
    CkptMeta m = {0};
    if (file < 0) {
        v.st = acgan_fail(err, ACGAN_ERR_CKPT, "checkpoint %s: cannot open as HDF5 (missing, truncated or not a checkpoint)", path);
    } else if ((v.st = ckpt_load_meta(file, path, &m, err)) == ACGAN_OK) {
        if (H5Lvisit(file, H5_INDEX_NAME, H5_ITER_NATIVE, ckpt_verify_visit, &v) < 0 && v.st == ACGAN_OK)
            v.st = acgan_fail(err, ACGAN_ERR_CKPT, "checkpoint %s: cannot list its contents", path);
        if (v.st == ACGAN_OK && v.n_tensors == 0)
            v.st = acgan_fail(err, ACGAN_ERR_CKPT, "checkpoint %s: holds no tensors", path);
    }
    h5_close_id(file);
    h5_quiet_end(&q);
    if (v.st == ACGAN_OK && meta) *meta = m;
    if (v.st == ACGAN_OK && hash) { /* the training state: not world_size, which may change on resume */
        const int64_t fields[5] = {m.step, m.epoch, m.adam_t_g, m.adam_t_d, (int64_t)m.seed};
        *hash = ckpt_hash_bytes(v.hash, fields, sizeof fields);
    }
    return v.st;
}
