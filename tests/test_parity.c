/* test_parity.c - the whole ACGAN against PyTorch: one full training step, for several model variants.
 *
 * Fixtures: tests/fixtures/parity_*.h5, written by scripts/make_fixtures.py (PyTorch builds the same G and D,
 * runs one step exactly as acgan_step_with_inputs does and stores inputs, parameters in arena order, outputs,
 * losses, gradients, the Adam update of every parameter and BatchNorm statistics after; see the script for the
 * layout). To keep the files small the gradients and the update (after - before, taken in float64 from torch's
 * float32 values) are stored rounded to 16 significant bits: relative error <= 2^-16 ~ 1.5e-5, i.e. <= ~2e-9
 * absolute for an update of ~lr = 2e-4, both far inside the tolerances below.
 * For each fixture (a listed one that is missing, or a missing tensor, is a failure, not a skip):
 *   (i)  forward only, train mode, statistics not updated: G(z, c), D(G(z, c), c) and D(real, y);
 *   (ii) on a freshly loaded model, acgan_step_with_inputs: the two losses, every gradient tensor of both arenas
 *        (per layer weight / bias, in arena order, named after the torch tensor), the Adam update of every
 *        parameter, and the BatchNorm running statistics after.
 * Metrics and tolerances:
 *   outputs          max|c - t| / max|t| over the tensor                    <= 1e-4
 *   losses           |c - t| / |t|                                          <= 1e-4
 *   gradients        ||c - t|| / ||t|| per tensor                           <= 1e-3
 *                    A tensor whose reference norm is below NOISE_REL * ||whole arena's gradient|| is float32
 *                    rounding noise (the G convolution biases in front of a BatchNorm: their exact gradient is
 *                    0, torch's float64 rerun gives ~1e-17); for those ||c - t|| <= NOISE_REL * ||arena||.
 *   params after     |dc - dt| <= 1e-5 + lr |f(g_c) - f(g_t)|: dc = the C parameter after the step minus
 *                    before (taken in double from the two floats: exact), dt = torch's update (the fixture's
 *                    delta_after), so |dc - dt| is |c - t| after Adam up to dt's storage rounding (~1e-9).
 *                    f(g) = g / (|g| + eps): Adam's first step is
 *                    -lr f(g), which moves a parameter by ~lr however small its gradient, so a gradient at the
 *                    rounding-noise level gets an arbitrary step; the allowance is exactly the difference the
 *                    two gradients imply (~0 for ordinary elements). Such elements: the G conv biases above,
 *                    and D conv-bias channels whose pre-activations all share a sign (LeakyReLU then acts
 *                    linearly and the BatchNorm after it cancels the sum). The summary prints the worst
 *                    difference where the step is well determined, and how many elements needed the allowance.
 *   BatchNorm state  max|c - t| / max|t| per running mean / running var      <= 1e-4
 * One summary line per fixture is printed with the worst figures.
 */
#include <check.h>
#include <dirent.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acgan/acgan.h"
#include "acgan/loss.h"
#include "testutil.h"

#define TOL_OUT 1e-4
#define TOL_LOSS 1e-4
#define TOL_GRAD 1e-3
#define TOL_PARAM 1e-5
#define TOL_BN 1e-4
#define NOISE_REL 1e-6
#define WELL_DETERMINED 1e-7 /* Adam-step allowance below which an element's step counts as well determined */
#define NAME_LEN 48 /* fixed-length names in M/arena_names */

/* Every fixture the test requires; any other parity_*.h5 in the directory is an error (list it here). */
static const char *const FIXTURES[] = {"conv32", "mlp16", "conv28", "conv64rgb", "k7_multiply_softmax"};
#define N_FIXTURES ((int)(sizeof FIXTURES / sizeof FIXTURES[0]))

/* ---- reading a fixture ---- */

typedef struct {
    float *params, *grads, *delta_after; /* (n_params); delta_after = params after the step - params */
    float *bn_state, *bn_state_after;     /* (n_state) */
    size_t n_params, n_state;
    int n_tensors;
    char (*names)[NAME_LEN + 1]; /* (n_tensors) torch names, arena order */
    int64_t *counts;             /* (n_tensors) */
} RefModel;

typedef struct {
    const char *name;
    char path[1024];
    AcganSpec spec;
    int n; /* batch */
    float *z, *real;           /* (n, latent), (n, C, H, W) */
    int32_t *gen_labels, *real_labels; /* (n) */
    float *fake;               /* (n, C, H, W) */
    float *d_out_gstep, *d_out_real, *d_out_fake; /* (n, 1 + K) */
    double g_loss, d_loss;
    RefModel g, d;
} Fixture;

static const char *fixture_dir(void)
{
    static char dir[900];
    const char *t = getenv("ACGAN_TEST_DIR");
    ck_assert_msg(t != NULL && t[0], "ACGAN_TEST_DIR is not set (ctest sets it to the tests/ directory)");
    snprintf(dir, sizeof dir, "%s/fixtures", t);
    return dir;
}

/* 1 if every component of path (a/b/c) exists as a link in f. */
static int h5_exists(hid_t f, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf;; p++) {
        if (*p == '/' || *p == '\0') {
            const char c = *p;
            *p = '\0';
            if (H5Lexists(f, buf, H5P_DEFAULT) <= 0) return 0;
            if (c == '\0') return 1;
            *p = c;
        }
    }
}

/* Reads dataset `name` as mem_type; its element count must be `count` (or, when count == 0, is returned). */
static void *read_dataset(hid_t f, const Fixture *fx, const char *name, hid_t mem_type, size_t elem, size_t *count)
{
    ck_assert_msg(h5_exists(f, name), "fixture %s: tensor '%s' is missing", fx->path, name);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    ck_assert_msg(d >= 0, "fixture %s: cannot open '%s'", fx->path, name);
    hid_t sp = H5Dget_space(d);
    const hssize_t npts = H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    ck_assert_msg(npts >= 0, "fixture %s: '%s' has no extent", fx->path, name);
    if (*count)
        ck_assert_msg((size_t)npts == *count, "fixture %s: '%s' has %lld values, expected %zu", fx->path, name,
                      (long long)npts, *count);
    *count = (size_t)npts;
    void *buf = calloc(npts ? (size_t)npts : 1, elem);
    ck_assert_msg(buf != NULL, "out of memory");
    ck_assert_msg(npts == 0 || H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0,
                  "fixture %s: cannot read '%s'", fx->path, name);
    H5Dclose(d);
    return buf;
}

static float *read_floats(hid_t f, const Fixture *fx, const char *name, size_t count)
{
    return read_dataset(f, fx, name, H5T_NATIVE_FLOAT, sizeof(float), &count);
}

static void read_attr(hid_t f, const Fixture *fx, const char *name, hid_t mem_type, void *out)
{
    ck_assert_msg(H5Aexists(f, name) > 0, "fixture %s: attribute '%s' is missing", fx->path, name);
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    ck_assert_msg(a >= 0 && H5Aread(a, mem_type, out) >= 0, "fixture %s: cannot read attribute '%s'", fx->path,
                  name);
    H5Aclose(a);
}

static int attr_int(hid_t f, const Fixture *fx, const char *name)
{
    int v = 0;
    read_attr(f, fx, name, H5T_NATIVE_INT, &v);
    return v;
}

static double attr_double(hid_t f, const Fixture *fx, const char *name)
{
    double v = 0;
    read_attr(f, fx, name, H5T_NATIVE_DOUBLE, &v);
    return v;
}

/* A fixed-length string attribute, as h5py writes numpy bytes. */
static void attr_string(hid_t f, const Fixture *fx, const char *name, char *out, size_t cap)
{
    ck_assert_msg(H5Aexists(f, name) > 0, "fixture %s: attribute '%s' is missing", fx->path, name);
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    hid_t ft = H5Aget_type(a);
    ck_assert_msg(H5Tget_class(ft) == H5T_STRING && !H5Tis_variable_str(ft),
                  "fixture %s: attribute '%s' is not a fixed-length string", fx->path, name);
    const size_t len = H5Tget_size(ft);
    ck_assert_msg(len < cap, "fixture %s: attribute '%s' too long", fx->path, name);
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, len);
    H5Tset_strpad(mt, H5T_STR_NULLPAD);
    memset(out, 0, cap);
    ck_assert_msg(H5Aread(a, mt, out) >= 0, "fixture %s: cannot read attribute '%s'", fx->path, name);
    H5Tclose(mt);
    H5Tclose(ft);
    H5Aclose(a);
}

/* Maps a string attribute to one of two enum values. */
static int attr_choice(hid_t f, const Fixture *fx, const char *name, const char *v0, const char *v1)
{
    char s[64];
    attr_string(f, fx, name, s, sizeof s);
    if (!strcmp(s, v0)) return 0;
    ck_assert_msg(!strcmp(s, v1), "fixture %s: attribute %s = '%s', expected '%s' or '%s'", fx->path, name, s, v0, v1);
    return 1;
}

static void ref_model_load(hid_t f, Fixture *fx, RefModel *m, const char *key)
{
    char nm[128];
    snprintf(nm, sizeof nm, "%s/params", key);
    m->n_params = 0;
    m->params = read_dataset(f, fx, nm, H5T_NATIVE_FLOAT, sizeof(float), &m->n_params);
    snprintf(nm, sizeof nm, "%s/grads", key);
    m->grads = read_floats(f, fx, nm, m->n_params);
    snprintf(nm, sizeof nm, "%s/delta_after", key);
    m->delta_after = read_floats(f, fx, nm, m->n_params);
    snprintf(nm, sizeof nm, "%s/bn_state", key);
    m->n_state = 0;
    m->bn_state = read_dataset(f, fx, nm, H5T_NATIVE_FLOAT, sizeof(float), &m->n_state);
    snprintf(nm, sizeof nm, "%s/bn_state_after", key);
    m->bn_state_after = read_floats(f, fx, nm, m->n_state);
    snprintf(nm, sizeof nm, "%s/arena_counts", key);
    size_t nt = 0;
    m->counts = read_dataset(f, fx, nm, H5T_NATIVE_INT64, sizeof(int64_t), &nt);
    m->n_tensors = (int)nt;
    snprintf(nm, sizeof nm, "%s/arena_names", key);
    hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, NAME_LEN);
    H5Tset_strpad(str, H5T_STR_NULLPAD);
    char *raw = read_dataset(f, fx, nm, str, NAME_LEN, &nt);
    H5Tclose(str);
    m->names = calloc(nt, sizeof *m->names);
    for (size_t i = 0; i < nt; i++) memcpy(m->names[i], raw + i * NAME_LEN, NAME_LEN);
    free(raw);
}

static void ref_model_free(RefModel *m)
{
    free(m->params);
    free(m->grads);
    free(m->delta_after);
    free(m->bn_state);
    free(m->bn_state_after);
    free(m->names);
    free(m->counts);
}

static void fixture_load(Fixture *fx, const char *name)
{
    memset(fx, 0, sizeof *fx);
    fx->name = name;
    snprintf(fx->path, sizeof fx->path, "%s/parity_%s.h5", fixture_dir(), name);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    FILE *probe = fopen(fx->path, "rb");
    ck_assert_msg(probe != NULL, "fixture %s is missing (regenerate with scripts/make_fixtures.py)", fx->path);
    fclose(probe);
    hid_t f = H5Fopen(fx->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_msg(f >= 0, "fixture %s: not a readable HDF5 file", fx->path);

    AcganSpec s = acgan_spec_default(attr_int(f, fx, "n_classes"), attr_int(f, fx, "channels"),
                                     attr_int(f, fx, "img_size"));
    s.latent_dim = attr_int(f, fx, "latent_dim");
    s.bn_eps = (float)attr_double(f, fx, "bn_eps");
    s.bn_momentum = (float)attr_double(f, fx, "bn_momentum");
    s.disc = attr_choice(f, fx, "disc", "conv", "mlp") ? ACGAN_DISC_MLP : ACGAN_DISC_CONV;
    s.label_input = attr_choice(f, fx, "label_input", "concat", "multiply") ? ACGAN_LABEL_MULTIPLY : ACGAN_LABEL_CONCAT;
    s.aux_loss = attr_choice(f, fx, "aux_loss", "logits", "softmax_then_ce") ? ACGAN_AUX_SOFTMAX_CE : ACGAN_AUX_LOGITS;
    s.dropout = (float)attr_double(f, fx, "dropout");
    ck_assert_msg(s.dropout == 0.0f, "fixture %s: dropout %g, the comparison needs 0", fx->path, (double)s.dropout);
    s.lr = attr_double(f, fx, "lr");
    s.beta1 = attr_double(f, fx, "beta1");
    s.beta2 = attr_double(f, fx, "beta2");
    ck_assert_msg(attr_double(f, fx, "adam_eps") == 1e-8, "fixture %s: Adam eps must be acgan's 1e-8", fx->path);
    fx->spec = s;
    fx->n = attr_int(f, fx, "batch");
    ck_assert_msg(fx->n >= 2 && s.n_classes >= 1 && s.img_size % 4 == 0, "fixture %s: bad spec", fx->path);

    const size_t n = (size_t)fx->n, K = (size_t)s.n_classes;
    const size_t px = (size_t)s.channels * s.img_size * s.img_size;
    size_t cnt = n;
    fx->z = read_floats(f, fx, "z", n * s.latent_dim);
    fx->gen_labels = read_dataset(f, fx, "gen_labels", H5T_NATIVE_INT32, sizeof(int32_t), &cnt);
    fx->real = read_floats(f, fx, "real", n * px);
    fx->real_labels = read_dataset(f, fx, "real_labels", H5T_NATIVE_INT32, sizeof(int32_t), &cnt);
    fx->fake = read_floats(f, fx, "fake", n * px);
    fx->d_out_gstep = read_floats(f, fx, "d_out_gstep", n * (1 + K));
    fx->d_out_real = read_floats(f, fx, "d_out_real", n * (1 + K));
    fx->d_out_fake = read_floats(f, fx, "d_out_fake", n * (1 + K));
    cnt = 1;
    double *l = read_dataset(f, fx, "g_loss", H5T_NATIVE_DOUBLE, sizeof(double), &cnt);
    fx->g_loss = *l;
    free(l);
    l = read_dataset(f, fx, "d_loss", H5T_NATIVE_DOUBLE, sizeof(double), &cnt);
    fx->d_loss = *l;
    free(l);
    ref_model_load(f, fx, &fx->g, "G");
    ref_model_load(f, fx, &fx->d, "D");
    H5Fclose(f);
}

static void fixture_free(Fixture *fx)
{
    free(fx->z);
    free(fx->real);
    free(fx->gen_labels);
    free(fx->real_labels);
    free(fx->fake);
    free(fx->d_out_gstep);
    free(fx->d_out_real);
    free(fx->d_out_fake);
    ref_model_free(&fx->g);
    ref_model_free(&fx->d);
}

/* ---- the C model's arena, tensor by tensor ---- */

typedef struct {
    const Layer *layer;
    size_t off, count;
} ArenaTensor;

/* The arena's weight and bias views in binding order (side layers, then the sequence); returns how many. */
static int arena_tensors(const Model *m, ArenaTensor *out, int cap)
{
    int k = 0;
    for (int pass = 0; pass < 2; pass++) {
        Layer *const *arr = pass ? m->layers : m->side;
        const int nl = pass ? m->n_layers : m->n_side;
        for (int i = 0; i < nl; i++) {
            const ParamView *v[2] = {&arr[i]->w, &arr[i]->b};
            for (int j = 0; j < 2; j++)
                if (v[j]->count) {
                    ck_assert_int_lt(k, cap);
                    out[k++] = (ArenaTensor){arr[i], (size_t)(v[j]->data - m->params), v[j]->count};
                }
        }
    }
    return k;
}

/* Checks the C arena's tensors against the fixture's list (same count, sizes and order, contiguous). */
static int arena_match(const Fixture *fx, const char *key, const Model *m, const RefModel *r, ArenaTensor *t, int cap)
{
    const int k = arena_tensors(m, t, cap);
    ck_assert_msg(m->n_params == r->n_params && m->n_state == r->n_state,
                  "%s %s: C arena has %zu params / %zu state, fixture %zu / %zu", fx->name, key, m->n_params,
                  m->n_state, r->n_params, r->n_state);
    ck_assert_msg(k == r->n_tensors, "%s %s: C arena has %d tensors, fixture %d", fx->name, key, k, r->n_tensors);
    size_t off = 0;
    for (int i = 0; i < k; i++) {
        ck_assert_msg(t[i].off == off && (int64_t)t[i].count == r->counts[i],
                      "%s %s: arena tensor %d (%s, C %s) at %zu with %zu values, fixture expects %lld at %zu",
                      fx->name, key, i, r->names[i], t[i].layer->ops->kind, t[i].off, t[i].count,
                      (long long)r->counts[i], off);
        off += t[i].count;
    }
    ck_assert_uint_eq(off, m->n_params);
    return k;
}

/* A fresh Acgan holding the fixture's parameters and BatchNorm statistics from before the step. */
static Acgan *fixture_build(const Fixture *fx)
{
    Acgan *a = acgan_create(&fx->spec, fx->n);
    Model *ms[2] = {a->g, a->d};
    const RefModel *rs[2] = {&fx->g, &fx->d};
    for (int i = 0; i < 2; i++) {
        ck_assert_msg(ms[i]->n_params == rs[i]->n_params && ms[i]->n_state == rs[i]->n_state,
                      "%s %s: C model has %zu params / %zu state, fixture %zu / %zu", fx->name, ms[i]->name,
                      ms[i]->n_params, ms[i]->n_state, rs[i]->n_params, rs[i]->n_state);
        memcpy(ms[i]->params, rs[i]->params, rs[i]->n_params * sizeof(float));
        memcpy(ms[i]->state, rs[i]->bn_state, rs[i]->n_state * sizeof(float));
    }
    memcpy(a->z, fx->z, (size_t)fx->n * fx->spec.latent_dim * sizeof(float));
    memcpy(a->gen_labels, fx->gen_labels, (size_t)fx->n * sizeof(int32_t));
    return a;
}

/* ---- metrics ---- */

/* max|c - t| / max|t| */
static double max_scaled_err(const float *c, const float *t, size_t n)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)c[i] - (double)t[i]));
        s = fmax(s, fabs((double)t[i]));
    }
    return s > 0 ? d / s : d;
}

static double norm2(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return sqrt(s);
}

static double diff_norm2(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = (double)a[i] - (double)b[i];
        s += d * d;
    }
    return sqrt(s);
}

typedef struct {
    double fwd, loss, grad, bn;
    double param;         /* max |dc - dt| of Adam's update where it is well determined (allowance <= WELL_DETERMINED) */
    double param_allowed; /* max |dc - dt| of the elements beyond TOL_PARAM (all within their allowance) */
    double allowed_gmax;  /* the largest torch |gradient| among those */
    char fwd_at[64], grad_at[96], param_at[96], bn_at[96];
    int noise_tensors, allowance_used;
} Worst;

static void note(double v, double *worst, char *at, size_t cap, const char *fmt, const char *a, const char *b)
{
    if (v > *worst || !at[0]) {
        *worst = v > *worst ? v : *worst;
        snprintf(at, cap, fmt, a, b);
    }
}

static void check_output(const Fixture *fx, const char *what, const float *c, const float *t, size_t n, Worst *w)
{
    const double e = max_scaled_err(c, t, n);
    ck_assert_msg(e <= TOL_OUT, "%s: %s differs from torch: max|c-t|/max|t| = %.3g > %g", fx->name, what, e, TOL_OUT);
    note(e, &w->fwd, w->fwd_at, sizeof w->fwd_at, "%s%s", what, "");
}

/* Per-tensor gradient check of one model. Every tensor is checked and each failing one printed before the
 * test fails, so the pattern (which layers are off) points at the broken layer. */
static void check_grads(const Fixture *fx, const char *key, const Model *m, const RefModel *r, Worst *w)
{
    ArenaTensor t[64];
    const int k = arena_match(fx, key, m, r, t, 64);
    const double floor = NOISE_REL * norm2(r->grads, r->n_params);
    int bad = 0;
    char first[256] = "";
    for (int i = 0; i < k; i++) {
        const float *c = m->grads + t[i].off, *ref = r->grads + t[i].off;
        const double nr = norm2(ref, t[i].count), nd = diff_norm2(c, ref, t[i].count);
        const int noise = nr < floor; /* exact gradient 0: both sides hold rounding noise, held to the noise bound */
        const double e = noise ? nd : nd / nr;
        if (noise ? nd > floor : e > TOL_GRAD) {
            char msg[256];
            snprintf(msg, sizeof msg, "%s %s %s (%s, %zu values): ||c-t||%s = %.3g > %.3g (||t|| %.3g, ||c|| %.3g)",
                     fx->name, key, r->names[i], t[i].layer->ops->kind, t[i].count, noise ? "" : "/||t||", e,
                     noise ? floor : TOL_GRAD, nr, norm2(c, t[i].count));
            printf("  gradient differs from torch: %s\n", msg);
            if (!bad++) snprintf(first, sizeof first, "%s", msg);
            continue;
        }
        if (noise)
            w->noise_tensors++;
        else
            note(e, &w->grad, w->grad_at, sizeof w->grad_at, "%s %s", key, r->names[i]);
    }
    fflush(stdout);
    ck_assert_msg(bad == 0, "%d gradient tensor(s) differ from torch (all listed above); first: %s", bad, first);
}

/* Parameters after Adam, as the update (after - before) against torch's; the allowance for Adam's first step on
 * tiny gradients is described at the top. */
static void check_params_after(const Fixture *fx, const char *key, const Model *m, const Adam *opt,
                               const RefModel *r, Worst *w)
{
    ArenaTensor t[64];
    const int k = arena_match(fx, key, m, r, t, 64);
    ck_assert_msg(opt->t == 1, "%s %s: Adam took %lld steps, expected 1", fx->name, key, (long long)opt->t);
    const double lr = fx->spec.lr, eps = opt->eps;
    for (int i = 0; i < k; i++)
        for (size_t j = t[i].off; j < t[i].off + t[i].count; j++) {
            /* both floats in double: the difference of two nearby floats is exact */
            const double dc = (double)m->params[j] - (double)r->params[j], dt = r->delta_after[j];
            const double d = fabs(dc - dt);
            const double gc = m->grads[j], gt = r->grads[j];
            const double allow = lr * fabs(gc / (fabs(gc) + eps) - gt / (fabs(gt) + eps));
            ck_assert_msg(d <= TOL_PARAM + allow,
                          "%s %s %s [%zu]: Adam update %.9g (parameter %.9g -> %.9g), torch %.9g (|diff| %.3g > "
                          "%g + %.3g; grads C %.6g torch %.6g)",
                          fx->name, key, r->names[i], j - t[i].off, dc, (double)r->params[j], (double)m->params[j],
                          dt, d, TOL_PARAM, allow, gc, gt);
            if (d > TOL_PARAM) {
                w->allowance_used++;
                w->allowed_gmax = fmax(w->allowed_gmax, fabs(gt));
                note(d, &w->param_allowed, w->param_at, sizeof w->param_at, "%s %s", key, r->names[i]);
            }
            if (allow <= WELL_DETERMINED) w->param = fmax(w->param, d);
        }
}

static void check_bn_state(const Fixture *fx, const char *key, const Model *m, const RefModel *r, Worst *w)
{
    ArenaTensor t[64];
    const int k = arena_match(fx, key, m, r, t, 64);
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *l = m->layers[i];
        if (!l->n_state) continue;
        const char *tn = "?"; /* torch name of the layer's weight, e.g. "bn1.weight" */
        for (int j = 0; j < k; j++)
            if (t[j].layer == l) {
                tn = r->names[j];
                break;
            }
        const size_t C = l->n_state / 2, off = (size_t)(l->state - m->state);
        for (int part = 0; part < 2; part++) {
            const char *what = part ? "running_var" : "running_mean";
            const double e = max_scaled_err(l->state + part * C, r->bn_state_after + off + part * C, C);
            ck_assert_msg(e <= TOL_BN, "%s %s %s: %s after the step differs from torch: %.3g > %g", fx->name, key, tn,
                          what, e, TOL_BN);
            note(e, &w->bn, w->bn_at, sizeof w->bn_at, "%s %s", key, tn);
        }
    }
}

/* ---- the tests ---- */

START_TEST(test_fixture)
{
    Fixture fx;
    fixture_load(&fx, FIXTURES[_i]);
    const AcganSpec *s = &fx.spec;
    const int n = fx.n, K = s->n_classes;
    const size_t px = (size_t)s->channels * s->img_size * s->img_size, no = (size_t)n * (1 + K);
    Worst w = {0};

    /* (i) forward only: train mode (batch statistics), running statistics untouched */
    Acgan *a = fixture_build(&fx);
    const PassCtx fwd = {.train = 1, .update_stats = 0, .pass_key = 0, .sample0 = 0};
    float *fake = malloc(n * px * sizeof(float));
    memcpy(fake, acgan_forward_g(a, n, &fwd), n * px * sizeof(float));
    check_output(&fx, "fake = G(z, c)", fake, fx.fake, n * px, &w);
    check_output(&fx, "D(fake) in the G step", acgan_forward_d(a, fake, fx.gen_labels, n, &fwd), fx.d_out_gstep, no, &w);
    check_output(&fx, "D(fake) in the D step", acgan_forward_d(a, fake, fx.gen_labels, n, &fwd), fx.d_out_fake, no, &w);
    check_output(&fx, "D(real)", acgan_forward_d(a, fx.real, fx.real_labels, n, &fwd), fx.d_out_real, no, &w);
    ck_assert_msg(!memcmp(a->g->state, fx.g.bn_state, fx.g.n_state * sizeof(float)) &&
                      !memcmp(a->d->state, fx.d.bn_state, fx.d.n_state * sizeof(float)),
                  "%s: update_stats = 0 changed BatchNorm running statistics", fx.name);
    acgan_free(a);

    /* (ii) one full training step on a freshly loaded model */
    a = fixture_build(&fx);
    AcganStepStats st;
    acgan_step_with_inputs(a, fx.real, fx.real_labels, n, 0, 0, &st);
    const double eg = fabs(st.g_loss - fx.g_loss) / fabs(fx.g_loss), ed = fabs(st.d_loss - fx.d_loss) / fabs(fx.d_loss);
    ck_assert_msg(eg <= TOL_LOSS, "%s: g_loss %.9g, torch %.9g (rel %.3g)", fx.name, st.g_loss, fx.g_loss, eg);
    ck_assert_msg(ed <= TOL_LOSS, "%s: d_loss %.9g, torch %.9g (rel %.3g)", fx.name, st.d_loss, fx.d_loss, ed);
    w.loss = fmax(eg, ed);
    check_grads(&fx, "G", a->g, &fx.g, &w);
    check_grads(&fx, "D", a->d, &fx.d, &w);
    check_params_after(&fx, "G", a->g, a->opt_g, &fx.g, &w);
    check_params_after(&fx, "D", a->d, a->opt_d, &fx.d, &w);
    check_bn_state(&fx, "G", a->g, &fx.g, &w);
    check_bn_state(&fx, "D", a->d, &fx.d, &w);

    printf("parity %-19s fwd %.1e (%s) | loss %.1e | grad %.1e (%s; %d tensors ~0) | params after %.1e; "
           "%d elems with |g| <= %.0e beyond %.0e (max %.1e, %s) | bn %.1e (%s)\n",
           fx.name, w.fwd, w.fwd_at, w.loss, w.grad, w.grad_at, w.noise_tensors, w.param, w.allowance_used,
           w.allowed_gmax, TOL_PARAM, w.param_allowed, w.allowance_used ? w.param_at : "-", w.bn, w.bn_at);
    fflush(stdout);
    free(fake);
    acgan_free(a);
    fixture_free(&fx);
}
END_TEST

/* Every parity_*.h5 in tests/fixtures is one of the listed fixtures (so none is silently left out). */
START_TEST(test_fixture_list)
{
    const char *dir = fixture_dir();
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "fixture directory %s is missing", dir);
    int found = 0;
    for (struct dirent *e; (e = readdir(d));) {
        const size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "parity_", 7) || len < 10 || strcmp(e->d_name + len - 3, ".h5")) continue;
        int listed = 0;
        for (int i = 0; i < N_FIXTURES; i++)
            if (len == 7 + strlen(FIXTURES[i]) + 3 && !strncmp(e->d_name + 7, FIXTURES[i], len - 10)) listed = 1;
        ck_assert_msg(listed, "%s/%s is not in test_parity.c's FIXTURES list", dir, e->d_name);
        found++;
    }
    closedir(d);
    ck_assert_int_eq(found, N_FIXTURES);
}
END_TEST

/* The aux-loss variants differ: logits (10, 0, ..., 0) with label 0 (k = 10). Cross-entropy on the logits is
 * log(1 + 9 e^-10) ~ 4.09e-4; cross-entropy on softmax probabilities is ~1.4615 (probabilities are in [0, 1],
 * so the loss can never go below log(1 + 9/e) ~ 1.46 for a confident correct prediction). */
START_TEST(test_aux_loss_variants)
{
    enum { K = 10 };
    float x[K] = {10.0f};
    const int32_t y = 0;
    double s = 0, p[K], s2 = 0;
    for (int j = 0; j < K; j++) s += exp((double)x[j]);
    const double ce_ref = log(s) - x[0];
    for (int j = 0; j < K; j++) p[j] = exp((double)x[j]) / s;
    for (int j = 0; j < K; j++) s2 += exp(p[j]);
    const double sce_ref = log(s2) - p[0];
    ck_assert_double_eq_tol(ce_ref, log1p(9.0 * exp(-10.0)), 1e-12);
    ck_assert_double_eq_tol(sce_ref, 1.4615, 5e-5);

    const double ce = loss_cross_entropy(x, K, K, &y, 1, 1.0f, NULL, NULL);
    const double sce = loss_softmax_then_ce(x, K, K, &y, 1, 1.0f, NULL, NULL);
    ck_assert_msg(fabs(ce - ce_ref) <= 1e-6 * ce_ref, "cross_entropy %.9g, expected %.9g", ce, ce_ref);
    ck_assert_msg(fabs(sce - sce_ref) <= 1e-6 * sce_ref, "softmax_then_ce %.9g, expected %.9g", sce, sce_ref);
    ck_assert_msg(sce - ce > 1.0, "the variants should differ by > 1: %.6g vs %.6g", sce, ce);
    printf("aux loss, logits (10, 0 x 9), label 0: cross_entropy %.6e, softmax_then_ce %.6f\n", ce, sce);
}
END_TEST

static Suite *parity_suite(void)
{
    Suite *s = suite_create("parity");
    TCase *tc = tcase_create("torch");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fixture_list);
    tcase_add_loop_test(tc, test_fixture, 0, N_FIXTURES);
    tcase_add_test(tc, test_aux_loss_variants);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(parity_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
