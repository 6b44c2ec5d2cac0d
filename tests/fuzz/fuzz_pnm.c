/* The PGM/PPM reader on arbitrary bytes. */
#include <string.h>

#include "fuzz.h"
#include "imagefile.h"
#include "pnm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lc_error e;
  lc_pnm_file *f;
  if (lc_pnm_open_mem(data, size, "fuzz.pnm", &f, &e)) {
    FUZZ_ASSERT(f == NULL && strstr(e.msg, "fuzz.pnm") != NULL, "message: %s", e.msg);
    return 0;
  }
  FUZZ_ASSERT(f->channels == 1 || f->channels == 3, "%d channels", f->channels);
  FUZZ_ASSERT(f->maxval >= 1 && f->maxval <= 65535, "maxval %d", f->maxval);
  int64_t n = f->channels * f->height * f->width;
  FUZZ_ASSERT(f->width >= 1 && f->height >= 1 && n <= LC_IMAGE_MAX_VALUES, "%lldx%lld", (long long)f->width,
              (long long)f->height);
  /* every sample takes at least one byte of the file */
  FUZZ_ASSERT(n <= (int64_t)size, "%lld samples promised by %zu bytes", (long long)n, size);
  if (n <= FUZZ_MAX_DECODE) {
    float *out = malloc(sizeof(float) * (size_t)n);
    FUZZ_ASSERT(out != NULL, "out of memory");
    if (lc_pnm_read(f, out, &e) == 0)
      fuzz_check_pixels(out, n);
    else
      FUZZ_ASSERT(strstr(e.msg, "fuzz.pnm") != NULL, "message: %s", e.msg);
    free(out);
  }
  lc_pnm_close(f);
  return 0;
}
