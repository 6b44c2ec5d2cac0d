/* Batch normalization per channel, over every other dim (N, and H x W for images).
 * Dimension letters: N samples, C channels, S positions per channel and sample
 * (H*W for [N,C,H,W] inputs, 1 for [N,C]), M = N*S values per channel.
 *   x, y [N,C,...], gamma, beta, running_mean, running_var, save_mean, save_invstd [C]
 *
 * Training: mean and biased variance of the batch, y = (x - mean) * invstd * gamma + beta
 * with invstd = 1/sqrt(var + eps); the running statistics move toward the batch's
 * (PyTorch's rule: r = (1 - momentum) r + momentum * batch value, with the unbiased
 * variance var * M/(M-1) in running_var). Evaluation: the running statistics instead.
 * Either way save_mean/save_invstd receive the mean and invstd used, for backward.
 *
 * Backward writes dx and accumulates dgamma += sum(dy * xhat), dbeta += sum(dy), with
 * xhat = (x - mean) * invstd. In training the statistics depend on x:
 *   dx = gamma * invstd / M * (M dy - sum(dy) - xhat * sum(dy * xhat))
 * in evaluation they are constants: dx = gamma * invstd * dy. */
#ifndef LC_BATCHNORM_H
#define LC_BATCHNORM_H

#include "pool.h"
#include "tensor.h"

/* All tensors contiguous; x has at least 2 dims. Training needs M > 1 (as PyTorch). */
int lc_batchnorm_forward(lc_tensor *y, const lc_tensor *x, const lc_tensor *gamma, const lc_tensor *beta,
                         lc_tensor *running_mean, lc_tensor *running_var, lc_tensor *save_mean, lc_tensor *save_invstd,
                         int training, float momentum, float eps, lc_pool *pool, lc_error *e);
/* dx may be NULL. */
int lc_batchnorm_backward(lc_tensor *dx, lc_tensor *dgamma, lc_tensor *dbeta, const lc_tensor *dy, const lc_tensor *x,
                          const lc_tensor *gamma, const lc_tensor *save_mean, const lc_tensor *save_invstd,
                          int training, lc_pool *pool, lc_error *e);

#endif
