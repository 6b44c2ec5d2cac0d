/* CIFAR-10 reader and writer (see cifar.h for the format). */
#define _POSIX_C_SOURCE 200809L
#include "cifar.h"
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Records read per read(2): ~1 MiB, a syscall per chunk costs nothing and the buffer
 * stays in L2-ish territory while it is converted. */
#define LC_CIFAR_CHUNK_RECORDS 341
/* CIFAR-100's binary records carry two label bytes: recognizing them makes a clearer
 * message for the likeliest wrong file. */
#define LC_CIFAR100_RECORD_BYTES 3074

int lc_cifar_count(const char *name, int64_t len, int64_t *records, lc_error *e) {
  *records = 0;
  if (len <= 0)
    return lc_fail(e, "%s: the file is empty (a CIFAR-10 file holds records of %d bytes: 1 label byte, then 3072 "
                      "pixel bytes)", name, LC_CIFAR_RECORD_BYTES);
  if (len % LC_CIFAR_RECORD_BYTES != 0) {
    int64_t whole = len / LC_CIFAR_RECORD_BYTES, rest = len % LC_CIFAR_RECORD_BYTES;
    if (len % LC_CIFAR100_RECORD_BYTES == 0)
      return lc_fail(e, "%s: %lld bytes is not a whole number of CIFAR-10 records of %d bytes, but is of %d-byte "
                        "records: a CIFAR-100 file (two label bytes per record)?",
                     name, (long long)len, LC_CIFAR_RECORD_BYTES, LC_CIFAR100_RECORD_BYTES);
    return lc_fail(e, "%s: %lld bytes is not a whole number of CIFAR-10 records of %d bytes (1 label byte + 3072 "
                      "pixel bytes): %lld records and %lld bytes over (truncated, or not a CIFAR-10 binary file)",
                   name, (long long)len, LC_CIFAR_RECORD_BYTES, (long long)whole, (long long)rest);
  }
  *records = len / LC_CIFAR_RECORD_BYTES;
  return 0;
}

/* Records [first, first + count) of the file, already in memory at rec: `first` only
 * numbers them in messages. */
static int decode_records(const char *name, const unsigned char *rec, int64_t first, int64_t count, float divisor,
                          float *restrict images, float *restrict labels, lc_error *e) {
  for (int64_t r = 0; r < count; r++, rec += LC_CIFAR_RECORD_BYTES) {
    unsigned label = rec[0];
    if (label >= LC_CIFAR_CLASSES)
      return lc_fail(e, "%s: record %lld (byte %lld) has label %u; CIFAR-10 labels are 0..9", name,
                     (long long)(first + r + 1), (long long)((first + r) * LC_CIFAR_RECORD_BYTES), label);
    labels[r] = (float)label;
    const unsigned char *px = rec + 1;
    float *out = images + r * LC_CIFAR_IMAGE_BYTES;
    /* a division, not a multiplication by 1/divisor: the same floats as x / 255 in Lua */
    for (int i = 0; i < LC_CIFAR_IMAGE_BYTES; i++) out[i] = (float)px[i] / divisor;
  }
  return 0;
}

static int check_divisor(const char *name, float divisor, lc_error *e) {
  if (!(divisor > 0) || divisor > 1e30f)
    return lc_fail(e, "%s: the pixel divisor must be a positive finite number, got %g", name, (double)divisor);
  return 0;
}

int lc_cifar_decode(const char *name, const unsigned char *bytes, size_t len, int64_t count, float divisor,
                    float *images, float *labels, lc_error *e) {
  int64_t records;
  if (check_divisor(name, divisor, e) || lc_cifar_count(name, (int64_t)len, &records, e)) return -1;
  if (count < 0 || count > records)
    return lc_fail(e, "%s: asked for %lld records, the file holds %lld", name, (long long)count, (long long)records);
  return decode_records(name, bytes, 0, count, divisor, images, labels, e);
}

/* Opens path for reading and counts its records; returns the descriptor or -1. */
static int open_records(const char *path, int64_t *records, lc_error *e) {
  *records = 0;
  struct stat st;
  int fd = lc_open_regular(path, &st, e);
  if (fd < 0) return -1;
  if (lc_cifar_count(path, (int64_t)st.st_size, records, e)) {
    close(fd);
    return -1;
  }
  return fd;
}

int lc_cifar_file_records(const char *path, int64_t *records, lc_error *e) {
  int fd = open_records(path, records, e);
  if (fd < 0) return -1;
  close(fd);
  return 0;
}

/* Reads exactly n bytes unless the file ends first; returns the count read or -1. */
static ssize_t read_full(int fd, unsigned char *buf, size_t n) {
  size_t have = 0;
  while (have < n) {
    ssize_t got = read(fd, buf + have, n - have);
    if (got < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (got == 0) break;
    have += (size_t)got;
  }
  return (ssize_t)have;
}

int lc_cifar_read(const char *path, int64_t count, float divisor, float *images, float *labels, lc_error *e) {
  if (check_divisor(path, divisor, e)) return -1;
  int64_t records;
  int fd = open_records(path, &records, e);
  if (fd < 0) return -1;
  if (count < 0 || count > records) {
    close(fd);
    return lc_fail(e, "%s: asked for %lld records, the file holds %lld", path, (long long)count, (long long)records);
  }
  unsigned char *chunk = count ? malloc((size_t)LC_CIFAR_CHUNK_RECORDS * LC_CIFAR_RECORD_BYTES) : NULL;
  if (count && !chunk) {
    close(fd);
    return lc_fail(e, "%s: out of memory", path);
  }
  int rc = 0;
  for (int64_t done = 0; done < count;) {
    int64_t n = count - done < LC_CIFAR_CHUNK_RECORDS ? count - done : LC_CIFAR_CHUNK_RECORDS;
    size_t want = (size_t)n * LC_CIFAR_RECORD_BYTES;
    ssize_t got = read_full(fd, chunk, want);
    if (got != (ssize_t)want) {
      rc = got < 0 ? lc_fail(e, "cannot read %s: %s", path, strerror(errno))
                   : lc_fail(e, "%s: truncated while reading record %lld: the file shrank after it was opened", path,
                             (long long)(done + got / LC_CIFAR_RECORD_BYTES + 1));
      break;
    }
    if ((rc = decode_records(path, chunk, done, n, divisor, images + done * LC_CIFAR_IMAGE_BYTES, labels + done, e)))
      break;
    done += n;
  }
  free(chunk);
  close(fd);
  return rc;
}

static int write_full(int fd, const unsigned char *buf, size_t n) {
  while (n > 0) {
    ssize_t put = write(fd, buf, n);
    if (put < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += put;
    n -= (size_t)put;
  }
  return 0;
}

int lc_cifar_write(const char *path, int64_t n, const float *images, const float *labels, lc_error *e) {
  if (n < 1) return lc_fail(e, "%s: a CIFAR-10 file needs at least one record, got %lld", path, (long long)n);
  for (int64_t r = 0; r < n; r++) {
    float v = labels[r];
    if (!(v >= 0.0f && v <= 9.0f && v == (float)(int)v))
      return lc_fail(e, "%s: label %lld is %g; CIFAR-10 labels are integers 0..9", path, (long long)r + 1, (double)v);
  }
  for (int64_t i = 0; i < n * LC_CIFAR_IMAGE_BYTES; i++) {
    float v = images[i];
    if (!(v >= 0.0f && v <= 255.0f && v == (float)(int)v))
      return lc_fail(e, "%s: pixel %lld of image %lld is %g; CIFAR-10 pixels are integers 0..255 (round and clamp "
                        "first)", path, (long long)(i % LC_CIFAR_IMAGE_BYTES) + 1,
                     (long long)(i / LC_CIFAR_IMAGE_BYTES) + 1, (double)v);
  }
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 8);
  unsigned char *chunk = malloc((size_t)LC_CIFAR_CHUNK_RECORDS * LC_CIFAR_RECORD_BYTES);
  if (!tmp || !chunk) {
    free(tmp);
    free(chunk);
    return lc_fail(e, "%s: out of memory", path);
  }
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".XXXXXX", 8);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    int err = errno;
    free(tmp);
    free(chunk);
    return lc_fail(e, "cannot create %s: %s", path, strerror(err));
  }
  fchmod(fd, 0644);
  int rc = 0;
  for (int64_t done = 0; done < n && rc == 0;) {
    int64_t k = n - done < LC_CIFAR_CHUNK_RECORDS ? n - done : LC_CIFAR_CHUNK_RECORDS;
    for (int64_t r = 0; r < k; r++) {
      unsigned char *rec = chunk + r * LC_CIFAR_RECORD_BYTES;
      const float *img = images + (done + r) * LC_CIFAR_IMAGE_BYTES;
      rec[0] = (unsigned char)labels[done + r];
      for (int i = 0; i < LC_CIFAR_IMAGE_BYTES; i++) rec[1 + i] = (unsigned char)img[i];
    }
    if (write_full(fd, chunk, (size_t)k * LC_CIFAR_RECORD_BYTES))
      rc = lc_fail(e, "cannot write %s: %s", path, strerror(errno));
    done += k;
  }
  if (close(fd) != 0 && rc == 0) rc = lc_fail(e, "cannot write %s: %s", path, strerror(errno));
  if (rc == 0 && rename(tmp, path) != 0) rc = lc_fail(e, "cannot write %s: %s", path, strerror(errno));
  if (rc != 0) unlink(tmp);
  free(tmp);
  free(chunk);
  return rc;
}
