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

#endif
