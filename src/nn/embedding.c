/* embedding.c - class-label embedding, PyTorch nn.Embedding (no padding index, no max_norm).
 *
 * Shapes: labels (n) int32 in [0, classes), y (n, dim), W (classes, dim) in l->w, no bias.
 *         l->in is {classes, 1, 1} (the label seen as a one-hot vector), l->out is {dim, 1, 1}.
 * Forward:  y[i] = W[labels[i]]
 * Backward: dW[labels[i]] += dy[i]   (accumulates; a label drawn twice gets both rows)
 * Init:     W ~ N(0, 1), row-major.
 * Caches nothing. Its input is labels, not floats, so it is not sequenced: forward/backward in the
 * ops table are NULL and callers use embedding_forward/embedding_backward.
 */
#include <string.h>

#include "acgan/common.h"
#include "acgan/layers.h"

static void embedding_init(Layer *l, Rng *rng)
{
    for (size_t i = 0; i < l->w.count; i++) l->w.data[i] = rng_normal(rng);
}

static const LayerOps embedding_ops = {
    .kind = "embedding",
    .forward = NULL,
    .backward = NULL,
    .init = embedding_init,
    .free = NULL,
};

Layer *embedding_create(int n_classes, int dim, int max_batch)
{
    ACGAN_ASSERT(n_classes > 0 && dim > 0, "embedding: bad sizes %d classes x %d", n_classes, dim);
    Layer *l = layer_alloc(&embedding_ops, (Shape){n_classes, 1, 1}, (Shape){dim, 1, 1}, max_batch);
    l->w.count = (size_t)n_classes * (size_t)dim;
    return l;
}

void embedding_forward(Layer *l, const int32_t *labels, float *y, int n)
{
    ACGAN_ASSERT(l->ops == &embedding_ops, "embedding_forward on a '%s' layer", l->ops->kind);
    ACGAN_ASSERT(n > 0 && n <= l->max_batch, "embedding: batch %d outside [1, %d]", n, l->max_batch);
    const int classes = l->in.c, dim = l->out.c;
    const float *w = l->w.data; /* (classes, dim) */
    for (int i = 0; i < n; i++) {
        ACGAN_ASSERT(labels[i] >= 0 && labels[i] < classes, "embedding: label %d of sample %d outside [0, %d)",
                     (int)labels[i], i, classes);
        memcpy(y + (size_t)i * dim, w + (size_t)labels[i] * dim, (size_t)dim * sizeof(float));
    }
}

void embedding_backward(Layer *l, const int32_t *labels, const float *dy, int n)
{
    ACGAN_ASSERT(l->ops == &embedding_ops, "embedding_backward on a '%s' layer", l->ops->kind);
    ACGAN_ASSERT(n > 0 && n <= l->max_batch, "embedding: batch %d outside [1, %d]", n, l->max_batch);
    const int classes = l->in.c, dim = l->out.c;
    float *dw = l->w.grad; /* (classes, dim) */
    for (int i = 0; i < n; i++) {
        ACGAN_ASSERT(labels[i] >= 0 && labels[i] < classes, "embedding: label %d of sample %d outside [0, %d)",
                     (int)labels[i], i, classes);
        float *row = dw + (size_t)labels[i] * dim;
        const float *dyi = dy + (size_t)i * dim;
        for (int j = 0; j < dim; j++) row[j] += dyi[j];
    }
}
