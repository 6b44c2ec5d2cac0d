/* The float32 N-dimensional tensor: a strided view onto refcounted storage.
 *
 * Several tensors (views) may share one storage; the storage is freed when the last
 * view releases it. Storage memory comes from an lc_allocator, which keeps freed
 * blocks for reuse: touching fresh pages costs ~70x more than writing warm memory,
 * so a training step must not get new pages from the OS once the first step ran.
 *
 * Shapes and strides are counted in elements. A stride of 0 repeats an element
 * (broadcast views). Dimension indices here are 0-based; the binding layer converts
 * the 1-based indices that Lua scripts use. */
#ifndef LC_TENSOR_H
#define LC_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define LC_MAX_DIMS 8
/* Largest element count one tensor may hold (2^40 floats = 4 TiB): keeps size
 * arithmetic far from int64 overflow and turns absurd requests into errors. */
#define LC_MAX_NUMEL ((int64_t)1 << 40)

typedef struct lc_allocator lc_allocator;

typedef struct lc_storage {
  float *data;
  int64_t numel;
  size_t bytes;        /* size of the block behind data (>= numel floats) */
  int refs;
  lc_allocator *alloc; /* where the block goes back to */
} lc_storage;

typedef struct lc_tensor {
  float *data;          /* first element: storage->data + offset */
  lc_storage *storage;  /* NULL once the tensor was freed */
  int ndim;
  int64_t shape[LC_MAX_DIMS];
  int64_t stride[LC_MAX_DIMS];
} lc_tensor;

/* ---- allocator: caches freed blocks by size so steady-state steps reuse warm memory ---- */
/* The allocator is refcounted: its creator holds one reference and every storage holds
 * one, so it outlives whichever of them goes last. */
lc_allocator *lc_allocator_new(size_t cache_limit_bytes);
/* The same for kernels' temporaries: a cached block serves any request it fits. */
lc_allocator *lc_allocator_new_workspace(size_t cache_limit_bytes);
void lc_allocator_release(lc_allocator *a);
/* Bytes currently handed out to storages, and held in the cache. */
size_t lc_allocator_live_bytes(const lc_allocator *a);
size_t lc_allocator_cached_bytes(const lc_allocator *a);
void lc_allocator_trim(lc_allocator *a);  /* returns cached blocks to the OS */

/* ---- storage ---- */
lc_storage *lc_storage_new(lc_allocator *a, int64_t numel, lc_error *e);
void lc_storage_retain(lc_storage *s);
void lc_storage_release(lc_storage *s);

/* ---- shapes ---- */
int64_t lc_numel(const lc_tensor *t);
int lc_is_contiguous(const lc_tensor *t);
/* Validates a shape (0..LC_MAX_DIMS dims, sizes >= 0, product <= LC_MAX_NUMEL).
 * `what` names the operation for the message. */
int lc_check_shape(const char *what, int ndim, const int64_t *shape, int64_t *numel, lc_error *e);
/* Writes "[3,4]" (or "[]" for a scalar) into buf and returns buf. */
char *lc_shape_str(char *buf, size_t n, int ndim, const int64_t *shape);
void lc_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride);
int lc_same_shape(const lc_tensor *a, const lc_tensor *b);

/* Makes t a fresh contiguous tensor of the given shape on new storage (contents undefined). */
int lc_tensor_init(lc_tensor *t, lc_allocator *a, int ndim, const int64_t *shape, lc_error *e);
/* Makes t a view of src (same storage, +1 ref) with src's shape and strides. */
void lc_tensor_init_view(lc_tensor *t, const lc_tensor *src);
/* Drops t's reference on its storage; safe to call twice. */
void lc_tensor_release(lc_tensor *t);

/* ---- views: each rewrites t's shape/strides/data in place (t is already a view) ---- */
int lc_view_transpose(lc_tensor *t, int d0, int d1, lc_error *e);
int lc_view_permute(lc_tensor *t, const int *perm, lc_error *e);
int lc_view_narrow(lc_tensor *t, int dim, int64_t start, int64_t len, lc_error *e);
/* Keeps every step-th element of [start, start + len*step) along dim. */
int lc_view_slice(lc_tensor *t, int dim, int64_t start, int64_t len, int64_t step, lc_error *e);
int lc_view_select(lc_tensor *t, int dim, int64_t index, lc_error *e);
int lc_view_unsqueeze(lc_tensor *t, int dim, lc_error *e);
void lc_view_squeeze_all(lc_tensor *t);
int lc_view_squeeze(lc_tensor *t, int dim, lc_error *e);
/* Broadcasts t to shape (sizes of 1 become stride 0; leading dims are added). */
int lc_view_expand(lc_tensor *t, int ndim, const int64_t *shape, lc_error *e);
/* Reinterprets t with a new shape without copying; fails (returns 1, no message) when
 * the strides cannot express it, so reshape can fall back to a copy. A size of -1 in
 * shape is inferred. Returns -1 with a message for impossible shapes. */
int lc_view_reshape(lc_tensor *t, const char *what, int ndim, int64_t *shape, lc_error *e);
/* Resolves one -1 in shape against numel; checks the product matches. */
int lc_infer_shape(const char *what, const lc_tensor *t, int ndim, int64_t *shape, lc_error *e);

/* ---- broadcasting ---- */
/* NumPy rules: align trailing dims; sizes must match or be 1. */
int lc_broadcast_shape(const char *what, const lc_tensor *a, const lc_tensor *b,
                       int *ndim, int64_t *shape, lc_error *e);

#endif
