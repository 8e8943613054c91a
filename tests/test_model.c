/* test_model.c - the model arena: two-phase build, views bound back to back in one buffer, gradients
 * and BatchNorm statistics adjacent (one allreduce), zero_grad, and forward/backward equal to running
 * the layers by hand. */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "acgan/layers.h"
#include "acgan/model.h"
#include "testutil.h"

enum { B = 3 };

static Model *small_model(void)
{
    Model *m = model_create("T", (Shape){6, 1, 1}, B);
    model_add_side(m, embedding_create(4, 2, B));
    model_add(m, linear_create(6, 8, B));
    model_add(m, reshape_create((Shape){8, 1, 1}, (Shape){2, 2, 2}, B));
    model_add(m, batchnorm2d_create((Shape){2, 2, 2}, 1e-5f, 0.1f, B));
    model_add(m, leaky_relu_create((Shape){2, 2, 2}, 0.2f, B));
    model_finalize(m, 7);
    return m;
}

START_TEST(test_arena_binding)
{
    Model *m = small_model();
    ck_assert_uint_eq(m->n_params, 4 * 2 + (6 * 8 + 8) + (2 + 2));
    ck_assert_uint_eq(m->n_state, 2 * 2);
    /* side layer first, then the sequence, each weight then bias, back to back */
    ck_assert_ptr_eq(m->side[0]->w.data, m->params);
    ck_assert_ptr_eq(m->layers[0]->w.data, m->params + 8);
    ck_assert_ptr_eq(m->layers[0]->b.data, m->params + 8 + 48);
    ck_assert_ptr_eq(m->layers[2]->w.data, m->params + 8 + 56);
    ck_assert_ptr_eq(m->layers[2]->w.grad, m->grads + 8 + 56);
    size_t n;
    ck_assert_ptr_eq(model_sync_buffer(m, &n), m->grads);
    ck_assert_uint_eq(n, m->n_params + m->n_state);
    ck_assert_ptr_eq(m->state, m->grads + m->n_params);
    ck_assert_ptr_eq(m->layers[2]->state, m->state);
    /* BatchNorm state initialised: mean 0, var 1 */
    ck_assert_float_eq(m->state[0], 0.0f);
    ck_assert_float_eq(m->state[2], 1.0f);
    model_free(m);
}
END_TEST

START_TEST(test_forward_backward_match_layers_by_hand)
{
    Model *m = small_model();
    float x[B * 6], dy[B * 8];
    test_fill_uniform(x, B * 6, -1, 1, 1);
    test_fill_uniform(dy, B * 8, -1, 1, 2);
    memcpy(model_input(m), x, sizeof x);
    PassCtx ctx = {.train = 1, .update_stats = 0};
    const float *y = model_forward(m, B, &ctx);
    memcpy(model_output_grad(m), dy, sizeof dy);
    model_zero_grad(m);
    model_backward(m, B, 1, 1);

    /* by hand, on the same layers (same weights), with private buffers */
    float h1[B * 8], h2[B * 8], h3[B * 8], h4[B * 8], d3[B * 8], d2[B * 8], d1[B * 8], d0[B * 6];
    Layer **L = m->layers;
    L[0]->ops->forward(L[0], x, h1, B, &ctx);
    L[1]->ops->forward(L[1], h1, h2, B, &ctx);
    L[2]->ops->forward(L[2], h2, h3, B, &ctx);
    L[3]->ops->forward(L[3], h3, h4, B, &ctx);
    ck_assert_mem_eq(y, h4, sizeof h4);
    float *grads_model = malloc(m->n_params * sizeof(float));
    memcpy(grads_model, m->grads, m->n_params * sizeof(float));
    model_zero_grad(m);
    for (size_t i = 0; i < m->n_params; i++) ck_assert_float_eq(m->grads[i], 0.0f);
    L[3]->ops->backward(L[3], h3, h4, dy, d3, B, 1);
    L[2]->ops->backward(L[2], h2, h3, d3, d2, B, 1);
    L[1]->ops->backward(L[1], h1, h2, d2, d1, B, 1);
    L[0]->ops->backward(L[0], x, h1, d1, d0, B, 1);
    ck_assert_mem_eq(model_input_grad(m), d0, sizeof d0);
    ck_assert_mem_eq(grads_model, m->grads, m->n_params * sizeof(float));
    free(grads_model);
    model_free(m);
}
END_TEST

START_TEST(test_backward_without_param_grads_leaves_arena)
{
    Model *m = small_model();
    test_fill_uniform(model_input(m), B * 6, -1, 1, 3);
    PassCtx ctx = {.train = 1, .update_stats = 1};
    model_forward(m, B, &ctx);
    test_fill_uniform(model_output_grad(m), B * 8, -1, 1, 4);
    model_zero_grad(m);
    model_backward(m, B, 1, 0);
    for (size_t i = 0; i < m->n_params; i++) ck_assert_float_eq(m->grads[i], 0.0f);
    ck_assert_float_ne(m->state[0], 0.0f); /* update_stats moved the running mean */
    model_free(m);
}
END_TEST

START_TEST(test_shape_mismatch_aborts)
{
    Model *m = model_create("T", (Shape){6, 1, 1}, B);
    model_add(m, linear_create(5, 8, B)); /* expects 5 inputs, the model gives 6 */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_arena_binding);
    tcase_add_test(tc, test_forward_backward_match_layers_by_hand);
    tcase_add_test(tc, test_backward_without_param_grads_leaves_arena);
    const char *fork_mode = getenv("CK_FORK"); /* the abort test needs Check's fork mode */
    if (!fork_mode || strcmp(fork_mode, "no") != 0) tcase_add_test_raise_signal(tc, test_shape_mismatch_aborts, SIGABRT);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
