/* The caching allocator and refcounted storage (ops/alloc.c, ops/tensor.c): cache reuse,
 * live/cached byte accounting, the cache limit, trimming, and lifetimes (views keep
 * storage alive; storage keeps its allocator alive). */
#include "check.h"

#define KIB ((size_t)1024)

static void test_cache_reuse(void) {
  lc_error e;
  lc_allocator *a = lc_allocator_new(1024 * KIB);
  CHECK(lc_allocator_live_bytes(a) == 0 && lc_allocator_cached_bytes(a) == 0, "a new allocator is empty");

  /* 100,000 bytes: above the 32 KiB threshold, so it is cached on release */
  lc_storage *s = lc_storage_new(a, 25000, &e);
  CHECK(s != NULL, "storage: %s", e.msg);
  size_t got = s->bytes;
  CHECK(got >= 100000 && got < 100000 + 64, "block of %zu bytes for 100000", got);
  CHECK((uintptr_t)s->data % 64 == 0, "blocks are 64-byte aligned");
  CHECK(s->numel == 25000 && s->refs == 1, "numel %lld refs %d", (long long)s->numel, s->refs);
  CHECK(lc_allocator_live_bytes(a) == got, "live %zu", lc_allocator_live_bytes(a));
  memset(s->data, 0xab, 100000);  /* the whole block is usable (ASan checks) */
  float *p = s->data;
  lc_storage_release(s);
  CHECK(lc_allocator_live_bytes(a) == 0, "live after release %zu", lc_allocator_live_bytes(a));
  CHECK(lc_allocator_cached_bytes(a) == got, "cached after release %zu", lc_allocator_cached_bytes(a));

  /* the same size again: the very same block comes back, no longer counted as cached */
  s = lc_storage_new(a, 25000, &e);
  CHECK(s && s->data == p, "the cached block is reused");
  CHECK(lc_allocator_cached_bytes(a) == 0 && lc_allocator_live_bytes(a) == got, "accounting after reuse: live %zu cached %zu",
        lc_allocator_live_bytes(a), lc_allocator_cached_bytes(a));
  lc_storage_release(s);

  /* nearly the same size (a bit smaller) reuses it too, and keeps the block's full size */
  s = lc_storage_new(a, 22000, &e);
  CHECK(s && s->data == p && s->bytes == got, "a slightly smaller request reuses the block (%zu bytes)", s ? s->bytes : 0);
  CHECK(lc_allocator_live_bytes(a) == got, "live counts the whole block");
  lc_storage_release(s);
  /* much smaller would waste the block: a new one */
  s = lc_storage_new(a, 12000, &e);
  CHECK(s && s->data != p, "a request of half the size does not take the block");
  CHECK(lc_allocator_cached_bytes(a) == got, "the big block stays cached");
  lc_storage_release(s);
  /* bigger than any cached block: a new one */
  s = lc_storage_new(a, 30000, &e);
  CHECK(s && s->data != p, "a bigger request gets a new block");
  lc_storage_release(s);
  /* the smallest fitting block is preferred */
  CHECK(lc_allocator_cached_bytes(a) > got, "both blocks cached (%zu)", lc_allocator_cached_bytes(a));
  s = lc_storage_new(a, 24000, &e);
  CHECK(s && s->data == p, "best fit picks the 100000-byte block for 96000");
  lc_storage_release(s);

  /* small blocks go straight back to malloc */
  size_t cached = lc_allocator_cached_bytes(a);
  s = lc_storage_new(a, 100, &e);
  CHECK(s && s->bytes == 448, "100 floats round up to %zu bytes", s ? s->bytes : 0);
  lc_storage_release(s);
  CHECK(lc_allocator_cached_bytes(a) == cached, "small blocks are not cached");
  s = lc_storage_new(a, 0, &e);
  CHECK(s && s->bytes > 0 && s->numel == 0, "an empty storage still has a block");
  lc_storage_release(s);

  lc_allocator_trim(a);
  CHECK(lc_allocator_cached_bytes(a) == 0, "trim empties the cache");
  s = lc_storage_new(a, 25000, &e);
  CHECK(lc_allocator_live_bytes(a) == s->bytes && lc_allocator_cached_bytes(a) == 0, "after trim, fresh blocks");
  lc_storage_release(s);
  lc_allocator_release(a);
}

static void test_cache_limit(void) {
  lc_error e;
  lc_allocator *a = lc_allocator_new(300 * KIB);
  /* a block above the limit is never cached */
  lc_storage *big = lc_storage_new(a, 100 * 1024, &e);  /* 400 KiB */
  lc_storage_release(big);
  CHECK(lc_allocator_cached_bytes(a) == 0, "a block larger than the limit is freed (%zu cached)",
        lc_allocator_cached_bytes(a));
  /* three 100 KiB blocks fit under 300 KiB; a fourth evicts the largest so the total stays under */
  lc_storage *s[4];
  for (int i = 0; i < 4; i++) s[i] = lc_storage_new(a, 25 * 1024 + i * 1024, &e);  /* 100..112 KiB */
  size_t live = 0;
  for (int i = 0; i < 4; i++) live += s[i]->bytes;
  CHECK(lc_allocator_live_bytes(a) == live, "live is the sum of the blocks");
  for (int i = 0; i < 4; i++) lc_storage_release(s[i]);
  CHECK(lc_allocator_live_bytes(a) == 0, "nothing live");
  CHECK(lc_allocator_cached_bytes(a) <= 300 * KIB, "cache over its limit: %zu", lc_allocator_cached_bytes(a));
  CHECK(lc_allocator_cached_bytes(a) >= 200 * KIB, "cache keeps what fits: %zu", lc_allocator_cached_bytes(a));
  lc_allocator_release(a);

  /* many blocks: the slot table never overflows (ASan would see it) and the limit holds */
  a = lc_allocator_new((size_t)1 << 30);
  enum { N = 300 };
  lc_storage *many[N];
  for (int i = 0; i < N; i++) many[i] = lc_storage_new(a, 9000 + i * 100, &e);
  for (int i = 0; i < N; i++) lc_storage_release(many[i]);
  CHECK(lc_allocator_live_bytes(a) == 0, "all released");
  size_t c = lc_allocator_cached_bytes(a);
  CHECK(c > 0 && c <= (size_t)1 << 30, "cached %zu bytes for %d blocks", c, N);
  lc_allocator_release(a);
}

/* The workspace variant (kernels' scratch): any cached block that fits serves, and a miss
 * frees the cached blocks (all smaller than the request) before making a new one. */
static void test_workspace(void) {
  lc_error e;
  lc_allocator *a = lc_allocator_new_workspace(1024 * KIB);
  lc_storage *big = lc_storage_new(a, 100 * 1024, &e);  /* 400 KiB */
  CHECK(big != NULL, "storage: %s", e.msg);
  float *p = big->data;
  size_t got = big->bytes;
  lc_storage_release(big);
  CHECK(lc_allocator_cached_bytes(a) == got, "the block is kept (%zu)", lc_allocator_cached_bytes(a));
  /* a request of a tenth of it takes it, where the tensor cache would make another */
  lc_storage *s = lc_storage_new(a, 10 * 1024, &e);
  CHECK(s && s->data == p && s->bytes == got, "a small request takes the big block");
  CHECK(lc_allocator_cached_bytes(a) == 0 && lc_allocator_live_bytes(a) == got, "accounting: live %zu cached %zu",
        lc_allocator_live_bytes(a), lc_allocator_cached_bytes(a));
  /* a second request while the first holds the block: a block of its own */
  lc_storage *t = lc_storage_new(a, 20 * 1024, &e);
  CHECK(t && t->data != p, "a second temporary gets another block");
  lc_storage_release(t);
  lc_storage_release(s);
  CHECK(lc_allocator_cached_bytes(a) == got + 80 * KIB, "both kept: %zu", lc_allocator_cached_bytes(a));
  /* a request larger than every cached block frees them all, so sizes do not pile up */
  lc_storage *huge = lc_storage_new(a, 150 * 1024, &e);
  CHECK(huge && lc_allocator_cached_bytes(a) == 0, "a miss empties the cache (%zu left)", lc_allocator_cached_bytes(a));
  lc_storage_release(huge);
  CHECK(lc_allocator_cached_bytes(a) == 600 * KIB, "only the new block is kept (%zu)", lc_allocator_cached_bytes(a));
  /* small blocks still go straight to malloc */
  s = lc_storage_new(a, 100, &e);
  CHECK(s && s->bytes == 448, "100 floats round up to %zu bytes", s ? s->bytes : 0);
  lc_storage_release(s);
  CHECK(lc_allocator_cached_bytes(a) == 600 * KIB, "small blocks are not cached");
  lc_allocator_release(a);
}

static void test_lifetimes(void) {
  lc_error e;
  lc_allocator *a = lc_allocator_new(1024 * KIB);
  int64_t shape[2] = {100, 100};
  lc_tensor t, v;
  CHECK(lc_tensor_init(&t, a, 2, shape, &e) == 0, "init: %s", e.msg);
  for (int i = 0; i < 10000; i++) t.data[i] = (float)i;
  lc_tensor_init_view(&v, &t);
  CHECK(t.storage->refs == 2, "a view holds a reference");
  lc_view_select(&v, 0, 42, &e);
  lc_tensor_release(&t);
  CHECK(t.storage == NULL && t.data == NULL, "release clears the tensor");
  lc_tensor_release(&t);  /* twice is safe */
  CHECK(v.storage->refs == 1 && v.data[7] == 4207, "the view keeps the storage alive: %g", v.data[7]);
  CHECK(lc_allocator_live_bytes(a) >= 40000, "still live");

  /* the allocator outlives its creator while a storage needs it */
  lc_allocator_release(a);
  v.data[0] = 1;  /* still valid memory */
  CHECK(lc_allocator_live_bytes(v.storage->alloc) >= 40000, "the allocator is still there");
  lc_tensor_release(&v);  /* frees the storage, then the allocator (ASan/LSan would notice a leak or double free) */

  /* the creator may also go last */
  a = lc_allocator_new(1024 * KIB);
  lc_storage *s = lc_storage_new(a, 10, &e);
  lc_storage_retain(s);
  lc_storage_release(s);
  CHECK(s->refs == 1, "retain/release balance");
  lc_storage_release(s);
  CHECK(lc_allocator_live_bytes(a) == 0, "released");
  lc_allocator_release(a);
  lc_allocator_release(NULL);  /* a no-op */
}

static void test_errors(void) {
  lc_error e;
  lc_allocator *a = lc_allocator_new(1024 * KIB);
  strcpy(e.msg, "");
  CHECK(lc_storage_new(a, -1, &e) == NULL && strstr(e.msg, "-1"), "negative count: %s", e.msg);
  CHECK(lc_storage_new(a, LC_MAX_NUMEL + 1, &e) == NULL && strstr(e.msg, "1099511627777"), "too many: %s", e.msg);
  CHECK(lc_allocator_live_bytes(a) == 0, "failed allocations leave nothing live");
  lc_tensor t;
  int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  CHECK_FAILS(lc_tensor_init(&t, a, 9, nine, &e), e, "9 dimensions");
  int64_t big[3] = {(int64_t)1 << 20, (int64_t)1 << 20, 2};
  CHECK_FAILS(lc_tensor_init(&t, a, 3, big, &e), e, "[1048576,1048576,2]", "2^40");
  CHECK(t.storage == NULL && t.data == NULL, "failed init leaves an empty tensor");
  lc_tensor_release(&t);  /* and releasing it is harmless */
  lc_allocator_release(a);
}

int main(void) {
  test_seed(5);
  test_cache_reuse();
  test_cache_limit();
  test_workspace();
  test_lifetimes();
  test_errors();
  return check_done("test_alloc");
}
