/* rng.c - counter-based random numbers: value = mix(key, counter). See rng.h. */
#include "acgan/rng.h"

#include <math.h>

uint64_t rng_mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

uint64_t rng_key(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b)
{
    uint64_t k = rng_mix(seed ^ 0x5851F42D4C957F2Dull);
    k = rng_mix(k ^ stream);
    k = rng_mix(k ^ a);
    return rng_mix(k ^ (b * 0x2545F4914F6CDD1Dull));
}

Rng rng_make(uint64_t key) { return (Rng){key, 0}; }

uint64_t rng_u64(Rng *r) { return rng_mix(r->key ^ rng_mix(r->ctr++)); }

float rng_uniform(Rng *r) { return (float)(rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

float rng_normal(Rng *r)
{
    /* Box-Muller with 53-bit uniforms; u1 in (0, 1] so log is finite. */
    double u1 = ((double)(rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

uint32_t rng_below(Rng *r, uint32_t n)
{
    /* Lemire's multiply-shift with rejection. */
    uint64_t m = (uint64_t)(uint32_t)rng_u64(r) * n;
    uint32_t lo = (uint32_t)m;
    if (lo < n) {
        uint32_t t = (uint32_t)(-n) % n;
        while (lo < t) {
            m = (uint64_t)(uint32_t)rng_u64(r) * n;
            lo = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}
