/* conv2d_direct.h - the stride-1 direct convolution kernel behind conv2d.c (private to src/nn).
 *
 *   Conv2dSlot *s = ...;   // one entry per 16-pixel output vector, from conv2d_direct_slots
 *   conv2d_direct_image(xpad, C, plane, Wp, K, w, OC, s, nslots, y, P, bias);
 *
 * The input is one image already zero-padded: xpad (C, Hp, Wp), with at least CONV2D_DIRECT_SLACK zero
 * floats after it. The output y (OC, OH, OW), OH = Hp - K + 1, OW = Wp - K + 1, P = OH*OW, is written
 * (=), plus bias[oc] when bias != NULL. w is (OC, C, K, K), PyTorch layout.
 */
#ifndef ACGAN_CONV2D_DIRECT_H
#define ACGAN_CONV2D_DIRECT_H

#include <stddef.h>
#include <stdint.h>

#define CONV2D_DIRECT_SLACK 32 /* zero floats after xpad: the last vector of a row may read past it */

/* One output vector: 16 consecutive pixels of one output row (fewer at the row's end). */
typedef struct {
    int32_t in;    /* offset of its first pixel's top-left tap in xpad's channel plane: oh*Wp + ow */
    int32_t out;   /* offset of its first pixel in y's channel plane: oh*OW + ow */
    uint16_t mask; /* which of the 16 lanes are inside the row */
} Conv2dSlot;

/* 1 when this CPU runs the kernel (x86-64 with AVX-512F), 0 otherwise (conv2d then uses GEMM). */
int conv2d_direct_available(void);

/* Number of slots of an OH x OW output (OH * ceil(OW/16)); fills s when it is not NULL. */
int conv2d_direct_slots(int OH, int OW, int Wp, Conv2dSlot *s);

/* y (OC, P) = conv(xpad, w) [+ bias]. */
void conv2d_direct_image(const float *xpad, int C, size_t plane, int Wp, int K, const float *w, int OC,
                         const Conv2dSlot *slots, int nslots, float *y, size_t P, const float *bias);

/* Weight gradient of one image, transposed: dwt (CKK, OC) += sum_p X[j][p] dyt[p][oc], where
 * X[j][p] = xpad[joff[j] + oh*Wp + ow] is the im2col matrix read in place (joff[j] = c*plane + ki*Wp + kj
 * for j = (c, ki, kj)), p = oh*OW + ow, and dyt (P, OC) is dy of the image transposed. */
void conv2d_direct_dweight(const float *xpad, const int32_t *joff, int CKK, int Wp, int OH, int OW,
                           const float *dyt, int OC, float *dwt);

/* The same gradient for few output channels, vectorised over pixels instead: dwv (OC, CKK, 16) +=
 * per-lane partial sums (the caller adds the 16 lanes), with slots the forward's output vectors. */
void conv2d_direct_dweight_small(const float *xpad, int C, size_t plane, int Wp, int K, const Conv2dSlot *slots,
                                 int nslots, const float *dy, int OC, size_t P, float *dwv);

#endif
