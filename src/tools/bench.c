/* bench.c - speed of one full ACGAN training step (G step + D step + allreduces), printed as figures.
 *
 *   mpirun -np 2 build/acgan_bench --batch 64 --steps 20        # global batch, split across ranks
 *   OPENBLAS_NUM_THREADS=2 build/acgan_bench --batch 64
 *
 * Prints "acgan_mpi ranks=R ... : X img/s, Y ms/step" in the same shape as
 * shared/reference/torch_acgan.py so the two can be run side by side. Inputs are random tensors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const char *arg_str(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return def;
}

int main(int argc, char **argv)
{
    dist_init(&argc, &argv);
    const int batch = arg_int(argc, argv, "--batch", 64), steps = arg_int(argc, argv, "--steps", 20);
    const int img = arg_int(argc, argv, "--img-size", 32), channels = arg_int(argc, argv, "--channels", 1);
    const int classes = arg_int(argc, argv, "--classes", 10);
    const char *disc = arg_str(argc, argv, "--disc", "conv");
    const int world = dist_size(), B = batch / world;
    if (B < 1 || batch % world != 0) {
        if (dist_rank() == 0) fprintf(stderr, "acgan_bench: --batch %d must be a multiple of %d ranks\n", batch, world);
        dist_finalize();
        return 2;
    }
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
    dist_barrier();
    double t = acgan_now();
    for (int i = 0; i < steps; i++) acgan_train_step(a, real, labels, B, 3 + i, (int64_t)dist_rank() * B, &st);
    dist_barrier();
    t = acgan_now() - t;
    if (dist_rank() == 0) {
        const char *thr = getenv("OPENBLAS_NUM_THREADS");
        printf("acgan_mpi ranks=%d threads=%s batch=%d img=%d disc=%s: %.1f img/s, %.1f ms/step\n", world,
               thr ? thr : "default", batch, img, disc, steps * (double)batch / t, t / steps * 1000.0);
    }
    free(real);
    free(labels);
    acgan_free(a);
    dist_finalize();
    return 0;
}
