/* Reading an image file whatever its format: the first bytes say which reader it needs
 * (PNG's signature starts with 0x89 'P', Netpbm files with 'P' and a digit), and that
 * reader (pngio.h, pnm.h) does the rest with its own checks.
 *
 * Usage:
 *   lc_image_file *f;
 *   if (lc_image_open(path, &f, &e)) return -1;  // f->channels, f->height, f->width
 *   int rc = lc_image_read(f, buf, &e);          // channels*height*width floats, 0..255
 *   lc_image_close(f);
 */
#ifndef LC_IMAGELOAD_H
#define LC_IMAGELOAD_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum { LC_IMAGE_PNG = 1, LC_IMAGE_PNM = 2 };

typedef struct lc_image_file {
  int format;         /* LC_IMAGE_PNG or LC_IMAGE_PNM */
  int channels;
  int64_t height, width;
  void *reader;       /* lc_png_file * or lc_pnm_file * */
} lc_image_file;

/* The format the first n bytes of a file announce, or 0 if they announce none. */
int lc_image_sniff(const unsigned char *head, size_t n);

int lc_image_open(const char *path, lc_image_file **out, lc_error *e);
/* The same on a file held in memory (size bytes at data, kept alive until
 * lc_image_close); name stands for the file in messages. */
int lc_image_open_mem(const void *data, size_t size, const char *name, lc_image_file **out, lc_error *e);
/* Decodes the pixels into out (channels x height x width floats). Call it once. */
int lc_image_read(lc_image_file *f, float *out, lc_error *e);
/* Closes the file and frees the handle; NULL is fine. */
void lc_image_close(lc_image_file *f);

#endif
