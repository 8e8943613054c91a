/* testutil.c - shared test helpers: deterministic fills, temp dirs, layer gradient checks. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acgan/common.h"
#include "acgan/dataset.h"
#include "acgan/rng.h"

void test_fill_uniform(float *buf, size_t n, float lo, float hi, uint64_t seed)
{
    Rng r = rng_make(rng_key(seed, 99, 0, 0));
    for (size_t i = 0; i < n; i++) buf[i] = lo + (hi - lo) * rng_uniform(&r);
}

int test_write_synthetic_dataset(const char *path, int n, int size, int classes)
{
    uint8_t *img = acgan_malloc((size_t)n * size * size);
    int32_t *lab = acgan_malloc((size_t)n * sizeof(int32_t));
    Rng r = rng_make(rng_key(5, 6, 7, 8));
    for (int i = 0; i < n; i++) {
        lab[i] = i % classes;
        for (int p = 0; p < size * size; p++)
            img[(size_t)i * size * size + p] =
                (uint8_t)((p / size) % classes == lab[i] ? 200 + rng_below(&r, 55) : rng_below(&r, 40));
    }
    AcganError err;
    int rc = dataset_write(path, img, lab, n, 1, size, size, classes, NULL, &err);
    if (rc != ACGAN_OK) fprintf(stderr, "%s\n", err.msg);
    free(img);
    free(lab);
    return rc;
}

const char *test_tmpdir(const char *tag)
{
    static char path[256];
    static int k = 0;
    snprintf(path, sizeof path, "/tmp/acgan_test_%s_%d_%d", tag, (int)getpid(), k++);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) return NULL;
    if (mkdir(path, 0755) != 0) return NULL;
    return path;
}

double test_max_rel_err(const float *a, const float *b, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double s = fmax(1.0, fmax(fabs((double)a[i]), fabs((double)b[i])));
        if (d / s > worst) worst = d / s;
    }
    return worst;
}

void test_bind_layer(Layer *l, uint64_t seed)
{
    l->w.data = acgan_calloc(l->w.count + 1, sizeof(float));
    l->w.grad = acgan_calloc(l->w.count + 1, sizeof(float));
    l->b.data = acgan_calloc(l->b.count + 1, sizeof(float));
    l->b.grad = acgan_calloc(l->b.count + 1, sizeof(float));
    l->state = acgan_calloc(l->n_state + 1, sizeof(float));
    l->scratch = acgan_calloc(l->n_scratch + 1, sizeof(float));
    Rng r = rng_make(rng_key(seed, RNG_STREAM_INIT, 0, 0));
    if (l->ops->init) l->ops->init(l, &r);
}

void test_unbind_layer(Layer *l)
{
    free(l->w.data);
    free(l->w.grad);
    free(l->b.data);
    free(l->b.grad);
    free(l->state);
    free(l->scratch);
    l->w.data = l->w.grad = l->b.data = l->b.grad = l->state = l->scratch = NULL;
}

static double weighted_sum(const float *y, const float *r, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)y[i] * (double)r[i];
    return s;
}

/* Compares analytic and central-difference gradients of L = sum(r .* y) for one buffer. */
static double check_buffer(Layer *l, float *x, int n, float *buf, const float *analytic, size_t count, float h,
                           const PassCtx *ctx, const float *r, float *y, const char *what)
{
    size_t ny = (size_t)n * shape_size(l->out);
    double worst = 0;
    size_t worst_i = 0;
    double worst_a = 0, worst_n = 0;
    for (size_t i = 0; i < count; i++) {
        float keep = buf[i];
        buf[i] = keep + h;
        l->ops->forward(l, x, y, n, ctx);
        double lp = weighted_sum(y, r, ny);
        buf[i] = keep - h;
        l->ops->forward(l, x, y, n, ctx);
        double lm = weighted_sum(y, r, ny);
        buf[i] = keep;
        double num = (lp - lm) / (2.0 * h);
        double err = fabs(num - analytic[i]) / fmax(1e-2, fmax(fabs(num), fabs(analytic[i])));
        if (err > worst) {
            worst = err;
            worst_i = i;
            worst_a = analytic[i];
            worst_n = num;
        }
    }
    if (worst > 1e-2)
        printf("gradcheck %s %s[%zu]: analytic %.6g numeric %.6g (rel err %.3g)\n", l->ops->kind, what, worst_i,
               worst_a, worst_n, worst);
    return worst;
}

double gradcheck_layer(Layer *l, float *x, int n, float h, const PassCtx *ctx)
{
    PassCtx def = {.train = 1, .update_stats = 0, .pass_key = 12345, .sample0 = 0};
    if (!ctx) ctx = &def;
    size_t nx = (size_t)n * shape_size(l->in), ny = (size_t)n * shape_size(l->out);
    float *y = acgan_malloc(ny * sizeof(float));
    float *r = acgan_malloc(ny * sizeof(float));
    float *dx = acgan_malloc(nx * sizeof(float));
    float *dw = acgan_malloc((l->w.count + 1) * sizeof(float));
    float *db = acgan_malloc((l->b.count + 1) * sizeof(float));
    test_fill_uniform(r, ny, -1.0f, 1.0f, 777);

    l->ops->forward(l, x, y, n, ctx);
    memset(l->w.grad, 0, l->w.count * sizeof(float));
    memset(l->b.grad, 0, l->b.count * sizeof(float));
    l->ops->backward(l, x, y, r, dx, n, 1);
    memcpy(dw, l->w.grad, l->w.count * sizeof(float));
    memcpy(db, l->b.grad, l->b.count * sizeof(float));

    double worst = check_buffer(l, x, n, x, dx, nx, h, ctx, r, y, "dx");
    if (l->w.count) worst = fmax(worst, check_buffer(l, x, n, l->w.data, dw, l->w.count, h, ctx, r, y, "dw"));
    if (l->b.count) worst = fmax(worst, check_buffer(l, x, n, l->b.data, db, l->b.count, h, ctx, r, y, "db"));
    free(y);
    free(r);
    free(dx);
    free(dw);
    free(db);
    return worst;
}
