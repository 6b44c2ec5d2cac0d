/* Wider vectors where the CPU has them: the build targets baseline x86-64 (SSE2, 4 floats)
 * so the binary runs anywhere, and hot elementwise loops get an AVX2 clone (8 floats)
 * that the loader picks at startup when the CPU supports it (GCC function multiversioning).
 * The clone is chosen by the CPU's features, not its model: an "arch=haswell" clone is
 * picked only where GCC recognizes the model, and on these machines' virtual CPUs
 * ("Intel Xeon Processor") it never was. No FMA: -ffp-contract=off keeps the results
 * the same on every CPU. */
#ifndef LC_SIMD_H
#define LC_SIMD_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define LC_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define LC_VECTOR_CLONES
#endif


/* Hand-written AVX2 kernels (conv_direct.c, pool2d.c) check the CPU at each call and
 * share the lane mask their loads and stores of row tails use. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <stdint.h>
#define LC_HAVE_AVX2 1

static inline int lc_cpu_has_avx2(int need_fma) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && (!need_fma || __builtin_cpu_supports("fma"));
}

/* the first n of 8 lanes (all for n >= 8, none for n <= 0) */
static inline __attribute__((always_inline, target("avx2"))) __m256i lc_first_lanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 8 ? n : 8)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#else
#define LC_HAVE_AVX2 0
#endif

#endif
