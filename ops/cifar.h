/* CIFAR-10 binary files (the "binary version" of Alex Krizhevsky's CIFAR-10:
 * data_batch_1.bin .. data_batch_5.bin, test_batch.bin, 10,000 records each).
 *
 * A file is a sequence of records and nothing else (no header, no trailer):
 *   byte 0         the label, 0..9
 *   bytes 1..3072  the image, channel-major: 1024 red bytes, 1024 green, 1024 blue,
 *                  each plane 32 rows of 32 pixels, row-major
 * so a record is exactly the [3,32,32] tensor layout, and a file's size must be a
 * positive multiple of 3073.
 *
 * Two ways in, both checking everything and returning an error naming the file instead
 * of crashing:
 *   - from memory (the fuzz entry point): lc_cifar_count, then lc_cifar_decode;
 *   - from a file: lc_cifar_file_records (its size says how many records), then
 *     lc_cifar_read, which streams the records into the caller's buffers.
 * Labels are checked only in the records decoded (a subset read stops early). */
#ifndef LC_CIFAR_H
#define LC_CIFAR_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define LC_CIFAR_CHANNELS 3
#define LC_CIFAR_SIDE 32
#define LC_CIFAR_IMAGE_BYTES 3072   /* 3 * 32 * 32 */
#define LC_CIFAR_RECORD_BYTES 3073  /* label + image */
#define LC_CIFAR_CLASSES 10

/* The number of records in len bytes of the file `name` (used in messages only): len
 * must be a positive multiple of LC_CIFAR_RECORD_BYTES. */
int lc_cifar_count(const char *name, int64_t len, int64_t *records, lc_error *e);

/* Decodes the first `count` records of bytes[0, len): images gets count*3072 floats
 * ([count,3,32,32], each byte / divisor), labels count floats. len must pass
 * lc_cifar_count and count must be 0..records; every decoded label must be 0..9. On
 * failure the buffers hold garbage and e names the file, the record and the problem. */
int lc_cifar_decode(const char *name, const unsigned char *bytes, size_t len, int64_t count, float divisor,
                    float *images, float *labels, lc_error *e);

/* The number of records in the file at path, from its size: a missing file, a
 * directory, or a size that is not a positive multiple of 3073 is an error. */
int lc_cifar_file_records(const char *path, int64_t *records, lc_error *e);

/* Reads the first count records of the file at path (checked as lc_cifar_file_records
 * does, so a truncated file fails before anything is decoded) into images and labels,
 * as lc_cifar_decode does. */
int lc_cifar_read(const char *path, int64_t count, float divisor, float *images, float *labels, lc_error *e);

/* Writes n records as a CIFAR-10 file: images n*3072 floats, each an integer 0..255;
 * labels n floats, each an integer 0..9 (both checked before the file is touched). The
 * file is written under a temporary name and renamed, so a failure leaves nothing. */
int lc_cifar_write(const char *path, int64_t n, const float *images, const float *labels, lc_error *e);

#endif
