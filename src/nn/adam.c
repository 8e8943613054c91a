/* adam.c - Adam over one contiguous parameter arena, matching torch.optim.Adam (CPU, single-tensor path,
 * no weight decay, no amsgrad).
 *
 * Per step, with t the step count after incrementing:
 *   m = lerp(m, g, 1 - b1)            (= b1 m + (1 - b1) g; torch >= 2.0 uses lerp_)
 *   v = b2 v + (1 - b2) g g           (mul_ then addcmul_)
 *   bc1 = 1 - b1^t, bc2 = 1 - b2^t    (double, as torch's Python floats)
 *   denom = sqrt(v) / sqrt(bc2) + eps
 *   p = p + (-(lr / bc1) m) / denom   (addcdiv_ with value = -lr / bc1)
 * Element-wise arithmetic is float, with every scalar rounded to float once, as torch does.
 *
 * lr and the betas are doubles, as torch keeps them (Python floats): 1 - b2 and b2^t computed from
 * float(0.999) would differ by 1.3e-5 relative.
 *
 * Buffers: m (n), v (n), zero at creation.
 *
 * On x86-64 the loop runs 4 elements at a time with SSE (sqrtps and divps are correctly rounded like
 * sqrtf and /, and the operations are the same, in the same order, so results are bit-identical); -O2
 * cannot vectorise the scalar loop itself because sqrtf may set errno.
 */
#include "acgan/adam.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "acgan/common.h"

Adam *adam_create(size_t n, double lr, double beta1, double beta2, double eps)
{
    ACGAN_ASSERT(lr >= 0.0 && isfinite(lr), "adam: lr %g must be finite and >= 0", lr);
    ACGAN_ASSERT(beta1 >= 0.0 && beta1 < 1.0, "adam: beta1 %g outside [0, 1)", beta1);
    ACGAN_ASSERT(beta2 >= 0.0 && beta2 < 1.0, "adam: beta2 %g outside [0, 1)", beta2);
    ACGAN_ASSERT(eps >= 0.0 && isfinite(eps), "adam: eps %g must be finite and >= 0", eps);
    Adam *a = acgan_calloc(1, sizeof *a);
    a->lr = lr;
    a->beta1 = beta1;
    a->beta2 = beta2;
    a->eps = eps;
    a->t = 0;
    a->n = n;
    a->m = acgan_calloc(n ? n : 1, sizeof(float));
    a->v = acgan_calloc(n ? n : 1, sizeof(float));
    return a;
}

void adam_free(Adam *a)
{
    if (!a) return;
    free(a->m);
    free(a->v);
    free(a);
}

void adam_step(Adam *a, float *params, const float *grads)
{
    ACGAN_ASSERT(a && (a->n == 0 || (params && grads)), "adam_step: NULL arena");
    a->t += 1;
    const double lr = a->lr, b1 = a->beta1, b2 = a->beta2;
    const double bc1 = 1.0 - pow(b1, (double)a->t);
    const double bc2 = 1.0 - pow(b2, (double)a->t);

    const float w1 = (float)(1.0 - b1);           /* lerp weight */
    const float beta2 = (float)b2;                /* mul_ factor */
    const float c2 = (float)(1.0 - b2);           /* addcmul_ value */
    const float neg_step = (float)(-(lr / bc1));  /* addcdiv_ value */
    const float bc2_sqrt = (float)sqrt(bc2);
    const float eps = (float)a->eps;
    const int small_w = fabsf(w1) < 0.5f;
    float *m = a->m, *v = a->v;
    size_t i = 0;
#if defined(__SSE2__)
    {
        const __m128 vw1 = _mm_set1_ps(w1), vomw1 = _mm_set1_ps(1.0f - w1), vb2 = _mm_set1_ps(beta2);
        const __m128 vc2 = _mm_set1_ps(c2), vstep = _mm_set1_ps(neg_step), vbc2 = _mm_set1_ps(bc2_sqrt);
        const __m128 veps = _mm_set1_ps(eps);
        for (; i + 4 <= a->n; i += 4) {
            const __m128 g = _mm_loadu_ps(grads + i), mi = _mm_loadu_ps(m + i);
            const __m128 d = _mm_sub_ps(g, mi);
            const __m128 mn = small_w ? _mm_add_ps(mi, _mm_mul_ps(vw1, d)) : _mm_sub_ps(g, _mm_mul_ps(d, vomw1));
            __m128 vn = _mm_mul_ps(_mm_loadu_ps(v + i), vb2);
            vn = _mm_add_ps(vn, _mm_mul_ps(_mm_mul_ps(vc2, g), g));
            const __m128 denom = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(vn), vbc2), veps);
            const __m128 pn = _mm_add_ps(_mm_loadu_ps(params + i), _mm_div_ps(_mm_mul_ps(vstep, mn), denom));
            _mm_storeu_ps(m + i, mn);
            _mm_storeu_ps(v + i, vn);
            _mm_storeu_ps(params + i, pn);
        }
    }
#endif
    for (; i < a->n; i++) {
        const float g = grads[i];
        /* torch's lerp: start + w (end - start) for |w| < 0.5, else end - (end - start)(1 - w) */
        m[i] = small_w ? m[i] + w1 * (g - m[i]) : g - (g - m[i]) * (1.0f - w1);
        v[i] = v[i] * beta2;
        v[i] = v[i] + c2 * g * g;
        const float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        params[i] = params[i] + neg_step * m[i] / denom;
    }
}
