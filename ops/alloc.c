/* Storage allocator with a cache of freed blocks.
 *
 * Why: on these machines a fresh page costs 10-13 us to touch, ~70x a warm write, and
 * glibc hands large blocks (>= 128 KiB) back to the OS on free. A training step that
 * frees and re-allocates its activations would pay that every step. Blocks of at
 * least LC_CACHE_MIN bytes are therefore kept after release and handed out again for
 * requests of nearly the same size. Small blocks go straight to malloc, whose own
 * bins already recycle them. */
#include <stdlib.h>
#include <string.h>

#include "tensor.h"

#define LC_ALIGN 64
#define LC_CACHE_MIN ((size_t)32 * 1024)
#define LC_CACHE_SLOTS 256

typedef struct cached_block {
  void *ptr;
  size_t bytes;
} cached_block;

struct lc_allocator {
  size_t limit;      /* most bytes the cache may hold */
  size_t cached;     /* bytes held in the cache now */
  size_t live;       /* bytes handed out to storages */
  int refs;          /* the creator's reference plus one per storage */
  int workspace;     /* kernels' temporaries: any cached block that fits serves (see below) */
  int nblocks;
  cached_block blocks[LC_CACHE_SLOTS];
};

lc_allocator *lc_allocator_new(size_t cache_limit_bytes) {
  lc_allocator *a = calloc(1, sizeof *a);
  if (a) {
    a->limit = cache_limit_bytes;
    a->refs = 1;
  }
  return a;
}

/* The kernels' scratch (im2col columns, masked gradients, per-thread partial sums) lives
 * only during one call, and one layer's is much like another's but for its size: a
 * convolution at 224x224 lowers 460 MB where the next at 112x112 lowers 115. A tensor
 * cache keyed by size kept every layer's block (VGG-16: 1.1 GB of scratch cached). Here a
 * request takes the smallest cached block that fits, however much larger; when none fits,
 * every cached block is smaller than the request and freed before the new one is made.
 * So the blocks alive at once (held or cached) never outnumber the most temporaries one
 * call holds at a time, and the largest call's sizes serve all the others. */
lc_allocator *lc_allocator_new_workspace(size_t cache_limit_bytes) {
  lc_allocator *a = lc_allocator_new(cache_limit_bytes);
  if (a) a->workspace = 1;
  return a;
}

void lc_allocator_trim(lc_allocator *a) {
  for (int i = 0; i < a->nblocks; i++) free(a->blocks[i].ptr);
  a->nblocks = 0;
  a->cached = 0;
}

void lc_allocator_release(lc_allocator *a) {
  if (!a || --a->refs > 0) return;
  lc_allocator_trim(a);
  free(a);
}

size_t lc_allocator_live_bytes(const lc_allocator *a) { return a->live; }
size_t lc_allocator_cached_bytes(const lc_allocator *a) { return a->cached; }

static size_t round_bytes(size_t bytes) {
  if (bytes == 0) bytes = LC_ALIGN;
  return (bytes + LC_ALIGN - 1) / LC_ALIGN * LC_ALIGN;
}

/* Takes the smallest cached block that fits and wastes at most a quarter of itself. */
static void *take_cached(lc_allocator *a, size_t bytes, size_t *got) {
  int best = -1;
  for (int i = 0; i < a->nblocks; i++) {
    size_t b = a->blocks[i].bytes;
    if (b >= bytes && (a->workspace || b - bytes <= b / 4) && (best < 0 || b < a->blocks[best].bytes)) best = i;
  }
  if (best < 0) return NULL;
  void *p = a->blocks[best].ptr;
  *got = a->blocks[best].bytes;
  a->cached -= *got;
  a->blocks[best] = a->blocks[--a->nblocks];
  return p;
}

static void *block_alloc(lc_allocator *a, size_t bytes, size_t *got) {
  bytes = round_bytes(bytes);
  if (bytes >= LC_CACHE_MIN) {
    void *p = take_cached(a, bytes, got);
    if (p) return p;
    if (a->workspace) lc_allocator_trim(a);
  }
  void *p = aligned_alloc(LC_ALIGN, bytes);
  if (!p && a->nblocks > 0) {  /* memory is tight: give the cache back and retry */
    lc_allocator_trim(a);
    p = aligned_alloc(LC_ALIGN, bytes);
  }
  *got = bytes;
  return p;
}

static void block_release(lc_allocator *a, void *p, size_t bytes) {
  if (bytes < LC_CACHE_MIN || bytes > a->limit) {
    free(p);
    return;
  }
  /* Evict the largest blocks until the new one fits under the limit and a slot is free. */
  while (a->nblocks > 0 && (a->cached + bytes > a->limit || a->nblocks == LC_CACHE_SLOTS)) {
    int big = 0;
    for (int i = 1; i < a->nblocks; i++)
      if (a->blocks[i].bytes > a->blocks[big].bytes) big = i;
    a->cached -= a->blocks[big].bytes;
    free(a->blocks[big].ptr);
    a->blocks[big] = a->blocks[--a->nblocks];
  }
  a->blocks[a->nblocks].ptr = p;
  a->blocks[a->nblocks].bytes = bytes;
  a->nblocks++;
  a->cached += bytes;
}

lc_storage *lc_storage_new(lc_allocator *a, int64_t numel, lc_error *e) {
  if (numel < 0 || numel > LC_MAX_NUMEL)
    return lc_fail(e, "cannot allocate a tensor of %lld elements", (long long)numel), NULL;
  lc_storage *s = malloc(sizeof *s);
  if (!s) return lc_fail(e, "out of memory"), NULL;
  size_t got = 0;
  s->data = block_alloc(a, (size_t)numel * sizeof(float), &got);
  if (!s->data) {
    free(s);
    return lc_fail(e, "out of memory: cannot allocate %.1f MiB for %lld floats",
                   (double)numel * sizeof(float) / (1024.0 * 1024.0), (long long)numel), NULL;
  }
  s->numel = numel;
  s->bytes = got;
  s->refs = 1;
  s->alloc = a;
  a->refs++;
  a->live += got;
  return s;
}

void lc_storage_retain(lc_storage *s) { s->refs++; }

void lc_storage_release(lc_storage *s) {
  if (--s->refs > 0) return;
  lc_allocator *a = s->alloc;
  a->live -= s->bytes;
  block_release(a, s->data, s->bytes);
  free(s);
  lc_allocator_release(a);
}
