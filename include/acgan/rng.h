/* rng.h - counter-based random numbers.
 *
 * Every random number is a pure function of (key, counter), so a value never depends on how many
 * ranks share the work or on what was drawn before it: resuming at step s redraws exactly what
 * the uninterrupted run drew.
 *
 *   uint64_t key = rng_key(seed, RNG_STREAM_NOISE, step, global_index);
 *   Rng r = rng_make(key);
 *   float z0 = rng_normal(&r), z1 = rng_normal(&r);
 */
#ifndef ACGAN_RNG_H
#define ACGAN_RNG_H

#include <stdint.h>

/* Independent streams: the same (seed, a, b) gives unrelated numbers in different streams. */
enum {
    RNG_STREAM_INIT = 1,     /* weight initialisation */
    RNG_STREAM_NOISE = 2,    /* latent vectors z, keyed by (step, global sample index) */
    RNG_STREAM_LABELS = 3,   /* generated class labels, keyed by (step, global sample index) */
    RNG_STREAM_DROPOUT = 4,  /* dropout masks, keyed by (pass key, global sample index) */
    RNG_STREAM_SHUFFLE = 5,  /* data order, keyed by (epoch, shard) */
    RNG_STREAM_SAMPLES = 6,  /* the fixed noise of the sample grid */
};

typedef struct {
    uint64_t key;
    uint64_t ctr;
} Rng;

uint64_t rng_mix(uint64_t x); /* a strong 64-bit bijective mixer (splitmix64 finaliser) */
uint64_t rng_key(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b);
Rng rng_make(uint64_t key);
uint64_t rng_u64(Rng *r);
float rng_uniform(Rng *r);              /* [0, 1) with 24 random bits */
float rng_normal(Rng *r);               /* N(0, 1), Box-Muller in double precision */
uint32_t rng_below(Rng *r, uint32_t n); /* uniform integer in [0, n), unbiased */

#endif
