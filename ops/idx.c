/* IDX reader and writer (see idx.h for the format and the rules about trusting headers).
 *
 * Everything goes through zlib's gz* functions: gzread reads a plain file "directly"
 * and a gzip file decompressed, so one code path serves `x` and `x.gz`. */
#define _POSIX_C_SOURCE 200809L
#include "idx.h"
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Bytes converted per step when streaming: large enough that a syscall or a zlib call
 * per chunk costs nothing, small enough to stay in L2. A multiple of every element size. */
#define LC_IDX_CHUNK ((size_t)1 << 20)
/* First size of the buffer a compressed payload is decompressed into; it doubles. */
#define LC_IDX_FIRST_BUFFER ((size_t)1 << 20)
/* zlib's input buffer (default 8 KiB): larger means fewer read() calls. */
#define LC_IDX_GZ_BUFFER (1u << 18)
/* gzread takes an unsigned length and returns an int: never ask for more than this. */
#define LC_IDX_MAX_GZREAD ((size_t)1 << 30)

const char *lc_idx_type_name(int type) {
  switch (type) {
    case LC_IDX_UBYTE: return "ubyte";
    case LC_IDX_BYTE: return "byte";
    case LC_IDX_SHORT: return "short";
    case LC_IDX_INT: return "int";
    case LC_IDX_FLOAT: return "float";
    case LC_IDX_DOUBLE: return "double";
    default: return NULL;
  }
}

int lc_idx_type_size(int type) {
  switch (type) {
    case LC_IDX_UBYTE: case LC_IDX_BYTE: return 1;
    case LC_IDX_SHORT: return 2;
    case LC_IDX_INT: case LC_IDX_FLOAT: return 4;
    case LC_IDX_DOUBLE: return 8;
    default: return 0;
  }
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

/* src: n elements of `type`, big-endian; dst: n floats. One tight loop per type so the
 * ubyte case (all of MNIST) vectorizes. */
static void convert(int type, const unsigned char *restrict src, float *restrict dst, size_t n) {
  switch (type) {
    case LC_IDX_UBYTE:
      for (size_t i = 0; i < n; i++) dst[i] = (float)src[i];
      break;
    case LC_IDX_BYTE:
      for (size_t i = 0; i < n; i++) dst[i] = (float)(int8_t)src[i];
      break;
    case LC_IDX_SHORT:
      for (size_t i = 0; i < n; i++) dst[i] = (float)(int16_t)(uint16_t)(src[2 * i] << 8 | src[2 * i + 1]);
      break;
    case LC_IDX_INT:
      for (size_t i = 0; i < n; i++) dst[i] = (float)(int32_t)be32(src + 4 * i);
      break;
    case LC_IDX_FLOAT:
      for (size_t i = 0; i < n; i++) {
        uint32_t u = be32(src + 4 * i);
        memcpy(dst + i, &u, sizeof u);
      }
      break;
    case LC_IDX_DOUBLE:
      for (size_t i = 0; i < n; i++) {
        uint64_t u = (uint64_t)be32(src + 8 * i) << 32 | be32(src + 8 * i + 4);
        double d;
        memcpy(&d, &u, sizeof d);
        dst[i] = (float)d;
      }
      break;
  }
}

/* "60000x28x28" into buf. */
static const char *dims_str(char *buf, size_t n, int ndim, const int64_t *shape) {
  size_t used = 0;
  buf[0] = '\0';
  for (int d = 0; d < ndim && used < n; d++)
    used += (size_t)snprintf(buf + used, n - used, d ? "x%lld" : "%lld", (long long)shape[d]);
  return buf;
}

/* zlib's message for the last error on gz, or a plain description. */
static const char *gz_message(gzFile gz) {
  int code;
  const char *msg = gzerror(gz, &code);
  if (code == Z_ERRNO) return strerror(errno);
  if (!msg || !*msg) return "read error";
  /* zlib prefixes the name it was given, "<fd:4>" for gzdopen; ours names the file */
  const char *sep = strncmp(msg, "<fd:", 4) == 0 ? strstr(msg, ": ") : NULL;
  return sep ? sep + 2 : msg;
}

/* Reads up to n bytes; returns the count read (short only at the end of the data), or
 * -1 on a zlib error (corrupt compressed data, I/O error). */
static int64_t gz_read_full(gzFile gz, unsigned char *buf, size_t n) {
  size_t have = 0;
  while (have < n) {
    size_t want = n - have < LC_IDX_MAX_GZREAD ? n - have : LC_IDX_MAX_GZREAD;
    int got = gzread(gz, buf + have, (unsigned)want);
    if (got < 0) return -1;
    if (got == 0) break;
    have += (size_t)got;
  }
  return (int64_t)have;
}

/* Where the bytes come from while a file is opened: a file through zlib's gz* functions
 * (plain or gzip, whatever its name), or a memory buffer, read directly or, when it
 * starts with the gzip magic, inflated here by gzread's rules: concatenated members are
 * one stream, and bytes after the last member that do not start another are ignored.
 * Everything after the source (header checks, payload limits) is shared, so fuzzing the
 * memory form exercises the file form's logic. */
typedef struct idx_src {
  gzFile gz;                 /* a file, or NULL for memory */
  const unsigned char *mem;  /* memory: mem[pos..len) is not consumed yet */
  size_t len, pos;
  int inflating;             /* mem holds gzip data and zs is initialized */
  int ended;                 /* no more data: the last member is complete, or cut short */
  int cut;                   /* the input ended inside a member */
  z_stream zs;
  const char *err;           /* memory: what went wrong */
} idx_src;

static int src_direct(idx_src *s) { return s->gz ? gzdirect(s->gz) : !s->inflating; }

/* Like gzread, a source whose compressed data is cut short ends where it is cut; this
 * tells afterwards whether that happened. */
static int src_cut(idx_src *s) {
  int code = Z_OK;
  if (s->gz) gzerror(s->gz, &code);
  return s->gz ? code == Z_BUF_ERROR : s->cut;
}

static const char *src_message(idx_src *s) {
  if (s->gz) return gz_message(s->gz);
  return s->err ? s->err : "read error";
}

static int64_t mem_inflate(idx_src *s, unsigned char *buf, size_t n) {
  size_t have = 0;
  while (have < n && !s->ended) {
    size_t want = n - have < LC_IDX_MAX_GZREAD ? n - have : LC_IDX_MAX_GZREAD;
    size_t left = s->len - s->pos;
    s->zs.next_in = (Bytef *)(uintptr_t)(s->mem + s->pos);  /* inflate never writes its input */
    s->zs.avail_in = (uInt)(left < LC_IDX_MAX_GZREAD ? left : LC_IDX_MAX_GZREAD);
    s->zs.next_out = buf + have;
    s->zs.avail_out = (uInt)want;
    int rc = inflate(&s->zs, Z_NO_FLUSH);
    s->pos += (size_t)((const unsigned char *)s->zs.next_in - (s->mem + s->pos));
    have += want - s->zs.avail_out;
    if (rc == Z_STREAM_END) {
      if (s->len - s->pos >= 2 && s->mem[s->pos] == 0x1f && s->mem[s->pos + 1] == 0x8b)
        inflateReset(&s->zs);
      else
        s->ended = 1;
    } else if (rc == Z_BUF_ERROR || (rc == Z_OK && s->pos == s->len && s->zs.avail_out > 0)) {
      s->cut = s->ended = 1;  /* the input ran out inside a member */
    } else if (rc != Z_OK) {
      s->err = rc == Z_MEM_ERROR ? "out of memory" : s->zs.msg ? s->zs.msg : "invalid compressed data";
      return -1;
    }
  }
  return (int64_t)have;
}

/* Reads up to n bytes as gz_read_full does. */
static int64_t src_read(idx_src *s, unsigned char *buf, size_t n) {
  if (s->gz) return gz_read_full(s->gz, buf, n);
  if (s->inflating) return mem_inflate(s, buf, n);
  size_t got = n < s->len - s->pos ? n : s->len - s->pos;
  if (got) memcpy(buf, s->mem + s->pos, got);
  s->pos += got;
  return (int64_t)got;
}

void lc_idx_close(lc_idx_file *f) {
  if (!f) return;
  if (f->gz) gzclose((gzFile)f->gz);
  free(f->payload);
  free(f->path);
  free(f);
}

/* Error exit of the open functions: the message is already in e. */
static int fail_close(lc_idx_file *f, lc_idx_file **out) {
  lc_idx_close(f);
  *out = NULL;
  return -1;
}

/* Counts the bytes left in s (after the payload), stopping past `limit` so that a small
 * file inflating to terabytes of trailing zeros is refused quickly. Returns -1 on a zlib
 * error. */
static int64_t count_rest(idx_src *s, int64_t limit) {
  unsigned char buf[65536];
  int64_t total = 0;
  while (total <= limit) {
    int64_t got = src_read(s, buf, sizeof buf);
    if (got < 0) return -1;
    if (got == 0) break;
    total += got;
  }
  return total;
}

/* The payload of a compressed file: decompressed into f->payload, growing the buffer
 * only as data actually arrives, so a header announcing terabytes costs nothing. */
static int read_compressed_payload(lc_idx_file *f, idx_src *s, size_t need, const char *desc, lc_error *e) {
  size_t have = 0, cap = 0;
  while (have < need) {
    if (have == cap) {
      size_t ncap = cap ? cap * 2 : LC_IDX_FIRST_BUFFER;
      if (ncap > need) ncap = need;
      unsigned char *p = realloc(f->payload, ncap);
      if (!p)
        return lc_fail(e, "%s: out of memory after decompressing %zu of the %zu payload bytes of %s", f->path, have,
                       need, desc);
      f->payload = p;
      cap = ncap;
    }
    int64_t got = src_read(s, f->payload + have, cap - have);
    if (got < 0) return lc_fail(e, "%s: corrupt compressed data after %zu payload bytes: %s", f->path, have, src_message(s));
    have += (size_t)got;
    if (have < cap) break;  /* end of data */
  }
  if (have < need)
    return lc_fail(e, "%s: truncated: the header announces %s = %zu payload bytes, the decompressed file holds only %zu",
                   f->path, desc, need, have);
  int64_t limit = (int64_t)LC_IDX_CHUNK;
  int64_t rest = count_rest(s, limit);  /* also makes zlib check the gzip CRC at the end */
  if (rest < 0) return lc_fail(e, "%s: corrupt compressed data at the end: %s", f->path, src_message(s));
  if (rest > limit)
    return lc_fail(e, "%s: more than %lld trailing bytes after the %zu payload bytes of %s (not an IDX file, or a wrong header)",
                   f->path, (long long)limit, need, desc);
  if (rest > 0)
    return lc_fail(e, "%s: %lld trailing byte%s after the %zu payload bytes of %s (not an IDX file, or a wrong header)",
                   f->path, (long long)rest, rest == 1 ? "" : "s", need, desc);
  /* the payload is all there, but without the gzip trailer its checksum was never checked */
  if (src_cut(s)) return lc_fail(e, "%s: truncated: the compressed data ends before the end of the gzip stream", f->path);
  f->view = f->payload;
  return 0;
}

/* Reads and checks the header from s and makes sure exactly the announced payload
 * follows. size is the source's length in bytes, used when it is not compressed (a
 * plain file's payload is then read later, by lc_idx_read). Messages name f->path. */
static int open_source(lc_idx_file *f, idx_src *s, int64_t size, lc_error *e) {
  const char *path = f->path;
  unsigned char head[4 + 4 * LC_MAX_DIMS];
  int64_t got = src_read(s, head, 4);
  if (got < 0) return lc_fail(e, "%s: corrupt compressed data: %s", path, src_message(s));
  if (got < 4)
    return lc_fail(e, "%s: truncated: %s, an IDX header needs at least 4 bytes", path,
                   got == 0 ? "the file is empty" : "the file is shorter than 4 bytes");
  if (head[0] != 0 || head[1] != 0)
    return lc_fail(e, "%s: not an IDX file: bad magic %02x %02x %02x %02x (an IDX file starts with 00 00, a type byte, a dims count)",
                   path, head[0], head[1], head[2], head[3]);
  f->type = head[2];
  int esize = lc_idx_type_size(f->type);
  if (!esize)
    return lc_fail(e, "%s: unknown IDX element type 0x%02x (known: 08 ubyte, 09 byte, 0B short, 0C int, 0D float, 0E double)",
                   path, head[2]);
  f->ndim = head[3];
  if (f->ndim < 1 || f->ndim > LC_MAX_DIMS)
    return lc_fail(e, "%s: the header has %d dimensions; IDX files here have 1 to %d", path, f->ndim, LC_MAX_DIMS);
  got = src_read(s, head + 4, 4 * (size_t)f->ndim);
  if (got < 0) return lc_fail(e, "%s: corrupt compressed data: %s", path, src_message(s));
  if (got < 4 * f->ndim)
    return lc_fail(e, "%s: truncated: the header announces %d dimensions but the file ends inside their sizes", path, f->ndim);
  /* The product is bounded ignoring zero sizes, so that [0, 2^32-1, 2^32-1] (no elements,
   * but strides past int64) is refused like any other absurd shape. Each step checks
   * before it multiplies, so nothing overflows. */
  int64_t bound = 1;
  int empty = 0;
  for (int d = 0; d < f->ndim; d++) {
    int64_t sz = be32(head + 4 + 4 * d);
    f->shape[d] = sz;
    if (sz == 0) empty = 1;
    if (sz > 1) {
      if (bound > LC_MAX_NUMEL / sz) {
        char dims[160];
        for (int k = d + 1; k < f->ndim; k++) f->shape[k] = be32(head + 4 + 4 * k);
        return lc_fail(e, "%s: the header's dimensions %s hold more than %lld elements (the largest tensor)", path,
                       dims_str(dims, sizeof dims, f->ndim, f->shape), (long long)LC_MAX_NUMEL);
      }
      bound *= sz;
    }
  }
  f->numel = empty ? 0 : bound;
  size_t need = (size_t)f->numel * (size_t)esize;
  char desc[200], dims[160];
  snprintf(desc, sizeof desc, "%s %s", dims_str(dims, sizeof dims, f->ndim, f->shape), lc_idx_type_name(f->type));

  if (!src_direct(s)) return read_compressed_payload(f, s, need, desc, e);
  /* Not compressed: the size tells at once whether the payload is all there. */
  int64_t avail = size - 4 - 4 * f->ndim;
  if (avail < (int64_t)need)
    return lc_fail(e, "%s: truncated: the header announces %s = %zu payload bytes, the file holds only %lld", path, desc,
                   need, (long long)avail);
  if (avail > (int64_t)need) {
    int64_t extra = avail - (int64_t)need;
    return lc_fail(e, "%s: %lld trailing byte%s after the %zu payload bytes of %s (not an IDX file, or a wrong header)",
                   path, (long long)extra, extra == 1 ? "" : "s", need, desc);
  }
  return 0;
}

static lc_idx_file *new_file(const char *name, lc_error *e) {
  lc_idx_file *f = calloc(1, sizeof *f);
  if (!f || !(f->path = strdup(name))) {
    free(f);
    lc_fail(e, "%s: out of memory", name);
    return NULL;
  }
  return f;
}

int lc_idx_open(const char *path, lc_idx_file **out, lc_error *e) {
  *out = NULL;
  lc_idx_file *f = new_file(path, e);
  if (!f) return -1;
  struct stat st;
  int fd = lc_open_regular(path, &st, e);
  if (fd < 0) return fail_close(f, out);
  gzFile gz = gzdopen(fd, "rb");
  if (!gz) {
    close(fd);
    lc_fail(e, "%s: out of memory opening the file", path);
    return fail_close(f, out);
  }
  f->gz = gz;
  gzbuffer(gz, LC_IDX_GZ_BUFFER);
  idx_src s = {.gz = gz};
  if (open_source(f, &s, (int64_t)st.st_size, e)) return fail_close(f, out);
  *out = f;
  return 0;
}

int lc_idx_open_mem(const void *data, size_t size, const char *name, lc_idx_file **out, lc_error *e) {
  *out = NULL;
  lc_idx_file *f = new_file(name, e);
  if (!f) return -1;
  idx_src s = {.mem = data, .len = size};
  if (size >= 2 && s.mem[0] == 0x1f && s.mem[1] == 0x8b) {
    if (inflateInit2(&s.zs, 16 + MAX_WBITS) != Z_OK) {
      lc_fail(e, "%s: out of memory", name);
      return fail_close(f, out);
    }
    s.inflating = 1;
  }
  int rc = open_source(f, &s, (int64_t)size, e);
  if (s.inflating) inflateEnd(&s.zs);
  if (rc) return fail_close(f, out);
  if (!s.inflating) f->view = s.mem + 4 + 4 * (size_t)f->ndim;
  *out = f;
  return 0;
}

int lc_idx_read(lc_idx_file *f, float *out, lc_error *e) {
  size_t esize = (size_t)lc_idx_type_size(f->type), n = (size_t)f->numel;
  if (f->view || n == 0) {
    convert(f->type, f->view, out, n);
    return 0;
  }
  if (!f->gz) return lc_fail(e, "%s: lc_idx_read called twice", f->path);
  unsigned char *chunk = malloc(LC_IDX_CHUNK);
  if (!chunk) return lc_fail(e, "%s: out of memory", f->path);
  gzFile gz = (gzFile)f->gz;
  size_t per = LC_IDX_CHUNK / esize, done = 0;
  int rc = 0;
  while (done < n) {
    size_t count = n - done < per ? n - done : per;
    int64_t got = gz_read_full(gz, chunk, count * esize);
    if (got != (int64_t)(count * esize)) {
      rc = got < 0 ? lc_fail(e, "%s: read error: %s", f->path, gz_message(gz))
                   : lc_fail(e, "%s: truncated while reading: the file shrank after it was opened", f->path);
      break;
    }
    convert(f->type, chunk, out + done, count);
    done += count;
  }
  free(chunk);
  gzclose(gz);
  f->gz = NULL;
  return rc;
}

/* ---- writer ---- */

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Writes n bytes; gzwrite takes an unsigned length. */
static int gz_write_full(gzFile gz, const unsigned char *buf, size_t n) {
  while (n > 0) {
    size_t part = n < LC_IDX_MAX_GZREAD ? n : LC_IDX_MAX_GZREAD;
    if (gzwrite(gz, buf, (unsigned)part) != (int)part) return -1;
    buf += part;
    n -= part;
  }
  return 0;
}

int lc_idx_write(const char *path, int type, int ndim, const int64_t *shape, const float *data, lc_error *e) {
  if (type != LC_IDX_UBYTE && type != LC_IDX_FLOAT)
    return lc_fail(e, "%s: IDX files can be written as ubyte or float, not type 0x%02x", path, type);
  if (ndim < 1 || ndim > LC_MAX_DIMS)
    return lc_fail(e, "%s: an IDX file has 1 to %d dimensions, not %d", path, LC_MAX_DIMS, ndim);
  int64_t numel;
  if (lc_check_shape("save_idx", ndim, shape, &numel, e)) return -1;
  for (int d = 0; d < ndim; d++)
    if (shape[d] > UINT32_MAX)
      return lc_fail(e, "%s: dimension %d has size %lld, more than an IDX header can hold", path, d + 1,
                     (long long)shape[d]);
  if (type == LC_IDX_UBYTE)
    for (int64_t i = 0; i < numel; i++) {
      float v = data[i];
      if (!(v >= 0.0f && v <= 255.0f && v == (float)(int)v))
        return lc_fail(e, "%s: element %lld is %g, but ubyte holds integers 0..255 (save as float, or round and clamp first)",
                       path, (long long)i + 1, (double)v);
    }

  size_t plen = strlen(path);
  char *tmp = malloc(plen + 8);
  if (!tmp) return lc_fail(e, "%s: out of memory", path);
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".XXXXXX", 8);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    lc_fail(e, "cannot create %s: %s", path, strerror(errno));
    free(tmp);
    return -1;
  }
  fchmod(fd, 0644);
  gzFile gz = gzdopen(fd, ends_with(path, ".gz") ? "wb6" : "wbT");
  unsigned char *chunk = gz ? malloc(LC_IDX_CHUNK) : NULL;
  int rc = 0;
  if (!gz || !chunk) {
    rc = lc_fail(e, "%s: out of memory", path);
    goto done;
  }
  unsigned char *p = chunk;
  p[0] = p[1] = 0;
  p[2] = (unsigned char)type;
  p[3] = (unsigned char)ndim;
  for (int d = 0; d < ndim; d++) put_be32(p + 4 + 4 * d, (uint32_t)shape[d]);
  if (gz_write_full(gz, p, 4 + 4 * (size_t)ndim)) {
    rc = lc_fail(e, "cannot write %s: %s", path, gz_message(gz));
    goto done;
  }
  size_t esize = (size_t)lc_idx_type_size(type), per = LC_IDX_CHUNK / esize;
  for (size_t done = 0, n = (size_t)numel; done < n;) {
    size_t count = n - done < per ? n - done : per;
    if (type == LC_IDX_UBYTE) {
      for (size_t i = 0; i < count; i++) chunk[i] = (unsigned char)data[done + i];
    } else {
      for (size_t i = 0; i < count; i++) {
        uint32_t u;
        memcpy(&u, data + done + i, sizeof u);
        put_be32(chunk + 4 * i, u);
      }
    }
    if (gz_write_full(gz, chunk, count * esize)) {
      rc = lc_fail(e, "cannot write %s: %s", path, gz_message(gz));
      goto done;
    }
    done += count;
  }
done:
  free(chunk);
  if (gz) {
    int zrc = gzclose(gz);
    if (zrc != Z_OK && rc == 0)
      rc = lc_fail(e, "cannot write %s: %s", path, zrc == Z_ERRNO ? strerror(errno) : "zlib error on close");
  } else {
    close(fd);
  }
  if (rc == 0 && rename(tmp, path) != 0) rc = lc_fail(e, "cannot write %s: %s", path, strerror(errno));
  if (rc != 0) unlink(tmp);
  free(tmp);
  return rc;
}
