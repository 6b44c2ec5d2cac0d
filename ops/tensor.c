/* Shapes, strides and views. Dimension letters: d = a dimension index (0-based). */
#include "tensor.h"

#include <stdio.h>
#include <string.h>

int64_t lc_numel(const lc_tensor *t) {
  int64_t n = 1;
  for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
  return n;
}

int lc_is_contiguous(const lc_tensor *t) {
  /* An empty tensor has no element to be out of place. Without this, a fresh [3,0]
   * (strides [1,1] from lc_contiguous_strides) would count as strided and be refused
   * by kernels that need a contiguous output. */
  if (lc_numel(t) == 0) return 1;
  int64_t expect = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    if (t->shape[d] != 1 && t->stride[d] != expect) return 0;
    expect *= t->shape[d];
  }
  return 1;
}

int lc_same_shape(const lc_tensor *a, const lc_tensor *b) {
  if (a->ndim != b->ndim) return 0;
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] != b->shape[d]) return 0;
  return 1;
}

char *lc_shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
  size_t k = (size_t)snprintf(buf, n, "[");
  for (int d = 0; d < ndim && k < n; d++)
    k += (size_t)snprintf(buf + k, n - k, d ? ",%lld" : "%lld", (long long)shape[d]);
  if (k < n) snprintf(buf + k, n - k, "]");
  return buf;
}

int lc_check_shape(const char *what, int ndim, const int64_t *shape, int64_t *numel, lc_error *e) {
  if (ndim < 0 || ndim > LC_MAX_DIMS)
    return lc_fail(e, "%s: %d dimensions requested, at most %d are supported", what, ndim, LC_MAX_DIMS);
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 0)
      return lc_fail(e, "%s: size %lld of dimension %d is negative", what, (long long)shape[d], d + 1);
    if (shape[d] > 0 && n > LC_MAX_NUMEL / shape[d]) {
      char s[200];
      return lc_fail(e, "%s: shape %s has more than 2^40 elements", what, lc_shape_str(s, sizeof s, ndim, shape));
    }
    n *= shape[d];
  }
  if (numel) *numel = n;
  return 0;
}

void lc_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride) {
  int64_t s = 1;
  for (int d = ndim - 1; d >= 0; d--) {
    stride[d] = s;
    s *= shape[d] > 0 ? shape[d] : 1;
  }
}

int lc_tensor_init(lc_tensor *t, lc_allocator *a, int ndim, const int64_t *shape, lc_error *e) {
  int64_t n;
  t->storage = NULL;
  t->data = NULL;
  t->ndim = 0;
  if (lc_check_shape("tensor", ndim, shape, &n, e)) return -1;
  lc_storage *s = lc_storage_new(a, n, e);
  if (!s) return -1;
  t->storage = s;
  t->data = s->data;
  t->ndim = ndim;
  if (ndim > 0) memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);  /* a scalar may pass shape = NULL */
  lc_contiguous_strides(ndim, shape, t->stride);
  return 0;
}

void lc_tensor_init_view(lc_tensor *t, const lc_tensor *src) {
  *t = *src;
  if (t->storage) lc_storage_retain(t->storage);
}

void lc_tensor_release(lc_tensor *t) {
  if (t->storage) lc_storage_release(t->storage);
  t->storage = NULL;
  t->data = NULL;
}

/* i + 1 for messages that count from 1, without overflowing for absurd arguments */
static long long one_based(int64_t i) { return i < INT64_MAX ? (long long)i + 1 : (long long)i; }

static int check_dim(const char *what, const lc_tensor *t, int d, lc_error *e) {
  if (d < 0 || d >= t->ndim)
    return lc_fail(e, "%s: dimension %d out of range for a %d-dimensional tensor", what, d + 1, t->ndim);
  return 0;
}

int lc_view_transpose(lc_tensor *t, int d0, int d1, lc_error *e) {
  if (check_dim("transpose", t, d0, e) || check_dim("transpose", t, d1, e)) return -1;
  int64_t s = t->shape[d0]; t->shape[d0] = t->shape[d1]; t->shape[d1] = s;
  s = t->stride[d0]; t->stride[d0] = t->stride[d1]; t->stride[d1] = s;
  return 0;
}

int lc_view_permute(lc_tensor *t, const int *perm, lc_error *e) {
  int seen[LC_MAX_DIMS] = {0};
  int64_t shape[LC_MAX_DIMS], stride[LC_MAX_DIMS];
  for (int d = 0; d < t->ndim; d++) {
    int p = perm[d];
    if (p < 0 || p >= t->ndim || seen[p])
      return lc_fail(e, "permute: %d dimensions need a permutation of 1..%d (got %d at position %d)",
                     t->ndim, t->ndim, p + 1, d + 1);
    seen[p] = 1;
    shape[d] = t->shape[p];
    stride[d] = t->stride[p];
  }
  memcpy(t->shape, shape, sizeof shape);
  memcpy(t->stride, stride, sizeof stride);
  return 0;
}

int lc_view_slice(lc_tensor *t, int dim, int64_t start, int64_t len, int64_t step, lc_error *e) {
  if (check_dim("slice", t, dim, e)) return -1;
  if (step < 1) return lc_fail(e, "slice: step must be at least 1 (got %lld)", (long long)step);
  int64_t size = t->shape[dim];
  /* (len - 1) * step is compared by division: arguments near INT64_MAX must not wrap
   * around into a range that looks valid. */
  if (start < 0 || len < 0 || start > size || (len > 0 && (start == size || len - 1 > (size - 1 - start) / step)))
    return lc_fail(e, "slice: %lld elements from %lld (step %lld) do not fit dimension %d of size %lld",
                   (long long)len, one_based(start), (long long)step, dim + 1, (long long)size);
  if (len > 0) t->data += start * t->stride[dim];
  t->shape[dim] = len;
  /* with one element the step is never taken, and an absurd one must not overflow the stride */
  if (len > 1) t->stride[dim] *= step;
  return 0;
}

int lc_view_narrow(lc_tensor *t, int dim, int64_t start, int64_t len, lc_error *e) {
  if (check_dim("narrow", t, dim, e)) return -1;
  /* len > size - start rather than start + len > size: no overflow for huge arguments */
  if (start < 0 || len < 0 || start > t->shape[dim] || len > t->shape[dim] - start)
    return lc_fail(e, "narrow: %lld elements from %lld do not fit dimension %d of size %lld", (long long)len,
                   one_based(start), dim + 1, (long long)t->shape[dim]);
  return lc_view_slice(t, dim, start, len, 1, e);
}

int lc_view_select(lc_tensor *t, int dim, int64_t index, lc_error *e) {
  if (check_dim("select", t, dim, e)) return -1;
  if (index < 0 || index >= t->shape[dim])
    return lc_fail(e, "select: index %lld out of range for dimension %d of size %lld",
                   one_based(index), dim + 1, (long long)t->shape[dim]);
  t->data += index * t->stride[dim];
  for (int d = dim; d < t->ndim - 1; d++) {
    t->shape[d] = t->shape[d + 1];
    t->stride[d] = t->stride[d + 1];
  }
  t->ndim--;
  return 0;
}

int lc_view_unsqueeze(lc_tensor *t, int dim, lc_error *e) {
  if (t->ndim >= LC_MAX_DIMS)
    return lc_fail(e, "unsqueeze: a tensor has at most %d dimensions", LC_MAX_DIMS);
  if (dim < 0 || dim > t->ndim)
    return lc_fail(e, "unsqueeze: position %d out of range 1..%d", dim + 1, t->ndim + 1);
  for (int d = t->ndim; d > dim; d--) {
    t->shape[d] = t->shape[d - 1];
    t->stride[d] = t->stride[d - 1];
  }
  t->shape[dim] = 1;
  t->stride[dim] = dim + 1 < t->ndim + 1 ? t->stride[dim + 1] * t->shape[dim + 1] : 1;
  t->ndim++;
  return 0;
}

int lc_view_squeeze(lc_tensor *t, int dim, lc_error *e) {
  if (check_dim("squeeze", t, dim, e)) return -1;
  if (t->shape[dim] != 1) return 0;  /* as in PyTorch: squeezing a dim that is not 1 leaves it */
  return lc_view_select(t, dim, 0, e);
}

void lc_view_squeeze_all(lc_tensor *t) {
  int k = 0;
  for (int d = 0; d < t->ndim; d++) {
    if (t->shape[d] == 1) continue;
    t->shape[k] = t->shape[d];
    t->stride[k] = t->stride[d];
    k++;
  }
  t->ndim = k;
}

int lc_view_expand(lc_tensor *t, int ndim, const int64_t *shape, lc_error *e) {
  char a[200], b[200];
  if (ndim < t->ndim || ndim > LC_MAX_DIMS)
    return lc_fail(e, "expand: cannot expand %s to %s", lc_shape_str(a, sizeof a, t->ndim, t->shape),
                   lc_shape_str(b, sizeof b, ndim, shape));
  int64_t nshape[LC_MAX_DIMS], nstride[LC_MAX_DIMS];
  int lead = ndim - t->ndim;
  for (int d = 0; d < ndim; d++) {
    int64_t want = shape[d];
    if (d < lead) {
      nshape[d] = want;
      nstride[d] = 0;
      continue;
    }
    int64_t have = t->shape[d - lead];
    if (want == -1) want = have;
    if (have == want) {
      nshape[d] = have;
      nstride[d] = t->stride[d - lead];
    } else if (have == 1 && want >= 0) {
      nshape[d] = want;
      nstride[d] = 0;
    } else {
      return lc_fail(e, "expand: cannot expand %s to %s: dimension %d has size %lld, not 1",
                     lc_shape_str(a, sizeof a, t->ndim, t->shape), lc_shape_str(b, sizeof b, ndim, shape),
                     d - lead + 1, (long long)have);
    }
  }
  if (lc_check_shape("expand", ndim, nshape, NULL, e)) return -1;
  t->ndim = ndim;
  memcpy(t->shape, nshape, sizeof nshape);
  memcpy(t->stride, nstride, sizeof nstride);
  return 0;
}

int lc_infer_shape(const char *what, const lc_tensor *t, int ndim, int64_t *shape, lc_error *e) {
  char a[200], b[200];
  int infer = -1;
  int64_t known = 1, n = lc_numel(t);
  if (ndim < 0 || ndim > LC_MAX_DIMS)
    return lc_fail(e, "%s: %d dimensions requested, at most %d are supported", what, ndim, LC_MAX_DIMS);
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == -1) {
      if (infer >= 0) return lc_fail(e, "%s: only one dimension can be -1", what);
      infer = d;
    } else if (shape[d] < 0) {
      return lc_fail(e, "%s: size %lld of dimension %d is negative", what, (long long)shape[d], d + 1);
    } else {
      if (shape[d] > 0 && known > LC_MAX_NUMEL / shape[d]) known = LC_MAX_NUMEL + 1;
      else known *= shape[d];
    }
  }
  if (infer >= 0) {
    if (known == 0 || n % known != 0) {
      shape[infer] = -1;
      return lc_fail(e, "%s: cannot view %s (%lld elements) as %s", what, lc_shape_str(a, sizeof a, t->ndim, t->shape),
                     (long long)n, lc_shape_str(b, sizeof b, ndim, shape));
    }
    shape[infer] = n / known;
    known = n;
  }
  if (known != n)
    return lc_fail(e, "%s: cannot view %s (%lld elements) as %s (%lld elements)", what,
                   lc_shape_str(a, sizeof a, t->ndim, t->shape), (long long)n,
                   lc_shape_str(b, sizeof b, ndim, shape), (long long)known);
  return 0;
}

/* Computes strides for viewing t as `shape` without a copy, if t's strides allow it.
 * t's dims fall into chunks inside which each dim is laid out contiguously over the next
 * one; a view is possible when the new dims can be grouped into runs with the same
 * element counts as those chunks (PyTorch's rule for view()). */
static int view_strides(const lc_tensor *t, int ndim, const int64_t *shape, int64_t *stride) {
  if (lc_numel(t) == 0 || t->ndim == 0) {
    lc_contiguous_strides(ndim, shape, stride);
    return 1;
  }
  int vd = ndim - 1;
  int64_t chunk_base = t->stride[t->ndim - 1];
  int64_t tensor_numel = 1, view_numel = 1;
  for (int td = t->ndim - 1; td >= 0; td--) {
    tensor_numel *= t->shape[td];
    int chunk_ends = td == 0 || (t->shape[td - 1] != 1 && t->stride[td - 1] != tensor_numel * chunk_base);
    if (!chunk_ends) continue;
    while (vd >= 0 && (view_numel < tensor_numel || shape[vd] == 1)) {
      stride[vd] = view_numel * chunk_base;
      view_numel *= shape[vd];
      vd--;
    }
    if (view_numel != tensor_numel) return 0;
    if (td > 0) {
      chunk_base = t->stride[td - 1];
      tensor_numel = 1;
      view_numel = 1;
    }
  }
  return vd == -1;
}

int lc_view_reshape(lc_tensor *t, const char *what, int ndim, int64_t *shape, lc_error *e) {
  if (lc_infer_shape(what, t, ndim, shape, e)) return -1;
  int64_t stride[LC_MAX_DIMS];
  if (!view_strides(t, ndim, shape, stride)) return 1;
  t->ndim = ndim;
  memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
  memcpy(t->stride, stride, sizeof(int64_t) * (size_t)ndim);
  return 0;
}

int lc_broadcast_shape(const char *what, const lc_tensor *a, const lc_tensor *b,
                       int *ndim, int64_t *shape, lc_error *e) {
  int n = a->ndim > b->ndim ? a->ndim : b->ndim;
  for (int i = 0; i < n; i++) {
    int da = a->ndim - n + i, db = b->ndim - n + i;
    int64_t sa = da >= 0 ? a->shape[da] : 1, sb = db >= 0 ? b->shape[db] : 1;
    if (sa != sb && sa != 1 && sb != 1) {
      char x[200], y[200];
      return lc_fail(e, "%s: shapes %s and %s cannot be broadcast: dimension %d has sizes %lld and %lld", what,
                     lc_shape_str(x, sizeof x, a->ndim, a->shape), lc_shape_str(y, sizeof y, b->ndim, b->shape),
                     i + 1, (long long)sa, (long long)sb);
    }
    shape[i] = sa == 1 ? sb : sa;
  }
  *ndim = n;
  return 0;
}
