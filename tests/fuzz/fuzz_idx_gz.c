/* The IDX reader's gzip path. Mutated gzip bytes almost never pass the CRC, so the input
 * is gzip-compressed here: the fuzzer explores IDX headers and payloads behind the
 * decompressor. The compressed and the plain form must then agree: both refused, or
 * both read to the same shape and bits. */
#include <string.h>
#include <zlib.h>

#include "fuzz.h"
#include "idx.h"

/* data as one gzip member; returns its length, or 0 if it did not fit in cap. */
static size_t gzip(const uint8_t *data, size_t size, unsigned char *out, size_t cap) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  /* 16 + 15: a gzip wrapper; level 1 keeps each execution cheap */
  if (deflateInit2(&zs, 1, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
  zs.next_in = (Bytef *)(uintptr_t)data;
  zs.avail_in = (uInt)size;
  zs.next_out = out;
  zs.avail_out = (uInt)cap;
  int rc = deflate(&zs, Z_FINISH);
  size_t n = cap - zs.avail_out;
  deflateEnd(&zs);
  return rc == Z_STREAM_END ? n : 0;
}

static float *read_all(lc_idx_file *f) {
  lc_error e;
  float *out = malloc(sizeof(float) * (size_t)(f->numel ? f->numel : 1));
  FUZZ_ASSERT(out != NULL, "out of memory");
  FUZZ_ASSERT(lc_idx_read(f, out, &e) == 0, "read after a good open: %s", e.msg);
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (1u << 20)) return 0;
  size_t cap = compressBound((uLong)size) + 64;
  unsigned char *gz = malloc(cap);
  FUZZ_ASSERT(gz != NULL, "out of memory");
  size_t n = gzip(data, size, gz, cap);
  FUZZ_ASSERT(n > 0, "deflate failed on %zu bytes", size);
  lc_error e1, e2;
  lc_idx_file *fz, *fp;
  int rz = lc_idx_open_mem(gz, n, "fuzz.idx.gz", &fz, &e1);
  /* the plain form of bytes that happen to start with the gzip magic is itself gzip */
  int plain_is_gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  int rp = lc_idx_open_mem(data, size, "fuzz.idx", &fp, &e2);
  if (rz) FUZZ_ASSERT(fz == NULL && strstr(e1.msg, "fuzz.idx.gz") != NULL, "message: %s", e1.msg);
  if (!plain_is_gzip) {
    FUZZ_ASSERT(rz == rp, "compressed %s, plain %s", rz ? e1.msg : "read", rp ? e2.msg : "read");
    if (!rz) {
      FUZZ_ASSERT(fz->type == fp->type && fz->ndim == fp->ndim && fz->numel == fp->numel, "headers differ");
      for (int d = 0; d < fz->ndim; d++) FUZZ_ASSERT(fz->shape[d] == fp->shape[d], "dim %d differs", d);
      if (fz->numel <= FUZZ_MAX_DECODE) {
        float *a = read_all(fz), *b = read_all(fp);
        FUZZ_ASSERT(memcmp(a, b, sizeof(float) * (size_t)fz->numel) == 0, "values differ");
        free(a);
        free(b);
      }
    }
  }
  lc_idx_close(fz);
  lc_idx_close(fp);
  free(gz);
  return 0;
}
