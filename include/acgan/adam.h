/* adam.h - Adam over one contiguous parameter arena, exactly as torch.optim.Adam (no weight decay).
 *
 *   Adam *opt = adam_create(m->n_params, 2e-4, 0.5, 0.999, 1e-8);
 *   adam_step(opt, m->params, m->grads);
 *
 * t += 1; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 */
#ifndef ACGAN_ADAM_H
#define ACGAN_ADAM_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    double lr, beta1, beta2, eps; /* doubles, as torch keeps them */
    int64_t t;  /* steps taken */
    float *m;   /* (n) first moment */
    float *v;   /* (n) second moment */
    size_t n;
} Adam;

Adam *adam_create(size_t n, double lr, double beta1, double beta2, double eps);
void adam_free(Adam *a);
void adam_step(Adam *a, float *params, const float *grads);

#endif
