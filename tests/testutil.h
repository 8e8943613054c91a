/* testutil.h - helpers shared by the Check suites.
 *
 *   float dx_num[N];
 *   gradcheck_layer(l, x, n, tol);    // finite differences vs backward, for inputs and parameters
 *   char *dir = test_tmpdir("ckpt");  // fresh directory under /tmp, unique per process
 */
#ifndef ACGAN_TESTUTIL_H
#define ACGAN_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "acgan/layer.h"

/* Fills buf with values uniform in [lo, hi) from a fixed seed. */
void test_fill_uniform(float *buf, size_t n, float lo, float hi, uint64_t seed);
/* Writes a synthetic dataset (n images of 1 x size x size, labels i % classes; class k is bright in the rows
 * where row % classes == k, so classes are learnable). Returns ACGAN_OK or prints the error. */
int test_write_synthetic_dataset(const char *path, int n, int size, int classes);
/* Makes and returns a fresh empty directory /tmp/acgan_test_<tag>_<pid>_<k> (static buffer). */
const char *test_tmpdir(const char *tag);
/* Max over i of |a-b| / max(1, |a|, |b|). */
double test_max_rel_err(const float *a, const float *b, size_t n);

/* Finite-difference check of a layer's backward (inputs and parameters) on input x (n samples),
 * with loss L = sum(r .* y) for a fixed random r. Uses central differences with step h in float;
 * returns the worst error max|analytic - numeric| / max(atol, |numeric|) style relative figure and
 * prints the worst entry. The layer must be bound (e.g. via test_bind_layer). ctx may be NULL (train). */
double gradcheck_layer(Layer *l, float *x, int n, float h, const PassCtx *ctx);
/* Allocates and binds params/grads/state/scratch of a standalone layer and runs its init (seeded). */
void test_bind_layer(Layer *l, uint64_t seed);
void test_unbind_layer(Layer *l);

#endif
