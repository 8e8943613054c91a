/* layers.h - constructors of the layer kinds. Each returns a Layer whose parameter and state
 * counts are set; model_add/model_finalize bind and initialise them.
 *
 *   Layer *fc = linear_create(110, 8192, max_batch);           // y = x W^T + b
 *   Layer *c  = conv2d_create((Shape){128, 16, 16}, 128, 3, 1, 1, max_batch);
 *
 * Initialisation: Linear and Embedding as PyTorch's defaults (U(-1/sqrt(in), 1/sqrt(in)) for W and b;
 * N(0, 1)); Conv2d W ~ N(0, 0.02), b = 0 and BatchNorm gamma ~ N(1, 0.02), beta = 0 (the DCGAN
 * convention, which this project's models use), running mean 0 and var 1.
 */
#ifndef ACGAN_LAYERS_H
#define ACGAN_LAYERS_H

#include "acgan/layer.h"

Layer *linear_create(int in_features, int out_features, int max_batch);
Layer *conv2d_create(Shape in, int out_channels, int kernel, int stride, int pad, int max_batch);
Layer *batchnorm2d_create(Shape in, float eps, float momentum, int max_batch);
Layer *upsample2x_create(Shape in, int max_batch);                 /* nearest neighbour, x2 */
Layer *leaky_relu_create(Shape in, float slope, int max_batch);
Layer *tanh_create(Shape in, int max_batch);
Layer *dropout_create(Shape in, float p, int per_channel, int max_batch); /* per_channel: Dropout2d */
Layer *reshape_create(Shape in, Shape out, int max_batch);         /* same size, new shape */

/* Embedding: not part of a sequence (its input is class labels, not floats), so it has its own
 * forward/backward. y (n, dim) = W[labels[i]]; backward accumulates dW[labels[i]] += dy[i]. */
Layer *embedding_create(int n_classes, int dim, int max_batch);
void embedding_forward(Layer *l, const int32_t *labels, float *y, int n);
void embedding_backward(Layer *l, const int32_t *labels, const float *dy, int n);

/* Dropout with a fixed mask, for tests and fixtures: mask (n, c) or (n, c*h*w) of 0/1 values is used
 * instead of random draws until cleared with NULL. */
void dropout_set_fixed_mask(Layer *l, const float *mask);

#endif
