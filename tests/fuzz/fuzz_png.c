/* The PNG reader on arbitrary bytes, and again on the same bytes with every chunk CRC fixed. */
#include <string.h>
#include <zlib.h>

#include "fuzz.h"
#include "imagefile.h"
#include "pngio.h"

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* A copy of data with the CRC of every complete chunk recomputed, or NULL if no CRC
 * changed. Most mutations break a CRC, and libpng stops at a critical chunk's bad CRC
 * before looking at what changed; the fixed copy gets the mutation past it. */
static uint8_t *fix_crcs(const uint8_t *data, size_t size) {
  uint8_t *q = NULL;
  for (size_t off = 8; off + 12 <= size;) {
    uint32_t len = be32(data + off);
    if (len > size - off - 12) break;
    uint32_t crc = (uint32_t)crc32(0, data + off + 4, 4 + len);
    if (crc != be32(data + off + 8 + len)) {
      if (!q) {
        q = malloc(size);
        FUZZ_ASSERT(q != NULL, "out of memory");
        memcpy(q, data, size);
      }
      uint8_t *c = q + off + 8 + len;
      c[0] = (uint8_t)(crc >> 24), c[1] = (uint8_t)(crc >> 16), c[2] = (uint8_t)(crc >> 8), c[3] = (uint8_t)crc;
    }
    off += 12 + (size_t)len;
  }
  return q;
}

static void run(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  run(data, size);
  uint8_t *fixed = fix_crcs(data, size);
  if (fixed) {
    run(fixed, size);
    free(fixed);
  }
  return 0;
}

static void run(const uint8_t *data, size_t size) {
  lc_error e;
  lc_png_file *f;
  if (lc_png_open_mem(data, size, "fuzz.png", &f, &e)) {
    FUZZ_ASSERT(f == NULL && strstr(e.msg, "fuzz.png") != NULL, "message: %s", e.msg);
    return;
  }
  FUZZ_ASSERT(f->channels >= 1 && f->channels <= 4, "%d channels", f->channels);
  FUZZ_ASSERT(f->width >= 1 && f->height >= 1, "%lldx%lld", (long long)f->width, (long long)f->height);
  int64_t n = f->channels * f->height * f->width;
  FUZZ_ASSERT(n <= LC_IMAGE_MAX_VALUES, "%lld samples", (long long)n);
  if (n <= FUZZ_MAX_DECODE) {
    float *out = malloc(sizeof(float) * (size_t)n);
    FUZZ_ASSERT(out != NULL, "out of memory");
    if (lc_png_read(f, out, &e) == 0)
      fuzz_check_pixels(out, n);
    else
      FUZZ_ASSERT(strstr(e.msg, "fuzz.png") != NULL, "message: %s", e.msg);
    free(out);
  }
  lc_png_close(f);
}
