/* PNG reader and writer over libpng (see pngio.h for what is accepted and produced).
 *
 * libpng reports errors by calling our error function, which must not return: it
 * longjmps back to a setjmp. Every setjmp here sits in a small *_guarded function whose
 * only job is to call one worker; the worker and libpng hold no resources of their own
 * (the FILE, libpng's structs and our buffers all live in a heap or caller struct), so
 * the jump skips no frame that owns anything, and the guarded function has no local
 * that changes after setjmp (nothing needs volatile). The owner then frees everything
 * in one place, whether the worker returned or jumped. */
#define _POSIX_C_SOURCE 200809L
#include "pngio.h"
#include "fileio.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* deflate never compresses better than 1032:1 (a 258-byte match costs at least 2 bits),
 * so the raw pixel data of a PNG is at most this many times the file size. */
#define LC_DEFLATE_MAX_RATIO 1032
/* The most libpng may allocate for one chunk's data (PLTE and tRNS need under 1 KiB). */
#define LC_PNG_CHUNK_MAX (64 * 1024)

typedef struct png_priv {
  char msg[512];       /* the last error; first, so the error pointer is the message */
  int msg_has_path;    /* msg already starts with the file name */
  FILE *fp;
  png_structp png;
  png_infop info;
  unsigned char *rows; /* one row, or all rows of an interlaced image */
  size_t rowbytes;     /* bytes of one decoded row */
  int passes;          /* 1, or 7 for Adam7 */
  int read;            /* lc_png_read was called */
  int64_t file_size;
  char *path;          /* for messages */
} png_priv;

static void on_error(png_structp png, png_const_charp msg) {
  char *buf = png_get_error_ptr(png);
  snprintf(buf, 512, "%s", msg);
  png_longjmp(png, 1);
}

/* Warnings (a bad CRC in an ancillary chunk, which libpng then skips) are not errors,
 * and kernels never print. */
static void on_warning(png_structp png, png_const_charp msg) {}

/* Reads the chunks before the pixels and sets the transformations; returns -1 with
 * p->msg set for our own checks, or jumps for libpng's. */
static int read_header(lc_png_file *f, const char *path) {
  png_priv *p = f->priv;
  png_init_io(p->png, p->fp);
  png_set_sig_bytes(p->png, 8);
  /* Only IHDR, PLTE, tRNS, IDAT and IEND matter here. libpng would otherwise allocate
   * whatever length an ancillary chunk's header claims before reading it (found by
   * fuzzing: a 95-byte file whose tEXt chunk claims 2 GB took 2 GB and 5 s to refuse);
   * ignored chunks are skipped through a small buffer, and the cap bounds what is left. */
  static const png_byte ignored[] = "bKGD\0cHRM\0eXIf\0gAMA\0hIST\0iCCP\0iTXt\0oFFs\0pCAL\0pHYs\0sBIT\0"
                                    "sCAL\0sPLT\0sRGB\0sTER\0tEXt\0tIME\0zTXt";
  png_set_keep_unknown_chunks(p->png, PNG_HANDLE_CHUNK_NEVER, NULL, 0);
  png_set_keep_unknown_chunks(p->png, PNG_HANDLE_CHUNK_NEVER, ignored, (int)(sizeof ignored / 5));
  png_set_chunk_malloc_max(p->png, LC_PNG_CHUNK_MAX);
  png_read_info(p->png, p->info);
  png_uint_32 w, h;
  int depth, color, interlace;
  png_get_IHDR(p->png, p->info, &w, &h, &depth, &color, &interlace, NULL, NULL);
  f->width = w;
  f->height = h;
  f->bit_depth = depth;
  f->color_type = color;
  f->interlaced = interlace != PNG_INTERLACE_NONE;
  int stored_channels = png_get_channels(p->png, p->info);
  int channels = color == PNG_COLOR_TYPE_PALETTE ? 3 : stored_channels;
  int trns = png_get_valid(p->png, p->info, PNG_INFO_tRNS) != 0;
  if (trns && (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_RGB || color == PNG_COLOR_TYPE_PALETTE))
    channels++;
  lc_error e;
  if (lc_image_check_size(path, f->width, f->height, channels, &e)) {
    memcpy(p->msg, e.msg, sizeof p->msg);
    p->msg_has_path = 1;
    return -1;
  }
  int64_t stored_row = ((int64_t)w * stored_channels * depth + 7) / 8 + 1;  /* + the filter byte */
  if ((int64_t)h * stored_row > (int64_t)LC_DEFLATE_MAX_RATIO * p->file_size) {
    snprintf(p->msg, sizeof p->msg,
             "the header says %ux%u pixels, more than the %lld bytes of the file can hold (truncated or corrupt)",
             (unsigned)w, (unsigned)h, (long long)p->file_size);
    return -1;
  }
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(p->png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(p->png);
  if (trns) png_set_tRNS_to_alpha(p->png);
  p->passes = png_set_interlace_handling(p->png);
  png_read_update_info(p->png, p->info);
  f->channels = png_get_channels(p->png, p->info);
  if (f->channels != channels) {
    snprintf(p->msg, sizeof p->msg, "libpng decodes %d channels where %d were expected", f->channels, channels);
    return -1;
  }
  p->rowbytes = png_get_rowbytes(p->png, p->info);
  p->rows = malloc(p->rowbytes * (p->passes > 1 ? (size_t)h : 1));
  if (!p->rows) {
    snprintf(p->msg, sizeof p->msg, "out of memory");
    return -1;
  }
  return 0;
}

static int open_guarded(lc_png_file *f, const char *path) {
  png_priv *p = f->priv;
  if (setjmp(png_jmpbuf(p->png))) return -1;
  return read_header(f, path);
}

void lc_png_close(lc_png_file *f) {
  if (!f) return;
  png_priv *p = f->priv;
  if (p) {
    if (p->png) png_destroy_read_struct(&p->png, p->info ? &p->info : NULL, NULL);
    if (p->fp) fclose(p->fp);
    free(p->rows);
    free(p->path);
    free(p);
  }
  free(f);
}

/* Takes fp (opened on the file, or on a memory buffer by fmemopen) and reads up to the
 * pixels; name stands for the file in messages. */
static int open_stream(FILE *fp, int64_t size, const char *name, lc_png_file **out, lc_error *e) {
  *out = NULL;
  lc_png_file *f = calloc(1, sizeof *f);
  png_priv *p = f ? calloc(1, sizeof *p) : NULL;
  if (!p) {
    free(f);
    fclose(fp);
    return lc_fail(e, "%s: out of memory", name);
  }
  f->priv = p;
  p->fp = fp;
  p->file_size = size;
  p->path = strdup(name);
  if (!p->path) {
    lc_png_close(f);
    return lc_fail(e, "%s: out of memory", name);
  }
  unsigned char sig[8];
  size_t got = fread(sig, 1, 8, p->fp);
  if (got < 8 || png_sig_cmp(sig, 0, 8) != 0) {
    lc_fail(e, "%s: not a PNG file (it does not start with the 8-byte PNG signature)", name);
    lc_png_close(f);
    return -1;
  }
  p->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, p->msg, on_error, on_warning);
  p->info = p->png ? png_create_info_struct(p->png) : NULL;
  if (!p->info) {
    lc_fail(e, "%s: out of memory", name);
    lc_png_close(f);
    return -1;
  }
  if (open_guarded(f, name)) {
    if (p->msg_has_path)
      lc_fail(e, "%s", p->msg);
    else
      lc_fail(e, "%s: %s", name, p->msg);
    lc_png_close(f);
    return -1;
  }
  *out = f;
  return 0;
}

int lc_png_open(const char *path, lc_png_file **out, lc_error *e) {
  *out = NULL;
  int64_t size;
  FILE *fp = lc_fopen_read(path, &size, e);
  return fp ? open_stream(fp, size, path, out, e) : -1;
}

int lc_png_open_mem(const void *data, size_t size, const char *name, lc_png_file **out, lc_error *e) {
  *out = NULL;
  FILE *fp = lc_fmemopen_read(data, size, name, e);
  return fp ? open_stream(fp, (int64_t)size, name, out, e) : -1;
}

/* Row y of the decoded image (channels interleaved) into the planes of out. */
static void convert_row(const lc_png_file *f, const unsigned char *row, float *out, int64_t y) {
  int C = f->channels;
  int64_t W = f->width, plane = f->height * W;
  if (f->bit_depth == 16) {
    for (int c = 0; c < C; c++) {
      float *dst = out + c * plane + y * W;
      for (int64_t x = 0; x < W; x++) {
        const unsigned char *s = row + 2 * (x * C + c);
        dst[x] = (float)((unsigned)s[0] << 8 | s[1]) / 257.0f;
      }
    }
  } else {
    for (int c = 0; c < C; c++) {
      float *dst = out + c * plane + y * W;
      for (int64_t x = 0; x < W; x++) dst[x] = (float)row[x * C + c];
    }
  }
}

static void read_pixels(lc_png_file *f, float *out) {
  png_priv *p = f->priv;
  for (int pass = 0; pass < p->passes; pass++)
    for (int64_t y = 0; y < f->height; y++) {
      unsigned char *row = p->rows + (p->passes > 1 ? (size_t)y * p->rowbytes : 0);
      png_read_row(p->png, row, NULL);
      if (p->passes == 1) convert_row(f, row, out, y);
    }
  if (p->passes > 1)
    for (int64_t y = 0; y < f->height; y++) convert_row(f, p->rows + (size_t)y * p->rowbytes, out, y);
  png_read_end(p->png, NULL);
}

static int read_guarded(lc_png_file *f, float *out) {
  png_priv *p = f->priv;
  if (setjmp(png_jmpbuf(p->png))) return -1;
  read_pixels(f, out);
  return 0;
}

int lc_png_read(lc_png_file *f, float *out, lc_error *e) {
  png_priv *p = f->priv;
  if (p->read) return lc_fail(e, "png: the pixels were already read");
  p->read = 1;
  if (read_guarded(f, out)) return lc_fail(e, "%s: %s", p->path, p->msg);
  return 0;
}

/* ---- writing ---- */

typedef struct png_writer {
  char msg[512];       /* first: the error pointer is the message */
  png_structp png;
  png_infop info;
  unsigned char *row;
} png_writer;

static void write_rows(png_writer *w, FILE *fp, int C, int64_t H, int64_t W, const float *data) {
  static const int types[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                              PNG_COLOR_TYPE_RGB_ALPHA};
  png_init_io(w->png, fp);
  png_set_IHDR(w->png, w->info, (png_uint_32)W, (png_uint_32)H, 8, types[C], PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(w->png, w->info);
  int64_t plane = H * W;
  for (int64_t y = 0; y < H; y++) {
    for (int c = 0; c < C; c++) {
      const float *src = data + c * plane + y * W;
      for (int64_t x = 0; x < W; x++) w->row[x * C + c] = lc_image_byte(src[x]);
    }
    png_write_row(w->png, w->row);
  }
  png_write_end(w->png, NULL);
}

static int write_guarded(png_writer *w, FILE *fp, int C, int64_t H, int64_t W, const float *data) {
  if (setjmp(png_jmpbuf(w->png))) return -1;
  write_rows(w, fp, C, H, W, data);
  return 0;
}

int lc_png_write(const char *path, int channels, int64_t height, int64_t width, const float *data, lc_error *e) {
  if (channels < 1 || channels > 4)
    return lc_fail(e, "%s: a PNG holds 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels, not %d", path, channels);
  if (height > 0x7fffffff || width > 0x7fffffff)
    return lc_fail(e, "%s: %lldx%lld pixels is more than a PNG can hold", path, (long long)height, (long long)width);
  if (lc_image_check_size(path, width, height, channels, e)) return -1;
  if (lc_image_check_finite(path, data, (int64_t)channels * height * width, e)) return -1;
  png_writer w;
  memset(&w, 0, sizeof w);
  w.row = malloc((size_t)width * (size_t)channels);
  w.png = w.row ? png_create_write_struct(PNG_LIBPNG_VER_STRING, w.msg, on_error, on_warning) : NULL;
  w.info = w.png ? png_create_info_struct(w.png) : NULL;
  if (!w.info) {
    if (w.png) png_destroy_write_struct(&w.png, NULL);
    free(w.row);
    return lc_fail(e, "%s: out of memory", path);
  }
  lc_atomic_file af;
  int rc = lc_atomic_open(&af, path, e);
  if (rc == 0) {
    int ok = write_guarded(&w, af.fp, channels, height, width, data) == 0;
    if (!ok) lc_fail(e, "cannot write %s: %s", path, w.msg);
    rc = lc_atomic_finish(&af, path, ok, e);
  }
  png_destroy_write_struct(&w.png, &w.info);
  free(w.row);
  return rc;
}
