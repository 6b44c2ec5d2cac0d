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
