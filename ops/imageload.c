/* The image file dispatcher (see imageload.h). */
#define _POSIX_C_SOURCE 200809L
#include "imageload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pngio.h"
#include "pnm.h"

int lc_image_sniff(const unsigned char *head, size_t n) {
  if (n >= 2 && head[0] == 0x89 && head[1] == 'P') return LC_IMAGE_PNG;
  if (n >= 2 && head[0] == 'P' && head[1] >= '1' && head[1] <= '7') return LC_IMAGE_PNM;
  return 0;
}

void lc_image_close(lc_image_file *f) {
  if (!f) return;
  if (f->format == LC_IMAGE_PNG) lc_png_close(f->reader);
  if (f->format == LC_IMAGE_PNM) lc_pnm_close(f->reader);
  free(f);
}

/* Opens with the reader of `format`, from path or (data != NULL) from memory. */
static int open_as(int format, const char *name, const void *data, size_t size, lc_image_file **out, lc_error *e) {
  if (!format) return lc_fail(e, "%s: not a PNG, PGM or PPM file (unknown first bytes)", name);
  lc_image_file *f = calloc(1, sizeof *f);
  if (!f) return lc_fail(e, "%s: out of memory", name);
  f->format = format;
  int rc;
  if (format == LC_IMAGE_PNG) {
    lc_png_file *png;
    rc = data ? lc_png_open_mem(data, size, name, &png, e) : lc_png_open(name, &png, e);
    if (!rc) f->reader = png, f->channels = png->channels, f->height = png->height, f->width = png->width;
  } else {
    lc_pnm_file *pnm;
    rc = data ? lc_pnm_open_mem(data, size, name, &pnm, e) : lc_pnm_open(name, &pnm, e);
    if (!rc) f->reader = pnm, f->channels = pnm->channels, f->height = pnm->height, f->width = pnm->width;
  }
  if (rc) {
    free(f);
    return -1;
  }
  *out = f;
  return 0;
}

int lc_image_open(const char *path, lc_image_file **out, lc_error *e) {
  *out = NULL;
  FILE *fp = fopen(path, "rb");
  if (!fp) return lc_fail(e, "cannot open %s: %s", path, strerror(errno));
  unsigned char head[2];
  size_t n = fread(head, 1, sizeof head, fp);
  fclose(fp);
  return open_as(lc_image_sniff(head, n), path, NULL, 0, out, e);
}

int lc_image_open_mem(const void *data, size_t size, const char *name, lc_image_file **out, lc_error *e) {
  *out = NULL;
  /* an empty buffer still needs a non-NULL pointer to mean "from memory" */
  static const unsigned char none[1];
  return open_as(lc_image_sniff(data, size), name, size ? data : none, size, out, e);
}

int lc_image_read(lc_image_file *f, float *out, lc_error *e) {
  return f->format == LC_IMAGE_PNG ? lc_png_read(f->reader, out, e) : lc_pnm_read(f->reader, out, e);
}
