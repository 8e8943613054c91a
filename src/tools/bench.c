/* bench.c - speed of one full ACGAN training step (G step + D step + allreduces), printed as figures.
 *
 *   mpirun -np 2 build/acgan_bench --batch 64 --steps 20        # global batch, split across ranks
 *   OPENBLAS_NUM_THREADS=2 build/acgan_bench --batch 64         # threads per rank (default: cores/ranks)
 *   build/acgan_bench --batch 32 --profile                       # + per-layer times of rank 0
 *
 * Prints "acgan_mpi ranks=R ... : X img/s, Y ms/step" in the same shape as
 * shared/reference/torch_acgan.py so the two can be run side by side. Inputs are random tensors.
 * --profile adds, for every layer of G and D, rank 0's forward and backward milliseconds per step
 * (summed over the passes of a step: D runs three forwards and three backwards) and the rest of the
 * step (losses, embeddings, allreduce, Adam). Timing each layer adds a clock read per layer call.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acgan/acgan.h"
#include "acgan/common.h"
#include "acgan/dist.h"
#include "acgan/rng.h"

static int arg_int(int argc, char **argv, const char *name, int def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return atoi(argv[i + 1]);
    return def;
}

static int arg_flag(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0) return 1;
    return 0;
}

/* One line per layer: kind, output shape, forward and backward ms per step, share of the step. */
static double print_layers(const Model *m, const double *sec, int steps, double step_ms)
{
    double total = 0.0;
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *l = m->layers[i];
        const double f = sec[2 * i] * 1e3 / steps, b = sec[2 * i + 1] * 1e3 / steps;
        total += f + b;
        printf("  %s%-2d %-12s -> (%4d,%3d,%3d)  fwd %8.2f ms  bwd %8.2f ms  %5.1f%%\n", m->name, i, l->ops->kind,
               l->out.c, l->out.h, l->out.w, f, b, 100.0 * (f + b) / step_ms);
    }
    return total;
}

/* As acgan_mpi does: one BLAS (and layer) thread per core, the cores shared by this node's ranks, unless
 * OPENBLAS_NUM_THREADS or OMP_NUM_THREADS says otherwise. */
static void set_blas_threads(void)
{
    if (getenv("OPENBLAS_NUM_THREADS") || getenv("OMP_NUM_THREADS")) return;
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const int per_rank = (int)(cores / dist_local_size());
    openblas_set_num_threads(per_rank > 1 ? per_rank : 1);
}

static const char *arg_str(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return def;
}

static const char *const USAGE =
    "usage: acgan_bench [--batch 64] [--steps 20] [--img-size 32] [--channels 1] [--classes 10] [--latent 100]\n"
    "                   [--disc conv|mlp] [--profile]\n"
    "Times full ACGAN training steps on random inputs; --batch is the global batch (split across MPI ranks).\n";

/* Every option is known and every numeric value a positive integer; returns 0 if not. */
static int args_valid(int argc, char **argv)
{
    static const char *const with_value[] = {"--batch", "--steps", "--img-size", "--channels", "--classes", "--latent", "--disc"};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--profile") == 0) continue;
        int known = -1;
        for (int k = 0; k < 7; k++)
            if (strcmp(argv[i], with_value[k]) == 0) known = k;
        if (known < 0 || i + 1 >= argc) return 0;
        const char *v = argv[++i];
        if (known == 6) {
            if (strcmp(v, "conv") != 0 && strcmp(v, "mlp") != 0) return 0;
        } else {
            char *end;
            long x = strtol(v, &end, 10);
            if (*end || x < 1 || x > 1 << 20) return 0;
        }
    }
    return 1;
}

int main(int argc, char **argv)
{
    dist_init(&argc, &argv);
    if (!args_valid(argc, argv)) {
        if (dist_rank() == 0) fputs(USAGE, argc > 1 && strstr(argv[1], "-h") ? stdout : stderr);
        dist_finalize();
        return argc > 1 && strstr(argv[1], "-h") ? 0 : 2;
    }
    const int batch = arg_int(argc, argv, "--batch", 64), steps = arg_int(argc, argv, "--steps", 20);
    const int img = arg_int(argc, argv, "--img-size", 32), channels = arg_int(argc, argv, "--channels", 1);
    const int classes = arg_int(argc, argv, "--classes", 10);
    const char *disc = arg_str(argc, argv, "--disc", "conv");
    const int profile = arg_flag(argc, argv, "--profile");
    const int world = dist_size(), B = batch / world;
    if (B < 1 || batch % world != 0) {
        if (dist_rank() == 0) fprintf(stderr, "acgan_bench: --batch %d must be a multiple of %d ranks\n", batch, world);
        dist_finalize();
        return 2;
    }
    set_blas_threads();
    AcganSpec s = acgan_spec_default(classes, channels, img);
    s.latent_dim = arg_int(argc, argv, "--latent", 100);
    s.disc = strcmp(disc, "mlp") == 0 ? ACGAN_DISC_MLP : ACGAN_DISC_CONV;
    Acgan *a = acgan_create(&s, B);
    acgan_broadcast(a);
    const size_t px = (size_t)channels * img * img;
    float *real = malloc((size_t)B * px * sizeof(float));
    int32_t *labels = malloc((size_t)B * sizeof(int32_t));
    Rng r = rng_make(rng_key(1, 77, (uint64_t)dist_rank(), 0));
    for (size_t i = 0; i < (size_t)B * px; i++) real[i] = 2.0f * rng_uniform(&r) - 1.0f;
    for (int i = 0; i < B; i++) labels[i] = (int32_t)rng_below(&r, (uint32_t)classes);

    AcganStepStats st;
    for (int i = 0; i < 3; i++) acgan_train_step(a, real, labels, B, i, (int64_t)dist_rank() * B, &st);
    double *g_sec = NULL, *d_sec = NULL;
    if (profile) {
        g_sec = acgan_calloc(2 * (size_t)a->g->n_layers, sizeof(double));
        d_sec = acgan_calloc(2 * (size_t)a->d->n_layers, sizeof(double));
        a->g->layer_seconds = g_sec;
        a->d->layer_seconds = d_sec;
    }
    dist_barrier();
    double t = acgan_now();
    for (int i = 0; i < steps; i++) acgan_train_step(a, real, labels, B, 3 + i, (int64_t)dist_rank() * B, &st);
    dist_barrier();
    t = acgan_now() - t;
    if (dist_rank() == 0) {
        printf("acgan_mpi ranks=%d threads=%d batch=%d img=%d disc=%s: %.1f img/s, %.1f ms/step\n", world,
               openblas_get_num_threads(), batch, img, disc, steps * (double)batch / t, t / steps * 1000.0);
        if (profile) {
            const double step_ms = t / steps * 1000.0;
            printf("per-layer times of rank 0 (per step; D runs 3 forwards and 3 backwards a step):\n");
            double layers = print_layers(a->g, g_sec, steps, step_ms);
            layers += print_layers(a->d, d_sec, steps, step_ms);
            printf("  layers %.2f ms, rest (losses, embeddings, allreduce, Adam, waiting) %.2f ms of %.2f ms\n", layers,
                   step_ms - layers, step_ms);
        }
    }
    a->g->layer_seconds = a->d->layer_seconds = NULL;
    free(g_sec);
    free(d_sec);
    free(real);
    free(labels);
    acgan_free(a);
    dist_finalize();
    return 0;
}
