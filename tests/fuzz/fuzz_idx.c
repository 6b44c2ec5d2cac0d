/* The IDX reader on arbitrary bytes (plain, or gzip when they start with 1f 8b). */
#include <string.h>

#include "fuzz.h"
#include "idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lc_error e;
  lc_idx_file *f;
  if (lc_idx_open_mem(data, size, "fuzz.idx", &f, &e)) {
    FUZZ_ASSERT(f == NULL && e.msg[0], "a failed open must leave no handle and give a message");
    FUZZ_ASSERT(strstr(e.msg, "fuzz.idx") != NULL, "the message must name the file: %s", e.msg);
    return 0;
  }
  FUZZ_ASSERT(f->ndim >= 1 && f->ndim <= LC_MAX_DIMS, "ndim %d", f->ndim);
  int64_t numel = 1;
  for (int d = 0; d < f->ndim; d++) numel *= f->shape[d];  /* each < 2^32 and the product <= 2^40 */
  FUZZ_ASSERT(numel == f->numel, "numel %lld for a product of %lld", (long long)f->numel, (long long)numel);
  if (size >= 2 && data[0] == 0 && data[1] == 0)  /* plain: the payload is exactly the rest */
    FUZZ_ASSERT((size_t)f->numel * (size_t)lc_idx_type_size(f->type) == size - 4 - 4 * (size_t)f->ndim,
                "%lld elements of type %d in %zu bytes", (long long)f->numel, f->type, size);
  if (f->numel <= FUZZ_MAX_DECODE) {
    float *out = malloc(sizeof(float) * (size_t)(f->numel ? f->numel : 1));
    FUZZ_ASSERT(out != NULL, "out of memory");
    FUZZ_ASSERT(lc_idx_read(f, out, &e) == 0, "read after a good open: %s", e.msg);
    for (int64_t i = 0; i < f->numel; i++) {
      float v = out[i];
      switch (f->type) {
        case LC_IDX_UBYTE: FUZZ_ASSERT(v >= 0 && v <= 255 && v == (float)(int)v, "ubyte %g", v); break;
        case LC_IDX_BYTE: FUZZ_ASSERT(v >= -128 && v <= 127 && v == (float)(int)v, "byte %g", v); break;
        case LC_IDX_SHORT: FUZZ_ASSERT(v >= -32768 && v <= 32767 && v == (float)(int)v, "short %g", v); break;
        case LC_IDX_INT: FUZZ_ASSERT(isfinite(v), "int %g", v); break;
        default: break;  /* float and double carry any value, NaN included */
      }
    }
    free(out);
  }
  lc_idx_close(f);
  return 0;
}
