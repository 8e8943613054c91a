/* main.c - command line: acgan_mpi CONFIG [section.key=value ...]. Only main turns errors into exit codes. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acgan/config.h"
#include "acgan/dist.h"
#include "acgan/guard.h"
#include "acgan/train.h"

enum { EXIT_USAGE = 2 };

/* One OpenBLAS thread per core: ranks on this node share the cores unless the user said otherwise. */
static void set_blas_threads(void)
{
    if (getenv("OPENBLAS_NUM_THREADS") || getenv("OMP_NUM_THREADS")) return;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int per_rank = (int)(cores / dist_local_size());
    openblas_set_num_threads(per_rank > 1 ? per_rank : 1);
}

int main(int argc, char **argv)
{
    dist_init(&argc, &argv);
    const int rank = dist_rank();
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        if (rank == 0) config_print_help(stdout);
        dist_finalize();
        return 0;
    }
    if (argc < 2 || argv[1][0] == '-') {
        if (rank == 0) {
            if (argc >= 2) fprintf(stderr, "acgan_mpi: unknown option '%s'\n", argv[1]);
            fprintf(stderr, "usage: acgan_mpi CONFIG [section.key=value ...]   (acgan_mpi --help lists every key)\n");
        }
        dist_finalize();
        return EXIT_USAGE;
    }
    Config cfg;
    AcganError err = {0};
    AcganStatus st = config_load(&cfg, argv[1], argc - 2, argv + 2, &err);
    /* Every rank parses the config; the lowest failing rank (usually 0) speaks for all. */
    if (!dist_agree(st == ACGAN_OK, err.msg)) {
        dist_finalize();
        return EXIT_USAGE;
    }
    set_blas_threads();
    st = train_run(&cfg, &err);
    dist_finalize();
    if (st == ACGAN_STOPPED) return ACGAN_EXIT_STOPPED;
    return st == ACGAN_OK ? 0 : 1;
}
