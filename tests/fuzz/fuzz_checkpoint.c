/* The checkpoint reader (ops/checkpoint.c) on arbitrary bytes: once with the CRC check,
 * once without it (a fuzzer cannot forge CRCs, and what follows a successful parse
 * would otherwise never run). A successful parse promises that the metadata walks back
 * to exactly its length, and that every tensor's name and values lie inside the input. */
#include <string.h>

#include "checkpoint.h"
#include "fuzz.h"

/* Walks one validated value; returns the number of values in it. */
static uint32_t walk(const unsigned char **p, const unsigned char *end, int depth) {
  FUZZ_ASSERT(depth <= LC_CKPT_MAX_META_DEPTH, "depth %d", depth);
  FUZZ_ASSERT(*p < end, "value past the metadata");
  lc_meta_value v;
  lc_meta_read(p, &v);
  FUZZ_ASSERT(*p <= end, "value of tag %d runs past the metadata", v.tag);
  uint32_t n = 1;
  if (v.tag == LC_META_LIST || v.tag == LC_META_MAP) {
    for (uint32_t i = 0; i < v.len; i++) {
      if (v.tag == LC_META_MAP) {
        const char *key;
        uint32_t klen;
        lc_meta_read_key(p, &key, &klen);
        FUZZ_ASSERT(klen >= 1 && klen <= LC_CKPT_MAX_NAME && *p <= end, "key of %u bytes", klen);
      }
      n += walk(p, end, depth + 1);
    }
  }
  return n;
}

static void check(const uint8_t *data, size_t size, int verify_crc) {
  lc_ckpt ck;
  lc_error e;
  e.msg[0] = '\0';
  if (lc_ckpt_parse_ex(data, size, verify_crc, &ck, &e)) {
    FUZZ_ASSERT(e.msg[0] != '\0' && ck.tensors == NULL && ck.count == 0, "failure without a message: %s", e.msg);
    return;
  }
  const unsigned char *end = data + size;
  FUZZ_ASSERT(ck.meta > data && ck.meta + ck.meta_len <= end, "metadata outside the input");
  const unsigned char *p = ck.meta;
  FUZZ_ASSERT(*p == LC_META_MAP, "metadata is not a map");
  uint32_t nodes = walk(&p, ck.meta + ck.meta_len, 0);
  FUZZ_ASSERT(p == ck.meta + ck.meta_len, "metadata walk ends %td bytes off", p - (ck.meta + ck.meta_len));
  FUZZ_ASSERT(nodes <= LC_CKPT_MAX_META_NODES, "%u values", nodes);
  FUZZ_ASSERT(ck.count <= LC_CKPT_MAX_TENSORS, "%u tensors", ck.count);
  for (uint32_t i = 0; i < ck.count; i++) {
    const lc_ckpt_tensor *t = &ck.tensors[i];
    FUZZ_ASSERT(t->name_len >= 1 && t->name_len <= LC_CKPT_MAX_NAME, "name of %u bytes", t->name_len);
    FUZZ_ASSERT((const unsigned char *)t->name >= data && (const unsigned char *)t->name + t->name_len <= end,
                "name outside the input");
    FUZZ_ASSERT(t->ndim >= 0 && t->ndim <= LC_MAX_DIMS, "%d dims", t->ndim);
    int64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) numel *= t->shape[d];
    FUZZ_ASSERT(numel == t->numel && numel <= LC_MAX_NUMEL, "numel %lld", (long long)t->numel);
    FUZZ_ASSERT(t->data >= data && (size_t)(end - t->data) >= (size_t)numel * 4, "values outside the input");
    for (uint32_t j = 0; j < i; j++)
      FUZZ_ASSERT(ck.tensors[j].name_len != t->name_len || memcmp(ck.tensors[j].name, t->name, t->name_len) != 0,
                  "tensor name '%.*s' twice", (int)t->name_len, t->name);
    if (numel <= FUZZ_MAX_DECODE) {
      float *v = malloc(sizeof(float) * (size_t)(numel ? numel : 1));
      FUZZ_ASSERT(v != NULL, "out of memory");
      lc_ckpt_tensor_values(t, v);
      free(v);
    }
  }
  lc_ckpt_free(&ck);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check(data, size, 1);
  check(data, size, 0);
  return 0;
}
