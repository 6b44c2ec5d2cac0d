/* Checkpoint files: the reader on files assembled byte by byte here (valid ones, every
 * truncation, every flipped byte, and each kind of lie a header can tell), and the
 * atomic writer, including a write that fails half-way (RLIMIT_FSIZE in a child
 * process, which stops root too) and must leave the previous file as it was. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "checkpoint.h"
#include "test_dir.h"

/* ---- assembling files ---- */

static void header(lc_buf *f, uint32_t version, const lc_buf *meta) {
  lc_buf_put(f, LC_CKPT_MAGIC, LC_CKPT_MAGIC_LEN);
  lc_buf_u32(f, version);
  lc_buf_u32(f, (uint32_t)meta->len);
  lc_buf_put(f, meta->data, meta->len);
}

static void record(lc_buf *f, const char *name, int dtype, int ndim, const uint64_t *dims, const float *values) {
  size_t n = strlen(name);
  lc_buf_u8(f, (unsigned)(n & 0xff));
  lc_buf_u8(f, (unsigned)(n >> 8));
  lc_buf_put(f, name, n);
  lc_buf_u8(f, (unsigned)dtype);
  lc_buf_u8(f, (unsigned)ndim);
  uint64_t numel = 1;
  for (int d = 0; d < ndim; d++) {
    lc_buf_u64(f, dims[d]);
    numel *= dims[d];
  }
  if (values)
    for (uint64_t i = 0; i < numel; i++) {
      uint32_t u;
      memcpy(&u, &values[i], 4);
      lc_buf_u32(f, u);
    }
}

static void trailer(lc_buf *f) { lc_buf_u32(f, (uint32_t)crc32(crc32(0, Z_NULL, 0), f->data, (uInt)f->len)); }

/* {"epoch": 3, "name": "x", "rate": 0.5, "tags": [true, false, "s"], "nested": {"a": {}}} */
static void sample_meta(lc_buf *m) {
  lc_meta_put_map(m, 5);
  lc_meta_put_key(m, "epoch", 5);
  lc_meta_put_int(m, 3);
  lc_meta_put_key(m, "name", 4);
  lc_meta_put_str(m, "x", 1);
  lc_meta_put_key(m, "nested", 6);
  lc_meta_put_map(m, 1);
  lc_meta_put_key(m, "a", 1);
  lc_meta_put_map(m, 0);
  lc_meta_put_key(m, "rate", 4);
  lc_meta_put_num(m, 0.5);
  lc_meta_put_key(m, "tags", 4);
  lc_meta_put_list(m, 3);
  lc_meta_put_bool(m, 1);
  lc_meta_put_bool(m, 0);
  lc_meta_put_str(m, "s", 1);
}

static const float W[6] = {1.5f, -2.0f, 0.0f, 3.25f, -0.0f, 1e-30f};

/* A valid file: the sample metadata, a 2x3 tensor "w" and a scalar "s". */
static void valid_file(lc_buf *f) {
  lc_buf m = {0};
  sample_meta(&m);
  header(f, LC_CKPT_VERSION, &m);
  lc_buf_u32(f, 2);
  uint64_t dims[2] = {2, 3};
  record(f, "w", LC_CKPT_DTYPE_F32, 2, dims, W);
  float s = 7.0f;
  record(f, "s", LC_CKPT_DTYPE_F32, 0, NULL, &s);
  trailer(f);
  lc_buf_free(&m);
}

static void test_valid(void) {
  lc_buf f = {0};
  valid_file(&f);
  lc_ckpt ck;
  lc_error e;
  CHECK_OK(lc_ckpt_parse(f.data, f.len, &ck, &e), e);
  CHECK(ck.count == 2, "count %u", ck.count);
  if (ck.count == 2) {
    CHECK(ck.tensors[0].name_len == 1 && ck.tensors[0].name[0] == 'w', "first name");
    CHECK(ck.tensors[0].ndim == 2 && ck.tensors[0].shape[0] == 2 && ck.tensors[0].shape[1] == 3, "shape");
    float got[6];
    lc_ckpt_tensor_values(&ck.tensors[0], got);
    CHECK(memcmp(got, W, sizeof W) == 0, "values differ (bits, including -0 and a denormal-range value)");
    CHECK(ck.tensors[1].ndim == 0 && ck.tensors[1].numel == 1, "scalar");
  }
  /* walk the metadata back */
  const unsigned char *p = ck.meta;
  lc_meta_value v;
  lc_meta_read(&p, &v);
  CHECK(v.tag == LC_META_MAP && v.len == 5, "root map of 5, got tag %d len %u", v.tag, v.len);
  const char *key;
  uint32_t klen;
  lc_meta_read_key(&p, &key, &klen);
  CHECK(klen == 5 && memcmp(key, "epoch", 5) == 0, "first key");
  lc_meta_read(&p, &v);
  CHECK(v.tag == LC_META_INT && v.i == 3, "epoch 3");
  lc_ckpt_free(&ck);
  lc_buf_free(&f);
}

/* Every prefix and every single flipped byte of a valid file is refused with a message. */
static void test_truncated_and_flipped(void) {
  lc_buf f = {0};
  valid_file(&f);
  lc_ckpt ck;
  lc_error e;
  int refused = 0;
  for (size_t n = 0; n < f.len; n++) {
    unsigned char *copy = malloc(n ? n : 1);  /* exactly n bytes: ASan sees any overread */
    memcpy(copy, f.data, n);
    e.msg[0] = '\0';
    int rc = lc_ckpt_parse(copy, n, &ck, &e);
    refused += rc == -1 && e.msg[0] != '\0';
    if (rc == 0) lc_ckpt_free(&ck);
    free(copy);
  }
  CHECK(refused == (int)f.len, "%d of %zu truncations refused", refused, f.len);
  refused = 0;
  for (size_t i = 0; i < f.len; i++) {
    unsigned char *copy = malloc(f.len);
    memcpy(copy, f.data, f.len);
    copy[i] ^= 0xff;
    int rc = lc_ckpt_parse(copy, f.len, &ck, &e);
    refused += rc == -1;
    if (rc == 0) lc_ckpt_free(&ck);
    free(copy);
  }
  CHECK(refused == (int)f.len, "%d of %zu flipped bytes refused", refused, f.len);
  lc_buf_free(&f);
}

/* A file with the given metadata and tensors section (raw bytes after the count), with
 * a correct CRC so that only the structure can be at fault. */
static void parse_fails(const lc_buf *meta, uint32_t count, const lc_buf *records, const char *want1,
                        const char *want2) {
  lc_buf f = {0};
  header(&f, LC_CKPT_VERSION, meta);
  lc_buf_u32(&f, count);
  if (records) lc_buf_put(&f, records->data, records->len);
  trailer(&f);
  lc_ckpt ck;
  lc_error e;
  CHECK_FAILS(lc_ckpt_parse(f.data, f.len, &ck, &e), e, want1, want2);
  lc_buf_free(&f);
}

static void test_lies(void) {
  lc_buf empty = {0};
  lc_meta_put_map(&empty, 0);
  lc_buf r = {0};
  float v[4] = {1, 2, 3, 4};
  uint64_t dims[LC_MAX_DIMS + 1] = {2, 2, 1, 1, 1, 1, 1, 1, 1};

  /* tensor headers */
  record(&r, "a", 2, 1, dims, v);
  parse_fails(&empty, 1, &r, "tensor 'a'", "dtype 2");
  r.len = 0;
  record(&r, "a", 1, LC_MAX_DIMS + 1, dims, v);
  parse_fails(&empty, 1, &r, "tensor 'a'", "9 dimensions");
  r.len = 0;
  uint64_t huge[2] = {(uint64_t)1 << 62, 4};
  record(&r, "big", 1, 2, huge, NULL);
  parse_fails(&empty, 1, &r, "tensor 'big'", "2^40");
  r.len = 0;
  uint64_t many[2] = {1 << 20, 1 << 19};  /* within 2^40 but far more than the file holds */
  record(&r, "many", 1, 2, many, NULL);
  parse_fails(&empty, 1, &r, "tensor 'many'", "truncated");
  r.len = 0;
  record(&r, "a b", 1, 1, dims, v);
  parse_fails(&empty, 1, &r, "tensor 1", "printable ASCII");
  r.len = 0;
  lc_buf_u8(&r, 0);
  lc_buf_u8(&r, 0);
  lc_buf_put(&r, "xxxxxxxxxxxxxxxx", 16);
  parse_fails(&empty, 1, &r, "tensor 1", "name of 0 bytes");
  r.len = 0;
  record(&r, "dup", 1, 1, dims, v);
  record(&r, "dup", 1, 1, dims, v);
  parse_fails(&empty, 2, &r, "'dup'", "twice");
  r.len = 0;
  record(&r, "a", 1, 1, dims, v);
  parse_fails(&empty, 1000000, &r, "tensor count 1000000", "impossible");
  lc_buf_u8(&r, 0);
  parse_fails(&empty, 1, &r, "1 stray bytes", "after the last tensor");

  /* metadata */
  lc_buf m = {0};
  lc_meta_put_map(&m, 2);
  lc_meta_put_key(&m, "b", 1);
  lc_meta_put_int(&m, 1);
  lc_meta_put_key(&m, "a", 1);
  lc_meta_put_int(&m, 2);
  parse_fails(&m, 0, NULL, "key 'a'", "out of order");
  m.len = 0;
  lc_meta_put_map(&m, 2);
  lc_meta_put_key(&m, "a", 1);
  lc_meta_put_int(&m, 1);
  lc_meta_put_key(&m, "a", 1);
  lc_meta_put_int(&m, 2);
  parse_fails(&m, 0, NULL, "key 'a'", "repeated");
  m.len = 0;
  lc_meta_put_map(&m, 1);
  lc_meta_put_key(&m, "deep", 4);
  for (int i = 0; i < 40; i++) lc_meta_put_list(&m, 1);
  lc_meta_put_int(&m, 0);
  parse_fails(&m, 0, NULL, "nested deeper than 32", "");
  m.len = 0;
  lc_meta_put_map(&m, 1);
  lc_meta_put_key(&m, "l", 1);
  lc_meta_put_list(&m, 0xffffffffu);
  parse_fails(&m, 0, NULL, "claims 4294967295 items", "");
  m.len = 0;
  lc_meta_put_map(&m, 1);
  lc_meta_put_key(&m, "s", 1);
  lc_buf_u8(&m, LC_META_STR);
  lc_buf_u32(&m, 1000);
  parse_fails(&m, 0, NULL, "string of 1000 bytes", "runs past");
  m.len = 0;
  lc_meta_put_map(&m, 1);
  lc_meta_put_key(&m, "t", 1);
  lc_buf_u8(&m, 99);
  parse_fails(&m, 0, NULL, "unknown metadata tag 99", "");
  m.len = 0;
  lc_meta_put_list(&m, 0);
  parse_fails(&m, 0, NULL, "metadata is not a map", "");
  m.len = 0;
  lc_meta_put_map(&m, 0);
  lc_buf_u8(&m, 1);
  parse_fails(&m, 0, NULL, "1 stray bytes after its value", "");

  /* header */
  lc_buf f = {0};
  header(&f, 2, &empty);
  lc_buf_u32(&f, 0);
  trailer(&f);
  lc_ckpt ck;
  lc_error e;
  CHECK_FAILS(lc_ckpt_parse(f.data, f.len, &ck, &e), e, "version 2 is not supported");
  f.len = 0;
  lc_buf_put(&f, LC_CKPT_MAGIC, LC_CKPT_MAGIC_LEN);
  lc_buf_u32(&f, LC_CKPT_VERSION);
  lc_buf_u32(&f, 0xfffffff0u);
  CHECK_FAILS(lc_ckpt_parse(f.data, f.len, &ck, &e), e, "larger than the limit");
  CHECK_FAILS(lc_ckpt_parse((const unsigned char *)"PK\3\4", 4, &ck, &e), e, "not a luacnn checkpoint");
  lc_buf_free(&f);
  lc_buf_free(&m);
  lc_buf_free(&r);
  lc_buf_free(&empty);
}

/* ---- writing ---- */

static int write_file(const char *path, const unsigned char *bytes, size_t n, lc_error *e) {
  lc_ckpt_file f;
  if (lc_ckpt_file_open(&f, path, e)) return -1;
  lc_ckpt_file_write(&f, bytes, n);
  return lc_ckpt_file_commit(&f, e);
}

static size_t slurp(const char *path, unsigned char **out) {
  size_t n = 0;
  lc_error e;
  if (lc_read_file(path, out, &n, &e)) *out = NULL;
  return n;
}

/* Files in test_dir other than the ones the test made: leftovers of a failed write. */
static int stray_files(void) {
  DIR *d = opendir(test_dir);
  int n = 0;
  struct dirent *ent;
  while ((ent = readdir(d)) != NULL)
    if (strstr(ent->d_name, ".tmp-")) n++;
  closedir(d);
  return n;
}

static void test_write(void) {
  lc_buf f = {0};
  valid_file(&f);
  lc_error e;
  const char *path = in_dir("model.ckpt");
  CHECK_OK(write_file(path, f.data, f.len, &e), e);
  unsigned char *back;
  size_t n = slurp(path, &back);
  CHECK(n == f.len && back && memcmp(back, f.data, n) == 0, "file written differs");
  free(back);
  struct stat st;
  stat(path, &st);
  CHECK((st.st_mode & 0777) != 0600, "mode %o: the umask's, not mkstemp's private 0600", st.st_mode & 0777);

  /* the CRC the writer appends is the one the reader checks */
  lc_ckpt_file w;
  CHECK_OK(lc_ckpt_file_open(&w, in_dir("crc.ckpt"), &e), e);
  lc_ckpt_file_write(&w, f.data, f.len - 4);
  lc_ckpt_file_write_crc(&w);
  CHECK_OK(lc_ckpt_file_commit(&w, &e), e);
  n = slurp(in_dir("crc.ckpt"), &back);
  CHECK(n == f.len && memcmp(back, f.data, n) == 0, "trailer CRC differs");
  free(back);

  CHECK_FAILS(write_file(in_dir("no/such/dir/x.ckpt"), f.data, f.len, &e), e, "no/such/dir",
              "No such file or directory");
  CHECK_FAILS(write_file(test_dir, f.data, f.len, &e), e, "is a directory");
  CHECK_FAILS(write_file("", f.data, f.len, &e), e, "empty");
  lc_ckpt_file z;
  memset(&z, 0, sizeof z);
  z.fd = -1;
  lc_ckpt_file_abort(&z);  /* safe on a file never opened */

  /* A write the file-size limit cuts short, in a child (the limit would stay with this
   * process). The child reports through its exit status: 0 ok, 1 the write "worked",
   * 2 the message was wrong. */
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);  /* EFBIG from write() instead of a killed process */
    struct rlimit rl = {4096, 4096};
    setrlimit(RLIMIT_FSIZE, &rl);
    size_t big = 1 << 20;
    unsigned char *bytes = calloc(big, 1);
    lc_error ce;
    int rc = write_file(path, bytes, big, &ce);
    free(bytes);
    if (rc == 0) _exit(1);
    _exit(strstr(ce.msg, "File too large") && strstr(ce.msg, "model.ckpt") ? 0 : 2);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: status %d", status);
  n = slurp(path, &back);
  CHECK(n == f.len && back && memcmp(back, f.data, n) == 0, "the old file changed after a failed write");
  free(back);
  CHECK(stray_files() == 0, "%d temporary files left behind", stray_files());
  lc_buf_free(&f);
}

int main(void) {
  if (test_dir_make("luacnn-test-ckpt")) return 2;
  test_valid();
  test_truncated_and_flipped();
  test_lies();
  test_write();
  test_dir_remove();
  return check_done("test_checkpoint");
}
