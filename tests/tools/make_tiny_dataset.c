/* make_tiny_dataset.c - writes a small synthetic dataset for the end-to-end test scripts.
 *   make_tiny_dataset OUT.h5 N SIZE CLASSES */
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: make_tiny_dataset OUT.h5 N SIZE CLASSES\n");
        return 2;
    }
    return test_write_synthetic_dataset(argv[1], atoi(argv[2]), atoi(argv[3]), atoi(argv[4])) == 0 ? 0 : 1;
}
