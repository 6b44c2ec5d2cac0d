/* IDX files: the format of the MNIST data sets (and Fashion-MNIST, EMNIST, ...).
 *
 * Layout, all integers big-endian:
 *   byte 0, 1   zero
 *   byte 2      element type (LC_IDX_UBYTE ... LC_IDX_DOUBLE below)
 *   byte 3      number of dimensions, 1..LC_MAX_DIMS
 *   then        one uint32 size per dimension
 *   then        the elements in row-major order, nothing after them
 *
 * Files are read through zlib, so `name.gz` and plain `name` both work whatever their
 * name says. A header is never trusted to size an allocation: for a plain file the
 * payload it announces is checked against the file size when the file is opened; for a
 * compressed one the payload is decompressed at open into a buffer that grows with what
 * was actually read, so a lying header fails with "truncated" instead of a huge malloc.
 *
 * Usage:
 *   lc_idx_file *f;
 *   if (lc_idx_open(path, &f, &e)) return -1;
 *   float *buf = malloc(f->numel * sizeof(float));   // shape in f->ndim, f->shape
 *   int rc = lc_idx_read(f, buf, &e);
 *   lc_idx_close(f);
 */
#ifndef LC_IDX_H
#define LC_IDX_H

#include <stdint.h>

#include "error.h"
#include "tensor.h"

enum {
  LC_IDX_UBYTE = 0x08,   /* uint8 */
  LC_IDX_BYTE = 0x09,    /* int8 */
  LC_IDX_SHORT = 0x0B,   /* int16 */
  LC_IDX_INT = 0x0C,     /* int32 */
  LC_IDX_FLOAT = 0x0D,   /* IEEE float32 */
  LC_IDX_DOUBLE = 0x0E,  /* IEEE float64, narrowed to float32 when read */
};

typedef struct lc_idx_file {
  int type;                       /* one of LC_IDX_* */
  int ndim;                       /* 1..LC_MAX_DIMS */
  int64_t shape[LC_MAX_DIMS];
  int64_t numel;                  /* product of shape (may be 0) */
  /* private to idx.c */
  char *path;
  void *gz;                       /* gzFile, kept opaque so users need no zlib.h */
  unsigned char *payload;         /* the whole payload when it came from a .gz stream */
  const unsigned char *view;      /* the payload in memory: payload, or inside the caller's buffer */
} lc_idx_file;

/* "ubyte", "byte", "short", "int", "float", "double", or NULL for an unknown type byte. */
const char *lc_idx_type_name(int type);
/* Bytes per element of a known type, 0 otherwise. */
int lc_idx_type_size(int type);

/* Opens path, reads and validates the header and makes sure exactly the announced
 * payload is there (no less: "truncated"; no more: "trailing bytes"). On success *out
 * is a new handle for lc_idx_read / lc_idx_close; on failure *out is NULL and e says
 * what is wrong, naming the file. */
int lc_idx_open(const char *path, lc_idx_file **out, lc_error *e);

/* The same checks on a file held in memory (data, size bytes; gzip compressed when it
 * starts with the gzip magic 1f 8b, plain otherwise); name stands for the file in
 * messages. A plain buffer is not copied: keep it alive until lc_idx_read is done. */
int lc_idx_open_mem(const void *data, size_t size, const char *name, lc_idx_file **out, lc_error *e);

/* Converts the payload to float32 into out, which holds f->numel floats: integer types
 * give their values (0..255 for ubyte), double is rounded to float. Call it once. */
int lc_idx_read(lc_idx_file *f, float *out, lc_error *e);

/* Closes the file and frees the handle; NULL is fine. */
void lc_idx_close(lc_idx_file *f);

/* Writes data (numel floats, row-major) as an IDX file of the given shape, gzip
 * compressed when path ends in ".gz". type is LC_IDX_UBYTE (every value must be an
 * integer 0..255; checked before the file is touched) or LC_IDX_FLOAT. The file is
 * written under a temporary name and renamed into place, so a failed write never
 * leaves a half file behind. */
int lc_idx_write(const char *path, int type, int ndim, const int64_t *shape, const float *data, lc_error *e);

#endif
