/* Activation functions, forward and backward side by side.
 * Softmax and log-softmax act along the last dimension (classes) of a contiguous tensor
 * [R, C] (any leading dims flattened into R rows). Backward writes dx (not +=).
 * Backward gets both the input x and the output y: each function uses whichever its
 * derivative is cheapest in (sigmoid, tanh, softmax from y; relu, leaky relu from x). */
#ifndef LC_ACTIVATION_H
#define LC_ACTIVATION_H

#include "tensor.h"

typedef enum lc_act {
  LC_ACT_LINEAR, LC_ACT_RELU, LC_ACT_LEAKY_RELU, LC_ACT_SIGMOID, LC_ACT_TANH, LC_ACT_SOFTMAX, LC_ACT_LOG_SOFTMAX,
  LC_ACT_ELU, LC_ACT_SOFTPLUS, LC_ACT_GELU
} lc_act;

/* Looks an activation up by its Keras name ("relu", "softmax", ...); -1 if unknown. */
int lc_act_from_name(const char *name);
const char *lc_act_name(lc_act act);

/* alpha: slope for leaky_relu (default 0.01 in PyTorch, 0.3 in Keras), scale for elu. */
int lc_act_forward(lc_act act, lc_tensor *y, const lc_tensor *x, float alpha, lc_error *e);
int lc_act_backward(lc_act act, lc_tensor *dx, const lc_tensor *dy, const lc_tensor *x, const lc_tensor *y, float alpha,
                    lc_error *e);

#endif
