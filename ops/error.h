/* Errors from kernels: every ops/ function that can fail returns 0 on success or -1
 * after writing a message into the caller's lc_error. Kernels never print, exit or abort;
 * the binding layer turns the message into a Lua error. */
#ifndef LC_ERROR_H
#define LC_ERROR_H

#include <stddef.h>

typedef struct lc_error {
  char msg[512];
} lc_error;

/* Formats the message into e (if e is not NULL) and returns -1, so callers can write
 * `return lc_fail(e, "...")`. */
int lc_fail(lc_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
