/* tostring(t): a tensor's values, aligned in one number format chosen from the values
 * shown, matrices one row per line, higher dims as a sequence of matrices headed
 * (i,j,.,.), large tensors elided to their edges, and a Torch7-style footer [Tensor 2x3]. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bind.h"


typedef struct fmt {
  int integers;  /* every element shown is a whole number */
  int sci;       /* use %e */
  int width;
} fmt;

#define SHOW_EDGE 3
#define SHOW_LIMIT 1000

static int shown(int64_t i, int64_t size, int elide) {
  return !elide || size <= 2 * SHOW_EDGE || i < SHOW_EDGE || i >= size - SHOW_EDGE;
}

static void scan(const lc_tensor *t, const float *p, int d, int elide, double *maxabs, double *minabs, int *integers,
                 int *nonfinite) {
  if (d == t->ndim) {
    double v = *p;
    if (!isfinite(v)) {
      *nonfinite = 1;
      return;
    }
    double a = fabs(v);
    if (a > *maxabs) *maxabs = a;
    if (a != 0 && a < *minabs) *minabs = a;
    if (v != floor(v)) *integers = 0;
    return;
  }
  for (int64_t i = 0; i < t->shape[d]; i++)
    if (shown(i, t->shape[d], elide)) scan(t, p + i * t->stride[d], d + 1, elide, maxabs, minabs, integers, nonfinite);
}

static void fmt_value(char *buf, size_t n, float v, const fmt *f) {
  if (isnan(v)) snprintf(buf, n, "%*s", f->width, "nan");
  else if (isinf(v)) snprintf(buf, n, "%*s", f->width, v > 0 ? "inf" : "-inf");
  else if (f->integers) snprintf(buf, n, "%*.0f", f->width, (double)v);
  else if (f->sci) snprintf(buf, n, "%*.4e", f->width, (double)v);
  else snprintf(buf, n, "%*.4f", f->width, (double)v);
}

static void print_matrix(luaL_Buffer *b, const lc_tensor *t, const float *p, int d, int elide, const fmt *f,
                         const char *indent) {
  int rows_dim = t->ndim - 2 >= d ? t->ndim - 2 : -1;
  int64_t rows = rows_dim >= 0 ? t->shape[rows_dim] : 1, cols = t->shape[t->ndim - 1];
  char cell[64];
  for (int64_t r = 0; r < rows; r++) {
    if (!shown(r, rows, elide)) {
      if (r == SHOW_EDGE) luaL_addstring(b, indent), luaL_addstring(b, " ...\n");
      continue;
    }
    luaL_addstring(b, indent);
    const float *row = p + (rows_dim >= 0 ? r * t->stride[rows_dim] : 0);
    for (int64_t c = 0; c < cols; c++) {
      if (!shown(c, cols, elide)) {
        if (c == SHOW_EDGE) luaL_addstring(b, " ...");
        continue;
      }
      fmt_value(cell, sizeof cell, row[c * t->stride[t->ndim - 1]], f);
      luaL_addchar(b, ' ');
      luaL_addstring(b, cell);
    }
    luaL_addchar(b, '\n');
  }
}

/* Tensors of 3 or more dims print as a sequence of matrices headed (i,j,.,.). */
static void print_slices(luaL_Buffer *b, const lc_tensor *t, const float *p, int d, int64_t *pos, int elide,
                         const fmt *f) {
  if (d == t->ndim - 2) {
    luaL_addchar(b, '(');
    char num[32];
    for (int k = 0; k < d; k++) {
      snprintf(num, sizeof num, "%lld,", (long long)pos[k] + 1);
      luaL_addstring(b, num);
    }
    luaL_addstring(b, ".,.) =\n");
    print_matrix(b, t, p, d, elide, f, "");
    luaL_addchar(b, '\n');
    return;
  }
  for (int64_t i = 0; i < t->shape[d]; i++) {
    if (!shown(i, t->shape[d], elide)) {
      if (i == SHOW_EDGE) luaL_addstring(b, "...\n\n");
      continue;
    }
    pos[d] = i;
    print_slices(b, t, p + i * t->stride[d], d + 1, pos, elide, f);
  }
}

int lc_tensor_tostring(lua_State *L) {
  lc_tensor *t = luaL_checkudata(L, 1, LC_TENSOR_MT);
  if (!t->storage) {
    lua_pushliteral(L, "[Tensor (freed)]");
    return 1;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  int64_t n = lc_numel(t);
  int elide = n > SHOW_LIMIT;
  char footer[300], shape[256];
  lc_shape_str(shape, sizeof shape, t->ndim, t->shape);
  if (n > 0) {
    double maxabs = 0, minabs = INFINITY;
    int integers = 1, nonfinite = 0;
    scan(t, t->data, 0, elide, &maxabs, &minabs, &integers, &nonfinite);
    fmt f = {integers && maxabs < 1e9, 0, 0};
    if (!f.integers) f.sci = maxabs >= 1e5 || (minabs < 1e-4 && maxabs < 1e-3) || (maxabs > 0 && maxabs / minabs > 1e7);
    char cell[64];
    int w = 0;
    /* width from the extremes (sign included) */
    float probes[] = {(float)maxabs, (float)-maxabs, (float)minabs, (float)-minabs};
    for (int k = 0; k < 4; k++) {
      fmt_value(cell, sizeof cell, probes[k], &f);
      int l = (int)strlen(cell);
      if (l > w) w = l;
    }
    if (nonfinite && w < 4) w = 4;
    f.width = w;
    if (t->ndim == 0) {
      fmt_value(cell, sizeof cell, t->data[0], &f);
      luaL_addstring(&b, cell);
      luaL_addchar(&b, '\n');
    } else if (t->ndim <= 2) {
      print_matrix(&b, t, t->data, 0, elide, &f, "");
    } else {
      int64_t pos[LC_MAX_DIMS];
      print_slices(&b, t, t->data, 0, pos, elide, &f);
    }
  }
  /* Torch7's footer style: sizes joined by x */
  for (char *c = shape; *c; c++) if (*c == ',') *c = 'x';
  shape[strlen(shape) - 1] = '\0';
  snprintf(footer, sizeof footer, "[Tensor %s%s]", t->ndim == 0 ? "scalar" : shape + 1, n == 0 ? " empty" : "");
  luaL_addstring(&b, footer);
  luaL_pushresult(&b);
  return 1;
}

