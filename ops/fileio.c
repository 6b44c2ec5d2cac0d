#define _POSIX_C_SOURCE 200809L
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int lc_open_regular(const char *path, struct stat *st, lc_error *e) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    lc_fail(e, "cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  const char *why = NULL;
  if (fstat(fd, st) != 0) why = strerror(errno);
  else if (S_ISDIR(st->st_mode)) why = "it is a directory";
  else if (!S_ISREG(st->st_mode)) why = "not a regular file";
  if (why) {
    lc_fail(e, "cannot read %s: %s", path, why);
    close(fd);
    return -1;
  }
  return fd;
}

FILE *lc_fopen_read(const char *path, int64_t *size, lc_error *e) {
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    lc_fail(e, "cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  *size = fstat(fileno(fp), &st) == 0 ? (int64_t)st.st_size : 0;
  return fp;
}

FILE *lc_fmemopen_read(const void *data, size_t size, const char *name, lc_error *e) {
  /* "rb" never writes through the pointer; fmemopen just does not take a const one */
  FILE *fp = fmemopen((void *)(uintptr_t)data, size, "rb");
  if (!fp) lc_fail(e, "%s: cannot read the buffer: %s", name, strerror(errno));
  return fp;
}
