/* config.c - the run configuration: one table of keys, an inih-driven file parser, overrides.
 *
 * Every key lives in the table `g_keys` below: section, name, type, where it sits in Config, its
 * default (as the text a user would write), its allowed range or values, and a help sentence.
 * Defaults, parsing, validation, --help and the INI dump in checkpoints are all driven by it, so
 * adding a key is one line here plus the field in config.h.
 *
 * File parsing uses inih's ini_parse_stream with our own line reader. The reader counts lines, so
 * the value handler knows the line it is on (inih 55 does not pass it), and it stops the parse at
 * the first error by returning NULL. The reader also checks what inih would silently mangle:
 * lines longer than inih's buffer (inih truncates them), unknown [section] headers (inih only
 * calls the handler for key lines, so an empty unknown section would go unnoticed), and indented
 * lines after a key (inih would append them to the previous value as a multi-line continuation).
 * Messages look like "train.cfg:12: train.batch_size: expected an integer >= 1, got 'abc'"; an override
 * is named as "command line argument 'train.lr=x'". config_load changes *c only when all input is good.
 */
#include "acgan/config.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

typedef enum { KEY_INT, KEY_INT64, KEY_UINT64, KEY_FLOAT, KEY_STRING, KEY_ENUM } KeyType;
typedef enum { BOUND_NONE = 0, BOUND_INCL, BOUND_EXCL } BoundKind;

typedef struct {
    const char *section, *key;
    KeyType type;
    size_t offset, size; /* field in Config; size is the buffer capacity for strings */
    const char *def;     /* default, as it would be written in the file */
    BoundKind lo_kind, hi_kind;
    double lo, hi;       /* numeric range (checked on the stored value) */
    int multiple;        /* integers: must be a multiple of this (0: any) */
    const char *choices; /* enums: allowed values separated by '|' */
    const char *help;
} ConfigKey;

#define FIELD(f) .offset = offsetof(Config, f), .size = sizeof(((Config *)0)->f)
#define AT_LEAST(v) .lo_kind = BOUND_INCL, .lo = (v)
#define ABOVE(v) .lo_kind = BOUND_EXCL, .lo = (v)
#define AT_MOST(v) .hi_kind = BOUND_INCL, .hi = (v)
#define BELOW(v) .hi_kind = BOUND_EXCL, .hi = (v)

static const ConfigKey g_keys[] = {
    {"data", "train", KEY_STRING, FIELD(data_train), .def = "data/fashion-mnist-train.h5",
     .help = "training set: an HDF5 dataset file, or comma-separated shard files"},

    {"model", "latent_dim", KEY_INT, FIELD(latent_dim), .def = "100", AT_LEAST(1), AT_MOST(4096),
     .help = "length of the generator's noise vector z"},
    {"model", "img_size", KEY_INT, FIELD(img_size), .def = "32", AT_LEAST(8), AT_MOST(1024), .multiple = 4,
     .help = "image height and width (the generator upsamples twice from img_size/4)"},
    {"model", "bn_eps", KEY_FLOAT, FIELD(bn_eps), .def = "0.8", ABOVE(0),
     .help = "epsilon of the BatchNorm layers after convolutions (the design's 0.8 is deliberate; G's first BatchNorm keeps 1e-5)"},
    {"model", "bn_momentum", KEY_FLOAT, FIELD(bn_momentum), .def = "0.1", AT_LEAST(0), AT_MOST(1),
     .help = "BatchNorm running-statistics momentum, PyTorch convention: running = (1-m)*running + m*batch"},
    {"model", "discriminator", KEY_ENUM, FIELD(discriminator), .def = "conv", .choices = "conv|mlp",
     .help = "discriminator architecture"},
    {"model", "label_input", KEY_ENUM, FIELD(label_input), .def = "concat", .choices = "concat|multiply",
     .help = "how the generator combines the label embedding with z"},
    {"model", "aux_loss", KEY_ENUM, FIELD(aux_loss), .def = "logits", .choices = "logits|softmax_then_ce",
     .help = "auxiliary class loss: cross-entropy on logits, or the reference's cross-entropy after a softmax"},

    {"train", "batch_size", KEY_INT, FIELD(batch_size), .def = "64", AT_LEAST(1),
     .help = "global batch size over all ranks (split across them)"},
    {"train", "epochs", KEY_INT, FIELD(epochs), .def = "200", AT_LEAST(1), .help = "passes over the training set"},
    {"train", "max_steps", KEY_INT64, FIELD(max_steps), .def = "0", AT_LEAST(0),
     .help = "stop after this many optimizer steps; 0 = no limit besides epochs"},
    {"train", "lr", KEY_FLOAT, FIELD(lr), .def = "0.0002", ABOVE(0), .help = "Adam learning rate (both models)"},
    {"train", "beta1", KEY_FLOAT, FIELD(beta1), .def = "0.5", AT_LEAST(0), BELOW(1), .help = "Adam beta1"},
    {"train", "beta2", KEY_FLOAT, FIELD(beta2), .def = "0.999", AT_LEAST(0), BELOW(1), .help = "Adam beta2"},
    {"train", "seed", KEY_UINT64, FIELD(seed), .def = "42", AT_LEAST(0),
     .help = "random seed (weights, noise, labels, shuffling)"},
    {"train", "log_interval", KEY_INT, FIELD(log_interval), .def = "50", AT_LEAST(1),
     .help = "steps between log lines and metrics.csv rows"},
    {"train", "check_interval", KEY_INT, FIELD(check_interval), .def = "100", AT_LEAST(0),
     .help = "steps between comparisons of a hash of every rank's parameters; 0 = never"},
    {"train", "nonfinite", KEY_ENUM, FIELD(nonfinite), .def = "stop", .choices = "stop|skip",
     .help = "a NaN/Inf loss or gradient on any rank: stop the job, or skip that update"},

    {"output", "dir", KEY_STRING, FIELD(out_dir), .def = "runs/fashion",
     .help = "output directory (metrics.csv, samples/, checkpoints/)"},
    {"output", "sample_interval", KEY_INT, FIELD(sample_interval), .def = "400", AT_LEAST(0),
     .help = "steps between sample grid PNGs; 0 = never"},
    {"output", "checkpoint_interval", KEY_INT, FIELD(checkpoint_interval), .def = "2000", AT_LEAST(0),
     .help = "steps between checkpoints; 0 = only the one at the end of training"},
    {"output", "resume", KEY_STRING, FIELD(resume), .def = "auto",
     .help = "auto (latest checkpoint in dir, if any) | never | path to a checkpoint file"},
};

enum { N_KEYS = (int)(sizeof g_keys / sizeof g_keys[0]) };

static void *field_ptr(Config *c, const ConfigKey *k) { return (char *)c + k->offset; }
static const void *field_cptr(const Config *c, const ConfigKey *k) { return (const char *)c + k->offset; }

/* ---- table lookups and descriptions ---- */

static int section_exists(const char *section)
{
    for (int i = 0; i < N_KEYS; i++)
        if (strcmp(g_keys[i].section, section) == 0) return 1;
    return 0;
}

/* True for the first table entry of each section: sections are listed in table order. */
static int starts_section(int i) { return i == 0 || strcmp(g_keys[i - 1].section, g_keys[i].section) != 0; }

static const ConfigKey *key_find(const char *section, const char *key)
{
    for (int i = 0; i < N_KEYS; i++)
        if (strcmp(g_keys[i].section, section) == 0 && strcmp(g_keys[i].key, key) == 0) return &g_keys[i];
    return NULL;
}

/* Appends printf-style text at buf[*len], never past cap; *len counts what would have been written. */
static void buf_add(char *buf, size_t cap, size_t *len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void buf_add(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = *len < cap ? cap - *len : 0;
    int n = vsnprintf(room ? buf + *len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0) *len += (size_t)n;
}

static void section_list(char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < N_KEYS; i++)
        if (starts_section(i)) buf_add(buf, cap, &len, "%s%s", len ? ", " : "", g_keys[i].section);
}

static void key_list(const char *section, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < N_KEYS; i++)
        if (strcmp(g_keys[i].section, section) == 0) buf_add(buf, cap, &len, "%s%s", len ? ", " : "", g_keys[i].key);
}

/* "an integer in [8, 1024] that is a multiple of 4", "a number > 0", "one of conv, mlp", ... */
static void key_describe(const ConfigKey *k, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    if (k->type == KEY_STRING) {
        buf_add(buf, cap, &len, "a non-empty string of at most %zu characters", k->size - 1);
        return;
    }
    if (k->type == KEY_ENUM) {
        buf_add(buf, cap, &len, "one of %s", k->choices);
        return;
    }
    buf_add(buf, cap, &len, "%s", k->type == KEY_FLOAT ? "a number" : "an integer");
    if (k->lo_kind && k->hi_kind)
        buf_add(buf, cap, &len, " in %c%g, %g%c", k->lo_kind == BOUND_INCL ? '[' : '(', k->lo, k->hi,
                k->hi_kind == BOUND_INCL ? ']' : ')');
    else if (k->lo_kind)
        buf_add(buf, cap, &len, " %s %g", k->lo_kind == BOUND_INCL ? ">=" : ">", k->lo);
    else if (k->hi_kind)
        buf_add(buf, cap, &len, " %s %g", k->hi_kind == BOUND_INCL ? "<=" : "<", k->hi);
    if (k->multiple) buf_add(buf, cap, &len, " that is a multiple of %d", k->multiple);
}

static int in_range(const ConfigKey *k, double v)
{
    if (k->lo_kind == BOUND_INCL && !(v >= k->lo)) return 0;
    if (k->lo_kind == BOUND_EXCL && !(v > k->lo)) return 0;
    if (k->hi_kind == BOUND_INCL && !(v <= k->hi)) return 0;
    if (k->hi_kind == BOUND_EXCL && !(v < k->hi)) return 0;
    return 1;
}

/* Levenshtein distance of two short strings (longer ones count as far apart). */
static int edit_distance(const char *a, const char *b)
{
    enum { M = 48 };
    size_t na = strlen(a), nb = strlen(b);
    if (na >= M || nb >= M) return M;
    int row[M];
    for (size_t j = 0; j <= nb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

static AcganStatus fail_unknown_key(const char *section, const char *key, const char *origin, AcganError *err)
{
    /* Suggest the closest key in any section, preferring this one on ties ("batchsize" -> batch_size,
     * "lr" under [output] -> train.lr); only close matches, so short keys need a near-exact hit. */
    const ConfigKey *best = NULL;
    const int max_dist = strlen(key) >= 6 ? 2 : 1;
    int best_score = 2 * max_dist + 2;
    for (int i = 0; i < N_KEYS; i++) {
        int score = 2 * edit_distance(key, g_keys[i].key) + (strcmp(g_keys[i].section, section) != 0);
        if (score < best_score) {
            best_score = score;
            best = &g_keys[i];
        }
    }
    char keys[256], hint[96] = "";
    key_list(section, keys, sizeof keys);
    if (best) snprintf(hint, sizeof hint, " (did you mean %s.%s?)", best->section, best->key);
    return acgan_fail(err, ACGAN_ERR_CONFIG, "%s: unknown key %s.%s%s; keys in [%s]: %s", origin, section, key, hint,
                      section, keys);
}

/* ---- value parsing ---- */

static AcganStatus fail_value(const ConfigKey *k, const char *value, const char *why, const char *origin,
                              AcganError *err)
{
    char want[160];
    key_describe(k, want, sizeof want);
    return acgan_fail(err, ACGAN_ERR_CONFIG, "%s: %s.%s: expected %s, got '%.80s%s'%s", origin, k->section, k->key,
                      want, value, strlen(value) > 80 ? "..." : "", why);
}

/* Strings must survive config_to_ini -> inih unchanged: no control characters, no ';' that inih
 * would take as the start of a comment, no surrounding whitespace (inih strips it). */
static const char *string_problem(const char *v)
{
    size_t n = strlen(v);
    if (n == 0) return "it is empty";
    if (isspace((unsigned char)v[0]) || isspace((unsigned char)v[n - 1])) return "it has surrounding whitespace";
    for (size_t i = 0; i < n; i++) {
        if (iscntrl((unsigned char)v[i])) return "it contains a control character";
        if (v[i] == ';' && (i == 0 || isspace((unsigned char)v[i - 1])))
            return "';' at the start or after a space begins an INI comment";
    }
    return NULL;
}

static int enum_allows(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        size_t m = strcspn(p, "|");
        if (m == n && strncmp(p, v, n) == 0) return 1;
        p += m + (p[m] == '|');
    }
    return 0;
}

static AcganStatus key_parse(Config *c, const ConfigKey *k, const char *value, const char *origin, AcganError *err)
{
    void *dst = field_ptr(c, k);
    char *end = NULL;
    errno = 0;
    switch (k->type) {
    case KEY_INT:
    case KEY_INT64: {
        long long v = strtoll(value, &end, 10);
        if (end == value || *end != '\0') return fail_value(k, value, "", origin, err);
        const long long lim_lo = k->type == KEY_INT ? INT_MIN : LLONG_MIN, lim_hi = k->type == KEY_INT ? INT_MAX : LLONG_MAX;
        if (errno == ERANGE || v < lim_lo || v > lim_hi) return fail_value(k, value, " (out of range)", origin, err);
        if (!in_range(k, (double)v) || (k->multiple && v % k->multiple != 0))
            return fail_value(k, value, "", origin, err);
        if (k->type == KEY_INT)
            *(int *)dst = (int)v;
        else
            *(int64_t *)dst = (int64_t)v;
        return ACGAN_OK;
    }
    case KEY_UINT64: {
        const char *s = value;
        while (isspace((unsigned char)*s)) s++;
        unsigned long long v = strtoull(value, &end, 10);
        if (*s == '-' || end == value || *end != '\0') return fail_value(k, value, "", origin, err);
        if (errno == ERANGE) return fail_value(k, value, " (out of range)", origin, err);
        *(uint64_t *)dst = (uint64_t)v;
        return ACGAN_OK;
    }
    case KEY_FLOAT: {
        errno = 0;
        double d = strtod(value, &end);
        if (errno == ERANGE && end != value && *end == '\0' && fabs(d) > 1.0)
            return fail_value(k, value, " (out of range)", origin, err);
        if (end == value || *end != '\0' || !isfinite(d)) return fail_value(k, value, "", origin, err);
        if (!in_range(k, d)) return fail_value(k, value, "", origin, err);
        *(double *)dst = d;
        return ACGAN_OK;
    }
    case KEY_STRING: {
        const char *why = string_problem(value);
        if (why)
            return acgan_fail(err, ACGAN_ERR_CONFIG, "%s: %s.%s: bad value '%.80s%s': %s", origin, k->section, k->key,
                              value, strlen(value) > 80 ? "..." : "", why);
        size_t n = strlen(value);
        if (n >= k->size)
            return acgan_fail(err, ACGAN_ERR_CONFIG, "%s: %s.%s: value is too long (%zu characters, at most %zu)", origin,
                              k->section, k->key, n, k->size - 1);
        memset(dst, 0, k->size); /* keeps Configs comparable with memcmp */
        memcpy(dst, value, n);
        return ACGAN_OK;
    }
    case KEY_ENUM:
        if (!enum_allows(k->choices, value)) return fail_value(k, value, "", origin, err);
        ACGAN_ASSERT(strlen(value) < k->size, "enum value %s longer than %s.%s", value, k->section, k->key);
        memset(dst, 0, k->size);
        memcpy(dst, value, strlen(value));
        return ACGAN_OK;
    }
    ACGAN_ASSERT(0, "bad key type %d", (int)k->type);
    return ACGAN_ERR_CONFIG;
}

/* ---- public: defaults, set, load ---- */

void config_defaults(Config *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < N_KEYS; i++) {
        AcganError err = {0};
        AcganStatus st = key_parse(c, &g_keys[i], g_keys[i].def, "default", &err);
        ACGAN_ASSERT(st == ACGAN_OK, "bad default in the config table: %s", err.msg);
    }
}

AcganStatus config_set(Config *c, const char *section, const char *key, const char *value, const char *origin,
                       AcganError *err)
{
    char names[128];
    if (section[0] == '\0') {
        section_list(names, sizeof names);
        return acgan_fail(err, ACGAN_ERR_CONFIG, "%s: key '%s' is outside any section (sections: %s)", origin, key,
                          names);
    }
    if (!section_exists(section)) {
        section_list(names, sizeof names);
        return acgan_fail(err, ACGAN_ERR_CONFIG, "%s: unknown section [%s] (sections: %s)", origin, section, names);
    }
    const ConfigKey *k = key_find(section, key);
    if (!k) return fail_unknown_key(section, key, origin, err);
    return key_parse(c, k, value, origin, err);
}

/* State shared by the line reader and the value handler during one ini_parse_stream. */
typedef struct {
    FILE *f;
    const char *path;
    Config *c;
    AcganError *err;
    int lineno;     /* line most recently handed to inih */
    int after_key;  /* a key line was seen since the last section header (inih's prev_name is set) */
    int err_line;   /* line of our first error; 0: none */
} IniParse;

static char *ini_read_line(char *str, int num, void *stream)
{
    IniParse *p = stream;
    if (p->err_line || !fgets(str, num, p->f)) return NULL;
    p->lineno++;
    size_t n = strlen(str);
    if (n + 1 == (size_t)num && str[n - 1] != '\n') {
        int ch = getc(p->f);
        if (ch != EOF) {
            p->err_line = p->lineno;
            acgan_fail(p->err, ACGAN_ERR_CONFIG,
                       "%s:%d: line is too long (the INI reader takes at most %d characters per line); "
                       "give long values as a command-line override instead",
                       p->path, p->lineno, num - 2);
            return NULL;
        }
    }
    const char *s = str;
    if (p->lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3; /* UTF-8 BOM, skipped by inih too */
    const char *start = s;
    while (*start && isspace((unsigned char)*start)) start++;
    if (*start == '\0' || *start == ';' || *start == '#') return str; /* blank or comment */
    if (start > s && p->after_key) {
        p->err_line = p->lineno;
        acgan_fail(p->err, ACGAN_ERR_CONFIG,
                   "%s:%d: indented line would continue the previous value (multi-line values are not "
                   "supported); remove the leading whitespace",
                   p->path, p->lineno);
        return NULL;
    }
    if (*start == '[') {
        const char *close = strchr(start, ']');
        if (close) { /* a header without ']' is left to inih, which reports it as a syntax error */
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(close - start - 1), start + 1);
            if (!section_exists(name)) {
                char names[128];
                section_list(names, sizeof names);
                p->err_line = p->lineno;
                acgan_fail(p->err, ACGAN_ERR_CONFIG, "%s:%d: unknown section [%s] (sections: %s)", p->path, p->lineno,
                           name, names);
                return NULL;
            }
        }
        p->after_key = 0;
    }
    return str;
}

static int ini_on_value(void *user, const char *section, const char *name, const char *value)
{
    IniParse *p = user;
    p->after_key = 1;
    if (p->err_line) return 1;
    char origin[CONFIG_PATH_MAX + 32];
    snprintf(origin, sizeof origin, "%s:%d", p->path, p->lineno);
    if (config_set(p->c, section, name, value, origin, p->err) != ACGAN_OK) {
        p->err_line = p->lineno;
        return 0;
    }
    return 1;
}

static AcganStatus config_parse_file(Config *c, const char *path, AcganError *err)
{
    FILE *f = fopen(path, "r");
    if (!f) return acgan_fail(err, ACGAN_ERR_CONFIG, "%s: cannot open config file: %s", path, strerror(errno));
    IniParse p = {.f = f, .path = path, .c = c, .err = err};
    int rc = ini_parse_stream(ini_read_line, &p, ini_on_value, &p);
    int read_failed = ferror(f);
    fclose(f);
    if (rc > 0 && (p.err_line == 0 || rc < p.err_line)) /* inih's own syntax error, before any of ours */
        return acgan_fail(err, ACGAN_ERR_CONFIG, "%s:%d: syntax error: expected '[section]' or 'key = value'", path, rc);
    if (p.err_line) return ACGAN_ERR_CONFIG;
    if (rc == -2) return acgan_fail(err, ACGAN_ERR_NOMEM, "%s: out of memory while parsing", path);
    if (read_failed) return acgan_fail(err, ACGAN_ERR_CONFIG, "%s: read error", path);
    return ACGAN_OK;
}

/* One "section.key=value" argument. */
static AcganStatus config_apply_override(Config *c, const char *arg, AcganError *err)
{
    char origin[128];
    size_t n = strlen(arg);
    snprintf(origin, sizeof origin, "command line argument '%.80s%s'", arg, n > 80 ? "..." : "");
    char *s = acgan_malloc(n + 1);
    memcpy(s, arg, n + 1);
    AcganStatus st;
    char *eq = strchr(s, '=');
    char *dot = eq ? memchr(s, '.', (size_t)(eq - s)) : NULL;
    if (!eq || !dot) {
        st = acgan_fail(err, ACGAN_ERR_CONFIG, "%s: expected section.key=value (see acgan_mpi --help)", origin);
    } else {
        *eq = '\0';
        *dot = '\0';
        char *parts[3] = {s, dot + 1, eq + 1};
        for (int i = 0; i < 3; i++) { /* trim, as inih does for file lines */
            while (isspace((unsigned char)*parts[i])) parts[i]++;
            char *e = parts[i] + strlen(parts[i]);
            while (e > parts[i] && isspace((unsigned char)e[-1])) *--e = '\0';
        }
        st = config_set(c, parts[0], parts[1], parts[2], origin, err);
    }
    free(s);
    return st;
}

AcganStatus config_load(Config *c, const char *path, int n_overrides, char **overrides, AcganError *err)
{
    Config tmp; /* *c changes only on success */
    config_defaults(&tmp);
    AcganStatus st = path ? config_parse_file(&tmp, path, err) : ACGAN_OK;
    for (int i = 0; i < n_overrides && st == ACGAN_OK; i++) st = config_apply_override(&tmp, overrides[i], err);
    if (st == ACGAN_OK) *c = tmp;
    return st;
}

/* ---- output ---- */

static void key_format(const Config *c, const ConfigKey *k, char *buf, size_t cap)
{
    const void *p = field_cptr(c, k);
    switch (k->type) {
    case KEY_INT: snprintf(buf, cap, "%d", *(const int *)p); break;
    case KEY_INT64: snprintf(buf, cap, "%" PRId64, *(const int64_t *)p); break;
    case KEY_UINT64: snprintf(buf, cap, "%" PRIu64, *(const uint64_t *)p); break;
    case KEY_FLOAT: { /* shortest "%.Ng" that reads back as the same double; %.17g always does */
        const double v = *(const double *)p;
        for (int digits = 1; digits <= 17; digits++) {
            snprintf(buf, cap, "%.*g", digits, v);
            if (strtod(buf, NULL) == v) break; /* the conversion key_parse uses */
        }
        break;
    }
    case KEY_STRING:
    case KEY_ENUM: snprintf(buf, cap, "%s", (const char *)p); break;
    }
}

void config_print_help(FILE *f)
{
    fprintf(f, "usage: acgan_mpi CONFIG [section.key=value ...]\n\n"
               "CONFIG is an INI file; every key is optional. Overrides on the command line win over the file,\n"
               "later ones over earlier ones. Keys, with defaults:\n");
    for (int i = 0; i < N_KEYS; i++) {
        const ConfigKey *k = &g_keys[i];
        if (starts_section(i)) fprintf(f, "\n[%s]\n", k->section);
        char lhs[128], want[160] = "";
        int n = snprintf(lhs, sizeof lhs, "%s.%s = %s", k->section, k->key, k->def);
        if (k->type != KEY_STRING) key_describe(k, want, sizeof want);
        fprintf(f, "  %s%*s    %s%s%s\n", lhs, n < 40 ? 40 - n : 0, "", k->help, want[0] ? "; " : "", want);
    }
}

size_t config_to_ini(const Config *c, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap) buf[0] = '\0';
    for (int i = 0; i < N_KEYS; i++) {
        const ConfigKey *k = &g_keys[i];
        if (starts_section(i)) buf_add(buf, cap, &len, "%s[%s]\n", i ? "\n" : "", k->section);
        char val[CONFIG_PATH_MAX + 8];
        key_format(c, k, val, sizeof val);
        buf_add(buf, cap, &len, "%s = %s\n", k->key, val);
    }
    return len;
}
