/* The CIFAR-10 reader's memory entry point (lc_cifar_count, lc_cifar_decode) on
 * arbitrary bytes. Almost every length fails the record count, so the decoder also runs
 * on the longest whole-record prefix, where the labels decide. */
#include <string.h>

#include "cifar.h"
#include "fuzz.h"

/* Records decoded per input: the decoder is a loop over records, a few show it all. */
#define FUZZ_CIFAR_RECORDS 8

static void decode(const uint8_t *data, size_t size) {
  lc_error e;
  int64_t records;
  if (lc_cifar_count("fuzz.bin", (int64_t)size, &records, &e)) {
    FUZZ_ASSERT(strstr(e.msg, "fuzz.bin") != NULL, "message: %s", e.msg);
    return;
  }
  FUZZ_ASSERT(records >= 1 && records * LC_CIFAR_RECORD_BYTES == (int64_t)size, "%lld records in %zu bytes",
              (long long)records, size);
  int64_t count = records < FUZZ_CIFAR_RECORDS ? records : FUZZ_CIFAR_RECORDS;
  float *images = malloc(sizeof(float) * LC_CIFAR_IMAGE_BYTES * (size_t)count);
  float *labels = malloc(sizeof(float) * (size_t)count);
  FUZZ_ASSERT(images && labels, "out of memory");
  int bad_label = 0;
  for (int64_t r = 0; r < count; r++) bad_label |= data[r * LC_CIFAR_RECORD_BYTES] > 9;
  int rc = lc_cifar_decode("fuzz.bin", data, size, count, 255.0f, images, labels, &e);
  FUZZ_ASSERT((rc != 0) == bad_label, "decode %s with%s a label over 9: %s", rc ? "failed" : "passed",
              bad_label ? "" : "out", rc ? e.msg : "");
  if (rc == 0) {
    for (int64_t r = 0; r < count; r++) {
      const uint8_t *rec = data + r * LC_CIFAR_RECORD_BYTES;
      FUZZ_ASSERT(labels[r] == (float)rec[0], "record %lld: label %g, byte %d", (long long)r, labels[r], rec[0]);
      for (int k = 0; k < LC_CIFAR_IMAGE_BYTES; k++)
        FUZZ_ASSERT(images[r * LC_CIFAR_IMAGE_BYTES + k] == (float)rec[1 + k] / 255.0f, "record %lld, byte %d",
                    (long long)r, k);
    }
  } else {
    FUZZ_ASSERT(strstr(e.msg, "fuzz.bin") != NULL, "message: %s", e.msg);
  }
  free(images);
  free(labels);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  decode(data, size);
  size_t whole = size - size % LC_CIFAR_RECORD_BYTES;
  if (whole > 0 && whole != size) decode(data, whole);
  return 0;
}
