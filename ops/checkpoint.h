/* Checkpoint files (docs/checkpoint.md): a header, a metadata tree in a small typed
 * binary encoding, named float32 tensors, and a CRC32 over everything before it.
 * All integers are little-endian.
 *
 *   "LCNNCKPT"                8 bytes of magic
 *   u32 version               LC_CKPT_VERSION
 *   u32 meta_len              bytes of the metadata that follow (<= LC_CKPT_MAX_META)
 *   meta_len bytes            one metadata value, a map
 *   u32 count                 number of tensors (<= LC_CKPT_MAX_TENSORS)
 *   count times:
 *     u16 name_len, name      1..LC_CKPT_MAX_NAME bytes of printable ASCII, unique
 *     u8 dtype                1 = float32 (the only one so far)
 *     u8 ndim                 0..LC_MAX_DIMS
 *     ndim x u64 dims         numel <= LC_MAX_NUMEL
 *     numel x 4 bytes         the values, row-major
 *   u32 crc32                 zlib's CRC32 of every byte before it
 *
 * Metadata values: a tag byte, then
 *   1 false, 2 true           nothing
 *   3 integer                 i64
 *   4 number                  f64 (IEEE 754 bits)
 *   5 string                  u32 len, bytes
 *   6 list                    u32 n, n values
 *   7 map                     u32 n, n x (u32 key_len, key bytes, value); keys are
 *                             1..LC_CKPT_MAX_NAME bytes in strictly increasing byte order
 *                             (so each key appears once and an encoding is canonical)
 *
 * The reader is plain data checking: it never runs code from a file, checks every
 * length against what remains before using it, and bounds nesting, counts and names
 * before allocating anything. lc_ckpt_parse works on bytes in memory so that a fuzzer
 * can call it directly. */
#ifndef LC_CHECKPOINT_H
#define LC_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "tensor.h"

#define LC_CKPT_MAGIC "LCNNCKPT"
#define LC_CKPT_MAGIC_LEN 8
#define LC_CKPT_VERSION 1u
#define LC_CKPT_MAX_META ((uint32_t)64 << 20)
#define LC_CKPT_MAX_META_DEPTH 32
#define LC_CKPT_MAX_META_NODES ((uint32_t)1 << 20)
#define LC_CKPT_MAX_TENSORS ((uint32_t)1 << 20)
#define LC_CKPT_MAX_NAME 256
#define LC_CKPT_DTYPE_F32 1

enum { LC_META_FALSE = 1, LC_META_TRUE, LC_META_INT, LC_META_NUM, LC_META_STR, LC_META_LIST, LC_META_MAP };

/* ---- a growable byte buffer, for encoding metadata ---- */
typedef struct lc_buf {
  unsigned char *data;
  size_t len, cap;
  int failed;  /* an allocation failed: the contents are incomplete */
} lc_buf;

void lc_buf_free(lc_buf *b);
void lc_buf_put(lc_buf *b, const void *p, size_t n);
void lc_buf_u8(lc_buf *b, unsigned v);
void lc_buf_u32(lc_buf *b, uint32_t v);
void lc_buf_u64(lc_buf *b, uint64_t v);
/* Metadata values. Containers: write the tag and count, then the items. */
void lc_meta_put_bool(lc_buf *b, int v);
void lc_meta_put_int(lc_buf *b, int64_t v);
void lc_meta_put_num(lc_buf *b, double v);
void lc_meta_put_str(lc_buf *b, const char *s, size_t len);
void lc_meta_put_list(lc_buf *b, uint32_t n);
void lc_meta_put_map(lc_buf *b, uint32_t n);
void lc_meta_put_key(lc_buf *b, const char *s, size_t len);

/* ---- reading metadata that lc_ckpt_parse validated ---- */
typedef struct lc_meta_value {
  int tag;
  int64_t i;        /* LC_META_INT */
  double num;       /* LC_META_NUM */
  const char *str;  /* LC_META_STR */
  uint32_t len;     /* string length, or item count of a list or map */
} lc_meta_value;

/* Reads the value at *p (advancing *p past its header and, for scalars and strings,
 * its payload; a container's items follow). Only for validated bytes. */
void lc_meta_read(const unsigned char **p, lc_meta_value *v);
/* Reads a map key at *p. */
void lc_meta_read_key(const unsigned char **p, const char **key, uint32_t *len);

/* ---- parsing a whole file in memory ---- */
typedef struct lc_ckpt_tensor {
  const char *name;  /* not NUL-terminated: name_len bytes inside the buffer */
  uint32_t name_len;
  int ndim;
  int64_t shape[LC_MAX_DIMS];
  int64_t numel;
  const unsigned char *data;  /* numel little-endian float32s inside the buffer */
} lc_ckpt_tensor;

typedef struct lc_ckpt {
  uint32_t version;
  const unsigned char *meta;  /* a validated map */
  uint32_t meta_len;
  uint32_t count;
  lc_ckpt_tensor *tensors;    /* count entries, in file order; lc_ckpt_free releases */
} lc_ckpt;

/* Checks the whole buffer (structure, limits, unique names, CRC) and indexes it; the
 * result points into buf, which must outlive it. On error returns -1 with a message
 * saying what is wrong and where, and leaves nothing to free. */
int lc_ckpt_parse(const unsigned char *buf, size_t len, lc_ckpt *out, lc_error *e);
/* The same with the CRC check optional (verify_crc 0): for fuzzing, which could never
 * forge a CRC and so would never reach what follows a successful parse. */
int lc_ckpt_parse_ex(const unsigned char *buf, size_t len, int verify_crc, lc_ckpt *out, lc_error *e);
void lc_ckpt_free(lc_ckpt *c);
/* Copies a parsed tensor's values into dst (numel floats). */
void lc_ckpt_tensor_values(const lc_ckpt_tensor *t, float *dst);

/* Reads a whole file into a malloc'd buffer (*data, *len). Errors name the path. */
int lc_read_file(const char *path, unsigned char **data, size_t *len, lc_error *e);

/* ---- writing: a file replaced atomically ---- */
/* Bytes go to a temporary file in the target's directory; commit flushes and fsyncs it,
 * renames it over the target and fsyncs the directory, so a reader (or a crash) sees
 * either the old file or the complete new one. Any failure leaves the target as it was
 * and removes the temporary file. */
typedef struct lc_ckpt_file {
  int fd;
  char *path, *tmp;
  uint32_t crc;
  int failed;
  lc_error err;  /* the first failure, reported by commit */
} lc_ckpt_file;

int lc_ckpt_file_open(lc_ckpt_file *f, const char *path, lc_error *e);
/* Appends bytes (and feeds the running CRC); a failure is remembered for commit. */
void lc_ckpt_file_write(lc_ckpt_file *f, const void *p, size_t n);
/* Appends the CRC of everything written so far (the checkpoint trailer). */
void lc_ckpt_file_write_crc(lc_ckpt_file *f);
int lc_ckpt_file_commit(lc_ckpt_file *f, lc_error *e);
/* Drops the temporary file; safe after commit and on a zeroed struct. */
void lc_ckpt_file_abort(lc_ckpt_file *f);

/* The header of one tensor record, then its values: what the writer puts before each
 * tensor's payload. shape holds ndim sizes. */
void lc_ckpt_write_tensor(lc_ckpt_file *f, const char *name, size_t name_len, int ndim, const int64_t *shape,
                          const float *data);

#endif
