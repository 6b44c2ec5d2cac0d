/* PNG files through libpng. (Named pngio.h, not png.h, which would hide libpng's own
 * <png.h> from every file compiled with -Iops.)
 *
 * Reading accepts every PNG color type and bit depth and gives float32 planes, channels
 * first (C x H x W), values on the 0..255 scale:
 *   gray -> 1 channel, gray+alpha -> 2, RGB and palette -> 3, RGBA -> 4;
 *   a tRNS chunk (transparency without an alpha channel) adds an alpha channel;
 *   1/2/4-bit gray and palette images are expanded to 8 bits (a 1-bit white is 255);
 *   16-bit samples v (0..65535) become v / 257, floats in 0..255 that keep the
 *   precision (65535 -> 255 exactly; an 8-bit value b stored as 16 bits b*257 -> b);
 *   interlaced (Adam7) images are deinterlaced.
 *
 * A header is never trusted to size an allocation: an image of more than
 * LC_IMAGE_MAX_VALUES samples (width x height x channels) is refused, and so is one whose
 * pixel data could not fit in the file even at deflate's best ratio (1032:1), so a
 * 100-byte file claiming 30000x30000 pixels fails at open, before anything is allocated.
 * libpng's own errors (bad signature, CRC mismatch in a critical chunk, truncated or
 * corrupt data) come back as messages naming the file; libpng's warnings are dropped.
 *
 * Usage:
 *   lc_png_file *f;
 *   if (lc_png_open(path, &f, &e)) return -1;   // f->channels, f->height, f->width
 *   int rc = lc_png_read(f, buf, &e);            // buf holds channels*height*width floats
 *   lc_png_close(f);
 */
#ifndef LC_PNGIO_H
#define LC_PNGIO_H

#include <stdint.h>

#include "error.h"
#include "imagefile.h"


typedef struct lc_png_file {
  int channels;       /* 1..4, as above */
  int64_t height, width;
  int bit_depth;      /* as stored: 1, 2, 4, 8 or 16 */
  int color_type;     /* as stored: PNG_COLOR_TYPE_* */
  int interlaced;     /* 1 for Adam7 */
  void *priv;         /* private to png.c */
} lc_png_file;

/* Opens path and reads and checks everything up to the pixel data. On failure *out is
 * NULL and e names the file and the problem. */
int lc_png_open(const char *path, lc_png_file **out, lc_error *e);
/* The same on a file held in memory (size bytes at data, kept alive until
 * lc_png_close); name stands for the file in messages. */
int lc_png_open_mem(const void *data, size_t size, const char *name, lc_png_file **out, lc_error *e);
/* Decodes the pixels into out (channels x height x width floats, channels first) and
 * checks the rest of the file up to IEND. Call it once. */
int lc_png_read(lc_png_file *f, float *out, lc_error *e);
/* Closes the file and frees everything; NULL is fine. */
void lc_png_close(lc_png_file *f);

/* Writes an 8-bit PNG: channels 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) from
 * data (channels x height x width floats, channels first). Values are rounded to the
 * nearest integer and clamped to 0..255; a NaN is an error, found before the file is
 * touched. The file is written under a temporary name and renamed into place. */
int lc_png_write(const char *path, int channels, int64_t height, int64_t width, const float *data, lc_error *e);

#endif
