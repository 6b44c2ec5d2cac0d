/* The CIFAR-10 reader and writer on files made here byte by byte, and every corruption
 * the reader must refuse with a message naming the file and the problem. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "cifar.h"
#include "test_dir.h"

#define REC LC_CIFAR_RECORD_BYTES
#define IMG LC_CIFAR_IMAGE_BYTES

/* The byte of record r at channel c, row y, column x: distinct enough that a swapped
 * channel, row or column shows, and covering 0..255. */
static unsigned char pixel(int r, int c, int y, int x) { return (unsigned char)(r * 7 + c * 85 + y * 5 + x * 3); }

/* n records with labels (r * 3) % 10 into buf (n * REC bytes). */
static void make_records(unsigned char *buf, int n) {
  for (int r = 0; r < n; r++) {
    unsigned char *rec = buf + (size_t)r * REC;
    rec[0] = (unsigned char)((r * 3) % 10);
    for (int c = 0; c < 3; c++)
      for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++) rec[1 + c * 1024 + y * 32 + x] = pixel(r, c, y, x);
  }
}

/* images/labels must hold the first n records of make_records, divided by divisor. */
static void check_records(const char *what, const float *images, const float *labels, int n, float divisor) {
  for (int r = 0; r < n; r++) {
    CHECK(labels[r] == (float)((r * 3) % 10), "%s: label %d is %g", what, r, labels[r]);
    for (int c = 0; c < 3; c++)
      for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++) {
          float got = images[(size_t)r * IMG + c * 1024 + y * 32 + x], want = (float)pixel(r, c, y, x) / divisor;
          CHECK(got == want, "%s: record %d [%d,%d,%d] is %g, want %g", what, r, c, y, x, got, want);
        }
  }
}

static void test_read(void) {
  enum { N = 5 };
  unsigned char *buf = malloc(N * REC);
  float *images = malloc(sizeof(float) * N * IMG), labels[N];
  make_records(buf, N);
  const char *path = in_dir("data_batch_1.bin");
  write_bytes(path, buf, N * REC);
  lc_error e;
  int64_t records = -1;
  CHECK_OK(lc_cifar_file_records(path, &records, &e), e);
  CHECK(records == N, "records %lld", (long long)records);
  CHECK_OK(lc_cifar_read(path, N, 1.0f, images, labels, &e), e);
  check_records("read", images, labels, N, 1.0f);
  CHECK_OK(lc_cifar_read(path, N, 255.0f, images, labels, &e), e);
  check_records("read /255", images, labels, N, 255.0f);
  /* the first records only: the rest of the buffer is left alone */
  for (int i = 0; i < N * IMG; i++) images[i] = -1;
  CHECK_OK(lc_cifar_read(path, 2, 1.0f, images, labels, &e), e);
  check_records("read 2", images, labels, 2, 1.0f);
  CHECK(images[2 * IMG] == -1, "record 3 was written");
  CHECK_OK(lc_cifar_read(path, 0, 1.0f, images, labels, &e), e);
  CHECK_FAILS(lc_cifar_read(path, N + 1, 1.0f, images, labels, &e), e, path, "asked for 6 records", "holds 5");
  CHECK_FAILS(lc_cifar_read(path, 1, 0.0f, images, labels, &e), e, path, "divisor");

  /* the same bytes from memory */
  CHECK_OK(lc_cifar_decode("mem", buf, N * REC, N, 1.0f, images, labels, &e), e);
  check_records("decode", images, labels, N, 1.0f);
  CHECK_FAILS(lc_cifar_decode("mem", buf, N * REC, -1, 1.0f, images, labels, &e), e, "mem", "asked for -1");
  free(buf);
  free(images);
}

/* More records than one read chunk (341), so chunk boundaries are crossed. */
static void test_many_records(void) {
  enum { N = 700 };
  unsigned char *buf = malloc((size_t)N * REC);
  float *images = malloc(sizeof(float) * N * IMG), *labels = malloc(sizeof(float) * N);
  make_records(buf, N);
  const char *path = in_dir("many.bin");
  write_bytes(path, buf, (size_t)N * REC);
  lc_error e;
  CHECK_OK(lc_cifar_read(path, N, 1.0f, images, labels, &e), e);
  check_records("700 records", images, labels, N, 1.0f);
  free(buf);
  free(images);
  free(labels);
}

static void test_refused(void) {
  enum { N = 3 };
  unsigned char buf[2 * N * REC];
  float images[N * IMG], labels[N];
  make_records(buf, N);
  lc_error e;
  int64_t records;

  const char *p = in_dir("truncated.bin");
  write_bytes(p, buf, N * REC - 1);
  CHECK_FAILS(lc_cifar_file_records(p, &records, &e), e, p, "9218 bytes", "not a whole number", "2 records",
              "3072 bytes over", "truncated");
  CHECK_FAILS(lc_cifar_read(p, 1, 1.0f, images, labels, &e), e, p, "not a whole number");
  CHECK_FAILS(lc_cifar_decode(p, buf, N * REC - 1, 1, 1.0f, images, labels, &e), e, p, "not a whole number");

  p = in_dir("long.bin");
  write_bytes(p, buf, N * REC + 1);
  CHECK_FAILS(lc_cifar_file_records(p, &records, &e), e, p, "3 records and 1 bytes over");

  p = in_dir("empty.bin");
  write_bytes(p, buf, 0);
  CHECK_FAILS(lc_cifar_file_records(p, &records, &e), e, p, "empty");
  CHECK_FAILS(lc_cifar_decode("mem", NULL, 0, 0, 1.0f, images, labels, &e), e, "mem", "empty");

  p = in_dir("cifar100.bin");
  write_bytes(p, buf, 2 * 3074);
  CHECK_FAILS(lc_cifar_file_records(p, &records, &e), e, p, "CIFAR-100");

  p = in_dir("bad_label.bin");
  buf[REC] = 10;  /* record 2 */
  write_bytes(p, buf, N * REC);
  CHECK_OK(lc_cifar_read(p, 1, 1.0f, images, labels, &e), e);  /* record 1 alone is fine */
  CHECK_FAILS(lc_cifar_read(p, N, 1.0f, images, labels, &e), e, p, "record 2", "byte 3073", "label 10", "0..9");
  buf[REC] = 255;
  CHECK_FAILS(lc_cifar_decode("mem", buf, N * REC, N, 1.0f, images, labels, &e), e, "record 2", "label 255");

  p = in_dir("does-not-exist.bin");
  CHECK_FAILS(lc_cifar_file_records(p, &records, &e), e, "cannot open", p, "No such file");
  CHECK_FAILS(lc_cifar_read(p, 1, 1.0f, images, labels, &e), e, "cannot open", p);
  CHECK_FAILS(lc_cifar_file_records(test_dir, &records, &e), e, test_dir, "directory");
}

static void test_write(void) {
  enum { N = 4 };
  float images[N * IMG], labels[N], back[N * IMG], back_labels[N];
  for (int r = 0; r < N; r++) {
    labels[r] = (float)((r * 3) % 10);
    for (int c = 0; c < 3; c++)
      for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++) images[r * IMG + c * 1024 + y * 32 + x] = (float)pixel(r, c, y, x);
  }
  lc_error e;
  const char *p = in_dir("written.bin");
  CHECK_OK(lc_cifar_write(p, N, images, labels, &e), e);
  unsigned char want[N * REC], got[N * REC + 1];
  make_records(want, N);
  FILE *f = fopen(p, "rb");
  size_t n = f ? fread(got, 1, sizeof got, f) : 0;
  if (f) fclose(f);
  CHECK(n == N * REC && memcmp(got, want, N * REC) == 0, "written bytes differ (%zu bytes)", n);
  CHECK_OK(lc_cifar_read(p, N, 1.0f, back, back_labels, &e), e);
  CHECK(memcmp(back, images, sizeof images) == 0 && memcmp(back_labels, labels, sizeof labels) == 0, "round trip");

  /* refused before the file is touched: the old file stays, no temporary is left */
  const char *q = in_dir("refused.bin");
  labels[2] = 10;
  CHECK_FAILS(lc_cifar_write(q, N, images, labels, &e), e, q, "label 3 is 10");
  labels[2] = 1.5f;
  CHECK_FAILS(lc_cifar_write(q, N, images, labels, &e), e, q, "label 3 is 1.5");
  labels[2] = 0;
  images[IMG + 5] = 256;
  CHECK_FAILS(lc_cifar_write(p, N, images, labels, &e), e, p, "pixel 6 of image 2 is 256");
  images[IMG + 5] = -1;
  CHECK_FAILS(lc_cifar_write(p, N, images, labels, &e), e, "is -1");
  CHECK_FAILS(lc_cifar_write(p, 0, images, labels, &e), e, "at least one record");
  struct stat st;
  CHECK(stat(q, &st) != 0, "a refused write created %s", q);
  CHECK(stat(p, &st) == 0 && st.st_size == N * REC, "a refused write changed %s", p);
  CHECK_FAILS(lc_cifar_write(in_dir("no-such-dir/x.bin"), N, back, back_labels, &e), e, "cannot create", "no-such-dir");
}

/* Random bytes of random lengths: every outcome is a result or an error, never a crash
 * (run under ASan by LUACNN_SANITIZE=ON scripts/test). */
static void test_random_bytes(void) {
  test_seed(5);
  size_t cap = 4 * REC + 2;
  unsigned char *buf = malloc(cap);
  float *images = malloc(sizeof(float) * 4 * IMG), labels[4];
  int decoded = 0, refused = 0;
  for (int k = 0; k < 400; k++) {
    size_t len = k % 3 == 0 ? (size_t)test_int(0, 4) * REC : (size_t)test_int(0, (int64_t)cap);
    for (size_t i = 0; i < len; i++) buf[i] = (unsigned char)test_int(0, k % 2 ? 9 : 255);
    lc_error e;
    int64_t records = 0;
    int64_t count = lc_cifar_count("fuzz", (int64_t)len, &records, &e) == 0 ? records : 1;
    if (lc_cifar_decode("fuzz", buf, len, count, 1.0f, images, labels, &e) == 0) {
      decoded++;
      CHECK(len % REC == 0 && len > 0, "decoded %zu bytes", len);
    } else {
      refused++;
      CHECK(strstr(e.msg, "fuzz") != NULL, "message without the name: %s", e.msg);
    }
  }
  CHECK(decoded > 0 && refused > 0, "decoded %d, refused %d", decoded, refused);
  free(buf);
  free(images);
}

int main(void) {
  if (test_dir_make("luacnn-test-cifar")) return 2;
  test_read();
  test_many_records();
  test_refused();
  test_write();
  test_random_bytes();
  test_dir_remove();
  return check_done("test_cifar");
}
