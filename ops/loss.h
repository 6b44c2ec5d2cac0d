/* Losses: each forward returns the mean loss, each backward writes the gradient with
 * respect to the prediction (dpred, overwritten), already divided by the count the mean
 * was taken over, so the model's backward pass starts from it directly.
 * Dimension letters: N samples, C classes. Class labels are 0-based integers stored as
 * floats, as Keras's sparse labels are. */
#ifndef LC_LOSS_H
#define LC_LOSS_H

#include "tensor.h"

/* pred [N,C]: probabilities (clipped to [eps, 1-eps] as Keras does) or, with from_logits,
 * raw scores (computed through a stable log-softmax). labels [N]. With from_logits the
 * gradient is (softmax(pred) - onehot) / N, the fused softmax + cross-entropy gradient. */
int lc_sparse_ce_forward(const lc_tensor *pred, const lc_tensor *labels, int from_logits, float eps, double *loss,
                         lc_error *e);
int lc_sparse_ce_backward(lc_tensor *dpred, const lc_tensor *pred, const lc_tensor *labels, int from_logits, float eps,
                          lc_error *e);

/* pred and target [N,C]; target rows are distributions (one-hot or soft). */
int lc_ce_forward(const lc_tensor *pred, const lc_tensor *target, int from_logits, float eps, double *loss, lc_error *e);
int lc_ce_backward(lc_tensor *dpred, const lc_tensor *pred, const lc_tensor *target, int from_logits, float eps,
                   lc_error *e);

/* Binary cross-entropy, elementwise, mean over all elements. pred is a probability
 * (clipped) or, with from_logits, a logit. */
int lc_bce_forward(const lc_tensor *pred, const lc_tensor *target, int from_logits, float eps, double *loss, lc_error *e);
int lc_bce_backward(lc_tensor *dpred, const lc_tensor *pred, const lc_tensor *target, int from_logits, float eps,
                    lc_error *e);

/* Mean squared error over all elements. */
int lc_mse_forward(const lc_tensor *pred, const lc_tensor *target, double *loss, lc_error *e);
int lc_mse_backward(lc_tensor *dpred, const lc_tensor *pred, const lc_tensor *target, lc_error *e);

/* How many rows of pred [N,C] have their largest score at the label: for accuracy.
 * With k > 1, counts labels among the k largest scores (top-k accuracy). */
int lc_count_correct(const lc_tensor *pred, const lc_tensor *labels, int k, int64_t *correct, lc_error *e);

#endif
