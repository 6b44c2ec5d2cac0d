/* Opening a data file for reading, the one way every reader does it. */
#ifndef LC_FILEIO_H
#define LC_FILEIO_H

#include <sys/stat.h>

#include "error.h"

/* A descriptor of path opened read-only, with its stat in *st; -1 with an error naming the
 * path when it cannot be opened or is not a regular file (a directory, a FIFO), since
 * reading those would block or fail later with a vaguer message. */
int lc_open_regular(const char *path, struct stat *st, lc_error *e);

#endif
