/* acgan.c - the ACGAN glue: builds G and D from generic layers, wires the label embeddings, computes
 * the losses and runs the G-step / D-step order. The generic layers know nothing of GANs; this file
 * is where all GAN-specific decisions live. See acgan.h for the architecture and the losses.
 */
#include "acgan/acgan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "acgan/common.h"
#include "acgan/dist.h"
#include "acgan/layers.h"
#include "acgan/loss.h"
#include "acgan/rng.h"

#define LRELU_SLOPE 0.2f
#define BN_EPS_DEFAULT 1e-5f  /* the first BatchNorm of G uses PyTorch's default eps */
#define DROPOUT2D_P 0.25f     /* conv D */
#define DROPOUT_MLP_P 0.4f    /* MLP D */
#define MLP_WIDTH 512

enum { PASS_G_STEP = 0, PASS_D_REAL = 1, PASS_D_FAKE = 2 }; /* D forward passes of one step: dropout keys */

AcganSpec acgan_spec_default(int n_classes, int channels, int img_size)
{
    return (AcganSpec){.n_classes = n_classes, .channels = channels, .img_size = img_size, .latent_dim = 100,
                       .bn_eps = 0.8f, .bn_momentum = 0.1f, .disc = ACGAN_DISC_CONV,
                       .label_input = ACGAN_LABEL_CONCAT, .aux_loss = ACGAN_AUX_LOGITS, .dropout = -1.0f,
                       .lr = 2e-4, .beta1 = 0.5, .beta2 = 0.999, .seed = 42};
}

static Model *build_generator(const AcganSpec *s, int emb_dim, int B, Layer **emb)
{
    const int s4 = s->img_size / 4, in = s->label_input == ACGAN_LABEL_CONCAT ? emb_dim + s->latent_dim : s->latent_dim;
    const float eps = s->bn_eps, mom = s->bn_momentum;
    Model *g = model_create("G", (Shape){in, 1, 1}, B);
    *emb = embedding_create(s->n_classes, emb_dim, B);
    model_add_side(g, *emb);
    model_add(g, linear_create(in, 128 * s4 * s4, B));
    model_add(g, reshape_create((Shape){128 * s4 * s4, 1, 1}, (Shape){128, s4, s4}, B));
    model_add(g, batchnorm2d_create(g->out, BN_EPS_DEFAULT, mom, B));
    model_add(g, upsample2x_create(g->out, B));
    model_add(g, conv2d_create(g->out, 128, 3, 1, 1, B));
    model_add(g, batchnorm2d_create(g->out, eps, mom, B));
    model_add(g, leaky_relu_create(g->out, LRELU_SLOPE, B));
    model_add(g, upsample2x_create(g->out, B));
    model_add(g, conv2d_create(g->out, 64, 3, 1, 1, B));
    model_add(g, batchnorm2d_create(g->out, eps, mom, B));
    model_add(g, leaky_relu_create(g->out, LRELU_SLOPE, B));
    model_add(g, conv2d_create(g->out, s->channels, 3, 1, 1, B));
    model_add(g, tanh_create(g->out, B));
    return g;
}

static Model *build_discriminator(const AcganSpec *s, int B, Layer **emb)
{
    const int K = s->n_classes;
    const Shape img = {s->channels, s->img_size, s->img_size};
    Model *d;
    if (s->disc == ACGAN_DISC_CONV) {
        static const int widths[4] = {16, 32, 64, 128};
        d = model_create("D", img, B);
        *emb = NULL;
        for (int i = 0; i < 4; i++) {
            model_add(d, conv2d_create(d->out, widths[i], 3, 2, 1, B));
            model_add(d, leaky_relu_create(d->out, LRELU_SLOPE, B));
            model_add(d, dropout_create(d->out, s->dropout >= 0 ? s->dropout : DROPOUT2D_P, 1, B));
            if (i > 0) model_add(d, batchnorm2d_create(d->out, s->bn_eps, s->bn_momentum, B));
        }
        const int flat = (int)shape_size(d->out);
        model_add(d, reshape_create(d->out, (Shape){flat, 1, 1}, B));
    } else {
        const int in = (int)shape_size(img) + K;
        d = model_create("D", (Shape){in, 1, 1}, B);
        *emb = embedding_create(K, K, B);
        model_add_side(d, *emb);
        model_add(d, linear_create(in, MLP_WIDTH, B));
        model_add(d, leaky_relu_create(d->out, LRELU_SLOPE, B));
        for (int i = 0; i < 2; i++) {
            model_add(d, linear_create(MLP_WIDTH, MLP_WIDTH, B));
            model_add(d, dropout_create(d->out, s->dropout >= 0 ? s->dropout : DROPOUT_MLP_P, 0, B));
            model_add(d, leaky_relu_create(d->out, LRELU_SLOPE, B));
        }
    }
    /* Adversarial head (row 0) and auxiliary head (rows 1..K) as one Linear. */
    model_add(d, linear_create(d->out.c, 1 + K, B));
    return d;
}

Acgan *acgan_create(const AcganSpec *s, int max_batch)
{
    ACGAN_ASSERT(s->img_size % 4 == 0 && s->n_classes >= 1 && s->channels >= 1 && s->latent_dim >= 1,
                 "bad ACGAN spec (img_size %d, classes %d, channels %d)", s->img_size, s->n_classes, s->channels);
    Acgan *a = acgan_calloc(1, sizeof *a);
    a->spec = *s;
    a->max_batch = max_batch;
    a->emb_dim = s->label_input == ACGAN_LABEL_CONCAT ? s->n_classes : s->latent_dim;
    a->g = build_generator(s, a->emb_dim, max_batch, &a->g_emb);
    a->d = build_discriminator(s, max_batch, &a->d_emb);
    model_finalize(a->g, s->seed);
    model_finalize(a->d, s->seed);
    a->opt_g = adam_create(a->g->n_params, s->lr, s->beta1, s->beta2, 1e-8);
    a->opt_d = adam_create(a->d->n_params, s->lr, s->beta1, s->beta2, 1e-8);
    a->z = acgan_calloc((size_t)max_batch * s->latent_dim, sizeof(float));
    a->gen_labels = acgan_calloc((size_t)max_batch, sizeof(int32_t));
    a->g_emb_out = acgan_calloc((size_t)max_batch * a->emb_dim, sizeof(float));
    a->g_emb_grad = acgan_calloc((size_t)max_batch * a->emb_dim, sizeof(float));
    a->d_emb_out = acgan_calloc((size_t)max_batch * s->n_classes, sizeof(float));
    a->g_state0 = acgan_calloc(a->g->n_state, sizeof(float));
    a->d_state0 = acgan_calloc(a->d->n_state, sizeof(float));
    return a;
}

void acgan_free(Acgan *a)
{
    if (!a) return;
    model_free(a->g);
    model_free(a->d);
    adam_free(a->opt_g);
    adam_free(a->opt_d);
    free(a->z);
    free(a->gen_labels);
    free(a->g_emb_out);
    free(a->g_emb_grad);
    free(a->d_emb_out);
    free(a->g_state0);
    free(a->d_state0);
    free(a);
}

void acgan_draw_inputs(Acgan *a, int64_t step, int64_t sample0, int n)
{
    const int L = a->spec.latent_dim;
    for (int i = 0; i < n; i++) {
        Rng rz = rng_make(rng_key(a->spec.seed, RNG_STREAM_NOISE, (uint64_t)step, (uint64_t)(sample0 + i)));
        for (int j = 0; j < L; j++) a->z[(size_t)i * L + j] = rng_normal(&rz);
        Rng rl = rng_make(rng_key(a->spec.seed, RNG_STREAM_LABELS, (uint64_t)step, (uint64_t)(sample0 + i)));
        a->gen_labels[i] = (int32_t)rng_below(&rl, (uint32_t)a->spec.n_classes);
    }
}

/* G input: concat -> [emb(c), z]; multiply -> emb(c) * z. */
static void g_set_input(Acgan *a, const float *z, const int32_t *labels, int n)
{
    const int L = a->spec.latent_dim, E = a->emb_dim;
    float *in = model_input(a->g);
    embedding_forward(a->g_emb, labels, a->g_emb_out, n);
    for (int i = 0; i < n; i++) {
        const float *e = a->g_emb_out + (size_t)i * E, *zi = z + (size_t)i * L;
        if (a->spec.label_input == ACGAN_LABEL_CONCAT) {
            float *row = in + (size_t)i * (E + L);
            memcpy(row, e, (size_t)E * sizeof(float));
            memcpy(row + E, zi, (size_t)L * sizeof(float));
        } else {
            float *row = in + (size_t)i * L;
            for (int j = 0; j < L; j++) row[j] = e[j] * zi[j];
        }
    }
}

/* Gradient of G's input back into its embedding (z needs none). */
static void g_backward_input(Acgan *a, const int32_t *labels, int n)
{
    const int L = a->spec.latent_dim, E = a->emb_dim;
    const float *din = model_input_grad(a->g);
    for (int i = 0; i < n; i++) {
        float *de = a->g_emb_grad + (size_t)i * E;
        if (a->spec.label_input == ACGAN_LABEL_CONCAT) {
            memcpy(de, din + (size_t)i * (E + L), (size_t)E * sizeof(float));
        } else {
            const float *zi = a->z + (size_t)i * L, *di = din + (size_t)i * L;
            for (int j = 0; j < L; j++) de[j] = di[j] * zi[j];
        }
    }
    embedding_backward(a->g_emb, labels, a->g_emb_grad, n);
}

const float *acgan_forward_g(Acgan *a, int n, const PassCtx *ctx)
{
    g_set_input(a, a->z, a->gen_labels, n);
    return model_forward(a->g, n, ctx);
}

const float *acgan_forward_d(Acgan *a, const float *images, const int32_t *labels, int n, const PassCtx *ctx)
{
    const size_t px = (size_t)a->spec.channels * a->spec.img_size * a->spec.img_size;
    float *in = model_input(a->d);
    if (!a->d_emb) {
        if (in != images) memcpy(in, images, (size_t)n * px * sizeof(float));
    } else {
        const int K = a->spec.n_classes;
        embedding_forward(a->d_emb, labels, a->d_emb_out, n);
        for (int i = 0; i < n; i++) {
            float *row = in + (size_t)i * (px + K);
            memcpy(row, images + (size_t)i * px, px * sizeof(float));
            memcpy(row + px, a->d_emb_out + (size_t)i * K, (size_t)K * sizeof(float));
        }
    }
    return model_forward(a->d, n, ctx);
}

/* d_emb gradient from D's input gradient (MLP D only). */
static void d_backward_embedding(Acgan *a, const int32_t *labels, int n)
{
    const int K = a->spec.n_classes;
    const size_t px = (size_t)a->spec.channels * a->spec.img_size * a->spec.img_size;
    const float *din = model_input_grad(a->d);
    for (int i = 0; i < n; i++) memcpy(a->d_emb_out + (size_t)i * K, din + (size_t)i * (px + K) + px, (size_t)K * sizeof(float));
    embedding_backward(a->d_emb, labels, a->d_emb_out, n);
}

/* Writes the adversarial and auxiliary loss gradients (scaled) into D's output gradient, returns the loss. */
static double d_losses(Acgan *a, const float *out, const int32_t *labels, int n, float target, float scale,
                       AcganStepStats *st, int is_fake)
{
    const int K = a->spec.n_classes;
    float *dout = model_output_grad(a->d);
    int correct = 0;
    double l = loss_bce_logits(out, 1 + K, n, target, scale, dout);
    if (a->spec.aux_loss == ACGAN_AUX_LOGITS)
        l += loss_cross_entropy(out + 1, 1 + K, K, labels, n, scale, dout + 1, &correct);
    else
        l += loss_softmax_then_ce(out + 1, 1 + K, K, labels, n, scale, dout + 1, &correct);
    if (st) {
        double p = loss_mean_sigmoid(out, 1 + K, n);
        if (is_fake)
            st->d_fake = p;
        else
            st->d_real = p;
        st->aux_correct += correct;
        st->aux_total += n;
    }
    return l;
}

/* ONE collective per model per step: mean of gradients and BatchNorm running statistics over ranks.
 * A non-finite local loss poisons the buffer, so after the collective every rank sees the same verdict.
 * Returns 1 when the averaged buffer is finite everywhere (then the caller takes the Adam step). */
static int allreduce_model(Model *m, double local_loss)
{
    size_t n;
    float *buf = model_sync_buffer(m, &n);
    if (!isfinite(local_loss)) buf[0] = NAN;
    dist_allreduce_mean(buf, n);
    float acc = 0.0f; /* NaN or Inf anywhere makes acc NaN */
    for (size_t i = 0; i < n; i++) acc += buf[i] * 0.0f;
    return acc == 0.0f;
}

void acgan_train_step(Acgan *a, const float *real, const int32_t *labels, int n, int64_t step, int64_t sample0,
                      AcganStepStats *st)
{
    acgan_draw_inputs(a, step, sample0, n);
    acgan_step_with_inputs(a, real, labels, n, step, sample0, st);
}

/* On a non-finite update the BatchNorm statistics go back to where the step started. */
static void restore_state(Acgan *a)
{
    memcpy(a->g->state, a->g_state0, a->g->n_state * sizeof(float));
    memcpy(a->d->state, a->d_state0, a->d->n_state * sizeof(float));
}

void acgan_step_with_inputs(Acgan *a, const float *real, const int32_t *labels, int n, int64_t step, int64_t sample0,
                            AcganStepStats *st)
{
    const uint64_t seed = a->spec.seed;
    AcganStepStats local = {0};
    PassCtx ctx = {.train = 1, .update_stats = 1, .sample0 = sample0};
    memcpy(a->g_state0, a->g->state, a->g->n_state * sizeof(float));
    memcpy(a->d_state0, a->d->state, a->d->n_state * sizeof(float));

    /* G step: D(G(z, c)) should look real and of class c. D's parameter gradients are not kept. */
    model_zero_grad(a->g);
    ctx.pass_key = rng_key(seed, RNG_STREAM_DROPOUT, (uint64_t)step, PASS_G_STEP);
    const float *fake = acgan_forward_g(a, n, &ctx);
    const float *out = acgan_forward_d(a, fake, a->gen_labels, n, &ctx);
    local.g_loss = 0.5 * d_losses(a, out, a->gen_labels, n, 1.0f, 0.5f, NULL, 0);
    model_backward(a->d, n, 1, 0);
    const size_t px = (size_t)a->spec.channels * a->spec.img_size * a->spec.img_size;
    /* D's input rows are (px) for the conv D but (px + K) for the MLP D: take the image part of each row. */
    const size_t d_in = shape_size(a->d->in);
    for (int i = 0; i < n; i++)
        memcpy(model_output_grad(a->g) + (size_t)i * px, model_input_grad(a->d) + (size_t)i * d_in, px * sizeof(float));
    model_backward(a->g, n, 1, 1);
    g_backward_input(a, a->gen_labels, n);
    if (allreduce_model(a->g, local.g_loss))
        adam_step(a->opt_g, a->g->params, a->g->grads);
    else
        local.nonfinite |= ACGAN_NONFINITE_G;

    /* D step: the real batch, then the same generated batch, detached. Gradients add up. */
    model_zero_grad(a->d);
    const int need_dx = a->d_emb != NULL;
    ctx.pass_key = rng_key(seed, RNG_STREAM_DROPOUT, (uint64_t)step, PASS_D_REAL);
    out = acgan_forward_d(a, real, labels, n, &ctx);
    double d_loss = d_losses(a, out, labels, n, 1.0f, 0.25f, &local, 0);
    model_backward(a->d, n, need_dx, 1);
    if (need_dx) d_backward_embedding(a, labels, n);
    ctx.pass_key = rng_key(seed, RNG_STREAM_DROPOUT, (uint64_t)step, PASS_D_FAKE);
    out = acgan_forward_d(a, fake, a->gen_labels, n, &ctx);
    d_loss += d_losses(a, out, a->gen_labels, n, 0.0f, 0.25f, &local, 1);
    model_backward(a->d, n, need_dx, 1);
    if (need_dx) d_backward_embedding(a, a->gen_labels, n);
    local.d_loss = 0.25 * d_loss;
    if (allreduce_model(a->d, local.d_loss))
        adam_step(a->opt_d, a->d->params, a->d->grads);
    else
        local.nonfinite |= ACGAN_NONFINITE_D;
    if (local.nonfinite) restore_state(a);
    if (st) *st = local;
}

void acgan_generate(Acgan *a, const float *z, const int32_t *labels, int n, float *out)
{
    const PassCtx ctx = {.train = 0};
    const int L = a->spec.latent_dim;
    const size_t px = (size_t)a->spec.channels * a->spec.img_size * a->spec.img_size;
    for (int i0 = 0; i0 < n; i0 += a->max_batch) {
        int m = n - i0 < a->max_batch ? n - i0 : a->max_batch;
        g_set_input(a, z + (size_t)i0 * L, labels + i0, m);
        const float *y = model_forward(a->g, m, &ctx);
        memcpy(out + (size_t)i0 * px, y, (size_t)m * px * sizeof(float));
    }
}

void acgan_broadcast(Acgan *a)
{
    Model *ms[2] = {a->g, a->d};
    Adam *os[2] = {a->opt_g, a->opt_d};
    for (int i = 0; i < 2; i++) {
        dist_bcast(ms[i]->params, ms[i]->n_params * sizeof(float), 0);
        dist_bcast(ms[i]->state, ms[i]->n_state * sizeof(float), 0);
        dist_bcast(os[i]->m, os[i]->n * sizeof(float), 0);
        dist_bcast(os[i]->v, os[i]->n * sizeof(float), 0);
        dist_bcast(&os[i]->t, sizeof os[i]->t, 0);
    }
}
