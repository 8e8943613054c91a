/* loss.h - the ACGAN losses, each returning the mean over the batch and writing its gradient.
 *
 *   float l = loss_bce_logits(out, 1 + k, n, 1.0f, 0.25f, dout);   // adversarial logit in column 0
 *   float c = loss_cross_entropy(out + 1, 1 + k, k, labels, n, 0.25f, dout + 1, &correct);
 *
 * Inputs are read with a row stride, so both heads of one (n, 1 + k) output can be addressed in place.
 * Gradients are WRITTEN (=) as scale * d(mean loss)/d(input) into the same positions.
 * BCE uses the stable form max(x,0) - x t + log(1 + exp(-|x|)).
 */
#ifndef ACGAN_LOSS_H
#define ACGAN_LOSS_H

#include <stdint.h>

float loss_bce_logits(const float *logit, int stride, int n, float target, float scale, float *dlogit);

/* Cross-entropy on class logits (log-softmax inside). n_correct (may be NULL) receives how many rows
 * have their argmax equal to the label. */
float loss_cross_entropy(const float *logits, int stride, int k, const int32_t *labels, int n, float scale,
                         float *dlogits, int *n_correct);

/* The widely copied variant that applies softmax before cross-entropy (CE of the probabilities). */
float loss_softmax_then_ce(const float *logits, int stride, int k, const int32_t *labels, int n, float scale,
                           float *dlogits, int *n_correct);

/* Mean of sigmoid(logit) over the batch (D's probability of "real"). */
float loss_mean_sigmoid(const float *logit, int stride, int n);

#endif
