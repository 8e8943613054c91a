/* model.h - a sequence of layers over one parameter arena.
 *
 *   Model *m = model_create("G", (Shape){110, 1, 1}, max_batch);
 *   model_add(m, linear_create(110, 8192, max_batch));   // checks in-shape == previous out-shape
 *   ...
 *   model_finalize(m, seed);             // allocate arenas once, bind views, initialise weights
 *   memcpy(model_input(m), x, ...);      // (n, in)
 *   const float *y = model_forward(m, n, &ctx);
 *   memcpy(model_output_grad(m), dy, ...);
 *   model_backward(m, n, 1, 1);          // dx in model_input_grad(m); param grads += into m->grads
 *
 * Arenas: params, grads (n_params floats each) and state (n_state: BatchNorm running statistics) are
 * contiguous buffers (grads and state share one allocation); every layer's w/b/state is a view into them. Zeroing gradients is one
 * memset, the gradient average one allreduce, a checkpoint one dataset per buffer.
 */
#ifndef ACGAN_MODEL_H
#define ACGAN_MODEL_H

#include "acgan/layer.h"

typedef struct {
    char name[16];
    Shape in, out;
    int max_batch;
    Layer **layers;      /* the sequence, in order */
    int n_layers, cap_layers;
    Layer **side;        /* layers in the arena but outside the sequence (label embeddings) */
    int n_side, cap_side;
    float *params, *grads; /* (n_params) */
    size_t n_params;
    float *state;          /* (n_state) == grads + n_params: see model_sync_buffer */
    size_t n_state;
    float **acts;  /* acts[i]: (max_batch, shape) input of layer i; acts[n_layers] = output */
    float **dacts; /* same shapes, gradients */
    float *scratch; /* (max over layers of n_scratch) */
    double *layer_seconds; /* NULL, or (2*n_layers) caller-owned: forward, backward seconds of layer i at
                              [2i], [2i+1], accumulated by model_forward/model_backward (benchmarks) */
    int finalized;
} Model;

Model *model_create(const char *name, Shape in, int max_batch);
void model_free(Model *m);
void model_add(Model *m, Layer *l);      /* takes ownership */
void model_add_side(Model *m, Layer *l); /* takes ownership; bound in the arena, run by the caller */
void model_finalize(Model *m, uint64_t seed);

float *model_input(Model *m);        /* (max_batch, in) */
float *model_input_grad(Model *m);   /* (max_batch, in) filled by model_backward when asked */
float *model_output_grad(Model *m);  /* (max_batch, out) the caller writes dL/dy here */
const float *model_forward(Model *m, int n, const PassCtx *ctx); /* returns (n, out) */
/* need_input_grad=0 skips the first layer's dx; accum_params=0 leaves m->grads untouched. */
void model_backward(Model *m, int n, int need_input_grad, int accum_params);
void model_zero_grad(Model *m);
/* The buffer data-parallel training averages after each backward: the gradients followed by the
 * BatchNorm running statistics (adjacent in memory). Averaging the statistics every step keeps them
 * identical on all ranks: each is the running average of the rank-averaged batch statistics. */
static inline float *model_sync_buffer(Model *m, size_t *count)
{
    *count = m->n_params + m->n_state;
    return m->grads;
}

#endif
