/* layer.c - allocation shared by all layer kinds. */
#include "acgan/layer.h"

#include <stdlib.h>

#include "acgan/common.h"

Layer *layer_alloc(const LayerOps *ops, Shape in, Shape out, int max_batch)
{
    ACGAN_ASSERT(ops && max_batch > 0, "layer needs ops and a positive max_batch");
    Layer *l = acgan_calloc(1, sizeof *l);
    l->ops = ops;
    l->in = in;
    l->out = out;
    l->max_batch = max_batch;
    return l;
}

void layer_free(Layer *l)
{
    if (!l) return;
    if (l->ops->free) l->ops->free(l);
    free(l);
}
