/* train.c - the training loop. Every rank runs the same number of steps; rank 0 writes outputs.
 *
 * Data order: each epoch, every rank shuffles its own shard with an RNG keyed by (seed, epoch, rank)
 * and takes consecutive local batches; step s is batch s % steps_per_epoch of epoch s / steps_per_epoch,
 * so a resumed run continues mid-epoch exactly where the checkpoint stopped.
 */
#include "acgan/train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acgan/checkpoint.h"
#include "acgan/dataset.h"
#include "acgan/dist.h"
#include "acgan/guard.h"
#include "acgan/image.h"
#include "acgan/metrics.h"
#include "acgan/rng.h"

#define PATH_CAP 2048
#define MAX_SKIPPED_IN_A_ROW 10 /* train.nonfinite = skip: more consecutive non-finite updates stop the run */

AcganStatus train_spec_from_config(const Config *cfg, int n_classes, int channels, AcganSpec *spec, AcganError *err)
{
    AcganSpec s = acgan_spec_default(n_classes, channels, cfg->img_size);
    s.latent_dim = cfg->latent_dim;
    s.bn_eps = cfg->bn_eps;
    s.bn_momentum = cfg->bn_momentum;
    s.disc = strcmp(cfg->discriminator, "mlp") == 0 ? ACGAN_DISC_MLP : ACGAN_DISC_CONV;
    s.label_input = strcmp(cfg->label_input, "multiply") == 0 ? ACGAN_LABEL_MULTIPLY : ACGAN_LABEL_CONCAT;
    s.aux_loss = strcmp(cfg->aux_loss, "softmax_then_ce") == 0 ? ACGAN_AUX_SOFTMAX_CE : ACGAN_AUX_LOGITS;
    s.lr = cfg->lr;
    s.beta1 = cfg->beta1;
    s.beta2 = cfg->beta2;
    s.seed = cfg->seed;
    *spec = s;
    return ACGAN_OK;
}

/* The tensors of a training state, in checkpoint order. */
static int state_tensors(Acgan *a, CkptTensor *t)
{
    int n = 0;
    t[n++] = (CkptTensor){"G/params", a->g->params, a->g->n_params};
    t[n++] = (CkptTensor){"G/bn_state", a->g->state, a->g->n_state};
    t[n++] = (CkptTensor){"G/adam_m", a->opt_g->m, a->opt_g->n};
    t[n++] = (CkptTensor){"G/adam_v", a->opt_g->v, a->opt_g->n};
    t[n++] = (CkptTensor){"D/params", a->d->params, a->d->n_params};
    t[n++] = (CkptTensor){"D/bn_state", a->d->state, a->d->n_state};
    t[n++] = (CkptTensor){"D/adam_m", a->opt_d->m, a->opt_d->n};
    t[n++] = (CkptTensor){"D/adam_v", a->opt_d->v, a->opt_d->n};
    return n;
}

AcganStatus train_save_checkpoint(const char *path, Acgan *a, const Config *cfg, int64_t step, int64_t epoch,
                                  AcganError *err)
{
    CkptTensor t[8];
    int n = state_tensors(a, t);
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < t[i].count; j++)
            if (!isfinite(t[i].data[j]))
                return acgan_fail(err, ACGAN_ERR_RUNTIME, "not writing %s: tensor '%s' holds a NaN or Inf at index %zu",
                                  path, t[i].name, j);
    CkptMeta meta = {.step = step, .epoch = epoch, .adam_t_g = a->opt_g->t, .adam_t_d = a->opt_d->t,
                     .seed = a->spec.seed, .world_size = dist_size()};
    size_t need = config_to_ini(cfg, NULL, 0) + 1;
    char *ini = acgan_malloc(need);
    config_to_ini(cfg, ini, need);
    AcganStatus st = ckpt_save(path, t, n, &meta, ini, err);
    free(ini);
    return st;
}

static int mkdir_p(const char *path)
{
    char buf[PATH_CAP];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
    return 0;
}

/* Rank 0 creates OUT, OUT/samples, OUT/checkpoints and takes OUT/.lock (flock, released when the
 * process ends, even by a crash) so that two jobs never write one run directory. A fresh start
 * (output.resume=never) refuses a directory that already holds checkpoints: the runs would mix.
 * Returns the lock's descriptor in *lock_fd. */
static AcganStatus prepare_output(const Config *cfg, int *lock_fd, AcganError *err)
{
    const char *sub[3] = {"", "/samples", "/checkpoints"};
    char path[PATH_CAP];
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s%s", cfg->out_dir, sub[i]);
        if (mkdir_p(path) != 0)
            return acgan_fail(err, ACGAN_ERR_IO, "output.dir: cannot create directory '%s': %s", path, strerror(errno));
    }
    snprintf(path, sizeof path, "%s/.lock", cfg->out_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return acgan_fail(err, ACGAN_ERR_IO, "output.dir: directory '%s' is not writable: %s", cfg->out_dir, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t got = read(fd, pid, sizeof pid - 1);
        pid[got > 0 ? got : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        close(fd);
        return acgan_fail(err, ACGAN_ERR_IO, "output.dir '%s' is in use by another acgan_mpi job (pid %s on its node); wait "
                          "for it to finish or choose another output.dir", cfg->out_dir, pid[0] ? pid : "unknown");
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || write(fd, pid, (size_t)len) != len) {
        close(fd);
        return acgan_fail(err, ACGAN_ERR_IO, "output.dir: cannot write '%s': %s", path, strerror(errno));
    }
    *lock_fd = fd;
    if (strcmp(cfg->resume, "never") == 0) {
        char dir[PATH_CAP], one[1][CKPT_LIST_PATH];
        snprintf(dir, sizeof dir, "%s/checkpoints", cfg->out_dir);
        int found = ckpt_list(dir, one, 1);
        if (found < 0)
            return acgan_fail(err, ACGAN_ERR_IO, "cannot read directory '%s': %s", dir, strerror(errno));
        if (found > 0)
            return acgan_fail(err, ACGAN_ERR_CONFIG, "output.resume = never, but output.dir '%s' already holds a run (%s); "
                              "a new run there would mix with it: choose another output.dir or remove the old run",
                              cfg->out_dir, one[0]);
    }
    return ACGAN_OK;
}

/* Prints one warning listing the keys whose value differs from the configuration stored in the checkpoint
 * (both are config_to_ini text: "[section]" lines, then "key = value" lines). */
static void warn_config_changes(const Config *cfg, const char *saved)
{
    size_t need = config_to_ini(cfg, NULL, 0) + 1;
    char *now = acgan_malloc(need);
    config_to_ini(cfg, now, need);
    char changes[2048] = "";
    size_t len = 0;
    char sec_now[64] = "", line[1200];
    for (const char *p = now; *p;) {
        size_t n = strcspn(p, "\n");
        snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line - 1 ? n : sizeof line - 1), p);
        p += n + (p[n] == '\n');
        if (line[0] == '[') {
            snprintf(sec_now, sizeof sec_now, "%.*s", (int)strcspn(line + 1, "]"), line + 1);
            continue;
        }
        const char *eq = strstr(line, " = ");
        if (!eq) continue;
        /* find the same key in the same section of the saved text */
        char sec_old[64] = "", old_value[1200] = "\x01";
        const size_t klen = (size_t)(eq - line);
        for (const char *q = saved; *q;) {
            size_t m = strcspn(q, "\n");
            if (q[0] == '[')
                snprintf(sec_old, sizeof sec_old, "%.*s", (int)strcspn(q + 1, "]"), q + 1);
            else if (strcmp(sec_old, sec_now) == 0 && m > klen + 3 && strncmp(q, line, klen + 3) == 0)
                snprintf(old_value, sizeof old_value, "%.*s", (int)(m - klen - 3), q + klen + 3);
            q += m + (q[m] == '\n');
        }
        static const char *routine = /* keys that a resumed run is expected to change */
            " train.max_steps train.epochs train.log_interval train.check_interval output.sample_interval "
            "output.checkpoint_interval output.resume ";
        char full[128];
        snprintf(full, sizeof full, " %s.%.*s ", sec_now, (int)(klen < 60 ? klen : 60), line);
        if (strstr(routine, full)) continue;
        if (old_value[0] != '\x01' && strcmp(old_value, eq + 3) != 0 && len < sizeof changes - 200)
            len += (size_t)snprintf(changes + len, sizeof changes - len, "%s %s.%.*s = %s (was %.60s)", len ? "," : "",
                                    sec_now, (int)klen, line, eq + 3, old_value);
    }
    if (len)
        fprintf(stderr, "acgan_mpi: warning: resuming with a configuration that differs from the checkpoint's:%s\n",
                changes);
    free(now);
}

/* Rank 0 picks and loads the checkpoint to resume from (auto: the newest one that loads, skipping
 * corrupt ones with a warning; a path: that file or an error); then every rank receives the state.
 * Without a checkpoint, rank 0's fresh weights are broadcast. */
static AcganStatus resume_run(const Config *cfg, Acgan *a, int64_t *step, AcganError *err)
{
    enum { MAX_TRIED = 64 };
    CkptTensor t[8];
    const int nt = state_tensors(a, t);
    CkptMeta meta = {0};
    AcganStatus st = ACGAN_OK;
    int loaded = 0;
    enum { INI_CAP = 16384 };
    char *saved_ini = acgan_calloc(INI_CAP, 1); /* the configuration stored in the checkpoint */
    char used[PATH_CAP] = "";
    if (dist_rank() == 0 && strcmp(cfg->resume, "never") != 0) {
        if (strcmp(cfg->resume, "auto") == 0) {
            char dir[PATH_CAP];
            snprintf(dir, sizeof dir, "%s/checkpoints", cfg->out_dir);
            char(*paths)[CKPT_LIST_PATH] = acgan_malloc(MAX_TRIED * sizeof *paths);
            int n = ckpt_list(dir, paths, MAX_TRIED);
            if (n < 0)
                st = acgan_fail(err, ACGAN_ERR_IO, "output.resume = auto: cannot read directory '%s': %s", dir,
                                strerror(errno));
            for (int i = 0; i < n && !loaded; i++) {
                AcganError e2 = {0};
                if (ckpt_load(paths[i], t, nt, &meta, saved_ini, INI_CAP, &e2) == ACGAN_OK) {
                    loaded = 1;
                    snprintf(used, sizeof used, "%s", paths[i]);
                } else {
                    fprintf(stderr, "acgan_mpi: warning: skipping checkpoint: %s\n", e2.msg);
                }
            }
            if (n > 0 && !loaded)
                st = acgan_fail(err, ACGAN_ERR_CKPT, "none of the %d checkpoints in %s could be loaded (see the warnings "
                                "above); set output.resume=never to start over, or give a checkpoint path", n, dir);
            free(paths);
        } else {
            st = ckpt_load(cfg->resume, t, nt, &meta, saved_ini, INI_CAP, err);
            loaded = st == ACGAN_OK;
            snprintf(used, sizeof used, "%s", cfg->resume);
        }
    }
    if (!dist_agree(st == ACGAN_OK, err->msg)) {
        free(saved_ini);
        return st != ACGAN_OK ? st : ACGAN_ERR_CKPT;
    }
    dist_bcast(&loaded, sizeof loaded, 0);
    if (loaded) {
        dist_bcast(&meta, sizeof meta, 0);
        a->opt_g->t = meta.adam_t_g;
        a->opt_d->t = meta.adam_t_d;
        *step = meta.step;
        if (dist_rank() == 0) {
            printf("resumed from %s at step %lld (epoch %lld)\n", used, (long long)meta.step, (long long)meta.epoch);
            warn_config_changes(cfg, saved_ini);
            if (meta.world_size != dist_size())
                printf("the checkpoint was written by %d ranks, this run has %d: data re-sharded, step, epoch and "
                       "optimizer state carried over\n", (int)meta.world_size, dist_size());
        }
    }
    acgan_broadcast(a); /* identical replicas, whatever rank 0 holds */
    free(saved_ini);
    return ACGAN_OK;
}

/* Fisher-Yates over the shard, keyed by (seed, epoch, rank): the same on a resumed run. */
static void shuffle_epoch(int64_t *perm, int64_t n, uint64_t seed, int64_t epoch)
{
    Rng r = rng_make(rng_key(seed, RNG_STREAM_SHUFFLE, (uint64_t)epoch, (uint64_t)dist_rank()));
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(rng_u64(&r) % (uint64_t)(i + 1));
        int64_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
}

/* Rank 0: eval-mode grid, row r all one class (class r when K <= SAMPLE_GRID_MAX, else classes spread
 * evenly over [0, K)), column j the same noise in every row and for the whole run. */
#define SAMPLE_GRID_MAX 16
static AcganStatus write_samples(Acgan *a, const Config *cfg, int64_t step, AcganError *err)
{
    const AcganSpec *s = &a->spec;
    const int K = s->n_classes, L = s->latent_dim;
    const int R = K < SAMPLE_GRID_MAX ? K : SAMPLE_GRID_MAX, C = R, n = R * C;
    float *z = acgan_malloc((size_t)n * L * sizeof(float));
    int32_t *labels = acgan_malloc((size_t)n * sizeof(int32_t));
    const size_t px = (size_t)s->channels * s->img_size * s->img_size;
    float *imgs = acgan_malloc((size_t)n * px * sizeof(float));
    for (int i = 0; i < n; i++) {
        Rng r = rng_make(rng_key(s->seed, RNG_STREAM_SAMPLES, 0, (uint64_t)(i % C)));
        for (int j = 0; j < L; j++) z[(size_t)i * L + j] = rng_normal(&r);
        labels[i] = (int32_t)((int64_t)(i / C) * K / R);
    }
    acgan_generate(a, z, labels, n, imgs);
    const int pad = 2, W = image_grid_width(s->img_size, C, pad), H = image_grid_height(s->img_size, R, pad);
    uint8_t *grid = acgan_malloc((size_t)W * H * s->channels);
    image_grid(imgs, s->channels, s->img_size, s->img_size, R, C, pad, grid);
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/samples/step_%07lld.png", cfg->out_dir, (long long)step);
    AcganStatus st = image_write_png(path, grid, W, H, s->channels, err);
    free(z);
    free(labels);
    free(imgs);
    free(grid);
    return st;
}

static void format_eta(double sec, char *buf, size_t cap)
{
    if (!isfinite(sec) || sec < 0) sec = 0;
    long t = (long)(sec + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else
        snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
}

static AcganStatus checkpoint_now(Acgan *a, const Config *cfg, int64_t step, int64_t epoch, AcganError *err)
{
    AcganStatus st = ACGAN_OK;
    if (dist_rank() == 0) {
        char path[PATH_CAP];
        snprintf(path, sizeof path, "%s/checkpoints/step_%07lld.h5", cfg->out_dir, (long long)step);
        st = train_save_checkpoint(path, a, cfg, step, epoch, err);
        if (st == ACGAN_OK) printf("checkpoint: %s\n", path);
    }
    if (!dist_agree(st == ACGAN_OK, err->msg)) return st != ACGAN_OK ? st : ACGAN_ERR_IO;
    return ACGAN_OK;
}

static AcganStatus train_run_locked(const Config *cfg, AcganError *err);

AcganStatus train_run(const Config *cfg, AcganError *err)
{
    const int rank = dist_rank(), world = dist_size();
    AcganStatus st = ACGAN_OK;
    err->msg[0] = 0;
    if (cfg->batch_size % world != 0)
        st = acgan_fail(err, ACGAN_ERR_CONFIG, "train.batch_size = %d is not divisible by the %d ranks", cfg->batch_size, world);
    else if (cfg->batch_size / world < 2)
        st = acgan_fail(err, ACGAN_ERR_CONFIG, "train.batch_size = %d gives %d sample per rank on %d ranks; BatchNorm needs "
                        "at least 2 per rank", cfg->batch_size, cfg->batch_size / world, world);
    if (!dist_agree(st == ACGAN_OK, rank == 0 ? err->msg : "")) return ACGAN_ERR_CONFIG;

    int lock_fd = -1; /* rank 0: held until train_run returns */
    if (rank == 0) st = prepare_output(cfg, &lock_fd, err);
    if (!dist_agree(st == ACGAN_OK, err->msg)) {
        if (lock_fd >= 0) close(lock_fd);
        return st != ACGAN_OK ? st : ACGAN_ERR_IO;
    }
    st = train_run_locked(cfg, err);
    if (lock_fd >= 0) close(lock_fd);
    return st;
}

static AcganStatus train_run_locked(const Config *cfg, AcganError *err)
{
    const int rank = dist_rank(), world = dist_size();
    const int B = cfg->batch_size / world;
    AcganStatus st = ACGAN_OK;
    Dataset ds = {0};
    st = dataset_open_shard(&ds, cfg->data_train, rank, world, err);
    if (st != ACGAN_OK) {
        static const char key[] = "data.train: "; /* name the key the paths came from */
        const size_t pre = sizeof key - 1;
        size_t len = strlen(err->msg);
        if (len + pre >= sizeof err->msg) len = sizeof err->msg - pre - 1;
        memmove(err->msg + pre, err->msg, len);
        memcpy(err->msg, key, pre);
        err->msg[pre + len] = 0;
    }
    if (st == ACGAN_OK && ds.c != 1 && ds.c != 3)
        st = acgan_fail(err, ACGAN_ERR_DATA, "%s: images have %d channels; expected 1 (grayscale) or 3 (RGB)",
                        cfg->data_train, ds.c);
    if (st == ACGAN_OK && (ds.h != cfg->img_size || ds.w != cfg->img_size))
        st = acgan_fail(err, ACGAN_ERR_DATA, "%s: images are %dx%d but model.img_size = %d (convert with --size %d or set model.img_size)",
                        cfg->data_train, ds.h, ds.w, cfg->img_size, cfg->img_size);
    const int64_t min_shard = ds.n_total / world; /* the smallest shard: every rank runs this many steps */
    const int64_t steps_per_epoch = st == ACGAN_OK ? min_shard / B : 0;
    if (st == ACGAN_OK && steps_per_epoch < 1)
        st = acgan_fail(err, ACGAN_ERR_DATA, "%s: %lld samples are too few for a global batch of %d on %d ranks",
                        cfg->data_train, (long long)ds.n_total, cfg->batch_size, world);
    if (!dist_agree(st == ACGAN_OK, err->msg)) {
        dataset_free(&ds);
        return st != ACGAN_OK ? st : ACGAN_ERR_DATA;
    }

    AcganSpec spec;
    if (train_spec_from_config(cfg, ds.n_classes, ds.c, &spec, err) != ACGAN_OK) {
        dist_agree(0, rank == 0 ? err->msg : "");
        dataset_free(&ds);
        return ACGAN_ERR_CONFIG;
    }
    Acgan *a = acgan_create(&spec, B);

    int64_t step = 0, epoch = 0;
    st = resume_run(cfg, a, &step, err);
    if (st == ACGAN_OK && (st = guard_check_replicas(a, step, err)) != ACGAN_OK) dist_agree(0, rank == 0 ? err->msg : "");
    if (st != ACGAN_OK) {
        acgan_free(a);
        dataset_free(&ds);
        return st;
    }

    guard_install_signals();
    int64_t total = (int64_t)cfg->epochs * steps_per_epoch;
    if (cfg->max_steps > 0 && cfg->max_steps < total) total = cfg->max_steps;

    Metrics metrics = {0};
    if (rank == 0) {
        char mpath[PATH_CAP];
        snprintf(mpath, sizeof mpath, "%s/metrics.csv", cfg->out_dir);
        st = metrics_open(&metrics, mpath, step, err);
        if (st == ACGAN_OK)
            printf("acgan_mpi: %d rank%s, global batch %d (%d per rank), %lld samples, %lld steps/epoch, "
                   "training steps %lld..%lld, G %zu params, D %zu params\n",
                   world, world > 1 ? "s" : "", cfg->batch_size, B, (long long)ds.n_total, (long long)steps_per_epoch,
                   (long long)step, (long long)total, a->g->n_params, a->d->n_params);
    }
    if (!dist_agree(st == ACGAN_OK, err->msg)) {
        acgan_free(a);
        dataset_free(&ds);
        return ACGAN_ERR_IO;
    }
    if (rank == 0 && step >= total)
        printf("nothing to do: the run is at step %lld and ends at step %lld (raise train.max_steps or train.epochs "
               "to go on)\n", (long long)step, (long long)total);
    fflush(stdout);

    const size_t px = (size_t)ds.c * ds.h * ds.w;
    int64_t *perm = acgan_malloc((size_t)ds.shard_count * sizeof(int64_t));
    float *real = acgan_malloc((size_t)B * px * sizeof(float));
    int32_t *labels = acgan_malloc((size_t)B * sizeof(int32_t));
    int64_t perm_epoch = -1;
    int skipped_in_a_row = 0; /* train.nonfinite = skip */
    double sums[7] = {0}; /* g_loss, d_loss, d_real, d_fake, aux_correct, aux_total, steps */
    double t_log = acgan_now(), t_start = t_log;
    int64_t step_log = step, step_start = step;

    while (step < total && st == ACGAN_OK) {
        epoch = step / steps_per_epoch;
        if (epoch != perm_epoch) {
            shuffle_epoch(perm, ds.shard_count, cfg->seed, epoch);
            perm_epoch = epoch;
        }
        const int64_t pos = step % steps_per_epoch;
        dataset_batch(&ds, perm + pos * B, B, real, labels);
        const GuardFault fault = guard_fault(step);
        if (fault == GUARD_FAULT_NAN) real[0] = NAN;
        AcganStepStats ss;
        acgan_train_step(a, real, labels, B, step, (int64_t)rank * B, &ss);
        if (fault == GUARD_FAULT_DRIFT) a->g->params[0] += 1e-3f;
        step++;
        if (ss.nonfinite) { /* the same verdict on every rank: it came through the allreduce */
            const char *which = ss.nonfinite == (ACGAN_NONFINITE_G | ACGAN_NONFINITE_D) ? "G and D"
                                : ss.nonfinite == ACGAN_NONFINITE_G                 ? "G"
                                                                                    : "D";
            if (strcmp(cfg->nonfinite, "skip") != 0) {
                st = acgan_fail(err, ACGAN_ERR_RUNTIME, "step %lld: NaN or Inf in the %s loss or gradients on some rank; "
                                "stopped without writing a checkpoint (train.nonfinite=skip would skip such updates)",
                                (long long)step, which);
                dist_agree(0, rank == 0 ? err->msg : "");
                break;
            }
            if (++skipped_in_a_row > MAX_SKIPPED_IN_A_ROW) {
                st = acgan_fail(err, ACGAN_ERR_RUNTIME, "step %lld: %d updates in a row had NaN or Inf values; the run has "
                                "diverged (lower train.lr?); stopping", (long long)step, skipped_in_a_row);
                dist_agree(0, rank == 0 ? err->msg : "");
                break;
            }
            if (rank == 0) printf("step %lld: NaN or Inf in the %s update: skipped\n", (long long)step, which);
        } else {
            skipped_in_a_row = 0;
        }
        if (!ss.nonfinite) { /* a skipped update's NaN loss stays out of the logged averages */
            double v[7] = {ss.g_loss, ss.d_loss, ss.d_real, ss.d_fake, ss.aux_correct, ss.aux_total, 1};
            for (int i = 0; i < 7; i++) sums[i] += v[i];
        }

        /* Collective, every step: a stop signal on any rank (the metrics row of the partial interval is kept). */
        const int stop = step < total && guard_stop_requested();
        if (step % cfg->log_interval == 0 || step == total || stop) {
            dist_allreduce_sum_double(sums, 7);
            double now = acgan_now(), ips = (double)(step - step_log) * cfg->batch_size / (now - t_log);
            double ips_run = (double)(step - step_start) * cfg->batch_size / (now - t_start);
            double nsteps = sums[6];
            MetricsRow row = {.step = step, .epoch = step / steps_per_epoch, .g_loss = sums[0] / nsteps,
                              .d_loss = sums[1] / nsteps, .d_real = sums[2] / nsteps, .d_fake = sums[3] / nsteps,
                              .aux_acc = sums[4] / (sums[5] > 0 ? sums[5] : 1), .img_per_sec = ips};
            if (rank == 0) {
                char eta[32];
                format_eta((double)(total - step) * cfg->batch_size / ips_run, eta, sizeof eta);
                printf("step %lld/%lld  epoch %lld  d_loss %.4f  g_loss %.4f  D(x) %.3f  D(G(z)) %.3f  aux_acc %.3f  "
                       "%.0f img/s  ETA %s\n",
                       (long long)step, (long long)total, (long long)row.epoch, row.d_loss, row.g_loss, row.d_real,
                       row.d_fake, row.aux_acc, ips, eta);
                fflush(stdout);
                metrics_log(&metrics, &row);
            }
            memset(sums, 0, sizeof sums);
            t_log = now;
            step_log = step;
        }
        if (cfg->sample_interval > 0 && (step % cfg->sample_interval == 0 || step == total)) {
            AcganStatus s2 = rank == 0 ? write_samples(a, cfg, step, err) : ACGAN_OK;
            if (!dist_agree(s2 == ACGAN_OK, err->msg)) st = s2 != ACGAN_OK ? s2 : ACGAN_ERR_IO;
        }
        if (st == ACGAN_OK && cfg->check_interval > 0 && step % cfg->check_interval == 0) {
            st = guard_check_replicas(a, step, err);
            if (st != ACGAN_OK) dist_agree(0, rank == 0 ? err->msg : "");
        }
        if (stop && rank == 0) printf("stop signal received: checkpointing at step %lld and exiting\n", (long long)step);
        if (st == ACGAN_OK && ((cfg->checkpoint_interval > 0 && step % cfg->checkpoint_interval == 0) || step == total || stop))
            st = checkpoint_now(a, cfg, step, step / steps_per_epoch, err);
        if (st == ACGAN_OK && stop) st = ACGAN_STOPPED;
    }
    if (rank == 0 && st == ACGAN_OK)
        printf("done: %lld steps. samples in %s/samples, metrics in %s/metrics.csv, checkpoints in %s/checkpoints\n",
               (long long)step, cfg->out_dir, cfg->out_dir, cfg->out_dir);
    if (rank == 0) metrics_close(&metrics);
    free(perm);
    free(real);
    free(labels);
    acgan_free(a);
    dataset_free(&ds);
    return st;
}
