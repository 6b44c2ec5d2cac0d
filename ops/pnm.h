/* Netpbm gray and color images: PGM (P2 plain text, P5 binary) and PPM (P3, P6).
 *
 * A file is a magic number, width, height and maxval (1..65535) as decimal numbers
 * separated by whitespace, with `#` comments to the end of a line anywhere before the
 * maxval; then, after one whitespace byte, the samples row by row (RGB interleaved for
 * PPM): decimal numbers separated by whitespace (P2, P3), or bytes (maxval < 256) or
 * big-endian 16-bit words (P5, P6). Samples v become floats v * 255 / maxval, so
 * 0..maxval maps onto 0..255 (8-bit files give their integers unchanged). A sample over
 * maxval is an error. Bytes after the last sample are ignored (Netpbm allows several
 * images in one file; the first is read).
 *
 * As for PNG (pngio.h), headers are checked before anything is allocated: at most
 * LC_IMAGE_MAX_VALUES samples, and the samples announced must fit in the rest of the
 * file (a binary sample is 1 or 2 bytes, a text one at least a digit and a separator).
 *
 * Usage as for PNG: lc_pnm_open, then lc_pnm_read into channels*height*width floats,
 * channels first, then lc_pnm_close. */
#ifndef LC_PNM_H
#define LC_PNM_H

#include <stdint.h>

#include "error.h"
#include "imagefile.h"

typedef struct lc_pnm_file {
  int channels;       /* 1 (PGM) or 3 (PPM) */
  int64_t height, width;
  int maxval;         /* 1..65535 */
  int plain;          /* 1 for the text formats P2 and P3 */
  void *priv;         /* private to pnm.c */
} lc_pnm_file;

int lc_pnm_open(const char *path, lc_pnm_file **out, lc_error *e);
/* The same on a file held in memory (size bytes at data, kept alive until
 * lc_pnm_close); name stands for the file in messages. */
int lc_pnm_open_mem(const void *data, size_t size, const char *name, lc_pnm_file **out, lc_error *e);
int lc_pnm_read(lc_pnm_file *f, float *out, lc_error *e);
void lc_pnm_close(lc_pnm_file *f);

/* Writes a binary 8-bit file (maxval 255): channels 1 gives P5 (PGM), 3 gives P6 (PPM).
 * data is channels x height x width floats, rounded and clamped to 0..255 (NaN is an
 * error). Written under a temporary name and renamed into place. */
int lc_pnm_write(const char *path, int channels, int64_t height, int64_t width, const float *data, lc_error *e);

#endif
