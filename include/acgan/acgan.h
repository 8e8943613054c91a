/* acgan.h - the ACGAN itself: generator, discriminator, losses and the G-step/D-step order.
 *
 *   AcganSpec s = acgan_spec_default(10, 1, 32);        // classes, channels, image size
 *   Acgan *a = acgan_create(&s, local_batch);          // s.seed keys weights, noise and dropout
 *   AcganStepStats st;
 *   acgan_train_step(a, real, labels, n, step, sample0, &st);  // one G update, then one D update
 *   acgan_generate(a, z, labels, n, out);               // eval mode: running BatchNorm statistics
 *
 * G(z, c): Embedding(K, K) concatenated with z (or Embedding(K, latent) * z) -> Linear -> (128, s, s)
 *   -> BN -> Up2 -> Conv3 -> BN(eps) -> LReLU -> Up2 -> Conv3 -> BN(eps) -> LReLU -> Conv3 -> Tanh.
 * D(x): conv: 4 x [Conv3 stride 2 -> LReLU -> Dropout2d(0.25) (-> BN(eps) after the first)], or mlp
 *   (flattened x concatenated with Embedding(K, K)(c), 3 x Linear(512)); then ONE Linear producing
 *   (1 + K) columns: column 0 is the adversarial logit, columns 1..K the class logits (identical to two
 *   separate heads whose weight rows are stacked).
 * Losses: g = 0.5 (BCE(D(G(z,c)), 1) + CE(aux, c));
 *         d = 0.5 [ (BCE(real, 1) + CE(aux_real, y)) / 2 + (BCE(fake, 0) + CE(aux_fake, c)) / 2 ].
 * Each update: gradients of the local batch, one allreduce-mean per model, Adam. A NaN/Inf loss or
 * gradient on any rank is seen by all (it survives the allreduce): that update is not applied.
 */
#ifndef ACGAN_ACGAN_H
#define ACGAN_ACGAN_H

#include <stdint.h>

#include "acgan/adam.h"
#include "acgan/model.h"

typedef enum { ACGAN_DISC_CONV, ACGAN_DISC_MLP } AcganDisc;
typedef enum { ACGAN_LABEL_CONCAT, ACGAN_LABEL_MULTIPLY } AcganLabelInput;
typedef enum { ACGAN_AUX_LOGITS, ACGAN_AUX_SOFTMAX_CE } AcganAuxLoss;

typedef struct {
    int n_classes, channels, img_size, latent_dim;
    float bn_eps, bn_momentum;
    AcganDisc disc;
    AcganLabelInput label_input;
    AcganAuxLoss aux_loss;
    float dropout;       /* D's dropout probability; < 0 means the design's (0.25 conv, 0.4 mlp) */
    double lr, beta1, beta2;
    uint64_t seed;
} AcganSpec;

typedef struct {
    AcganSpec spec;
    int max_batch;
    Model *g, *d;
    Layer *g_emb;        /* G's label embedding: a side layer of g */
    Layer *d_emb;        /* the MLP discriminator's label embedding, or NULL */
    Adam *opt_g, *opt_d;
    int emb_dim;         /* width of G's embedding: K (concat) or latent_dim (multiply) */
    float *z;            /* (max_batch, latent_dim) noise of the current step */
    int32_t *gen_labels; /* (max_batch) classes asked of G this step */
    float *g_emb_out;    /* (max_batch, emb_dim) */
    float *d_emb_out;    /* (max_batch, K), MLP D only */
    float *g_emb_grad;   /* (max_batch, emb_dim) */
    float *g_state0, *d_state0; /* (n_state) BatchNorm statistics at the start of the step */
} Acgan;

enum { ACGAN_NONFINITE_G = 1, ACGAN_NONFINITE_D = 2 };

typedef struct {
    double g_loss, d_loss;
    double d_real, d_fake; /* mean sigmoid of D's logit on real / generated (D step) */
    double aux_correct;    /* correct class predictions on real + generated in the D step */
    double aux_total;
    int nonfinite; /* ACGAN_NONFINITE_G/_D: that update was not applied (same on every rank) */
} AcganStepStats;

AcganSpec acgan_spec_default(int n_classes, int channels, int img_size);
Acgan *acgan_create(const AcganSpec *s, int max_batch);
void acgan_free(Acgan *a);

/* Draws z and generated labels for samples [sample0, sample0 + n) of a step from the counter-based
 * RNG keyed by (seed, step, global index), so they don't depend on the number of ranks. */
void acgan_draw_inputs(Acgan *a, int64_t step, int64_t sample0, int n);
/* Runs the G forward on a->z, a->gen_labels; returns the (n, C, H, W) images (valid until the next call). */
const float *acgan_forward_g(Acgan *a, int n, const PassCtx *ctx);
/* Runs D on images (n, C, H, W) with labels (used by the MLP D only); returns (n, 1 + K). */
const float *acgan_forward_d(Acgan *a, const float *images, const int32_t *labels, int n, const PassCtx *ctx);

/* One full training step on the local batch (real: (n, C, H, W) in [-1, 1]): draws z and generated
 * labels for (step, sample0), then acgan_step_with_inputs. */
void acgan_train_step(Acgan *a, const float *real, const int32_t *labels, int n, int64_t step, int64_t sample0,
                      AcganStepStats *st);
/* The same step with a->z and a->gen_labels already set (tests compare it against PyTorch). After it,
 * a->g->grads holds G's gradients of the G step and a->d->grads D's gradients of the D step (averaged). */
void acgan_step_with_inputs(Acgan *a, const float *real, const int32_t *labels, int n, int64_t step, int64_t sample0,
                            AcganStepStats *st);
/* Eval-mode generation (no dropout, running BatchNorm statistics, no state change), any n in chunks. */
void acgan_generate(Acgan *a, const float *z, const int32_t *labels, int n, float *out);

/* Broadcasts parameters, state and optimizer moments from rank 0. */
void acgan_broadcast(Acgan *a);

#endif
