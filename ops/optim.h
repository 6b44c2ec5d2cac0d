/* Optimizer updates over flat float arrays of n parameters (p), their gradients (g) and
 * the optimizer's state buffers. One call updates a whole model when its parameters live
 * in one flat buffer; the pool (may be NULL) splits it across threads. Formulas follow
 * Keras where the two frameworks differ (noted). */
#ifndef LC_OPTIM_H
#define LC_OPTIM_H

#include <stdint.h>

#include "pool.h"

/* SGD with momentum (v = momentum v + g; p -= lr v), Nesterov (p -= lr (g + momentum v)),
 * and L2 weight decay added to the gradient. v may be NULL when momentum is 0. */
void lc_sgd_step(lc_pool *pool, float *p, const float *g, float *v, int64_t n, float lr, float momentum, int nesterov,
                 float weight_decay);

/* Adam, Keras form: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr sqrt(1-b2^t)/(1-b1^t) m / (sqrt(v) + eps). (PyTorch adds eps to the
 * bias-corrected sqrt(v) instead; the two differ only in how eps is scaled.)
 * weight_decay > 0 gives AdamW: p -= lr weight_decay p, decoupled from the gradient.
 * t is the 1-based step count after this update. */
void lc_adam_step(lc_pool *pool, float *p, const float *g, float *m, float *v, int64_t n, float lr, float beta1, float beta2,
                  float eps, float weight_decay, int64_t t);

/* RMSprop, Keras form: s = rho s + (1-rho) g^2; p -= lr g / (sqrt(s) + eps);
 * with momentum: mom = momentum mom + lr g / (sqrt(s) + eps); p -= mom. */
void lc_rmsprop_step(lc_pool *pool, float *p, const float *g, float *s, float *mom, int64_t n, float lr, float rho, float eps,
                     float momentum);

#endif
