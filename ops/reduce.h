/* Reductions over all elements or along one dimension. Sums accumulate in double so a
 * mean over 60,000 samples keeps float precision. max/min propagate NaN and report the
 * first index of the extreme value. */
#ifndef LC_REDUCE_H
#define LC_REDUCE_H

#include "tensor.h"

typedef enum lc_redop { LC_RSUM, LC_RMEAN, LC_RMAX, LC_RMIN, LC_RVAR, LC_RSTD, LC_RPROD } lc_redop;

const char *lc_redop_name(lc_redop op);

/* Over all elements. For max/min, *index (if not NULL) gets the 0-based flat index in
 * row-major order. For var/std, `correction` is subtracted from the count (1 = unbiased).
 * An empty tensor gives 0 for sum, 1 for prod, and an error for the others. */
int lc_reduce_all(lc_redop op, const lc_tensor *a, int correction, double *result, int64_t *index, lc_error *e);

/* Along dim d of a. out (and idx, if not NULL, for max/min) must be contiguous with
 * a's shape minus dim d (or with size 1 there: only the element count matters).
 * idx receives index_base + the position along d. */
int lc_reduce_dim(lc_redop op, lc_tensor *out, lc_tensor *idx, const lc_tensor *a, int d, int correction,
                  float index_base, lc_error *e);

#endif
