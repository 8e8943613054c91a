/* test_image.c - Check suite for image.c: grid layout, value mapping and clamping, PNG round trip, errors.
 *
 * Each pixel of a 2x3 grid of 4x5 images (1 and 3 channels) is compared with a value computed here
 * directly from the grid geometry, after writing the PNG and reading it back through libpng.
 */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acgan/image.h"
#include "testutil.h"

enum { ROWS = 2, COLS = 3, IH = 4, IW = 5, PAD = 2 };

/* Input value of image i, channel ch, pixel (y, x): spans beyond [-1, 1] to exercise clamping,
 * and avoids the .5 rounding boundaries except for the exact ones listed in test_mapping. */
static float input_value(int i, int ch, int y, int x)
{
    return -1.3f + 0.0371f * (float)(((i * 3 + ch) * IH + y) * IW + x);
}

static uint8_t expected_byte(float v)
{
    double t = ((double)v + 1.0) * 127.5;
    long r = lround(t);
    return (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
}

static void check_grid_roundtrip(int c)
{
    const int n = ROWS * COLS;
    float *imgs = malloc((size_t)n * c * IH * IW * sizeof(float)); /* (n, c, IH, IW) */
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < IH; y++)
                for (int x = 0; x < IW; x++) imgs[((i * c + ch) * IH + y) * IW + x] = input_value(i, ch, y, x);
    const int W = image_grid_width(IW, COLS, PAD), H = image_grid_height(IH, ROWS, PAD);
    ck_assert_int_eq(W, COLS * IW + (COLS + 1) * PAD);
    ck_assert_int_eq(H, ROWS * IH + (ROWS + 1) * PAD);
    uint8_t *grid = malloc((size_t)W * H * c);
    memset(grid, 0x5A, (size_t)W * H * c); /* pad pixels must be overwritten with 0 */
    image_grid(imgs, c, IH, IW, ROWS, COLS, PAD, grid);

    const char *dir = test_tmpdir("png");
    char path[512];
    snprintf(path, sizeof path, "%s/grid.png", dir);
    AcganError err = {0};
    ck_assert_msg(image_write_png(path, grid, W, H, c, &err) == ACGAN_OK, "%s", err.msg);

    uint8_t *back = NULL;
    int bw = 0, bh = 0, bc = 0;
    ck_assert_msg(image_read_png(path, &back, &bw, &bh, &bc, &err) == ACGAN_OK, "%s", err.msg);
    ck_assert_int_eq(bw, W);
    ck_assert_int_eq(bh, H);
    ck_assert_int_eq(bc, c);

    int n_pad = 0, n_lo = 0, n_hi = 0;
    for (int Y = 0; Y < H; Y++)
        for (int X = 0; X < W; X++) {
            /* Which image cell, if any, covers (Y, X)? */
            int r = (Y - PAD) / (IH + PAD), y = (Y - PAD) % (IH + PAD);
            int q = (X - PAD) / (IW + PAD), x = (X - PAD) % (IW + PAD);
            int inside = Y >= PAD && X >= PAD && y < IH && x < IW && r < ROWS && q < COLS;
            for (int ch = 0; ch < c; ch++) {
                uint8_t want = inside ? expected_byte(input_value(r * COLS + q, ch, y, x)) : 0;
                uint8_t got = back[((size_t)Y * W + X) * c + ch];
                ck_assert_msg(got == want, "c=%d pixel (%d,%d) channel %d: got %d want %d", c, Y, X, ch, got, want);
                ck_assert_int_eq(grid[((size_t)Y * W + X) * c + ch], want);
                n_pad += !inside;
                n_lo += inside && want == 0;
                n_hi += inside && want == 255;
            }
        }
    ck_assert_int_gt(n_pad, 0);
    ck_assert_int_gt(n_lo, 1); /* clamping at both ends was exercised */
    ck_assert_int_gt(n_hi, 1);

    /* No temporary file is left behind. */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ck_assert_ptr_null(fopen(tmp, "rb"));
    free(back);
    free(grid);
    free(imgs);
    remove(path);
}

START_TEST(test_gray_grid) { check_grid_roundtrip(1); }
END_TEST

START_TEST(test_rgb_grid) { check_grid_roundtrip(3); }
END_TEST

START_TEST(test_mapping)
{
    /* Exact points of the [-1, 1] -> [0, 255] map, one 1x1 image each, no padding. */
    const float v[] = {-1.0f, 1.0f, 0.0f, -5.0f, 5.0f, NAN, -1.0f + 1.0f / 127.5f, 1.0f - 0.4f / 127.5f};
    const uint8_t want[] = {0, 255, 128, 0, 255, 0, 1, 255};
    const int n = (int)(sizeof v / sizeof v[0]);
    uint8_t out[sizeof v / sizeof v[0]];
    image_grid(v, 1, 1, 1, 1, n, 0, out);
    for (int i = 0; i < n; i++) ck_assert_msg(out[i] == want[i], "value %d: got %d want %d", i, out[i], want[i]);
}
END_TEST

START_TEST(test_write_errors)
{
    const char *dir = test_tmpdir("png");
    char path[512];
    snprintf(path, sizeof path, "%s/missing_dir/grid.png", dir);
    uint8_t pix[4 * 4 * 3] = {0};
    AcganError err = {0};
    ck_assert_int_eq(image_write_png(path, pix, 4, 4, 1, &err), ACGAN_ERR_IO);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);

    /* Nothing at all was created in dir. */
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int entries = 0;
    while ((e = readdir(d)) != NULL) entries += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    ck_assert_int_eq(entries, 0);

    snprintf(path, sizeof path, "%s/two.png", dir);
    ck_assert_int_eq(image_write_png(path, pix, 4, 4, 2, &err), ACGAN_ERR_IO);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "2 channels"), "%s", err.msg);
    ck_assert_ptr_null(fopen(path, "rb"));
}
END_TEST

START_TEST(test_read_errors)
{
    const char *dir = test_tmpdir("png");
    char path[512];
    uint8_t *pix = (uint8_t *)1;
    int w, h, c;
    AcganError err = {0};
    snprintf(path, sizeof path, "%s/none.png", dir);
    ck_assert_int_eq(image_read_png(path, &pix, &w, &h, &c, &err), ACGAN_ERR_IO);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);
    ck_assert_ptr_null(pix);

    snprintf(path, sizeof path, "%s/text.png", dir);
    FILE *f = fopen(path, "w");
    fputs("this is not a png file at all\n", f);
    fclose(f);
    ck_assert_int_eq(image_read_png(path, &pix, &w, &h, &c, &err), ACGAN_ERR_IO);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "not a PNG"), "%s", err.msg);

    /* A truncated PNG: libpng's error comes back as a status, not an abort. */
    uint8_t grid[16 * 16] = {0};
    for (int i = 0; i < 256; i++) grid[i] = (uint8_t)(i * 37);
    snprintf(path, sizeof path, "%s/cut.png", dir);
    ck_assert_int_eq(image_write_png(path, grid, 16, 16, 1, &err), ACGAN_OK);
    f = fopen(path, "rb");
    uint8_t bytes[4096];
    size_t n = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    f = fopen(path, "wb");
    fwrite(bytes, 1, n / 2, f);
    fclose(f);
    ck_assert_int_eq(image_read_png(path, &pix, &w, &h, &c, &err), ACGAN_ERR_IO);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);
    ck_assert_ptr_null(pix);
}
END_TEST

static Suite *png_suite(void)
{
    Suite *s = suite_create("png");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_gray_grid);
    tcase_add_test(tc, test_rgb_grid);
    tcase_add_test(tc, test_mapping);
    tcase_add_test(tc, test_write_errors);
    tcase_add_test(tc, test_read_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(png_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
