/* idx2h5.c - converts an MNIST-style IDX image/label pair into the project's HDF5 dataset schema.
 *
 *   acgan_idx2h5 --images train-images-idx3-ubyte.gz --labels train-labels-idx1-ubyte.gz \
 *                --out data/fashion-mnist-train.h5 [--size 32] [--class-names fashion|digits|none|auto]
 *
 * Each (H, W) image is resized to (size, size) with half-pixel bilinear interpolation (a copy when the
 * size matches) and stored as images uint8 (N, 1, size, size); labels int32 (N); n_classes = max label + 1.
 * Exit status: 0 ok, 1 data or I/O error, 2 bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acgan/dataset.h"
#include "acgan/idx.h"

#define IDX2H5_MAX_SIZE 4096

static const char *const FASHION_NAMES[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                              "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
static const char *const DIGIT_NAMES[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};

typedef struct {
    const char *images, *labels, *out;
    int size;
    const char *class_names; /* fashion | digits | none | auto */
} Idx2h5Args;

static void idx2h5_usage(FILE *f)
{
    fprintf(f,
            "usage: acgan_idx2h5 --images IDX --labels IDX --out OUT.h5 [--size 32]\n"
            "                    [--class-names fashion|digits|none|auto]\n"
            "\n"
            "Converts MNIST-style IDX files (plain or .gz) into an HDF5 dataset for acgan_mpi:\n"
            "images uint8 (N, 1, S, S) resized bilinearly to S = --size, labels int32 (N),\n"
            "attribute n_classes = max label + 1, optional class_names.\n"
            "  --images IDX        image file (magic 0x00000803)\n"
            "  --labels IDX        label file (magic 0x00000801)\n"
            "  --out OUT.h5        output file (written to OUT.h5.tmp, then renamed)\n"
            "  --size S            output side length, 1..%d (default 32)\n"
            "  --class-names KIND  fashion (Fashion-MNIST names), digits (\"0\"..\"9\"), none, or auto\n"
            "                      (default: fashion if the images path contains \"fashion\", digits if it\n"
            "                      contains \"mnist\" and there are 10 classes, otherwise none)\n",
            IDX2H5_MAX_SIZE);
}

/* Parses argv into a; returns 0, 1 for --help, or -1 after printing a usage error. */
static int idx2h5_parse(int argc, char **argv, Idx2h5Args *a)
{
    *a = (Idx2h5Args){NULL, NULL, NULL, 32, "auto"};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = NULL;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) return 1;
        const char *eq = strchr(arg, '=');
        size_t klen = eq ? (size_t)(eq - arg) : strlen(arg);
        static const char *const keys[] = {"--images", "--labels", "--out", "--size", "--class-names"};
        int k = -1;
        for (int j = 0; j < 5; j++)
            if (strlen(keys[j]) == klen && !strncmp(arg, keys[j], klen)) k = j;
        if (k < 0) {
            fprintf(stderr, "acgan_idx2h5: unknown argument '%s' (try --help)\n", arg);
            return -1;
        }
        if (eq) val = eq + 1;
        else if (i + 1 < argc) val = argv[++i];
        else {
            fprintf(stderr, "acgan_idx2h5: %s needs a value (try --help)\n", keys[k]);
            return -1;
        }
        if (k == 0) a->images = val;
        else if (k == 1) a->labels = val;
        else if (k == 2) a->out = val;
        else if (k == 4) a->class_names = val;
        else {
            char *end;
            long s = strtol(val, &end, 10);
            if (*val == '\0' || *end != '\0' || s < 1 || s > IDX2H5_MAX_SIZE) {
                fprintf(stderr, "acgan_idx2h5: --size '%s': expected an integer 1..%d\n", val, IDX2H5_MAX_SIZE);
                return -1;
            }
            a->size = (int)s;
        }
    }
    if (!a->images || !a->labels || !a->out) {
        fprintf(stderr, "acgan_idx2h5: --images, --labels and --out are required (try --help)\n");
        return -1;
    }
    if (!strcmp(a->out, a->images) || !strcmp(a->out, a->labels)) {
        fprintf(stderr, "acgan_idx2h5: --out %s would overwrite an input file\n", a->out);
        return -1;
    }
    const char *cn = a->class_names;
    if (strcmp(cn, "fashion") && strcmp(cn, "digits") && strcmp(cn, "none") && strcmp(cn, "auto")) {
        fprintf(stderr, "acgan_idx2h5: --class-names '%s': expected fashion, digits, none or auto\n", cn);
        return -1;
    }
    return 0;
}

/* Resolves --class-names to a table of 10 names, or NULL for none. */
static const char *const *idx2h5_names(const char *kind, const char *images_path, int n_classes, const char **label)
{
    if (!strcmp(kind, "auto")) {
        if (strstr(images_path, "fashion")) kind = "fashion";
        else if (n_classes == 10 && strstr(images_path, "mnist")) kind = "digits";
        else kind = "none";
    }
    *label = kind;
    if (!strcmp(kind, "fashion")) return FASHION_NAMES;
    if (!strcmp(kind, "digits")) return DIGIT_NAMES;
    return NULL;
}

int main(int argc, char **argv)
{
    Idx2h5Args a;
    int pr = idx2h5_parse(argc, argv, &a);
    if (pr == 1) {
        idx2h5_usage(stdout);
        return 0;
    }
    if (pr < 0) return 2;

    AcganError err = {0};
    uint8_t *raw = NULL;  /* (N, H, W) */
    int32_t *lab = NULL;  /* (N) */
    uint8_t *out = NULL;  /* (N, 1, S, S) */
    int64_t n = 0, nl = 0;
    int h = 0, w = 0, rc = 1;
    if (idx_read_images(a.images, &raw, &n, &h, &w, &err) != ACGAN_OK ||
        idx_read_labels(a.labels, &lab, &nl, &err) != ACGAN_OK) {
        fprintf(stderr, "acgan_idx2h5: %s\n", err.msg);
        goto done;
    }
    if (n != nl) {
        fprintf(stderr, "acgan_idx2h5: %s has %lld images but %s has %lld labels\n", a.images, (long long)n, a.labels,
                (long long)nl);
        goto done;
    }
    if (n == 0) {
        fprintf(stderr, "acgan_idx2h5: %s holds no images\n", a.images);
        goto done;
    }
    int n_classes = 1;
    for (int64_t i = 0; i < n; i++)
        if (lab[i] + 1 > n_classes) n_classes = lab[i] + 1;
    const char *kind;
    const char *const *names = idx2h5_names(a.class_names, a.images, n_classes, &kind);
    if (names && n_classes > 10) {
        fprintf(stderr, "acgan_idx2h5: --class-names %s gives 10 names but %s has %d classes (max label %d)\n", kind,
                a.labels, n_classes, n_classes - 1);
        goto done;
    }

    size_t ss = (size_t)a.size * a.size;
    out = malloc(n ? (size_t)n * ss : 1);
    if (!out) {
        fprintf(stderr, "acgan_idx2h5: cannot allocate %lld x %d x %d bytes\n", (long long)n, a.size, a.size);
        goto done;
    }
    for (int64_t i = 0; i < n; i++)
        image_resize_bilinear_u8(raw + (size_t)i * h * w, h, w, out + (size_t)i * ss, a.size, a.size);
    if (dataset_write(a.out, out, lab, n, 1, a.size, a.size, n_classes, names, &err) != ACGAN_OK) {
        fprintf(stderr, "acgan_idx2h5: %s\n", err.msg);
        goto done;
    }
    printf("acgan_idx2h5: %lld images %dx%d -> 1x%dx%d, %d classes (names: %s), wrote %s\n", (long long)n, h, w, a.size,
           a.size, n_classes, kind, a.out);
    rc = 0;
done:
    free(out);
    free(lab);
    free(raw);
    return rc;
}
