/* Gathering rows by index: how a training loop builds a shuffled batch, and dropout
 * masks. */
#ifndef LC_GATHER_H
#define LC_GATHER_H

#include "random.h"
#include "tensor.h"

/* out[i, ...] = src[idx[i] - base, ...] along dim 0. idx holds integer-valued floats;
 * out has shape [len(idx), src's other dims] and must be contiguous. */
int lc_index_select(lc_tensor *out, const lc_tensor *src, const lc_tensor *idx, int64_t base, lc_error *e);

/* Inverted dropout: mask = (u >= rate) / (1 - rate) with u uniform from r, y = x * mask.
 * The mask is kept for the backward pass (dx = dy * mask). All contiguous, same shape. */
int lc_dropout_forward(lc_tensor *y, lc_tensor *mask, const lc_tensor *x, float rate, lc_rng *r, lc_error *e);

#endif
