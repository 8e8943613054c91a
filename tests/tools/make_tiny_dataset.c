/* make_tiny_dataset.c - writes a small synthetic dataset for the fault-tolerance scripts.
 *   make_tiny_dataset OUT.h5 N SIZE CLASSES
 * Class k images are bright in the rows where row % CLASSES == k, so the classes are learnable. */
#include <stdio.h>
#include <stdlib.h>

#include "acgan/dataset.h"
#include "acgan/rng.h"

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: make_tiny_dataset OUT.h5 N SIZE CLASSES\n");
        return 2;
    }
    const int n = atoi(argv[2]), size = atoi(argv[3]), k = atoi(argv[4]);
    uint8_t *img = malloc((size_t)n * size * size);
    int32_t *lab = malloc((size_t)n * sizeof(int32_t));
    Rng r = rng_make(rng_key(5, 6, 7, 8));
    for (int i = 0; i < n; i++) {
        lab[i] = i % k;
        for (int p = 0; p < size * size; p++)
            img[(size_t)i * size * size + p] =
                (uint8_t)((p / size) % k == lab[i] ? 200 + rng_below(&r, 55) : rng_below(&r, 40));
    }
    AcganError err;
    int rc = dataset_write(argv[1], img, lab, n, 1, size, size, k, NULL, &err) == ACGAN_OK ? 0 : 1;
    if (rc) fprintf(stderr, "make_tiny_dataset: %s\n", err.msg);
    free(img);
    free(lab);
    return rc;
}
