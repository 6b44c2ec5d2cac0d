/* Fully connected layer: y = x W^T + b.
 * Dimension letters: N samples, I input features, O output features.
 *   x [N,I], W [O,I] (the PyTorch/Torch7 layout), b [O], y [N,O].
 * Backward writes the input gradient (dx, overwritten: it belongs to one consumer) and
 * accumulates the parameter gradients (dW +=, db +=), so gradients of a parameter used
 * several times add up and zero_grad() is the caller's step. */
#ifndef LC_LINEAR_H
#define LC_LINEAR_H

#include "pool.h"
#include "tensor.h"

int lc_linear_forward(lc_tensor *y, const lc_tensor *x, const lc_tensor *w, const lc_tensor *b, lc_allocator *scratch,
                      lc_pool *pool, lc_error *e);
/* dx may be NULL (the first layer needs no input gradient); db may be NULL (no bias). */
int lc_linear_backward(lc_tensor *dx, lc_tensor *dw, lc_tensor *db, const lc_tensor *dy, const lc_tensor *x,
                       const lc_tensor *w, lc_allocator *scratch, lc_pool *pool, lc_error *e);

#endif
