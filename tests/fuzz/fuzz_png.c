/* The PNG reader on arbitrary bytes. */
#include <string.h>

#include "fuzz.h"
#include "imagefile.h"
#include "pngio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lc_error e;
  lc_png_file *f;
  if (lc_png_open_mem(data, size, "fuzz.png", &f, &e)) {
    FUZZ_ASSERT(f == NULL && strstr(e.msg, "fuzz.png") != NULL, "message: %s", e.msg);
    return 0;
  }
  FUZZ_ASSERT(f->channels >= 1 && f->channels <= 4, "%d channels", f->channels);
  FUZZ_ASSERT(f->width >= 1 && f->height >= 1, "%lldx%lld", (long long)f->width, (long long)f->height);
  int64_t n = f->channels * f->height * f->width;
  FUZZ_ASSERT(n <= LC_IMAGE_MAX_VALUES, "%lld samples", (long long)n);
  if (n <= FUZZ_MAX_DECODE) {
    float *out = malloc(sizeof(float) * (size_t)n);
    FUZZ_ASSERT(out != NULL, "out of memory");
    if (lc_png_read(f, out, &e) == 0)
      fuzz_check_pixels(out, n);
    else
      FUZZ_ASSERT(strstr(e.msg, "fuzz.png") != NULL, "message: %s", e.msg);
    free(out);
  }
  lc_png_close(f);
  return 0;
}
