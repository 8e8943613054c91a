/* layer.h - the generic layer interface. Layers know nothing about GANs.
 *
 *   Layer *l = conv2d_create((Shape){1, 32, 32}, 16, 3, 2, 1, max_batch);   // in shape, out ch, k, stride, pad
 *   model_add(model, l);               // the model binds l->w, l->b, l->state into its arenas
 *   l->ops->forward(l, x, y, n, &ctx); // x: (n, in), y: (n, out)
 *   l->ops->backward(l, x, y, dy, dx, n, 1);
 *
 * Conventions (all layers):
 * - Tensors are float, batch-major, NCHW: x is (n, in.c, in.h, in.w), y is (n, out.c, out.h, out.w).
 * - backward WRITES dx (=) when dx != NULL, and ACCUMULATES parameter gradients (+=) into
 *   w.grad / b.grad only when accum_params is nonzero. x and y are the forward's input and output.
 * - Nothing is allocated in forward or backward: per-layer caches are allocated by the constructor
 *   for max_batch samples; large temporaries use the model's shared scratch (l->scratch, n_scratch floats).
 * - Weight layouts match PyTorch: Linear W[out][in], Conv2d W[oc][ic][kh][kw], Embedding W[classes][dim].
 */
#ifndef ACGAN_LAYER_H
#define ACGAN_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "acgan/rng.h"

typedef struct {
    int c, h, w; /* per-sample shape; a vector of n features is {n, 1, 1} */
} Shape;

static inline size_t shape_size(Shape s) { return (size_t)s.c * (size_t)s.h * (size_t)s.w; }
static inline int shape_eq(Shape a, Shape b) { return a.c == b.c && a.h == b.h && a.w == b.w; }

/* What a forward pass needs to know besides its input. */
typedef struct {
    int train;           /* 1: batch statistics and dropout; 0: running statistics, no dropout */
    int update_stats;    /* train mode only: 1 updates BatchNorm running statistics */
    uint64_t pass_key;   /* dropout: masks from rng_key(pass_key, RNG_STREAM_DROPOUT, layer index, sample) */
    int64_t sample0;     /* global index of sample 0 of this batch, so masks don't depend on rank count */
} PassCtx;

typedef struct {
    float *data; /* view into the model's parameter arena */
    float *grad; /* view into the model's gradient arena, same count */
    size_t count;
} ParamView;

typedef struct Layer Layer;

typedef struct {
    const char *kind;
    void (*forward)(Layer *l, const float *x, float *y, int n, const PassCtx *ctx);
    void (*backward)(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n,
                     int accum_params);
    void (*init)(Layer *l, Rng *rng); /* initialise parameters and state (after binding); may be NULL */
    void (*free)(Layer *l);           /* frees priv; may be NULL */
} LayerOps;

struct Layer {
    const LayerOps *ops;
    Shape in, out;
    int max_batch;
    int index;         /* position in its model, set by model_add (keys dropout masks) */
    ParamView w, b;    /* counts set by the constructor, pointers bound by model_finalize */
    float *state;      /* running statistics (BatchNorm: mean[c] then var[c]) */
    size_t n_state;
    float *scratch;    /* shared temporary of n_scratch floats, bound by model_finalize */
    size_t n_scratch;
    void *priv;        /* kind-specific hyper-parameters and caches */
};

/* Allocates a Layer with the given ops and shapes; priv is left NULL. */
Layer *layer_alloc(const LayerOps *ops, Shape in, Shape out, int max_batch);
void layer_free(Layer *l);

#endif
