/* What the fuzz targets share. Each target is one LLVMFuzzerTestOneInput over one
 * reader's memory entry point; besides "no crash, no sanitizer report, no leak" it
 * asserts what a successful read promises (sizes, value ranges), so a reader that
 * accepts garbage and returns nonsense also fails. A broken promise aborts, which
 * libFuzzer reports as a crash and saves the input.
 *
 * The same sources build two ways: with -fsanitize=fuzzer (LUACNN_FUZZ=ON, clang) they
 * are libFuzzer binaries; in every other build replay.c supplies main() and they run
 * once over their committed corpus as a ctest test. */
#ifndef LC_FUZZ_H
#define LC_FUZZ_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Images and tensors of more values than this are opened (all header and size checks
 * run) but not decoded: decoding millions of identical pixels teaches the fuzzer
 * nothing and would cut the executions per second by orders of magnitude. */
#define FUZZ_MAX_DECODE ((int64_t)1 << 22)

#define FUZZ_ASSERT(cond, ...)                                            \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fprintf(stderr, "%s:%d: broken promise: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                       \
      fputc('\n', stderr);                                                \
      abort();                                                            \
    }                                                                     \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every decoded sample of an image file is a finite value on the 0..255 scale. */
static inline void fuzz_check_pixels(const float *v, int64_t n) {
  for (int64_t i = 0; i < n; i++) FUZZ_ASSERT(v[i] >= 0.0f && v[i] <= 255.0f, "sample %lld is %g", (long long)i, v[i]);
}

#endif
