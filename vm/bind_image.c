/* Images for Lua: T.image_load / T.image_save over ops/imageload.c (and through it ops/pngio.c and ops/pnm.c), and the
 * C kernels behind stdlib/image: T.image_filter2d (ops/filter.c) and T.image_resize
 * (ops/resample.c). Images are tensors C x H x W (channels first), values 0..255. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "bind.h"
#include "elementwise.h"
#include "filter.h"
#include "imageload.h"
#include "pngio.h"
#include "pnm.h"
#include "resample.h"

#define LC_IMAGE_FILE_MT "luacnn.ImageFile"

/* __gc and __close: closes the file on any path out of image_load, error or not. */
static int image_box_free(lua_State *L) {
  lc_image_file **box = luaL_checkudata(L, 1, LC_IMAGE_FILE_MT);
  lc_image_close(*box);
  *box = NULL;
  return 0;
}

/* image_load(path) -> tensor C x H x W, values 0..255 (see ops/imageload.h). */
static int f_image_load(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lc_image_file **box = lc_push_closing_box(L, sizeof *box, LC_IMAGE_FILE_MT, image_box_free);
  int box_idx = lua_gettop(L);
  lc_error e;
  if (lc_image_open(path, box, &e)) return luaL_error(L, "image_load: %s", e.msg);
  lc_image_file *f = *box;
  int64_t shape[3] = {f->channels, f->height, f->width};
  lc_tensor *t = lc_pushtensor(L, 3, shape);
  if (lc_image_read(f, t->data, &e)) return luaL_error(L, "image_load: %s", e.msg);
  lua_closeslot(L, box_idx);
  return 1;
}

static int has_ext(const char *path, const char *ext) {
  size_t n = strlen(path), m = strlen(ext);
  if (n < m) return 0;
  for (size_t i = 0; i < m; i++)
    if (tolower((unsigned char)path[n - m + i]) != ext[i]) return 0;
  return 1;
}

/* The tensor at idx as a contiguous one (itself, or a copy pushed on the stack). */
static const lc_tensor *contiguous_arg(lua_State *L, lc_tensor *t) {
  if (lc_is_contiguous(t)) return t;
  lc_tensor *c = lc_pushtensor_like(L, t);
  lc_copy(c, t, NULL);
  return c;
}

/* image_save(path, t): t is C x H x W or H x W (one channel); the format comes from the
 * extension: .png (1, 2, 3 or 4 channels), .pgm (1), .ppm (3). Values are rounded and
 * clamped to 0..255. */
static int f_image_save(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lc_tensor *t = lc_checktensor(L, 2);
  char s[128];
  int64_t C, H, W;
  if (t->ndim == 2) {
    C = 1, H = t->shape[0], W = t->shape[1];
  } else if (t->ndim == 3) {
    C = t->shape[0], H = t->shape[1], W = t->shape[2];
  } else {
    return luaL_error(L, "image_save: %s: expected an image of shape [C,H,W] or [H,W], got %s%s", path,
                      lc_shape_str(s, sizeof s, t->ndim, t->shape),
                      t->ndim == 4 ? " (a batch? save one image: x[1])" : "");
  }
  int png = has_ext(path, ".png"), pgm = has_ext(path, ".pgm"), ppm = has_ext(path, ".ppm");
  if (!png && !pgm && !ppm)
    return luaL_error(L, "image_save: %s: unknown extension; use .png, .pgm or .ppm", path);
  if (png && (C < 1 || C > 4))
    return luaL_error(L, "image_save: %s: a PNG holds 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels; the image %s has %I",
                      path, lc_shape_str(s, sizeof s, t->ndim, t->shape), (lua_Integer)C);
  if (pgm && C != 1)
    return luaL_error(L, "image_save: %s: a PGM holds 1 channel; the image %s has %I (image.grayscale(t) makes one)",
                      path, lc_shape_str(s, sizeof s, t->ndim, t->shape), (lua_Integer)C);
  if (ppm && C != 3)
    return luaL_error(L, "image_save: %s: a PPM holds 3 channels (RGB); the image %s has %I", path,
                      lc_shape_str(s, sizeof s, t->ndim, t->shape), (lua_Integer)C);
  const lc_tensor *src = contiguous_arg(L, t);
  lc_error e;
  int rc = png ? lc_png_write(path, (int)C, H, W, src->data, &e) : lc_pnm_write(path, (int)C, H, W, src->data, &e);
  if (rc) return luaL_error(L, "image_save: %s", e.msg);
  return 0;
}

/* Padding of one dimension from a number or 'valid' / 'same'. 'same' follows
 * TensorFlow: the output has ceil(n / stride) pixels, the total padding
 * max((out - 1) * stride + k - n, 0) is split with the odd pixel at the bottom/right. */
static void resolve_padding(lua_State *L, int idx, int64_t n, int64_t k, int64_t stride, int64_t *lo, int64_t *hi) {
  if (lua_type(L, idx) == LUA_TSTRING) {
    const char *s = lua_tostring(L, idx);
    if (strcmp(s, "valid") == 0) {
      *lo = *hi = 0;
    } else if (strcmp(s, "same") == 0) {
      int64_t out = stride >= 1 ? (n + stride - 1) / stride : n;
      int64_t total = (out - 1) * (stride >= 1 ? stride : 1) + k - n;
      if (total < 0) total = 0;
      *lo = total / 2;
      *hi = total - *lo;
    } else {
      luaL_error(L, "image_filter2d: padding must be a number, 'same' or 'valid', not '%s'", s);
    }
    return;
  }
  lua_Integer p = luaL_optinteger(L, idx, 0);
  if (p < 0 || p > ((lua_Integer)1 << 32)) luaL_error(L, "image_filter2d: padding must be 0..2^32, got %I", p);
  *lo = *hi = p;
}

/* image_filter2d(img, kernel[, padding[, stride]]): img [C,H,W] or [H,W]; kernel [KH,KW]
 * (every channel) or [C,KH,KW] (one per channel); see ops/filter.h. */
static int f_image_filter2d(lua_State *L) {
  lc_tensor *img = lc_checktensor(L, 1);
  lc_tensor *ker = lc_checktensor(L, 2);
  lua_Integer stride = luaL_optinteger(L, 4, 1);
  char s1[128], s2[128];
  if (img->ndim != 2 && img->ndim != 3)
    return luaL_error(L, "image_filter2d: expected an image [C,H,W] or [H,W], got %s",
                      lc_shape_str(s1, sizeof s1, img->ndim, img->shape));
  if (ker->ndim != 2 && ker->ndim != 3)
    return luaL_error(L, "image_filter2d: expected a kernel [KH,KW] or [C,KH,KW], got %s",
                      lc_shape_str(s1, sizeof s1, ker->ndim, ker->shape));
  int64_t C = img->ndim == 3 ? img->shape[0] : 1;
  int64_t H = img->shape[img->ndim - 2], W = img->shape[img->ndim - 1];
  int64_t KC = ker->ndim == 3 ? ker->shape[0] : 1;
  int64_t KH = ker->shape[ker->ndim - 2], KW = ker->shape[ker->ndim - 1];
  if (KC != 1 && KC != C)
    return luaL_error(L, "image_filter2d: kernel %s for image %s: give one [KH,KW] kernel or one per channel",
                      lc_shape_str(s1, sizeof s1, ker->ndim, ker->shape), lc_shape_str(s2, sizeof s2, img->ndim, img->shape));
  if (stride < 1 || stride > ((lua_Integer)1 << 32))
    return luaL_error(L, "image_filter2d: stride must be at least 1, got %I", stride);
  lc_filter2d_params p;
  p.stride = stride;
  resolve_padding(L, 3, H, KH, stride, &p.pad_top, &p.pad_bottom);
  resolve_padding(L, 3, W, KW, stride, &p.pad_left, &p.pad_right);
  lc_error e;
  int64_t OH, OW;
  if (lc_filter2d_out_size("image_filter2d (height)", H, KH, p.pad_top, p.pad_bottom, p.stride, &OH, &e) ||
      lc_filter2d_out_size("image_filter2d (width)", W, KW, p.pad_left, p.pad_right, p.stride, &OW, &e))
    return luaL_error(L, "%s (image %s, kernel %s)", e.msg, lc_shape_str(s1, sizeof s1, img->ndim, img->shape),
                      lc_shape_str(s2, sizeof s2, ker->ndim, ker->shape));
  const lc_tensor *in = contiguous_arg(L, img);
  const lc_tensor *k = contiguous_arg(L, ker);
  int64_t shape[3] = {C, OH, OW};
  lc_tensor *out = img->ndim == 3 ? lc_pushtensor(L, 3, shape) : lc_pushtensor(L, 2, shape + 1);
  if (lc_filter2d_forward(out->data, in->data, k->data, C, H, W, KC, KH, KW, &p, &e)) return lc_raise(L, &e);
  return 1;
}

/* image_resize(img, h, w[, 'nearest'|'bilinear']): img [C,H,W] or [H,W]. */
static int f_image_resize(lua_State *L) {
  static const char *const methods[] = {"nearest", "bilinear", NULL};
  lc_tensor *img = lc_checktensor(L, 1);
  lua_Integer oh = luaL_checkinteger(L, 2), ow = luaL_checkinteger(L, 3);
  int method = luaL_checkoption(L, 4, "bilinear", methods);
  char s[128];
  if (img->ndim != 2 && img->ndim != 3)
    return luaL_error(L, "image_resize: expected an image [C,H,W] or [H,W], got %s",
                      lc_shape_str(s, sizeof s, img->ndim, img->shape));
  if (oh < 1 || ow < 1 || oh > ((lua_Integer)1 << 31) || ow > ((lua_Integer)1 << 31))
    return luaL_error(L, "image_resize: the new size %Ix%I must be at least 1x1 (and below 2^31)", oh, ow);
  int64_t C = img->ndim == 3 ? img->shape[0] : 1;
  int64_t H = img->shape[img->ndim - 2], W = img->shape[img->ndim - 1];
  const lc_tensor *in = contiguous_arg(L, img);
  int64_t shape[3] = {C, oh, ow};
  lc_tensor *out = img->ndim == 3 ? lc_pushtensor(L, 3, shape) : lc_pushtensor(L, 2, shape + 1);
  lc_error e;
  int rc = method == 0 ? lc_resize_nearest(out->data, in->data, C, H, W, oh, ow, &e)
                       : lc_resize_bilinear(out->data, in->data, C, H, W, oh, ow, &e);
  if (rc) return lc_raise(L, &e);
  return 1;
}

static const luaL_Reg image_functions[] = {
  {"image_load", f_image_load}, {"image_save", f_image_save},
  {"image_filter2d", f_image_filter2d}, {"image_resize", f_image_resize},
  {NULL, NULL}};

void lc_bind_image(lua_State *L, int ctx, int methods, int module) { lc_setfuncs(L, ctx, module, image_functions); }
