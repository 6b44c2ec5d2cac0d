/* The image file dispatcher (image.load's path) on arbitrary bytes: it must pick the
 * reader the first bytes name and give exactly what that reader gives. */
#include <string.h>

#include "fuzz.h"
#include "imagefile.h"
#include "imageload.h"
#include "pngio.h"
#include "pnm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lc_error e, e2;
  lc_image_file *f;
  int format = lc_image_sniff(data, size);
  int rc = lc_image_open_mem(data, size, "fuzz.img", &f, &e);
  /* the reader the dispatcher should have chosen, opened directly */
  lc_png_file *png = NULL;
  lc_pnm_file *pnm = NULL;
  int rc2 = format == LC_IMAGE_PNG ? lc_png_open_mem(data, size, "fuzz.img", &png, &e2)
          : format == LC_IMAGE_PNM ? lc_pnm_open_mem(data, size, "fuzz.img", &pnm, &e2)
                                   : -1;
  if (rc) {
    FUZZ_ASSERT(f == NULL && strstr(e.msg, "fuzz.img") != NULL, "message: %s", e.msg);
    FUZZ_ASSERT(rc2 != 0, "the dispatcher refused what its reader accepts: %s", e.msg);
    if (format) FUZZ_ASSERT(strcmp(e.msg, e2.msg) == 0, "messages differ: %s / %s", e.msg, e2.msg);
  } else {
    FUZZ_ASSERT(format == f->format && rc2 == 0, "format %d opened as %d", format, f->format);
    int64_t n = f->channels * f->height * f->width;
    FUZZ_ASSERT(f->width >= 1 && f->height >= 1 && n <= LC_IMAGE_MAX_VALUES, "%lld samples", (long long)n);
    if (n <= FUZZ_MAX_DECODE) {
      float *a = malloc(sizeof(float) * (size_t)n), *b = malloc(sizeof(float) * (size_t)n);
      FUZZ_ASSERT(a && b, "out of memory");
      int ra = lc_image_read(f, a, &e);
      int rb = png ? lc_png_read(png, b, &e2) : lc_pnm_read(pnm, b, &e2);
      FUZZ_ASSERT(ra == rb, "dispatcher %d, reader %d", ra, rb);
      if (ra == 0) {
        fuzz_check_pixels(a, n);
        FUZZ_ASSERT(memcmp(a, b, sizeof(float) * (size_t)n) == 0, "pixels differ");
      }
      free(a);
      free(b);
    }
  }
  lc_image_close(f);
  lc_png_close(png);
  lc_pnm_close(pnm);
  return 0;
}
