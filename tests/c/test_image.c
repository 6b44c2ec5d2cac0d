/* Image files: ops/pngio.c against PNGs written here with libpng directly (every color
 * type and bit depth, tRNS, Adam7), ops/pnm.c against hand-written PGM/PPM text; round
 * trips of both writers; and bad files (truncated at many offsets, wrong signature,
 * absurd headers with correct CRCs, corrupt IDAT, unwritable paths, a mutation fuzz),
 * each of which must fail with a message naming the file, never crash. */
#define _POSIX_C_SOURCE 200809L
#include <png.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "pngio.h"
#include "pnm.h"
#include "test_dir.h"

/* Loads any image through png or pnm; returns 0 and a malloc'd buffer, or -1 with e. */
static int load(const char *path, int png, int *C, int64_t *H, int64_t *W, float **out, lc_error *e) {
  *out = NULL;
  *C = 0, *H = 0, *W = 0;
  if (png) {
    lc_png_file *f;
    if (lc_png_open(path, &f, e)) return -1;
    *C = f->channels, *H = f->height, *W = f->width;
    *out = malloc(sizeof(float) * (size_t)(*C * *H * *W));
    int rc = lc_png_read(f, *out, e);
    lc_png_close(f);
    return rc;
  }
  lc_pnm_file *f;
  if (lc_pnm_open(path, &f, e)) return -1;
  *C = f->channels, *H = f->height, *W = f->width;
  *out = malloc(sizeof(float) * (size_t)(*C * *H * *W));
  int rc = lc_pnm_read(f, *out, e);
  lc_pnm_close(f);
  return rc;
}

/* ---- PNG fixtures written with libpng itself ---- */

typedef struct fixture {
  const char *name;
  int color, depth, interlace, trns;
} fixture;

/* Writes a W x H PNG of the given type with random samples and fills want (C x H x W)
 * with what the reader must give. */
static int make_png(const char *path, const fixture *fx, int W, int H, float *want) {
  FILE *fp = fopen(path, "wb");
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    fprintf(stderr, "libpng failed writing the fixture %s\n", fx->name);
    exit(2);
  }
  png_init_io(png, fp);
  png_set_IHDR(png, info, W, H, fx->depth, fx->color, fx->interlace, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  int stored = fx->color == PNG_COLOR_TYPE_GRAY ? 1 : fx->color == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
             : fx->color == PNG_COLOR_TYPE_RGB ? 3 : fx->color == PNG_COLOR_TYPE_RGB_ALPHA ? 4 : 1;
  int maxv = (1 << fx->depth) - 1;
  png_color pal[256];
  png_byte alpha[256];
  int npal = 1 << (fx->depth < 8 ? fx->depth : 8);
  if (fx->color == PNG_COLOR_TYPE_PALETTE) {
    for (int i = 0; i < npal; i++) {
      pal[i].red = (png_byte)test_int(0, 255), pal[i].green = (png_byte)test_int(0, 255), pal[i].blue = (png_byte)test_int(0, 255);
      alpha[i] = (png_byte)(i < 3 ? test_int(0, 254) : 255);
    }
    png_set_PLTE(png, info, pal, npal);
    if (fx->trns) png_set_tRNS(png, info, alpha, 3, NULL);
  }
  png_color_16 gray_key = {0};
  gray_key.gray = (png_uint_16)(maxv > 6 ? 6 : 1);
  if (fx->trns && fx->color == PNG_COLOR_TYPE_GRAY) png_set_tRNS(png, info, NULL, 0, &gray_key);
  png_write_info(png, info);
  int C = fx->color == PNG_COLOR_TYPE_PALETTE ? 3 + fx->trns : stored + (fx->color == PNG_COLOR_TYPE_GRAY && fx->trns);
  size_t rowbytes = ((size_t)W * stored * fx->depth + 7) / 8;
  png_bytep *rows = malloc(sizeof(png_bytep) * H);
  int64_t plane = (int64_t)H * W;
  for (int y = 0; y < H; y++) {
    rows[y] = calloc(rowbytes, 1);
    for (int x = 0; x < W; x++)
      for (int c = 0; c < stored; c++) {
        int v = (int)test_int(0, maxv);
        if (fx->depth == 16) {
          rows[y][2 * (x * stored + c)] = (png_byte)(v >> 8);
          rows[y][2 * (x * stored + c) + 1] = (png_byte)v;
        } else if (fx->depth == 8) {
          rows[y][x * stored + c] = (png_byte)v;
        } else {  /* sub-byte: one sample per pixel, most significant bits first */
          int bit = x * fx->depth;
          rows[y][bit / 8] |= (png_byte)(v << (8 - fx->depth - bit % 8));
        }
        float *w = want + y * W + x;
        if (fx->color == PNG_COLOR_TYPE_PALETTE) {
          w[0] = pal[v].red, w[plane] = pal[v].green, w[2 * plane] = pal[v].blue;
          if (fx->trns) w[3 * plane] = v < 3 ? alpha[v] : 255;
        } else if (fx->depth == 16) {
          w[c * plane] = (float)v / 257.0f;
        } else {
          w[c * plane] = (float)(v * (255 / maxv));
          if (fx->trns) w[plane] = v == gray_key.gray ? 0 : 255;
        }
      }
  }
  png_write_image(png, rows);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  fclose(fp);
  for (int y = 0; y < H; y++) free(rows[y]);
  free(rows);
  return C;
}

static void test_png_types(void) {
  static const fixture fxs[] = {
    {"gray1", PNG_COLOR_TYPE_GRAY, 1, 0, 0}, {"gray2", PNG_COLOR_TYPE_GRAY, 2, 0, 0},
    {"gray4", PNG_COLOR_TYPE_GRAY, 4, 0, 0}, {"gray8", PNG_COLOR_TYPE_GRAY, 8, 0, 0},
    {"gray16", PNG_COLOR_TYPE_GRAY, 16, 0, 0}, {"gray8_trns", PNG_COLOR_TYPE_GRAY, 8, 0, 1},
    {"ga8", PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, 0}, {"ga16", PNG_COLOR_TYPE_GRAY_ALPHA, 16, 0, 0},
    {"rgb8", PNG_COLOR_TYPE_RGB, 8, 0, 0}, {"rgb16", PNG_COLOR_TYPE_RGB, 16, 0, 0},
    {"rgba8", PNG_COLOR_TYPE_RGB_ALPHA, 8, 0, 0}, {"rgba16", PNG_COLOR_TYPE_RGB_ALPHA, 16, 0, 0},
    {"pal1", PNG_COLOR_TYPE_PALETTE, 1, 0, 0}, {"pal2", PNG_COLOR_TYPE_PALETTE, 2, 0, 0},
    {"pal4", PNG_COLOR_TYPE_PALETTE, 4, 0, 0}, {"pal8", PNG_COLOR_TYPE_PALETTE, 8, 0, 0},
    {"pal8_trns", PNG_COLOR_TYPE_PALETTE, 8, 0, 1},
    {"rgb8_adam7", PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_ADAM7, 0},
    {"gray16_adam7", PNG_COLOR_TYPE_GRAY, 16, PNG_INTERLACE_ADAM7, 0},
    {"pal2_adam7", PNG_COLOR_TYPE_PALETTE, 2, PNG_INTERLACE_ADAM7, 0},
  };
  const int W = 13, H = 9;
  float want[4 * 13 * 9];
  for (size_t i = 0; i < sizeof fxs / sizeof fxs[0]; i++) {
    char name[64];
    snprintf(name, sizeof name, "%s.png", fxs[i].name);
    const char *path = in_dir(name);
    int wantC = make_png(path, &fxs[i], W, H, want);
    lc_error e;
    int C;
    int64_t h, w;
    float *got;
    CHECK_OK(load(path, 1, &C, &h, &w, &got, &e), e);
    CHECK(C == wantC && h == H && w == W, "%s: got %dx%lldx%lld, want %dx%dx%d", fxs[i].name, C, (long long)h,
          (long long)w, wantC, H, W);
    int bad = 0;
    for (int k = 0; got && C == wantC && k < C * H * W; k++)
      if (got[k] != want[k] && bad++ < 3)
        CHECK(0, "%s: sample %d is %g, want %g", fxs[i].name, k, got[k], want[k]);
    CHECK(bad == 0, "%s: %d samples differ", fxs[i].name, bad);
    free(got);
  }
  /* 16-bit extremes: 65535 -> 255 exactly, 257*b -> b */
  CHECK((float)65535 / 257.0f == 255.0f, "65535/257");
}

/* Writer round trips: 1..4 channels, values rounded and clamped. */
static void test_png_roundtrip(void) {
  const int64_t H = 6, W = 11;
  for (int C = 1; C <= 4; C++) {
    float *src = malloc(sizeof(float) * C * H * W), *got = NULL;
    for (int64_t k = 0; k < C * H * W; k++) src[k] = test_float(-40.0f, 300.0f);
    src[0] = 2.5f, src[1] = 2.49f, src[2] = 254.5f;
    lc_error e;
    const char *path = in_dir("rt.png");
    CHECK_OK(lc_png_write(path, C, H, W, src, &e), e);
    int c;
    int64_t h, w;
    CHECK_OK(load(path, 1, &c, &h, &w, &got, &e), e);
    CHECK(c == C && h == H && w == W, "channels %d: shape", C);
    for (int64_t k = 0; got && k < C * H * W; k++) {
      float r = src[k] < 0 ? 0 : src[k] > 255 ? 255 : floorf(src[k] + 0.5f);
      CHECK(got[k] == r, "C=%d sample %lld: %g saved, %g read, want %g", C, (long long)k, src[k], got[k], r);
    }
    free(got);
    free(src);
  }
  float nan_img[4] = {1, 2, NAN, 4};
  lc_error e;
  CHECK_FAILS(lc_png_write(in_dir("nan.png"), 1, 2, 2, nan_img, &e), e, "nan.png", "NaN");
  CHECK(access(in_dir("nan.png"), F_OK) != 0, "a failed write leaves no file");
  CHECK_FAILS(lc_png_write(in_dir("five.png"), 5, 2, 2, nan_img, &e), e, "five.png", "not 5");
  CHECK_FAILS(lc_png_write("/nonexistent-dir/x.png", 1, 2, 1, nan_img, &e), e, "/nonexistent-dir/x.png");
  CHECK_FAILS(lc_pnm_write("/nonexistent-dir/x.pgm", 1, 2, 1, nan_img, &e), e, "/nonexistent-dir/x.pgm");
}

static uint32_t be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static void put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}
/* Recomputes the CRC of the chunk starting at p (length field first). */
static void fix_crc(unsigned char *p) {
  uint32_t len = be32(p);
  put_be32(p + 8 + len, (uint32_t)crc32(0, p + 4, 4 + len));
}
/* Offset of the first chunk of the given type, or 0. */
static size_t find_chunk(const unsigned char *p, size_t n, const char *type) {
  for (size_t off = 8; off + 12 <= n; off += 12 + be32(p + off))
    if (memcmp(p + off + 4, type, 4) == 0) return off;
  return 0;
}

static void expect_fail_png(const char *name, const unsigned char *p, size_t n, const char *piece) {
  const char *path = in_dir(name);
  write_bytes(path, p, n);
  lc_error e;
  int C;
  int64_t h, w;
  float *got;
  strcpy(e.msg, "(none)");
  int rc = load(path, 1, &C, &h, &w, &got, &e);
  CHECK(rc == -1, "%s: loaded a bad file", name);
  CHECK(strstr(e.msg, name) != NULL, "%s: message \"%s\" does not name the file", name, e.msg);
  if (piece) CHECK(strstr(e.msg, piece) != NULL, "%s: message \"%s\" lacks \"%s\"", name, e.msg, piece);
  free(got);
}

static void test_png_bad(void) {
  float img[3 * 5 * 7];
  for (int k = 0; k < 3 * 5 * 7; k++) img[k] = (float)test_int(0, 255);
  lc_error e;
  const char *good = in_dir("good.png");
  CHECK_OK(lc_png_write(good, 3, 5, 7, img, &e), e);
  size_t n;
  unsigned char *p = read_bytes(good, &n);
  /* truncated anywhere: inside the signature, IHDR, IDAT, before and inside IEND */
  size_t cuts[] = {0, 1, 7, 8, 12, 20, 32, 33, 40, n / 2, n - 13, n - 12, n - 5, n - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    char name[32];
    snprintf(name, sizeof name, "cut%zu.png", cuts[i]);
    expect_fail_png(name, p, cuts[i], NULL);
  }
  expect_fail_png("text.png", (const unsigned char *)"hello, world\n", 13, "not a PNG");

  /* absurd dimensions in an IHDR with a correct CRC */
  unsigned char *q = malloc(n);
  struct { uint32_t w, h; const char *piece; } dims[] = {
    {100000, 100000, "100000x100000"}, {30000, 30000, "samples"}, {10000, 10000, "more than the"},
    {0, 5, NULL}, {0x7fffffff, 1, NULL}};
  for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
    memcpy(q, p, n);
    put_be32(q + 16, dims[i].w);
    put_be32(q + 20, dims[i].h);
    fix_crc(q + 8);
    char name[48];
    snprintf(name, sizeof name, "dims%zu.png", i);
    expect_fail_png(name, q, n, dims[i].piece);
  }
  /* IHDR changed without fixing its CRC */
  memcpy(q, p, n);
  q[17] ^= 1;
  expect_fail_png("ihdr_crc.png", q, n, "CRC");
  /* corrupt IDAT: flipped data with a stale CRC, then garbage with a correct CRC */
  size_t idat = find_chunk(p, n, "IDAT");
  CHECK(idat > 0, "the test PNG has an IDAT");
  memcpy(q, p, n);
  q[idat + 10] ^= 0x55;
  expect_fail_png("idat_crc.png", q, n, NULL);
  memcpy(q, p, n);
  for (uint32_t k = 2; k < be32(q + idat); k++) q[idat + 8 + k] = (unsigned char)(k * 37);
  fix_crc(q + idat);
  expect_fail_png("idat_data.png", q, n, NULL);
  expect_fail_png("missing.png", p, 0, NULL);
  lc_png_file *f;
  CHECK_FAILS(lc_png_open(in_dir("does-not-exist.png"), &f, &e), e, "does-not-exist.png", "cannot open");

  /* fuzz: a few hundred mutations, each loads or fails cleanly (ASan watches) */
  int loaded = 0, failed = 0;
  for (int round = 0; round < 400; round++) {
    memcpy(q, p, n);
    size_t len = n;
    int kind = (int)test_int(0, 3);
    int edits = (int)test_int(1, 4);
    for (int k = 0; k < edits; k++) q[test_int(kind == 0 ? 8 : 0, (int64_t)n - 1)] = (unsigned char)test_int(0, 255);
    if (kind == 1) len = (size_t)test_int(1, (int64_t)n);
    if (kind == 2 && round % 2) {  /* keep CRCs right so libpng goes past them */
      size_t off = 8;
      while (off + 12 <= n && be32(q + off) <= n - off - 12) {
        fix_crc(q + off);
        off += 12 + be32(q + off);
      }
    }
    const char *path = in_dir("fuzz.png");
    write_bytes(path, q, len);
    int C;
    int64_t h, w;
    float *got;
    if (load(path, 1, &C, &h, &w, &got, &e) == 0) loaded++;
    else {
      failed++;
      CHECK(strstr(e.msg, "fuzz.png") != NULL, "fuzz round %d: message \"%s\" does not name the file", round, e.msg);
    }
    free(got);
  }
  CHECK(failed > 0, "the fuzz never broke the file (%d loaded)", loaded);
  free(q);
  free(p);
}

/* Peak resident memory of this process so far, in KiB. */
static long peak_kib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* Found by fuzz_png: libpng allocates (and clears) the length an ancillary chunk claims
 * before reading it, so 95 bytes claiming a 2 GB tEXt chunk took 2 GB and seconds. The
 * reader tells libpng to skip the chunks it does not use, through a small buffer. Each
 * ancillary chunk type is tried, and a valid image with real ones still loads. */
static void test_png_chunk_claims(void) {
  float img[2 * 3];
  for (int k = 0; k < 6; k++) img[k] = (float)(k * 40);
  lc_error e;
  const char *good = in_dir("chunks.png");
  CHECK_OK(lc_png_write(good, 1, 2, 3, img, &e), e);
  size_t n;
  unsigned char *p = read_bytes(good, &n);
  const char *types[] = {"tEXt", "zTXt", "iTXt", "iCCP", "sPLT", "eXIf", "pCAL", "sCAL", "xyzw"};
  long before = peak_kib();
  unsigned char *q = malloc(n + 64);
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    /* signature + IHDR (33 bytes), then a chunk that claims 0x7a000000 bytes and ends the file */
    memcpy(q, p, 33);
    put_be32(q + 33, 0x7a000000u);
    memcpy(q + 37, types[i], 4);
    memcpy(q + 41, "Comment\0seed", 12);
    char name[32];
    snprintf(name, sizeof name, "claim-%s.png", types[i]);
    expect_fail_png(name, q, 53, NULL);
    /* the same type as a small, valid chunk before IDAT is skipped */
    memcpy(q, p, 33);
    put_be32(q + 33, 12);
    memcpy(q + 37, types[i], 4);
    memcpy(q + 41, "Comment\0seed", 12);
    fix_crc(q + 33);
    memcpy(q + 57, p + 33, n - 33);
    snprintf(name, sizeof name, "small-%s.png", types[i]);
    const char *path = in_dir(name);
    write_bytes(path, q, n + 24);
    int C;
    int64_t h, w;
    float *got = NULL;
    CHECK_OK(load(path, 1, &C, &h, &w, &got, &e), e);
    CHECK(got && C == 1 && h == 2 && w == 3 && memcmp(got, img, sizeof img) == 0, "%s: wrong pixels", name);
    free(got);
  }
  long grown = peak_kib() - before;
  CHECK(grown < 64 * 1024, "refusing the claims raised the peak memory by %ld KiB", grown);
  /* the memory entry point reads the same file to the same pixels */
  lc_png_file *f;
  CHECK_OK(lc_png_open_mem(p, n, "mem.png", &f, &e), e);
  float got[6];
  if (f) {
    CHECK(f->channels == 1 && f->height == 2 && f->width == 3, "mem.png: wrong shape");
    CHECK_OK(lc_png_read(f, got, &e), e);
    CHECK(memcmp(got, img, sizeof img) == 0, "mem.png: wrong pixels");
  }
  lc_png_close(f);
  CHECK_FAILS(lc_png_open_mem(p, 20, "short.png", &f, &e), e, "short.png");
  free(q);
  free(p);
}

/* ---- PGM / PPM ---- */

static void expect_pnm(const char *name, const char *text, size_t len, int C, int H, int W, const float *want) {
  const char *path = in_dir(name);
  write_bytes(path, (const unsigned char *)text, len);
  lc_error e;
  int c;
  int64_t h, w;
  float *got;
  CHECK_OK(load(path, 0, &c, &h, &w, &got, &e), e);
  CHECK(c == C && h == H && w == W, "%s: got %dx%lldx%lld", name, c, (long long)h, (long long)w);
  for (int k = 0; got && c == C && h == H && w == W && k < C * H * W; k++)
    CHECK(got[k] == want[k], "%s: sample %d is %g, want %g", name, k, got[k], want[k]);
  free(got);
}

static void expect_fail_pnm(const char *name, const char *text, size_t len, const char *piece) {
  const char *path = in_dir(name);
  write_bytes(path, (const unsigned char *)text, len);
  lc_error e;
  int c;
  int64_t h, w;
  float *got;
  strcpy(e.msg, "(none)");
  CHECK(load(path, 0, &c, &h, &w, &got, &e) == -1, "%s: loaded a bad file", name);
  CHECK(strstr(e.msg, name) != NULL, "%s: message \"%s\" does not name the file", name, e.msg);
  if (piece) CHECK(strstr(e.msg, piece) != NULL, "%s: message \"%s\" lacks \"%s\"", name, e.msg, piece);
  free(got);
}

static void test_pnm(void) {
  const char *p2 = "P2\n# a comment\n3 2 # width and height\n# another\n255\n0 1 2\n253 254 255\n";
  float w2[] = {0, 1, 2, 253, 254, 255};
  expect_pnm("a.pgm", p2, strlen(p2), 1, 2, 3, w2);
  const char *p2_16 = "P2 2 1 65535 65535 257";
  float w16[] = {255, 1};
  expect_pnm("b.pgm", p2_16, strlen(p2_16), 1, 1, 2, w16);
  const char *p2_15 = "P2 2 1 15\n15 5\n";
  float w15[] = {255, 85};
  expect_pnm("c.pgm", p2_15, strlen(p2_15), 1, 1, 2, w15);
  const char *p3 = "P3\n2 1\n255\n1 2 3  4 5 6\n";
  float w3[] = {1, 4, 2, 5, 3, 6};  /* planes: R then G then B */
  expect_pnm("d.ppm", p3, strlen(p3), 3, 1, 2, w3);
  const char p5[] = "P5\n#c\n2 2\n255\n\x00\x0a\xff\x80";
  float w5[] = {0, 10, 255, 128};
  expect_pnm("e.pgm", p5, sizeof p5 - 1, 1, 2, 2, w5);
  const char p5w[] = "P5 2 1 65535\n\xff\xff\x01\x01";
  float w5w[] = {255, 1};
  expect_pnm("f.pgm", p5w, sizeof p5w - 1, 1, 1, 2, w5w);
  const char p6[] = "P6 1 2 255\n\x01\x02\x03\x04\x05\x06";
  float w6[] = {1, 4, 2, 5, 3, 6};
  expect_pnm("g.ppm", p6, sizeof p6 - 1, 3, 2, 1, w6);

  /* writer round trip */
  float img[3 * 4 * 5], *got = NULL;
  for (int k = 0; k < 60; k++) img[k] = (float)test_int(0, 255);
  lc_error e;
  for (int C = 1; C <= 3; C += 2) {
    const char *path = in_dir(C == 1 ? "rt.pgm" : "rt.ppm");
    CHECK_OK(lc_pnm_write(path, C, 4, 5, img, &e), e);
    int c;
    int64_t h, w;
    CHECK_OK(load(path, 0, &c, &h, &w, &got, &e), e);
    CHECK(c == C && h == 4 && w == 5, "pnm round trip shape");
    for (int k = 0; got && k < C * 20; k++) CHECK(got[k] == img[k], "pnm round trip sample %d", k);
    free(got);
  }
  CHECK_FAILS(lc_pnm_write(in_dir("x.ppm"), 2, 4, 5, img, &e), e, "x.ppm", "not 2");

  expect_fail_pnm("bad1.pgm", "P7 1 1 255\n\x00", 12, "not supported");
  expect_fail_pnm("bad2.pgm", "Q5 1 1 255\n\x00", 12, "not a PGM");
  expect_fail_pnm("bad3.pgm", "P5 1 1 0\n\x00", 10, "maxval");
  expect_fail_pnm("bad4.pgm", "P5 1 1 70000\n\x00\x00", 15, "maxval");
  expect_fail_pnm("bad5.pgm", "P2 2 1 15 3 16\n", 15, "over the maxval");
  expect_fail_pnm("bad6.pgm", "P5 3 3 255\n\x01\x02", 13, "truncated");
  expect_fail_pnm("bad7.pgm", "P5 100000 100000 255\n\x01\x02", 23, "samples");
  expect_fail_pnm("bad8.pgm", "P5 10000 10000 255\n\x01\x02", 21, "bytes follow");
  expect_fail_pnm("bad9.pgm", "P2 3 1 255 1 2", 14, "truncated");
  expect_fail_pnm("bad10.pgm", "P2 2 1 255 1 x", 14, "not a sample");
  expect_fail_pnm("bad11.pgm", "P5 2", 4, "truncated header");
  expect_fail_pnm("bad12.pgm", "P5 -2 2 255\n", 12, "width");
  expect_fail_pnm("bad13.pgm", "P5 99999999999 2 255\n", 21, "width");
  expect_fail_pnm("bad14.pgm", "P5 0 2 255\n", 11, "at least 1");

  /* fuzz the text and binary forms */
  const char *seeds[] = {p2, p3};
  int failed = 0;
  for (int round = 0; round < 300; round++) {
    char buf[128];
    size_t len;
    if (round % 3 == 2) {
      len = sizeof p6 - 1;
      memcpy(buf, p6, len);
    } else {
      len = strlen(seeds[round % 3]);
      memcpy(buf, seeds[round % 3], len);
    }
    int edits = (int)test_int(1, 3);
    for (int k = 0; k < edits; k++) buf[test_int(0, (int64_t)len - 1)] = (char)test_int(0, 255);
    if (round % 5 == 0) len = (size_t)test_int(0, (int64_t)len);
    write_bytes(in_dir("fuzz.pgm"), (unsigned char *)buf, len);
    int c;
    int64_t h, w;
    float *g;
    if (load(in_dir("fuzz.pgm"), 0, &c, &h, &w, &g, &e) != 0) {
      failed++;
      CHECK(strstr(e.msg, "fuzz.pgm") != NULL, "pnm fuzz round %d: \"%s\" does not name the file", round, e.msg);
    }
    free(g);
  }
  CHECK(failed > 0, "the pnm fuzz never broke a file");
}

int main(void) {
  test_seed(20240607);
  if (test_dir_make("lc_test_image")) return 2;
  test_png_types();
  test_png_roundtrip();
  test_png_bad();
  test_png_chunk_claims();
  test_pnm();
  test_dir_remove();
  return check_done("test_image");
}
