/* loss.c - the ACGAN losses: BCE on the adversarial logit, cross-entropy on the class logits.
 *
 * Every loss reads row i of its input at in[i * stride ...], returns the mean over the n rows and, when
 * the gradient pointer is non-NULL, WRITES scale * d(mean loss)/d(input) at the same positions.
 * Sums run in double; nothing is cached or allocated.
 *
 * BCE with logits, x (n), target t:
 *   l_i = max(x,0) - x t + log1p(exp(-|x|))             (stable form of -t log s(x) - (1-t) log(1-s(x)))
 *   dl_i/dx = sigmoid(x) - t
 * Cross-entropy, x (n, k), label y:
 *   l_i = logsumexp(x) - x_y                             (max subtracted inside logsumexp)
 *   dl_i/dx_j = softmax(x)_j - [j == y]
 * Softmax then cross-entropy (the widely copied variant: CE applied to probabilities), p = softmax(x):
 *   l_i = logsumexp(p) - p_y
 *   g_j = dl_i/dp_j = softmax(p)_j - [j == y]
 *   dl_i/dx_j = sum_m g_m p_m ([m == j] - p_j) = p_j (g_j - sum_m g_m p_m)
 */
#include "acgan/loss.h"

#include <math.h>
#include <stddef.h>

#include "acgan/common.h"

static double sigmoid_stable(double x)
{
    if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

float loss_bce_logits(const float *logit, int stride, int n, float target, float scale, float *dlogit)
{
    ACGAN_ASSERT(logit && n > 0 && stride >= 1, "bce: bad arguments (n %d, stride %d)", n, stride);
    const double t = target;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        const double x = logit[(size_t)i * stride];
        sum += fmax(x, 0.0) - x * t + log1p(exp(-fabs(x)));
        if (dlogit) dlogit[(size_t)i * stride] = (float)((sigmoid_stable(x) - t) / n * scale);
    }
    return (float)(sum / n);
}

/* Index of the first maximum of row[0..k). */
static int row_argmax(const float *row, int k)
{
    int best = 0;
    for (int j = 1; j < k; j++)
        if (row[j] > row[best]) best = j;
    return best;
}

/* The softmax denominator of row x[0..k) shifted by its maximum: s = sum_j exp(x_j - mx), with *mx = x[*am]
 * and *am the argmax. softmax_j = exp(x_j - mx) / s; log-sum-exp = mx + log(s). */
static double row_softmax_sum(const float *x, int k, int *am, double *mx)
{
    *am = row_argmax(x, k);
    *mx = x[*am];
    double s = 0.0;
    for (int j = 0; j < k; j++) s += exp((double)x[j] - *mx);
    return s;
}

static void check_ce_args(const float *logits, int stride, int k, const int32_t *labels, int n)
{
    ACGAN_ASSERT(logits && labels && n > 0 && k >= 1 && stride >= k,
                 "cross-entropy: bad arguments (n %d, k %d, stride %d)", n, k, stride);
    for (int i = 0; i < n; i++)
        ACGAN_ASSERT(labels[i] >= 0 && labels[i] < k, "cross-entropy: label %d of row %d outside [0, %d)",
                     (int)labels[i], i, k);
}

float loss_cross_entropy(const float *logits, int stride, int k, const int32_t *labels, int n, float scale,
                         float *dlogits, int *n_correct)
{
    check_ce_args(logits, stride, k, labels, n);
    double sum = 0.0;
    int correct = 0;
    for (int i = 0; i < n; i++) {
        const float *x = logits + (size_t)i * stride; /* (k) */
        const int y = labels[i];
        int am;
        double mx;
        const double s = row_softmax_sum(x, k, &am, &mx);
        correct += am == y;
        sum += mx + log(s) - (double)x[y];
        if (dlogits) {
            float *dx = dlogits + (size_t)i * stride; /* (k) */
            const double c = (double)scale / n;
            for (int j = 0; j < k; j++) dx[j] = (float)((exp((double)x[j] - mx) / s - (j == y)) * c);
        }
    }
    if (n_correct) *n_correct = correct;
    return (float)(sum / n);
}

float loss_softmax_then_ce(const float *logits, int stride, int k, const int32_t *labels, int n, float scale,
                           float *dlogits, int *n_correct)
{
    check_ce_args(logits, stride, k, labels, n);
    double sum = 0.0;
    int correct = 0;
    for (int i = 0; i < n; i++) {
        const float *x = logits + (size_t)i * stride; /* (k) */
        const int y = labels[i];
        int am;
        double mx;
        const double s = row_softmax_sum(x, k, &am, &mx); /* p_j = exp(x_j - mx) / s, largest p_am = 1 / s */
        correct += am == y;
        const double pmax = 1.0 / s;
        /* q_j = exp(p_j - pmax) / s2; qp = sum_j q_j p_j */
        double s2 = 0.0, s2p = 0.0;
        for (int j = 0; j < k; j++) {
            const double p = exp((double)x[j] - mx) / s;
            const double e = exp(p - pmax);
            s2 += e;
            s2p += e * p;
        }
        const double py = exp((double)x[y] - mx) / s;
        sum += pmax + log(s2) - py;
        if (dlogits) {
            float *dx = dlogits + (size_t)i * stride; /* (k) */
            const double c = (double)scale / n;
            const double dot = s2p / s2 - py; /* sum_m g_m p_m with g = q - onehot */
            for (int j = 0; j < k; j++) {
                const double p = exp((double)x[j] - mx) / s;
                const double g = exp(p - pmax) / s2 - (j == y);
                dx[j] = (float)(p * (g - dot) * c);
            }
        }
    }
    if (n_correct) *n_correct = correct;
    return (float)(sum / n);
}

float loss_mean_sigmoid(const float *logit, int stride, int n)
{
    ACGAN_ASSERT(logit && n > 0 && stride >= 1, "mean_sigmoid: bad arguments (n %d, stride %d)", n, stride);
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += sigmoid_stable(logit[(size_t)i * stride]);
    return (float)(sum / n);
}
