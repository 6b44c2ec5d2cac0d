/* Opening a data file for reading, the one way every reader does it. */
#ifndef LC_FILEIO_H
#define LC_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "error.h"

/* A descriptor of path opened read-only, with its stat in *st; -1 with an error naming the
 * path when it cannot be opened or is not a regular file (a directory, a FIFO), since
 * reading those would block or fail later with a vaguer message. */
int lc_open_regular(const char *path, struct stat *st, lc_error *e);

/* A stdio stream over path ("rb") and its size in *size (0 if unknown), or NULL with an
 * error naming the path; the image readers parse from streams. */
FILE *lc_fopen_read(const char *path, int64_t *size, lc_error *e);

/* A read-only stdio stream over size bytes of memory (the fuzz targets' and the memory
 * readers' input), or NULL with an error naming `name`. */
FILE *lc_fmemopen_read(const void *data, size_t size, const char *name, lc_error *e);

#endif
