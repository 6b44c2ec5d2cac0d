#include "optim.h"

#include <math.h>

void lc_sgd_step(float *p, const float *g, float *v, int64_t n, float lr, float momentum, int nesterov,
                 float weight_decay) {
  if (momentum == 0.0f || !v) {
    for (int64_t i = 0; i < n; i++) p[i] -= lr * (g[i] + weight_decay * p[i]);
    return;
  }
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i] + weight_decay * p[i];
    v[i] = momentum * v[i] + gi;
    p[i] -= lr * (nesterov ? gi + momentum * v[i] : v[i]);
  }
}

void lc_adam_step(float *p, const float *g, float *m, float *v, int64_t n, float lr, float beta1, float beta2,
                  float eps, float weight_decay, int64_t t) {
  double bc1 = 1.0 - pow(beta1, (double)t), bc2 = 1.0 - pow(beta2, (double)t);
  float lr_t = (float)(lr * sqrt(bc2) / bc1);
  float decay = lr * weight_decay;
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i];
    m[i] = beta1 * m[i] + (1.0f - beta1) * gi;
    v[i] = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    p[i] -= lr_t * m[i] / (sqrtf(v[i]) + eps) + decay * p[i];
  }
}

void lc_rmsprop_step(float *p, const float *g, float *s, float *mom, int64_t n, float lr, float rho, float eps,
                     float momentum) {
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i];
    s[i] = rho * s[i] + (1.0f - rho) * gi * gi;
    float step = lr * gi / (sqrtf(s[i]) + eps);
    if (mom) {
      mom[i] = momentum * mom[i] + step;
      step = mom[i];
    }
    p[i] -= step;
  }
}
