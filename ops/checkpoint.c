/* Checkpoint encoding, the strict reader and atomic file replacement (see checkpoint.h). */
#define _POSIX_C_SOURCE 200809L
#include "checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- little-endian scalars ---- */

static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static void put_le32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* zlib's crc32 takes an unsigned length: feed it in pieces. */
static uint32_t crc_update(uint32_t crc, const unsigned char *p, size_t n) {
  while (n > 0) {
    unsigned piece = n > (1u << 30) ? 1u << 30 : (unsigned)n;
    crc = (uint32_t)crc32(crc, p, piece);
    p += piece;
    n -= piece;
  }
  return crc;
}

/* ---- growable buffer ---- */

void lc_buf_free(lc_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

void lc_buf_put(lc_buf *b, const void *p, size_t n) {
  if (b->failed) return;
  if (n > SIZE_MAX / 2 - b->len) {
    b->failed = 1;
    return;
  }
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n) cap *= 2;
    unsigned char *d = realloc(b->data, cap);
    if (!d) {
      b->failed = 1;
      return;
    }
    b->data = d;
    b->cap = cap;
  }
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
}

void lc_buf_u8(lc_buf *b, unsigned v) {
  unsigned char c = (unsigned char)v;
  lc_buf_put(b, &c, 1);
}

void lc_buf_u32(lc_buf *b, uint32_t v) {
  unsigned char p[4];
  put_le32(p, v);
  lc_buf_put(b, p, 4);
}

void lc_buf_u64(lc_buf *b, uint64_t v) {
  unsigned char p[8];
  put_le64(p, v);
  lc_buf_put(b, p, 8);
}

void lc_meta_put_bool(lc_buf *b, int v) { lc_buf_u8(b, v ? LC_META_TRUE : LC_META_FALSE); }

void lc_meta_put_int(lc_buf *b, int64_t v) {
  lc_buf_u8(b, LC_META_INT);
  lc_buf_u64(b, (uint64_t)v);
}

void lc_meta_put_num(lc_buf *b, double v) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  lc_buf_u8(b, LC_META_NUM);
  lc_buf_u64(b, bits);
}

void lc_meta_put_str(lc_buf *b, const char *s, size_t len) {
  if (len > UINT32_MAX) {
    b->failed = 1;
    return;
  }
  lc_buf_u8(b, LC_META_STR);
  lc_buf_u32(b, (uint32_t)len);
  lc_buf_put(b, s, len);
}

void lc_meta_put_list(lc_buf *b, uint32_t n) {
  lc_buf_u8(b, LC_META_LIST);
  lc_buf_u32(b, n);
}

void lc_meta_put_map(lc_buf *b, uint32_t n) {
  lc_buf_u8(b, LC_META_MAP);
  lc_buf_u32(b, n);
}

void lc_meta_put_key(lc_buf *b, const char *s, size_t len) {
  lc_buf_u32(b, (uint32_t)len);
  lc_buf_put(b, s, len);
}

/* ---- validation ---- */

/* The reader's position: every read first checks that the bytes are there. */
typedef struct cursor {
  const unsigned char *p, *end;
  uint32_t nodes;
  lc_error *e;
} cursor;

static size_t left(const cursor *c) { return (size_t)(c->end - c->p); }

/* Byte offset of the cursor in the file, for messages. */
#define AT(c, base) ((unsigned long long)((c)->p - (base)))

static int key_less(const unsigned char *a, uint32_t alen, const unsigned char *b, uint32_t blen) {
  uint32_t n = alen < blen ? alen : blen;
  int r = memcmp(a, b, n);
  return r < 0 || (r == 0 && alen < blen);
}

/* One metadata value, recursively. base is the start of the file. */
static int check_value(cursor *c, const unsigned char *base, int depth) {
  if (depth > LC_CKPT_MAX_META_DEPTH)
    return lc_fail(c->e, "metadata nested deeper than %d levels at byte %llu", LC_CKPT_MAX_META_DEPTH, AT(c, base));
  if (++c->nodes > LC_CKPT_MAX_META_NODES)
    return lc_fail(c->e, "metadata has more than %u values", (unsigned)LC_CKPT_MAX_META_NODES);
  if (left(c) < 1) return lc_fail(c->e, "metadata ends inside a value at byte %llu", AT(c, base));
  int tag = *c->p++;
  switch (tag) {
    case LC_META_FALSE:
    case LC_META_TRUE:
      return 0;
    case LC_META_INT:
    case LC_META_NUM:
      if (left(c) < 8) return lc_fail(c->e, "metadata ends inside a number at byte %llu", AT(c, base));
      c->p += 8;
      return 0;
    case LC_META_STR: {
      if (left(c) < 4) return lc_fail(c->e, "metadata ends inside a string length at byte %llu", AT(c, base));
      uint32_t n = le32(c->p);
      c->p += 4;
      if (n > left(c))
        return lc_fail(c->e, "metadata string of %u bytes at byte %llu runs past the metadata (%zu bytes left)",
                       (unsigned)n, AT(c, base), left(c));
      c->p += n;
      return 0;
    }
    case LC_META_LIST:
    case LC_META_MAP: {
      if (left(c) < 4) return lc_fail(c->e, "metadata ends inside a count at byte %llu", AT(c, base));
      uint32_t n = le32(c->p);
      c->p += 4;
      /* every item takes at least one byte (a map entry at least six): a count beyond
       * what remains is a lie, caught before looping over it */
      size_t min = tag == LC_META_MAP ? 6 : 1;
      if (n > left(c) / min)
        return lc_fail(c->e, "metadata %s at byte %llu claims %u items but only %zu bytes remain",
                       tag == LC_META_MAP ? "map" : "list", AT(c, base) - 5, (unsigned)n, left(c));
      const unsigned char *prev = NULL;
      uint32_t prev_len = 0;
      for (uint32_t i = 0; i < n; i++) {
        if (tag == LC_META_MAP) {
          if (left(c) < 4) return lc_fail(c->e, "metadata ends inside a key length at byte %llu", AT(c, base));
          uint32_t klen = le32(c->p);
          if (klen < 1 || klen > LC_CKPT_MAX_NAME)
            return lc_fail(c->e, "metadata key at byte %llu has length %u (must be 1..%d)", AT(c, base),
                           (unsigned)klen, LC_CKPT_MAX_NAME);
          c->p += 4;
          if (klen > left(c)) return lc_fail(c->e, "metadata key at byte %llu runs past the metadata", AT(c, base));
          if (prev && !key_less(prev, prev_len, c->p, klen))
            return lc_fail(c->e, "metadata key '%.*s' at byte %llu is out of order or repeated", (int)klen,
                           (const char *)c->p, AT(c, base));
          prev = c->p;
          prev_len = klen;
          c->p += klen;
        }
        if (check_value(c, base, depth + 1)) return -1;
      }
      return 0;
    }
    default:
      return lc_fail(c->e, "unknown metadata tag %d at byte %llu", tag, AT(c, base) - 1);
  }
}

void lc_meta_read(const unsigned char **p, lc_meta_value *v) {
  const unsigned char *q = *p;
  memset(v, 0, sizeof *v);
  v->tag = *q++;
  switch (v->tag) {
    case LC_META_INT:
      v->i = (int64_t)le64(q);
      q += 8;
      break;
    case LC_META_NUM: {
      uint64_t bits = le64(q);
      memcpy(&v->num, &bits, sizeof bits);
      q += 8;
      break;
    }
    case LC_META_STR:
      v->len = le32(q);
      v->str = (const char *)q + 4;
      q += 4 + v->len;
      break;
    case LC_META_LIST:
    case LC_META_MAP:
      v->len = le32(q);
      q += 4;
      break;
    default:
      break;
  }
  *p = q;
}

void lc_meta_read_key(const unsigned char **p, const char **key, uint32_t *len) {
  *len = le32(*p);
  *key = (const char *)*p + 4;
  *p += 4 + *len;
}

static int name_cmp(const void *a, const void *b) {
  const lc_ckpt_tensor *x = *(const lc_ckpt_tensor *const *)a, *y = *(const lc_ckpt_tensor *const *)b;
  uint32_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
  int r = memcmp(x->name, y->name, n);
  if (r) return r;
  return (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

/* Tensor names are unique: sort pointers and compare neighbours. */
static int check_unique(lc_ckpt *out, lc_error *e) {
  if (out->count < 2) return 0;
  const lc_ckpt_tensor **order = malloc(out->count * sizeof *order);
  if (!order) return lc_fail(e, "out of memory indexing %u tensors", (unsigned)out->count);
  for (uint32_t i = 0; i < out->count; i++) order[i] = &out->tensors[i];
  qsort(order, out->count, sizeof *order, name_cmp);
  int rc = 0;
  for (uint32_t i = 1; i < out->count; i++) {
    if (name_cmp(&order[i - 1], &order[i]) == 0) {
      rc = lc_fail(e, "tensor name '%.*s' appears twice", (int)order[i]->name_len, order[i]->name);
      break;
    }
  }
  free(order);
  return rc;
}

static int parse_tensor(cursor *c, const unsigned char *base, uint32_t index, lc_ckpt_tensor *t) {
  lc_error *e = c->e;
  if (left(c) < 2) return lc_fail(e, "file ends in the header of tensor %u (byte %llu)", (unsigned)index + 1, AT(c, base));
  uint32_t nlen = le16(c->p);
  c->p += 2;
  if (nlen < 1 || nlen > LC_CKPT_MAX_NAME)
    return lc_fail(e, "tensor %u has a name of %u bytes (must be 1..%d)", (unsigned)index + 1, (unsigned)nlen,
                   LC_CKPT_MAX_NAME);
  if (left(c) < nlen) return lc_fail(e, "file ends in the name of tensor %u", (unsigned)index + 1);
  for (uint32_t i = 0; i < nlen; i++) {
    if (c->p[i] < 0x21 || c->p[i] > 0x7e)
      return lc_fail(e, "tensor %u has a name with byte 0x%02x (names are printable ASCII without spaces)",
                     (unsigned)index + 1, c->p[i]);
  }
  t->name = (const char *)c->p;
  t->name_len = nlen;
  c->p += nlen;
  if (left(c) < 2) return lc_fail(e, "file ends in the header of tensor '%.*s'", (int)nlen, t->name);
  int dtype = c->p[0], ndim = c->p[1];
  c->p += 2;
  if (dtype != LC_CKPT_DTYPE_F32)
    return lc_fail(e, "tensor '%.*s' has dtype %d (this version reads 1 = float32)", (int)nlen, t->name, dtype);
  if (ndim > LC_MAX_DIMS)
    return lc_fail(e, "tensor '%.*s' has %d dimensions (at most %d)", (int)nlen, t->name, ndim, LC_MAX_DIMS);
  if (left(c) < (size_t)ndim * 8) return lc_fail(e, "file ends in the shape of tensor '%.*s'", (int)nlen, t->name);
  t->ndim = ndim;
  int64_t numel = 1;
  for (int d = 0; d < ndim; d++) {
    uint64_t s = le64(c->p + 8 * d);
    /* numel <= 2^40 and each size <= 2^40 keep the product below 2^80 / 2^40: check
     * each factor before multiplying so nothing overflows */
    if (s > (uint64_t)LC_MAX_NUMEL || (s > 0 && numel > LC_MAX_NUMEL / (int64_t)s))
      return lc_fail(e, "tensor '%.*s' has more than 2^40 elements (dimension %d is %" PRIu64 ")", (int)nlen, t->name,
                     d + 1, s);
    t->shape[d] = (int64_t)s;
    numel *= (int64_t)s;
  }
  c->p += (size_t)ndim * 8;
  t->numel = numel;
  if ((uint64_t)numel > left(c) / 4)
    return lc_fail(e, "tensor '%.*s' needs %llu bytes of values but only %zu remain: the file is truncated",
                   (int)nlen, t->name, (unsigned long long)numel * 4, left(c));
  t->data = c->p;
  c->p += (size_t)numel * 4;
  return 0;
}

int lc_ckpt_parse(const unsigned char *buf, size_t len, lc_ckpt *out, lc_error *e) {
  return lc_ckpt_parse_ex(buf, len, 1, out, e);
}

int lc_ckpt_parse_ex(const unsigned char *buf, size_t len, int verify_crc, lc_ckpt *out, lc_error *e) {
  memset(out, 0, sizeof *out);
  cursor c = {buf, buf + len, 0, e};
  /* the smallest file: magic, version, meta_len, an empty map (5), count, crc */
  if (len < LC_CKPT_MAGIC_LEN || memcmp(buf, LC_CKPT_MAGIC, LC_CKPT_MAGIC_LEN) != 0)
    return lc_fail(e, "not a luacnn checkpoint (the file does not start with \"%s\")", LC_CKPT_MAGIC);
  c.p += LC_CKPT_MAGIC_LEN;
  if (left(&c) < 8) return lc_fail(e, "file ends inside the header (%zu bytes)", len);
  uint32_t version = le32(c.p), meta_len = le32(c.p + 4);
  c.p += 8;
  if (version != LC_CKPT_VERSION)
    return lc_fail(e, "checkpoint format version %u is not supported (this luacnn reads version %u)",
                   (unsigned)version, LC_CKPT_VERSION);
  if (meta_len > LC_CKPT_MAX_META)
    return lc_fail(e, "metadata of %u bytes is larger than the limit of %u", (unsigned)meta_len,
                   (unsigned)LC_CKPT_MAX_META);
  if (meta_len > left(&c))
    return lc_fail(e, "metadata of %u bytes runs past the end of the file (%zu bytes left): the file is truncated",
                   (unsigned)meta_len, left(&c));
  const unsigned char *meta = c.p;
  cursor m = {meta, meta + meta_len, 0, e};
  if (meta_len < 1 || *meta != LC_META_MAP) return lc_fail(e, "metadata is not a map");
  if (check_value(&m, buf, 0)) return -1;
  if (m.p != m.end)
    return lc_fail(e, "metadata has %zu stray bytes after its value", (size_t)(m.end - m.p));
  c.p += meta_len;
  if (left(&c) < 4) return lc_fail(e, "file ends before the tensor count: the file is truncated");
  uint32_t count = le32(c.p);
  c.p += 4;
  /* each record takes at least 1 + 2 + 2 bytes (a 1-byte name, dtype, ndim 0, and the
   * 4 bytes of its one value) */
  if (count > LC_CKPT_MAX_TENSORS || count > left(&c) / 9)
    return lc_fail(e, "tensor count %u is impossible for the %zu bytes that remain", (unsigned)count, left(&c));
  lc_ckpt_tensor *ts = NULL;
  if (count > 0) {
    ts = calloc(count, sizeof *ts);
    if (!ts) return lc_fail(e, "out of memory indexing %u tensors", (unsigned)count);
  }
  out->tensors = ts;
  out->count = count;
  for (uint32_t i = 0; i < count; i++) {
    if (parse_tensor(&c, buf, i, &ts[i])) goto fail;
  }
  if (check_unique(out, e)) goto fail;
  if (left(&c) < 4) {
    lc_fail(e, "file ends before its CRC32: the file is truncated");
    goto fail;
  }
  if (left(&c) > 4) {
    lc_fail(e, "%zu stray bytes after the last tensor", left(&c) - 4);
    goto fail;
  }
  uint32_t want = le32(c.p);
  uint32_t got = verify_crc ? crc_update((uint32_t)crc32(0, Z_NULL, 0), buf, (size_t)(c.p - buf)) : want;
  if (verify_crc && want != got) {
    lc_fail(e, "CRC32 mismatch (stored %08x, computed %08x): the file is corrupted", (unsigned)want, (unsigned)got);
    goto fail;
  }
  out->version = version;
  out->meta = meta;
  out->meta_len = meta_len;
  return 0;
fail:
  lc_ckpt_free(out);
  return -1;
}

void lc_ckpt_free(lc_ckpt *c) {
  free(c->tensors);
  memset(c, 0, sizeof *c);
}

void lc_ckpt_tensor_values(const lc_ckpt_tensor *t, float *dst) {
  const unsigned char *p = t->data;
  for (int64_t i = 0; i < t->numel; i++) {
    uint32_t u = le32(p + 4 * i);
    memcpy(dst + i, &u, 4);
  }
}

int lc_read_file(const char *path, unsigned char **data, size_t *len, lc_error *e) {
  *data = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY);
  if (fd < 0) return lc_fail(e, "cannot open '%s': %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return lc_fail(e, "cannot stat '%s': %s", path, strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return lc_fail(e, "'%s' is not a regular file", path);
  }
  size_t n = (size_t)st.st_size;
  unsigned char *buf = malloc(n ? n : 1);
  if (!buf) {
    close(fd);
    return lc_fail(e, "out of memory reading '%s' (%zu bytes)", path, n);
  }
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got > (1u << 30) ? (1u << 30) : n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      int err = r < 0 ? errno : 0;
      free(buf);
      close(fd);
      return err ? lc_fail(e, "cannot read '%s': %s", path, strerror(err))
                 : lc_fail(e, "'%s' shrank while being read", path);
    }
    got += (size_t)r;
  }
  close(fd);
  *data = buf;
  *len = n;
  return 0;
}

/* ---- atomic replacement ---- */

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* The directory part of path ("." for a bare name), malloc'd. */
static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return dup_str(".");
  if (slash == path) return dup_str("/");
  size_t n = (size_t)(slash - path);
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, path, n);
    d[n] = '\0';
  }
  return d;
}

int lc_ckpt_file_open(lc_ckpt_file *f, const char *path, lc_error *e) {
  memset(f, 0, sizeof *f);
  f->fd = -1;
  if (!path[0]) return lc_fail(e, "the file name is empty");
  size_t n = strlen(path);
  if (path[n - 1] == '/') return lc_fail(e, "'%s' names a directory, not a file", path);
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return lc_fail(e, "'%s' is a directory", path);
  f->path = dup_str(path);
  /* the temporary name: same directory (rename is atomic only within a file system),
   * hidden, and unique per process and call; O_EXCL refuses to reuse a leftover */
  f->tmp = malloc(n + 64);
  if (!f->path || !f->tmp) {
    lc_ckpt_file_abort(f);
    return lc_fail(e, "out of memory");
  }
  const char *slash = strrchr(path, '/');
  size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
  static unsigned counter;
  for (int attempt = 0; attempt < 100; attempt++) {
    snprintf(f->tmp, n + 64, "%.*s.%s.tmp-%ld-%u", (int)dir_len, path, path + dir_len, (long)getpid(), counter++);
    /* 0666 and the umask: the mode a plain fopen would give the file */
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (f->fd >= 0 || errno != EEXIST) break;
  }
  if (f->fd < 0) {
    int err = errno;
    char *dir = dir_of(path);
    lc_fail(e, "cannot create a temporary file in '%s': %s", dir ? dir : path, strerror(err));
    free(dir);
    free(f->tmp);
    f->tmp = NULL;
    lc_ckpt_file_abort(f);
    return -1;
  }
  f->crc = (uint32_t)crc32(0, Z_NULL, 0);
  return 0;
}

void lc_ckpt_file_write(lc_ckpt_file *f, const void *p, size_t n) {
  if (f->failed || f->fd < 0) return;
  f->crc = crc_update(f->crc, p, n);
  const unsigned char *q = p;
  while (n > 0) {
    ssize_t w = write(f->fd, q, n > (1u << 30) ? (1u << 30) : n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      lc_fail(&f->err, "writing '%s' failed: %s", f->tmp, w < 0 ? strerror(errno) : "no progress");
      f->failed = 1;
      return;
    }
    q += w;
    n -= (size_t)w;
  }
}

void lc_ckpt_file_write_crc(lc_ckpt_file *f) {
  unsigned char p[4];
  put_le32(p, f->crc);
  lc_ckpt_file_write(f, p, 4);
}

/* Removes temporary files that writers of the same target left when they were killed
 * (".NAME.tmp-PID-N" whose PID is gone), so a run that is often killed does not fill
 * the directory. A live writer's file (another process saving now) is left alone. */
static void remove_stale(const char *dir, const char *path) {
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  size_t blen = strlen(base);
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *ent;
  while ((ent = readdir(d)) != NULL) {
    const char *n = ent->d_name;
    if (n[0] != '.' || strncmp(n + 1, base, blen) != 0 || strncmp(n + 1 + blen, ".tmp-", 5) != 0) continue;
    char *end;
    long pid = strtol(n + 1 + blen + 5, &end, 10);
    if (end == n + 1 + blen + 5 || *end != '-' || pid <= 0 || pid == (long)getpid()) continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
    size_t dl = strlen(dir);
    char *full = malloc(dl + strlen(n) + 2);
    if (!full) break;
    snprintf(full, dl + strlen(n) + 2, "%s/%s", dir, n);
    unlink(full);
    free(full);
  }
  closedir(d);
}

int lc_ckpt_file_commit(lc_ckpt_file *f, lc_error *e) {
  if (f->fd < 0) return lc_fail(e, "the file is not open");
  if (f->failed) {
    *e = f->err;
    lc_ckpt_file_abort(f);
    return -1;
  }
  /* the data must be on disk before the rename makes it the file: otherwise a crash
   * can leave the new name pointing at an empty or partial file */
  if (fsync(f->fd) != 0) {
    lc_fail(e, "fsync of '%s' failed: %s", f->tmp, strerror(errno));
    lc_ckpt_file_abort(f);
    return -1;
  }
  int rc = close(f->fd);
  f->fd = -1;
  if (rc != 0) {
    lc_fail(e, "closing '%s' failed: %s", f->tmp, strerror(errno));
    lc_ckpt_file_abort(f);
    return -1;
  }
  if (rename(f->tmp, f->path) != 0) {
    lc_fail(e, "cannot rename '%s' to '%s': %s", f->tmp, f->path, strerror(errno));
    lc_ckpt_file_abort(f);
    return -1;
  }
  free(f->tmp);
  f->tmp = NULL;
  /* the rename itself lives in the directory: sync it so the new name survives a crash */
  char *dir = dir_of(f->path);
  int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  int ok = dfd >= 0 && fsync(dfd) == 0;
  int err = errno;
  if (dfd >= 0) close(dfd);
  if (!ok) {
    lc_fail(e, "'%s' was written but syncing its directory '%s' failed: %s", f->path, dir ? dir : "?", strerror(err));
    free(dir);
    lc_ckpt_file_abort(f);
    return -1;
  }
  remove_stale(dir, f->path);
  free(dir);
  lc_ckpt_file_abort(f);
  return 0;
}

void lc_ckpt_file_abort(lc_ckpt_file *f) {
  if (f->fd >= 0) close(f->fd);
  f->fd = -1;
  if (f->tmp) unlink(f->tmp);
  free(f->tmp);
  free(f->path);
  f->tmp = f->path = NULL;
}

void lc_ckpt_write_tensor(lc_ckpt_file *f, const char *name, size_t name_len, int ndim, const int64_t *shape,
                          const float *data) {
  unsigned char head[2 + 2 + 8 * LC_MAX_DIMS];
  head[0] = (unsigned char)name_len;
  head[1] = (unsigned char)(name_len >> 8);
  lc_ckpt_file_write(f, head, 2);
  lc_ckpt_file_write(f, name, name_len);
  head[0] = LC_CKPT_DTYPE_F32;
  head[1] = (unsigned char)ndim;
  int64_t numel = 1;
  for (int d = 0; d < ndim; d++) {
    put_le64(head + 2 + 8 * d, (uint64_t)shape[d]);
    numel *= shape[d];
  }
  lc_ckpt_file_write(f, head, 2 + 8 * (size_t)ndim);
  /* values through a small buffer in little-endian order, whatever the host's order */
  unsigned char chunk[1 << 16];
  const size_t per = sizeof chunk / 4;
  for (int64_t i = 0; i < numel; i += (int64_t)per) {
    size_t k = (size_t)(numel - i) < per ? (size_t)(numel - i) : per;
    for (size_t j = 0; j < k; j++) {
      uint32_t u;
      memcpy(&u, data + i + (int64_t)j, 4);
      put_le32(chunk + 4 * j, u);
    }
    lc_ckpt_file_write(f, chunk, 4 * k);
  }
}
