/* metrics.c - OUT/metrics.csv: one CSV row per log step, written by rank 0.
 *
 * metrics_open starts the file over (header only) when resume_step is 0 or the file is missing or
 * empty. When resuming (resume_step > 0) it keeps the header and every complete row whose step is
 * <= resume_step, so rows logged after the checkpoint by the interrupted run are not duplicated.
 * Either way the new contents go to PATH.tmp, which is closed (checked) and renamed over PATH;
 * the file is then reopened for appending. metrics_log writes one row and flushes it.
 */
#include "acgan/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A complete data row: newline-terminated, as many fields as the header, step <= max_step. */
static int row_keep(const char *line, int64_t max_step)
{
    size_t n = strlen(line);
    if (n == 0 || line[n - 1] != '\n') return 0; /* cut short by a crash */
    int commas = 0, header_commas = 0;
    for (const char *p = line; *p; p++) commas += *p == ',';
    for (const char *p = METRICS_HEADER; *p; p++) header_commas += *p == ',';
    if (commas != header_commas) return 0;
    char *end = NULL;
    errno = 0;
    long long step = strtoll(line, &end, 10);
    if (end == line || *end != ',' || errno == ERANGE) return 0;
    return step <= max_step;
}

/* Copies the header and kept rows of the existing file at path into out. */
static AcganStatus metrics_copy_kept(FILE *in, FILE *out, const char *path, int64_t resume_step, AcganError *err)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    AcganStatus st = ACGAN_OK;
    int first = 1;
    while ((len = getline(&line, &cap, in)) >= 0) {
        if (first) {
            first = 0;
            if (strcmp(line, METRICS_HEADER "\n") != 0) {
                line[strcspn(line, "\r\n")] = '\0';
                st = acgan_fail(err, ACGAN_ERR_IO,
                                "%s: unexpected header '%.200s' (expected '%s'); move the file away to start a new log",
                                path, line, METRICS_HEADER);
                break;
            }
            fputs(METRICS_HEADER "\n", out);
        } else if (row_keep(line, resume_step)) {
            fputs(line, out);
        }
    }
    if (st == ACGAN_OK && ferror(in)) st = acgan_fail(err, ACGAN_ERR_IO, "%s: read error", path);
    if (st == ACGAN_OK && first) fputs(METRICS_HEADER "\n", out); /* empty file */
    free(line);
    return st;
}

AcganStatus metrics_open(Metrics *m, const char *path, int64_t resume_step, AcganError *err)
{
    m->f = NULL;
    const size_t n = strlen(path);
    char *tmp = acgan_malloc(n + 5);
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);

    AcganStatus st = ACGAN_OK;
    FILE *out = fopen(tmp, "w");
    if (!out) {
        st = acgan_fail(err, ACGAN_ERR_IO, "cannot write %s: cannot create %s: %s", path, tmp, strerror(errno));
        free(tmp);
        return st;
    }
    FILE *in = resume_step > 0 ? fopen(path, "r") : NULL;
    if (resume_step > 0 && !in && errno != ENOENT)
        st = acgan_fail(err, ACGAN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    else if (in)
        st = metrics_copy_kept(in, out, path, resume_step, err);
    else
        fputs(METRICS_HEADER "\n", out);
    if (in) fclose(in);

    if (st == ACGAN_OK && (fflush(out) != 0 || ferror(out) || fsync(fileno(out)) != 0)) /* on disk before the rename */
        st = acgan_fail(err, ACGAN_ERR_IO, "%s: write error: %s", tmp, strerror(errno));
    if (fclose(out) != 0 && st == ACGAN_OK)
        st = acgan_fail(err, ACGAN_ERR_IO, "%s: write error on close: %s", tmp, strerror(errno));
    if (st == ACGAN_OK && rename(tmp, path) != 0)
        st = acgan_fail(err, ACGAN_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (st != ACGAN_OK) remove(tmp);
    free(tmp);
    if (st != ACGAN_OK) return st;

    m->f = fopen(path, "a");
    if (!m->f) return acgan_fail(err, ACGAN_ERR_IO, "%s: cannot open for appending: %s", path, strerror(errno));
    return ACGAN_OK;
}

void metrics_log(Metrics *m, const MetricsRow *r)
{
    ACGAN_ASSERT(m->f != NULL, "metrics_log on a closed Metrics");
    fprintf(m->f, "%" PRId64 ",%" PRId64 ",%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n", r->step, r->epoch, r->d_loss, r->g_loss,
            r->d_real, r->d_fake, r->aux_acc, r->img_per_sec);
    fflush(m->f);
}

void metrics_close(Metrics *m)
{
    if (m->f) fclose(m->f);
    m->f = NULL;
}
