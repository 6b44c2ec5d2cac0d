/* What the image file readers and writers (png.c, pnm.c) share: the size limit, the
 * float -> byte rule and the temporary file that is renamed into place. */
#ifndef LC_IMAGEFILE_H
#define LC_IMAGEFILE_H

#include <stdint.h>
#include <stdio.h>

#include "error.h"

/* Largest image (width x height x channels samples) the readers accept: 2^28 samples,
 * 1 GiB of float32. */
#define LC_IMAGE_MAX_VALUES ((int64_t)1 << 28)

/* Fails, naming path, unless 1 <= width, height and width*height*channels <= the limit. */
int lc_image_check_size(const char *path, int64_t width, int64_t height, int channels, lc_error *e);

/* Fails, naming path and the element, if data holds a NaN (it has no pixel value). */
int lc_image_check_finite(const char *path, const float *data, int64_t n, lc_error *e);

/* The byte a float becomes in an 8-bit file: rounded half up, clamped to 0..255. */
static inline unsigned char lc_image_byte(float v) {
  if (!(v > 0.0f)) return 0;
  if (v >= 254.5f) return 255;
  return (unsigned char)(v + 0.5f);
}

/* A file written under a temporary name beside path (path.XXXXXX, mode 0644) and renamed
 * to path when complete, so that a failed write never leaves a half image behind. */
typedef struct lc_atomic_file {
  FILE *fp;
  char *tmp;
} lc_atomic_file;

int lc_atomic_open(lc_atomic_file *f, const char *path, lc_error *e);
/* Closes the stream; when ok and the close succeeded, renames the temporary file to
 * path, else removes it. Returns 0 if the file is in place, -1 with a message (unless
 * !ok, when the caller's message stands) otherwise. */
int lc_atomic_finish(lc_atomic_file *f, const char *path, int ok, lc_error *e);

#endif
