/* A temporary directory for the C tests that read and write files: made at the start of
 * main(), removed with everything in it at the end, and the paths inside it.
 *
 *   if (test_dir_make("lc_test_idx")) return 2;   // $TMPDIR (or /tmp)/lc_test_idx.XXXXXX
 *   ... in_dir("a.idx") ...
 *   test_dir_remove();
 *
 * mkdtemp needs _POSIX_C_SOURCE 200809L, defined by the test file before any include. */
#ifndef LC_TEST_DIR_H
#define LC_TEST_DIR_H

#include <stdio.h>
#include <stdlib.h>

static char test_dir[256];

/* Makes the directory; 0, or -1 after printing why. */
static inline int test_dir_make(const char *name) {
  const char *tmp = getenv("TMPDIR");
  snprintf(test_dir, sizeof test_dir, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
  if (!mkdtemp(test_dir)) {
    perror("mkdtemp");
    return -1;
  }
  return 0;
}

static inline void test_dir_remove(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", test_dir);
}

/* test_dir/name, in one of 8 buffers used in turn: a call may take a few paths at once. */
static inline const char *in_dir(const char *name) {
  static char paths[8][512];
  static int next;
  char *p = paths[next++ % 8];
  snprintf(p, sizeof paths[0], "%s/%s", test_dir, name);
  return p;
}

/* Writes n bytes to path, or exits with status 2: the test cannot go on without them. */
static inline void write_bytes(const char *path, const unsigned char *bytes, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(bytes, 1, n, f) != n || fclose(f) != 0) {
    fprintf(stderr, "cannot write %s\n", path);
    exit(2);
  }
}

/* The whole file, malloc'd with one spare byte (so an empty file is not NULL), its length
 * in *n; exits with status 2 when it cannot be read. */
static inline unsigned char *read_bytes(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f || fseek(f, 0, SEEK_END) != 0) {
    fprintf(stderr, "cannot read %s\n", path);
    exit(2);
  }
  long len = ftell(f);
  unsigned char *p = len >= 0 ? malloc((size_t)len + 1) : NULL;
  if (!p || fseek(f, 0, SEEK_SET) != 0 || fread(p, 1, (size_t)len, f) != (size_t)len) {
    fprintf(stderr, "cannot read %s\n", path);
    exit(2);
  }
  fclose(f);
  *n = (size_t)len;
  return p;
}

#endif
