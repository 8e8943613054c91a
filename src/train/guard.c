/* guard.c - stop signals, replica consistency checks and injected faults. See guard.h. */
#include "acgan/guard.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acgan/dist.h"

static volatile sig_atomic_t g_signal = 0; /* the last stop signal received, 0 if none */

/* The first signal asks for a checkpoint at the next step boundary. Signals in the next few seconds are
 * the same request arriving by several routes (the scheduler signals the tasks, srun and the batch script
 * forward it) and are ignored; a signal after that, with the first still pending, ends the process at
 * once (the way out of a step that takes too long). clock_gettime is async-signal-safe. */
#define STOP_REPEAT_GRACE_S 5
static volatile sig_atomic_t g_first_sec = 0;

static void on_stop_signal(int sig)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!g_signal) {
        g_signal = sig;
        g_first_sec = (sig_atomic_t)now.tv_sec;
    } else if (now.tv_sec - g_first_sec > STOP_REPEAT_GRACE_S) {
        _exit(128 + sig);
    }
}

void guard_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

int guard_stop_requested(void) { return dist_any(g_signal != 0); }

/* Word-wise 64-bit hash (FNV-style multiply with a strong final mix). */
static uint64_t hash_words(uint64_t h, const float *p, size_t n)
{
    const uint32_t *w = (const uint32_t *)(const void *)p;
    for (size_t i = 0; i < n; i++) h = (h ^ w[i]) * 0x100000001B3ull;
    return rng_mix(h);
}

uint64_t guard_state_hash(const Acgan *a)
{
    uint64_t h = 0xCBF29CE484222325ull;
    const Model *ms[2] = {a->g, a->d};
    const Adam *os[2] = {a->opt_g, a->opt_d};
    for (int i = 0; i < 2; i++) {
        h = hash_words(h, ms[i]->params, ms[i]->n_params);
        h = hash_words(h, ms[i]->state, ms[i]->n_state);
        h = hash_words(h, os[i]->m, os[i]->n);
        h = hash_words(h, os[i]->v, os[i]->n);
        h ^= (uint64_t)os[i]->t;
    }
    return h;
}

AcganStatus guard_check_replicas(const Acgan *a, int64_t step, AcganError *err)
{
    const int P = dist_size();
    uint64_t *all = acgan_malloc((size_t)P * sizeof(uint64_t));
    dist_allgather_u64(guard_state_hash(a), all);
    char ranks[256] = "";
    size_t len = 0;
    int n_bad = 0;
    for (int r = 1; r < P; r++) {
        if (all[r] == all[0]) continue;
        if (len < sizeof ranks - 16) len += (size_t)snprintf(ranks + len, sizeof ranks - len, "%s%d", n_bad ? ", " : "", r);
        n_bad++;
    }
    free(all);
    if (n_bad == 0) return ACGAN_OK;
    return acgan_fail(err, ACGAN_ERR_RUNTIME,
                      "replicas diverged at step %lld: the parameters or optimizer state of rank%s %s differ from rank 0 "
                      "(hardware fault or a bug; resume from the last checkpoint)",
                      (long long)step, n_bad > 1 ? "s" : "", ranks);
}

GuardFault guard_fault(int64_t step)
{
    static int parsed = 0;
    static GuardFault kind = GUARD_FAULT_NONE;
    static long long at_step = -1;
    static int at_rank = -1;
    if (!parsed) {
        parsed = 1;
        const char *spec = getenv("ACGAN_TEST_FAULT");
        char name[16];
        if (spec && sscanf(spec, "%15[a-z]:%d:%lld", name, &at_rank, &at_step) == 3) {
            static const char *names[] = {"", "exit", "crash", "nan", "drift", "term"};
            for (int i = 1; i < 6; i++)
                if (strcmp(name, names[i]) == 0) kind = (GuardFault)i;
        }
        if (spec && spec[0] && kind == GUARD_FAULT_NONE && dist_rank() == 0)
            fprintf(stderr, "acgan_mpi: warning: ignoring ACGAN_TEST_FAULT='%s' (expected KIND:RANK:STEP with KIND one of "
                    "exit, crash, nan, drift, term)\n", spec);
    }
    if (kind == GUARD_FAULT_NONE || step != at_step || dist_rank() != at_rank) return GUARD_FAULT_NONE;
    fprintf(stderr, "acgan_mpi: rank %d: injecting test fault '%s' at step %lld\n", at_rank,
            getenv("ACGAN_TEST_FAULT"), at_step);
    fflush(stderr);
    if (kind == GUARD_FAULT_EXIT) _exit(1);
    if (kind == GUARD_FAULT_CRASH) abort();
    if (kind == GUARD_FAULT_TERM) raise(SIGTERM);
    return kind;
}
