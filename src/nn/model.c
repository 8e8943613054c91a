/* model.c - a sequence of layers over one contiguous parameter arena.
 *
 * Two phases. model_add checks that each layer's input shape is the previous output shape and
 * collects its parameter, state and scratch counts. model_finalize allocates, once:
 *   params         (n_params)            every layer's w and b are views into these
 *   grads, state   (n_params + n_state)  one buffer: gradients, then BatchNorm running statistics
 *   acts[i]        (max_batch, shape_i)  input of layer i; acts[n_layers] is the model output
 *   dacts[i]       same shapes           gradients of the loss w.r.t. acts[i]
 *   scratch        (max n_scratch)       shared by all layers (only one runs at a time)
 * and initialises every layer from a seed-derived RNG (one stream per layer index).
 */
#include "acgan/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acgan/common.h"

Model *model_create(const char *name, Shape in, int max_batch)
{
    ACGAN_ASSERT(max_batch > 0 && shape_size(in) > 0, "model %s: bad input shape or batch", name);
    Model *m = acgan_calloc(1, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name);
    m->in = in;
    m->out = in;
    m->max_batch = max_batch;
    return m;
}

static void push(Layer ***arr, int *n, int *cap, Layer *l)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 8;
        Layer **grown = realloc(*arr, (size_t)*cap * sizeof **arr);
        ACGAN_ASSERT(grown != NULL, "out of memory");
        *arr = grown;
    }
    (*arr)[(*n)++] = l;
}

void model_add(Model *m, Layer *l)
{
    ACGAN_ASSERT(!m->finalized, "model %s: add after finalize", m->name);
    ACGAN_ASSERT(shape_eq(l->in, m->out), "model %s: layer %d (%s) expects input (%d,%d,%d), previous output is (%d,%d,%d)",
                 m->name, m->n_layers, l->ops->kind, l->in.c, l->in.h, l->in.w, m->out.c, m->out.h, m->out.w);
    ACGAN_ASSERT(l->max_batch >= m->max_batch, "model %s: layer %s built for a smaller batch", m->name, l->ops->kind);
    l->index = m->n_layers;
    push(&m->layers, &m->n_layers, &m->cap_layers, l);
    m->out = l->out;
}

void model_add_side(Model *m, Layer *l)
{
    ACGAN_ASSERT(!m->finalized, "model %s: add after finalize", m->name);
    l->index = 1000 + m->n_side;
    push(&m->side, &m->n_side, &m->cap_side, l);
}

/* Binds one layer's views at the current arena offsets and advances them. */
static void bind_layer(Model *m, Layer *l, size_t *p, size_t *s)
{
    l->w.data = m->params + *p;
    l->w.grad = m->grads + *p;
    *p += l->w.count;
    l->b.data = m->params + *p;
    l->b.grad = m->grads + *p;
    *p += l->b.count;
    l->state = m->state + *s;
    *s += l->n_state;
    l->scratch = m->scratch;
}

void model_finalize(Model *m, uint64_t seed)
{
    ACGAN_ASSERT(!m->finalized && m->n_layers > 0, "model %s: finalize twice or with no layers", m->name);
    size_t n_params = 0, n_state = 0, n_scratch = 0;
    for (int pass = 0; pass < 2; pass++) {
        Layer **arr = pass ? m->side : m->layers;
        int n = pass ? m->n_side : m->n_layers;
        for (int i = 0; i < n; i++) {
            n_params += arr[i]->w.count + arr[i]->b.count;
            n_state += arr[i]->n_state;
            if (arr[i]->n_scratch > n_scratch) n_scratch = arr[i]->n_scratch;
        }
    }
    m->n_params = n_params;
    m->n_state = n_state;
    m->params = acgan_calloc(n_params, sizeof(float));
    m->grads = acgan_calloc(n_params + n_state, sizeof(float));
    m->state = m->grads + n_params; /* adjacent: one allreduce averages gradients and statistics */
    m->scratch = acgan_calloc(n_scratch, sizeof(float));

    /* Side layers (label embeddings) first: they sit before the sequence in the data flow. */
    size_t p = 0, s = 0;
    for (int i = 0; i < m->n_side; i++) bind_layer(m, m->side[i], &p, &s);
    for (int i = 0; i < m->n_layers; i++) bind_layer(m, m->layers[i], &p, &s);

    m->acts = acgan_calloc((size_t)m->n_layers + 1, sizeof(float *));
    m->dacts = acgan_calloc((size_t)m->n_layers + 1, sizeof(float *));
    for (int i = 0; i <= m->n_layers; i++) {
        Shape sh = i < m->n_layers ? m->layers[i]->in : m->out;
        m->acts[i] = acgan_calloc((size_t)m->max_batch * shape_size(sh), sizeof(float));
        m->dacts[i] = acgan_calloc((size_t)m->max_batch * shape_size(sh), sizeof(float));
    }

    for (int pass = 0; pass < 2; pass++) {
        Layer **arr = pass ? m->layers : m->side;
        int n = pass ? m->n_layers : m->n_side;
        for (int i = 0; i < n; i++) {
            Rng r = rng_make(rng_key(seed, RNG_STREAM_INIT, (uint64_t)(unsigned char)m->name[0], (uint64_t)arr[i]->index));
            if (arr[i]->ops->init) arr[i]->ops->init(arr[i], &r);
        }
    }
    m->finalized = 1;
}

void model_free(Model *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_layers; i++) layer_free(m->layers[i]);
    for (int i = 0; i < m->n_side; i++) layer_free(m->side[i]);
    if (m->acts)
        for (int i = 0; i <= m->n_layers; i++) {
            free(m->acts[i]);
            free(m->dacts[i]);
        }
    free(m->acts);
    free(m->dacts);
    free(m->layers);
    free(m->side);
    free(m->params);
    free(m->grads); /* holds state too */
    free(m->scratch);
    free(m);
}

float *model_input(Model *m) { return m->acts[0]; }
float *model_input_grad(Model *m) { return m->dacts[0]; }
float *model_output_grad(Model *m) { return m->dacts[m->n_layers]; }

const float *model_forward(Model *m, int n, const PassCtx *ctx)
{
    ACGAN_ASSERT(m->finalized && n > 0 && n <= m->max_batch, "model %s: forward with n=%d (max %d)", m->name, n,
                 m->max_batch);
    for (int i = 0; i < m->n_layers; i++) {
        Layer *l = m->layers[i];
        const double t = m->layer_seconds ? acgan_now() : 0.0;
        l->ops->forward(l, m->acts[i], m->acts[i + 1], n, ctx);
        if (m->layer_seconds) m->layer_seconds[2 * i] += acgan_now() - t;
    }
    return m->acts[m->n_layers];
}

void model_backward(Model *m, int n, int need_input_grad, int accum_params)
{
    ACGAN_ASSERT(m->finalized && n > 0 && n <= m->max_batch, "model %s: backward with n=%d", m->name, n);
    for (int i = m->n_layers - 1; i >= 0; i--) {
        Layer *l = m->layers[i];
        float *dx = (i > 0 || need_input_grad) ? m->dacts[i] : NULL;
        const double t = m->layer_seconds ? acgan_now() : 0.0;
        l->ops->backward(l, m->acts[i], m->acts[i + 1], m->dacts[i + 1], dx, n, accum_params);
        if (m->layer_seconds) m->layer_seconds[2 * i + 1] += acgan_now() - t;
    }
}

void model_zero_grad(Model *m) { memset(m->grads, 0, m->n_params * sizeof(float)); }
