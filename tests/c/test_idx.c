/* The IDX reader and writer on small files made here byte by byte (plain and through
 * gzwrite), and on every corruption the reader must refuse with a message that names
 * the file and the problem. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "idx.h"
#include "test_dir.h"

static void write_gz(const char *path, const unsigned char *bytes, size_t n) {
  gzFile gz = gzopen(path, "wb");
  if (!gz || (n && gzwrite(gz, bytes, (unsigned)n) != (int)n) || gzclose(gz) != Z_OK) {
    fprintf(stderr, "cannot write %s\n", path);
    exit(2);
  }
}

static size_t file_bytes(const char *path, unsigned char *buf, size_t cap) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  size_t n = fread(buf, 1, cap, f);
  fclose(f);
  return n;
}

/* An IDX header into buf; returns its length. */
static size_t header(unsigned char *buf, int type, int ndim, const uint32_t *dims) {
  buf[0] = 0;
  buf[1] = 0;
  buf[2] = (unsigned char)type;
  buf[3] = (unsigned char)ndim;
  for (int d = 0; d < ndim; d++) {
    buf[4 + 4 * d] = (unsigned char)(dims[d] >> 24);
    buf[5 + 4 * d] = (unsigned char)(dims[d] >> 16);
    buf[6 + 4 * d] = (unsigned char)(dims[d] >> 8);
    buf[7 + 4 * d] = (unsigned char)dims[d];
  }
  return 4 + 4 * (size_t)ndim;
}

/* Opens and reads path, which must succeed with the given shape; returns the values
 * (malloc'd) or NULL. */
static float *load(const char *path, int ndim, const int64_t *shape) {
  lc_error e;
  lc_idx_file *f = NULL;
  CHECK_OK(lc_idx_open(path, &f, &e), e);
  if (!f) return NULL;
  CHECK(f->ndim == ndim, "%s: ndim %d, want %d", path, f->ndim, ndim);
  int64_t numel = 1;
  for (int d = 0; d < ndim && d < f->ndim; d++) {
    CHECK(f->shape[d] == shape[d], "%s: dim %d is %lld, want %lld", path, d, (long long)f->shape[d], (long long)shape[d]);
    numel *= shape[d];
  }
  CHECK(f->numel == numel, "%s: numel %lld, want %lld", path, (long long)f->numel, (long long)numel);
  float *out = malloc(sizeof(float) * (size_t)(numel ? numel : 1));
  CHECK_OK(lc_idx_read(f, out, &e), e);
  int f_type = f->type;
  lc_idx_close(f);
  /* the memory entry point (what fuzz_idx drives) reads the file's bytes to the same values */
  size_t n;
  unsigned char *bytes = read_bytes(path, &n);
  lc_idx_file *m = NULL;
  CHECK_OK(lc_idx_open_mem(bytes, n, path, &m, &e), e);
  if (m) {
    CHECK(m->numel == numel && m->ndim == ndim && m->type == f_type, "%s: lc_idx_open_mem gives another header", path);
    float *again = malloc(sizeof(float) * (size_t)(numel ? numel : 1));
    CHECK_OK(lc_idx_read(m, again, &e), e);
    CHECK(m->numel != numel || memcmp(out, again, sizeof(float) * (size_t)numel) == 0, "%s: lc_idx_open_mem gives other values", path);
    free(again);
  }
  lc_idx_close(m);
  free(bytes);
  return out;
}

/* path must be refused by lc_idx_open with a message naming the file and each piece;
 * a regular file's bytes must be refused by lc_idx_open_mem with the same message. */
#define CHECK_REFUSED(path, ...)                                                   \
  do {                                                                             \
    lc_error e_, em_;                                                              \
    lc_idx_file *f_ = (lc_idx_file *)1;                                            \
    CHECK_FAILS(lc_idx_open((path), &f_, &e_), e_, (path), __VA_ARGS__);           \
    CHECK(f_ == NULL, "%s: handle not cleared on failure", (path));                \
    struct stat st_;                                                               \
    if (stat((path), &st_) == 0 && S_ISREG(st_.st_mode)) {                         \
      size_t n_;                                                                   \
      unsigned char *b_ = read_bytes((path), &n_);                                      \
      CHECK_FAILS(lc_idx_open_mem(b_, n_, (path), &f_, &em_), em_, (path), __VA_ARGS__); \
      /* zlib's file reader inflates ahead and may find corrupt data earlier */     \
      CHECK(f_ == NULL && (strcmp(e_.msg, em_.msg) == 0 || strstr(e_.msg, "corrupt compressed")), \
            "memory: \"%s\", file: \"%s\"", em_.msg, e_.msg);                        \
      free(b_);                                                                    \
    }                                                                              \
  } while (0)

static void test_ubyte_plain_and_gz(void) {
  unsigned char buf[4 + 12 + 24];
  uint32_t dims[3] = {2, 3, 4};
  size_t h = header(buf, LC_IDX_UBYTE, 3, dims);
  for (int i = 0; i < 24; i++) buf[h + i] = (unsigned char)(i * 11);  /* 0..253, includes > 127 */
  buf[h + 23] = 255;
  int64_t shape[3] = {2, 3, 4};
  const char *names[] = {"u8", "u8.gz", "u8-gzip-content", "u8-plain-content.gz"};
  write_bytes(in_dir(names[0]), buf, sizeof buf);
  write_gz(in_dir(names[1]), buf, sizeof buf);
  write_gz(in_dir(names[2]), buf, sizeof buf);       /* gzip data, plain name */
  write_bytes(in_dir(names[3]), buf, sizeof buf);    /* plain data, .gz name */
  for (int k = 0; k < 4; k++) {
    float *v = load(in_dir(names[k]), 3, shape);
    if (!v) continue;
    for (int i = 0; i < 24; i++) {
      float want = i == 23 ? 255.0f : (float)(i * 11);
      CHECK(v[i] == want, "%s: element %d is %g, want %g", names[k], i, v[i], want);
    }
    free(v);
  }
}

static void put_be(unsigned char *p, uint64_t v, int bytes) {
  for (int b = 0; b < bytes; b++) p[b] = (unsigned char)(v >> (8 * (bytes - 1 - b)));
}

/* Every element type, with negative and fractional values where the type has them. */
static void test_types(void) {
  static const double values[5] = {0, 1, -2, 100.5, -32768};
  static const struct { int type, size; int integral; } types[] = {
    {LC_IDX_BYTE, 1, 1}, {LC_IDX_SHORT, 2, 1}, {LC_IDX_INT, 4, 1}, {LC_IDX_FLOAT, 4, 0}, {LC_IDX_DOUBLE, 8, 0}};
  for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
    unsigned char buf[8 + 5 * 8];
    uint32_t dims[1] = {5};
    size_t h = header(buf, types[k].type, 1, dims);
    double want[5];
    for (int i = 0; i < 5; i++) {
      double v = values[i];
      if (types[k].integral) v = types[k].size == 1 && (v > 127 || v < -128) ? -128 : (double)(int64_t)v;
      want[i] = v;
      uint64_t bits;
      if (types[k].type == LC_IDX_FLOAT) {
        float fv = (float)v;
        uint32_t u;
        memcpy(&u, &fv, 4);
        bits = u;
      } else if (types[k].type == LC_IDX_DOUBLE) {
        memcpy(&bits, &v, 8);
      } else {
        bits = (uint64_t)(int64_t)v;
      }
      put_be(buf + h + (size_t)i * types[k].size, bits, types[k].size);
    }
    char name[64];
    snprintf(name, sizeof name, "type%s.gz", lc_idx_type_name(types[k].type));
    write_gz(in_dir(name), buf, h + 5 * (size_t)types[k].size);
    int64_t shape[1] = {5};
    float *v = load(in_dir(name), 1, shape);
    if (!v) continue;
    for (int i = 0; i < 5; i++)
      CHECK(v[i] == (float)want[i], "%s: element %d is %g, want %g", name, i, v[i], want[i]);
    free(v);
  }
  CHECK(lc_idx_type_name(0x0A) == NULL && lc_idx_type_size(0x0A) == 0, "0x0A is not an IDX type");
}

/* A file with no elements is a valid, empty data set. */
static void test_empty_shape(void) {
  unsigned char buf[16];
  uint32_t dims[3] = {0, 28, 28};
  write_bytes(in_dir("empty"), buf, header(buf, LC_IDX_UBYTE, 3, dims));
  int64_t shape[3] = {0, 28, 28};
  free(load(in_dir("empty"), 3, shape));
}

static void test_corruptions(void) {
  unsigned char buf[256];
  uint32_t dims[LC_MAX_DIMS + 1] = {3, 2};
  size_t h = header(buf, LC_IDX_UBYTE, 2, dims);
  memset(buf + h, 7, 6);

  CHECK_REFUSED(in_dir("does-not-exist"), "cannot open", "No such file");
  CHECK_REFUSED(test_dir, "directory");

  write_bytes(in_dir("empty-file"), buf, 0);
  CHECK_REFUSED(in_dir("empty-file"), "truncated", "empty");
  write_bytes(in_dir("short-head"), buf, 3);
  CHECK_REFUSED(in_dir("short-head"), "truncated");
  write_bytes(in_dir("cut-in-dims"), buf, 6);
  CHECK_REFUSED(in_dir("cut-in-dims"), "truncated", "2 dimensions");

  write_bytes(in_dir("truncated"), buf, h + 5);
  CHECK_REFUSED(in_dir("truncated"), "truncated", "3x2 ubyte", "6 payload bytes", "only 5");
  write_gz(in_dir("truncated.gz"), buf, h + 5);
  CHECK_REFUSED(in_dir("truncated.gz"), "truncated", "3x2 ubyte", "only 5");

  buf[h + 6] = 9;
  write_bytes(in_dir("trailing"), buf, h + 7);
  CHECK_REFUSED(in_dir("trailing"), "1 trailing byte after");
  write_gz(in_dir("trailing.gz"), buf, h + 7);
  CHECK_REFUSED(in_dir("trailing.gz"), "1 trailing byte after");

  /* A small .gz inflating to far more trailing data than payload: refused without
   * reading it all. */
  {
    gzFile gz = gzopen(in_dir("trailing-bomb.gz"), "wb9");
    CHECK(gz != NULL, "gzopen");
    static unsigned char zeros[1 << 16];
    gzwrite(gz, buf, (unsigned)(h + 6));
    for (int i = 0; i < 64; i++) gzwrite(gz, zeros, sizeof zeros);
    gzclose(gz);
    CHECK_REFUSED(in_dir("trailing-bomb.gz"), "more than 1048576 trailing bytes");
  }

  unsigned char bad[sizeof buf];
  memcpy(bad, buf, sizeof buf);
  bad[0] = 0x01;
  write_bytes(in_dir("magic"), bad, h + 6);
  CHECK_REFUSED(in_dir("magic"), "not an IDX file", "magic", "01 00 08 02");
  memcpy(bad, "PK\x03\x04", 4);
  write_gz(in_dir("magic.gz"), bad, h + 6);
  CHECK_REFUSED(in_dir("magic.gz"), "not an IDX file");

  memcpy(bad, buf, sizeof buf);
  bad[2] = 0x0A;
  write_bytes(in_dir("type"), bad, h + 6);
  CHECK_REFUSED(in_dir("type"), "unknown IDX element type 0x0a");

  memcpy(bad, buf, sizeof buf);
  bad[3] = 0;
  write_bytes(in_dir("zero-dims"), bad, h + 6);
  CHECK_REFUSED(in_dir("zero-dims"), "0 dimensions");

  for (int d = 0; d < LC_MAX_DIMS + 1; d++) dims[d] = 1;
  size_t h9 = header(bad, LC_IDX_UBYTE, LC_MAX_DIMS + 1, dims);
  bad[h9] = 1;
  write_bytes(in_dir("nine-dims"), bad, h9 + 1);
  CHECK_REFUSED(in_dir("nine-dims"), "9 dimensions");

  /* 2^32-1 squared times 4 overflows int64; the reader must notice before multiplying. */
  uint32_t huge[3] = {0xFFFFFFFFu, 0xFFFFFFFFu, 4};
  write_bytes(in_dir("overflow"), bad, header(bad, LC_IDX_UBYTE, 3, huge));
  CHECK_REFUSED(in_dir("overflow"), "4294967295x4294967295x4", "more than");
  uint32_t zero_huge[3] = {0, 0xFFFFFFFFu, 0xFFFFFFFFu};
  write_bytes(in_dir("zero-overflow"), bad, header(bad, LC_IDX_UBYTE, 3, zero_huge));
  CHECK_REFUSED(in_dir("zero-overflow"), "more than");

  /* Within the element limit but far beyond the file: refused before any allocation. */
  uint32_t big[2] = {4, 0xFFFFFFFFu};
  size_t hb = header(bad, LC_IDX_FLOAT, 2, big);
  memset(bad + hb, 0, 16);
  write_bytes(in_dir("claims-more"), bad, hb + 16);
  CHECK_REFUSED(in_dir("claims-more"), "truncated", "4x4294967295 float", "68719476720 payload bytes", "only 16");
  write_gz(in_dir("claims-more.gz"), bad, hb + 16);
  CHECK_REFUSED(in_dir("claims-more.gz"), "truncated", "68719476720 payload bytes", "decompressed", "only 16");

  /* Damaged compressed streams: a flipped byte inside the deflate data, and the
   * gzip CRC at the end. */
  unsigned char big_payload[4096 + 12];
  uint32_t dims2[2] = {64, 64};
  size_t h2 = header(big_payload, LC_IDX_UBYTE, 2, dims2);
  for (int i = 0; i < 4096; i++) big_payload[h2 + i] = (unsigned char)(test_u64() & 0xFF);
  write_gz(in_dir("good.gz"), big_payload, h2 + 4096);
  int64_t shape2[2] = {64, 64};
  free(load(in_dir("good.gz"), 2, shape2));
  unsigned char gzbytes[8192];
  size_t gzn = file_bytes(in_dir("good.gz"), gzbytes, sizeof gzbytes);
  CHECK(gzn > 100 && gzn < sizeof gzbytes, "unexpected gzip size %zu", gzn);
  unsigned char mutated[8192];
  memcpy(mutated, gzbytes, gzn);
  mutated[gzn - 6] ^= 0x55;  /* inside the CRC32 of the trailer */
  write_bytes(in_dir("bad-crc.gz"), mutated, gzn);
  CHECK_REFUSED(in_dir("bad-crc.gz"), "corrupt compressed data");
  memcpy(mutated, gzbytes, gzn);
  write_bytes(in_dir("cut.gz"), mutated, gzn / 2);
  CHECK_REFUSED(in_dir("cut.gz"), "truncated");
  /* zlib names a gzdopen'ed file "<fd:N>"; messages name the real one */
  lc_error e;
  lc_idx_file *f;
  CHECK_FAILS(lc_idx_open(in_dir("bad-crc.gz"), &f, &e), e, "incorrect data check");
  CHECK(strstr(e.msg, "<fd:") == NULL, "message \"%s\" names a file descriptor", e.msg);
  /* Cut inside the 8-byte trailer: the payload is all there, but its CRC was never
   * checked (found by comparing the file and memory readers on these files). */
  for (size_t cut = 1; cut <= 8; cut++) {
    char name[32];
    snprintf(name, sizeof name, "cut-trailer-%zu.gz", cut);
    write_bytes(in_dir(name), gzbytes, gzn - cut);
    CHECK_REFUSED(in_dir(name), "truncated", "end of the gzip stream");
  }
}

/* Many random single-byte changes and cuts of a valid file: each must load or be
 * refused with a message, and whatever loads must have a consistent shape. */
static void test_mutations(void) {
  unsigned char buf[4 + 12 + 60];
  uint32_t dims[3] = {3, 4, 5};
  size_t h = header(buf, LC_IDX_UBYTE, 3, dims);
  for (int i = 0; i < 60; i++) buf[h + i] = (unsigned char)i;
  int loaded = 0, refused = 0;
  for (int round = 0; round < 2000; round++) {
    unsigned char m[sizeof buf];
    memcpy(m, buf, sizeof buf);
    size_t n = sizeof buf;
    int pos = (int)test_int(0, (int64_t)sizeof buf - 1);
    if (round % 3 == 0) n = (size_t)pos;
    else m[pos] = (unsigned char)test_u64();
    const char *path = in_dir(round % 2 ? "mutant.gz" : "mutant");
    if (round % 2) write_gz(path, m, n);
    else write_bytes(path, m, n);
    lc_error e;
    e.msg[0] = '\0';
    lc_idx_file *f;
    if (lc_idx_open(path, &f, &e)) {
      CHECK(e.msg[0] != '\0' && strstr(e.msg, path), "round %d: refused without naming the file: '%s'", round, e.msg);
      refused++;
      continue;
    }
    int64_t numel = 1;
    for (int d = 0; d < f->ndim; d++) numel *= f->shape[d];
    int esize = lc_idx_type_size(f->type);
    CHECK(numel == f->numel && (size_t)(numel * esize) + 4 + 4 * (size_t)f->ndim == n,
          "round %d: accepted a file of %zu bytes with %lld elements", round, n, (long long)numel);
    float *out = malloc(sizeof(float) * (size_t)(numel + 1));
    CHECK_OK(lc_idx_read(f, out, &e), e);
    free(out);
    lc_idx_close(f);
    loaded++;
  }
  CHECK(loaded > 100 && refused > 100, "mutations: %d loaded, %d refused", loaded, refused);
}

static void test_writer(void) {
  lc_error e;
  float data[6] = {0, 1, 2, 127, 128, 255};
  int64_t shape[2] = {2, 3};
  CHECK_OK(lc_idx_write(in_dir("w-u8"), LC_IDX_UBYTE, 2, shape, data, &e), e);
  unsigned char bytes[64];
  size_t n = file_bytes(in_dir("w-u8"), bytes, sizeof bytes);
  static const unsigned char want[] = {0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 1, 2, 127, 128, 255};
  CHECK(n == sizeof want && memcmp(bytes, want, n) == 0, "ubyte file has %zu bytes, not the expected 18", n);
  struct stat st;
  CHECK(stat(in_dir("w-u8"), &st) == 0 && (st.st_mode & 0777) == 0644, "written file mode %o", st.st_mode & 0777);

  float fdata[6] = {-1.5f, 0.25f, 3e8f, -0.0f, 1e-30f, 42};
  CHECK_OK(lc_idx_write(in_dir("w-f32.gz"), LC_IDX_FLOAT, 2, shape, fdata, &e), e);
  n = file_bytes(in_dir("w-f32.gz"), bytes, sizeof bytes);
  CHECK(n >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b, "a .gz name is written gzip compressed");
  float *v = load(in_dir("w-f32.gz"), 2, shape);
  if (v) {
    CHECK(memcmp(v, fdata, sizeof fdata) == 0, "float values do not round-trip bit for bit");
    free(v);
  }
  v = load(in_dir("w-u8"), 2, shape);
  if (v) {
    CHECK(memcmp(v, data, sizeof data) == 0, "ubyte values do not round-trip");
    free(v);
  }

  float bad[4][1] = {{1.5f}, {-1}, {256}, {NAN}};
  const char *shown[4] = {"is 1.5", "is -1", "is 256", "is nan"};
  int64_t one[1] = {1};
  for (int k = 0; k < 4; k++) {
    CHECK_FAILS(lc_idx_write(in_dir("w-bad"), LC_IDX_UBYTE, 1, one, bad[k], &e), e, "w-bad", shown[k], "0..255");
    CHECK(access(in_dir("w-bad"), F_OK) != 0, "a refused write left a file");
  }
  CHECK_FAILS(lc_idx_write(in_dir("w-0d"), LC_IDX_FLOAT, 0, one, data, &e), e, "w-0d", "1 to 8 dimensions");
  CHECK_FAILS(lc_idx_write(in_dir("w-int"), LC_IDX_INT, 1, one, data, &e), e, "ubyte or float");
  int64_t toolong[1] = {(int64_t)1 << 33};
  CHECK_FAILS(lc_idx_write(in_dir("w-long"), LC_IDX_FLOAT, 1, toolong, data, &e), e, "more than an IDX header");
  CHECK_FAILS(lc_idx_write(in_dir("no-such-dir/x"), LC_IDX_FLOAT, 1, one, data, &e), e, "cannot create",
              "no-such-dir/x", "No such file");
}

int main(void) {
  if (test_dir_make("lc_test_idx")) return 2;
  test_seed(20261127);
  test_ubyte_plain_and_gz();
  test_types();
  test_empty_shape();
  test_corruptions();
  test_mutations();
  test_writer();
  test_dir_remove();
  return check_done("test_idx");
}
