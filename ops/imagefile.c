/* Shared pieces of the image readers and writers (see imagefile.h). */
#define _POSIX_C_SOURCE 200809L
#include "imagefile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int lc_image_check_size(const char *path, int64_t width, int64_t height, int channels, lc_error *e) {
  if (width < 1 || height < 1)
    return lc_fail(e, "%s: the image is %lldx%lld pixels; width and height must be at least 1", path,
                   (long long)width, (long long)height);
  /* width, height < 2^32 here (they come from 32-bit fields or are checked by callers),
   * so the products below cannot overflow int64 before the comparison */
  if (width > LC_IMAGE_MAX_VALUES || height > LC_IMAGE_MAX_VALUES ||
      width * height > LC_IMAGE_MAX_VALUES / channels)
    return lc_fail(e, "%s: the image is %lldx%lld pixels with %d channel%s, more than the %lld samples an image may hold",
                   path, (long long)width, (long long)height, channels, channels == 1 ? "" : "s",
                   (long long)LC_IMAGE_MAX_VALUES);
  return 0;
}

int lc_image_check_finite(const char *path, const float *data, int64_t n, lc_error *e) {
  for (int64_t i = 0; i < n; i++)
    if (data[i] != data[i])
      return lc_fail(e, "%s: element %lld of the image is NaN, which has no pixel value", path, (long long)i + 1);
  return 0;
}

int lc_atomic_open(lc_atomic_file *f, const char *path, lc_error *e) {
  f->fp = NULL;
  size_t n = strlen(path);
  f->tmp = malloc(n + 8);
  if (!f->tmp) return lc_fail(e, "%s: out of memory", path);
  memcpy(f->tmp, path, n);
  memcpy(f->tmp + n, ".XXXXXX", 8);
  int fd = mkstemp(f->tmp);
  if (fd < 0) {
    lc_fail(e, "cannot create %s: %s", path, strerror(errno));
    free(f->tmp);
    f->tmp = NULL;
    return -1;
  }
  fchmod(fd, 0644);
  f->fp = fdopen(fd, "wb");
  if (!f->fp) {
    lc_fail(e, "cannot create %s: %s", path, strerror(errno));
    close(fd);
    unlink(f->tmp);
    free(f->tmp);
    f->tmp = NULL;
    return -1;
  }
  return 0;
}

int lc_atomic_finish(lc_atomic_file *f, const char *path, int ok, lc_error *e) {
  int rc = ok ? 0 : -1;
  if (f->fp) {
    if (ok && ferror(f->fp)) rc = lc_fail(e, "cannot write %s: write error", path);
    if (fclose(f->fp) != 0 && rc == 0) rc = lc_fail(e, "cannot write %s: %s", path, strerror(errno));
    f->fp = NULL;
  }
  if (f->tmp) {
    if (rc == 0 && rename(f->tmp, path) != 0) rc = lc_fail(e, "cannot write %s: %s", path, strerror(errno));
    if (rc != 0) unlink(f->tmp);
    free(f->tmp);
    f->tmp = NULL;
  }
  return rc;
}
