/* PGM/PPM reader and writer (see pnm.h for the format and the checks). */
#define _POSIX_C_SOURCE 200809L
#include "pnm.h"
#include "fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct pnm_priv {
  FILE *fp;
  char *path;
  unsigned char *row;  /* one binary row */
  int read;
} pnm_priv;

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Skips whitespace and, when comments is set, `#` comments; returns the next byte. */
static int skip_space(FILE *fp, int comments) {
  int c;
  for (;;) {
    c = getc(fp);
    if (c == '#' && comments) {
      do c = getc(fp);
      while (c != EOF && c != '\n' && c != '\r');
      continue;
    }
    if (!is_space(c)) return c;
  }
}

/* Reads a decimal number (at most `limit`) after optional whitespace/comments. Returns
 * 0 and stores the byte that ended it (consumed) in *end; 1 at end of file before any
 * digit; -1 if something else stands there or the number exceeds limit. */
static int read_number(FILE *fp, int comments, long limit, long *v, int *end) {
  int c = skip_space(fp, comments);
  if (c == EOF) return 1;
  if (c < '0' || c > '9') return -1;
  long n = 0;
  for (; c >= '0' && c <= '9'; c = getc(fp)) {
    n = n * 10 + (c - '0');
    if (n > limit) return -1;
  }
  *v = n;
  *end = c;
  return 0;
}

void lc_pnm_close(lc_pnm_file *f) {
  if (!f) return;
  pnm_priv *p = f->priv;
  if (p) {
    if (p->fp) fclose(p->fp);
    free(p->path);
    free(p->row);
    free(p);
  }
  free(f);
}

static int fail_close(lc_pnm_file *f, lc_error *e, const char *fmt, const char *path) {
  lc_fail(e, fmt, path);
  lc_pnm_close(f);
  return -1;
}

/* Takes fp (opened on the file, or on a memory buffer by fmemopen; size is its length)
 * and reads the header; path names the file in messages. */
static int open_stream(FILE *fp, int64_t size, const char *path, lc_pnm_file **out, lc_error *e) {
  *out = NULL;
  lc_pnm_file *f = calloc(1, sizeof *f);
  pnm_priv *p = f ? calloc(1, sizeof *p) : NULL;
  if (p) p->path = strdup(path);
  if (!p || !p->path) {
    free(p);
    free(f);
    fclose(fp);
    return lc_fail(e, "%s: out of memory", path);
  }
  f->priv = p;
  p->fp = fp;
  int m0 = getc(p->fp), m1 = getc(p->fp);
  if (m0 != 'P' || m1 < '1' || m1 > '7')
    return fail_close(f, e, "%s: not a PGM or PPM file (it does not start with P2, P3, P5 or P6)", path);
  if (m1 != '2' && m1 != '3' && m1 != '5' && m1 != '6') {
    lc_fail(e, "%s: P%c (%s) is not supported; only PGM (P2, P5) and PPM (P3, P6)", path, m1,
            m1 == '1' || m1 == '4' ? "PBM bitmap" : "PAM");
    lc_pnm_close(f);
    return -1;
  }
  f->plain = m1 == '2' || m1 == '3';
  f->channels = m1 == '3' || m1 == '6' ? 3 : 1;
  int c = getc(p->fp);
  if (!is_space(c) && c != '#') return fail_close(f, e, "%s: no whitespace after the magic number", path);
  ungetc(c, p->fp);
  long w, h, maxval;
  int end, rc;
  const char *what[] = {"width", "height", "maxval"};
  long *vals[] = {&w, &h, &maxval};
  for (int i = 0; i < 3; i++) {
    rc = read_number(p->fp, 1, i < 2 ? 0x7fffffffL : 65535L, vals[i], &end);
    if (rc == 1) {
      lc_fail(e, "%s: truncated header: the file ends before the %s", path, what[i]);
      lc_pnm_close(f);
      return -1;
    }
    if (rc < 0 || (end != EOF && !is_space(end) && !(i < 2 && end == '#'))) {
      lc_fail(e, "%s: bad header: the %s is not a number%s", path, what[i], i == 2 ? " in 1..65535" : " below 2^31");
      lc_pnm_close(f);
      return -1;
    }
    if (end == '#') ungetc(end, p->fp);
  }
  if (maxval < 1) return fail_close(f, e, "%s: bad header: maxval must be 1..65535, not 0", path);
  f->width = w;
  f->height = h;
  f->maxval = (int)maxval;
  if (lc_image_check_size(path, w, h, f->channels, e)) {
    lc_pnm_close(f);
    return -1;
  }
  long here = ftell(p->fp);
  int64_t rest = here >= 0 ? size - here : 0;
  int64_t samples = (int64_t)w * h * f->channels;
  int64_t need = f->plain ? 2 * samples - 1 : samples * (maxval > 255 ? 2 : 1);
  if (need > rest) {
    lc_fail(e, "%s: truncated: the header says %ldx%ld pixels (%s%lld bytes of samples) but %lld bytes follow it", path,
            w, h, f->plain ? "at least " : "", (long long)need, (long long)(rest > 0 ? rest : 0));
    lc_pnm_close(f);
    return -1;
  }
  if (!f->plain) {
    p->row = malloc((size_t)(w * f->channels * (maxval > 255 ? 2 : 1)));
    if (!p->row) return fail_close(f, e, "%s: out of memory", path);
  }
  *out = f;
  return 0;
}

int lc_pnm_open(const char *path, lc_pnm_file **out, lc_error *e) {
  *out = NULL;
  int64_t size;
  FILE *fp = lc_fopen_read(path, &size, e);
  return fp ? open_stream(fp, size, path, out, e) : -1;
}

int lc_pnm_open_mem(const void *data, size_t size, const char *name, lc_pnm_file **out, lc_error *e) {
  *out = NULL;
  FILE *fp = lc_fmemopen_read(data, size, name, e);
  return fp ? open_stream(fp, (int64_t)size, name, out, e) : -1;
}

int lc_pnm_read(lc_pnm_file *f, float *out, lc_error *e) {
  pnm_priv *p = f->priv;
  if (p->read) return lc_fail(e, "%s: the pixels were already read", p->path);
  p->read = 1;
  int C = f->channels;
  int64_t W = f->width, H = f->height, plane = W * H;
  int wide = f->maxval > 255;
  for (int64_t y = 0; y < H; y++) {
    if (!f->plain && fread(p->row, (size_t)(W * C * (wide ? 2 : 1)), 1, p->fp) != 1)
      return lc_fail(e, "%s: truncated: the file ends in row %lld of %lld", p->path, (long long)y + 1, (long long)H);
    for (int64_t x = 0; x < W; x++)
      for (int c = 0; c < C; c++) {
        long v;
        if (f->plain) {
          int end;
          int rc = read_number(p->fp, 1, 0x7fffffffL, &v, &end);
          if (rc == 1)
            return lc_fail(e, "%s: truncated: the file ends in row %lld of %lld", p->path, (long long)y + 1, (long long)H);
          if (rc < 0 || (end != EOF && !is_space(end) && end != '#'))
            return lc_fail(e, "%s: row %lld, column %lld: not a sample (expected a decimal number)", p->path,
                           (long long)y + 1, (long long)x + 1);
          if (end == '#') ungetc(end, p->fp);
        } else {
          int64_t i = x * C + c;
          v = wide ? (long)p->row[2 * i] << 8 | p->row[2 * i + 1] : p->row[i];
        }
        if (v > f->maxval)
          return lc_fail(e, "%s: row %lld, column %lld: sample %ld is over the maxval %d", p->path, (long long)y + 1,
                         (long long)x + 1, v, f->maxval);
        out[c * plane + y * W + x] = f->maxval == 255 ? (float)v : (float)((double)v * 255.0 / f->maxval);
      }
  }
  return 0;
}

int lc_pnm_write(const char *path, int channels, int64_t height, int64_t width, const float *data, lc_error *e) {
  if (channels != 1 && channels != 3)
    return lc_fail(e, "%s: a PGM holds 1 channel and a PPM 3, not %d", path, channels);
  if (lc_image_check_size(path, width, height, channels, e)) return -1;
  if (lc_image_check_finite(path, data, (int64_t)channels * height * width, e)) return -1;
  unsigned char *row = malloc((size_t)(width * channels));
  if (!row) return lc_fail(e, "%s: out of memory", path);
  lc_atomic_file af;
  if (lc_atomic_open(&af, path, e)) {
    free(row);
    return -1;
  }
  fprintf(af.fp, "P%c\n%lld %lld\n255\n", channels == 1 ? '5' : '6', (long long)width, (long long)height);
  int64_t plane = height * width;
  for (int64_t y = 0; y < height; y++) {
    for (int c = 0; c < channels; c++) {
      const float *src = data + c * plane + y * width;
      for (int64_t x = 0; x < width; x++) row[x * channels + c] = lc_image_byte(src[x]);
    }
    if (fwrite(row, (size_t)(width * channels), 1, af.fp) != 1) break;
  }
  free(row);
  return lc_atomic_finish(&af, path, 1, e);
}
