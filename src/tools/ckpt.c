/* ckpt.c - acgan_ckpt: inspect checkpoints without the model.
 *
 *   acgan_ckpt verify FILE...     read every tensor (checksums), print step, epoch, ranks and a content hash
 *   acgan_ckpt same A B           exit 0 when A and B hold bitwise-identical training states
 *
 * Exit status: 0 ok / identical, 1 a file is unreadable or corrupt / states differ, 2 bad usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "acgan/checkpoint.h"

static int usage(void)
{
    fprintf(stderr, "usage: acgan_ckpt verify FILE...\n       acgan_ckpt same FILE_A FILE_B\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 3) return usage();
    AcganError err = {0};
    CkptMeta m;
    uint64_t h[2];
    if (strcmp(argv[1], "verify") == 0) {
        int bad = 0;
        for (int i = 2; i < argc; i++) {
            if (ckpt_verify(argv[i], &m, &h[0], &err) != ACGAN_OK) {
                fprintf(stderr, "acgan_ckpt: %s\n", err.msg);
                bad = 1;
                continue;
            }
            printf("%s: ok, step %lld, epoch %lld, written by %d rank%s, state hash %016" PRIx64 "\n", argv[i],
                   (long long)m.step, (long long)m.epoch, (int)m.world_size, m.world_size == 1 ? "" : "s", h[0]);
        }
        return bad;
    }
    if (strcmp(argv[1], "same") == 0 && argc == 4) {
        for (int i = 0; i < 2; i++)
            if (ckpt_verify(argv[2 + i], &m, &h[i], &err) != ACGAN_OK) {
                fprintf(stderr, "acgan_ckpt: %s\n", err.msg);
                return 1;
            }
        printf("%s\n", h[0] == h[1] ? "identical" : "different");
        return h[0] == h[1] ? 0 : 1;
    }
    return usage();
}
