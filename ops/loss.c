#include "loss.h"

#include <math.h>

static int check_pair(const char *what, const lc_tensor *pred, const lc_tensor *target, lc_error *e) {
  char s1[200], s2[200];
  if (!lc_same_shape(pred, target))
    return lc_fail(e, "%s: prediction %s and target %s have different shapes", what,
                   lc_shape_str(s1, sizeof s1, pred->ndim, pred->shape),
                   lc_shape_str(s2, sizeof s2, target->ndim, target->shape));
  if (!lc_is_contiguous(pred) || !lc_is_contiguous(target)) return lc_fail(e, "%s: tensors must be contiguous", what);
  if (lc_numel(pred) == 0) return lc_fail(e, "%s: the batch is empty", what);
  return 0;
}

static int check_sparse(const char *what, const lc_tensor *pred, const lc_tensor *labels, lc_error *e) {
  char s1[200], s2[200];
  if (pred->ndim != 2)
    return lc_fail(e, "%s: prediction must be [N,C] (samples x classes), got %s", what,
                   lc_shape_str(s1, sizeof s1, pred->ndim, pred->shape));
  if (labels->ndim != 1 || labels->shape[0] != pred->shape[0])
    return lc_fail(e, "%s: labels %s do not match prediction %s: expected [%lld]", what,
                   lc_shape_str(s2, sizeof s2, labels->ndim, labels->shape),
                   lc_shape_str(s1, sizeof s1, pred->ndim, pred->shape), (long long)pred->shape[0]);
  if (!lc_is_contiguous(pred)) return lc_fail(e, "%s: prediction must be contiguous", what);
  if (pred->shape[0] == 0) return lc_fail(e, "%s: the batch is empty", what);
  int64_t C = pred->shape[1];
  for (int64_t n = 0; n < labels->shape[0]; n++) {
    float l = labels->data[n * labels->stride[0]];
    if (!(l >= 0 && l < (float)C && l == floorf(l)))
      return lc_fail(e, "%s: label %g of sample %lld is not a class id in 0..%lld (the model has %lld outputs)", what,
                     (double)l, (long long)n + 1, (long long)C - 1, (long long)C);
  }
  return 0;
}

static float clip(float p, float eps) { return p < eps ? eps : p > 1.0f - eps ? 1.0f - eps : p; }

/* log(sum_c exp(z_c)) of one row, stable */
static double logsumexp(const float *z, int64_t C) {
  float m = -INFINITY;
  for (int64_t c = 0; c < C; c++) m = z[c] > m ? z[c] : m;
  double s = 0;
  for (int64_t c = 0; c < C; c++) s += exp((double)(z[c] - m));
  return m + log(s);
}

int lc_sparse_ce_forward(const lc_tensor *pred, const lc_tensor *labels, int from_logits, float eps, double *loss,
                         lc_error *e) {
  const char *what = "sparse_categorical_crossentropy";
  if (check_sparse(what, pred, labels, e)) return -1;
  int64_t N = pred->shape[0], C = pred->shape[1];
  double total = 0;
  for (int64_t n = 0; n < N; n++) {
    const float *row = pred->data + n * C;
    int64_t l = (int64_t)labels->data[n * labels->stride[0]];
    total += from_logits ? logsumexp(row, C) - row[l] : -log((double)clip(row[l], eps));
  }
  *loss = total / (double)N;
  return 0;
}

int lc_sparse_ce_backward(lc_tensor *dpred, const lc_tensor *pred, const lc_tensor *labels, int from_logits, float eps,
                          lc_error *e) {
  const char *what = "sparse_categorical_crossentropy backward";
  if (check_sparse(what, pred, labels, e) || check_pair(what, dpred, pred, e)) return -1;
  int64_t N = pred->shape[0], C = pred->shape[1];
  float inv_n = 1.0f / (float)N;
  for (int64_t n = 0; n < N; n++) {
    const float *row = pred->data + n * C;
    float *g = dpred->data + n * C;
    int64_t l = (int64_t)labels->data[n * labels->stride[0]];
    if (from_logits) {
      double lse = logsumexp(row, C);
      for (int64_t c = 0; c < C; c++) g[c] = (float)exp(row[c] - lse) * inv_n;
      g[l] -= inv_n;
    } else {
      for (int64_t c = 0; c < C; c++) g[c] = 0.0f;
      float p = row[l];
      /* where the probability was clipped the loss is flat in it */
      g[l] = p < eps || p > 1.0f - eps ? 0.0f : -inv_n / p;
    }
  }
  return 0;
}

static int check_dist(const char *what, const lc_tensor *pred, const lc_tensor *target, lc_error *e) {
  char s1[200];
  if (check_pair(what, pred, target, e)) return -1;
  if (pred->ndim != 2)
    return lc_fail(e, "%s: prediction must be [N,C] (samples x classes), got %s", what,
                   lc_shape_str(s1, sizeof s1, pred->ndim, pred->shape));
  return 0;
}

int lc_ce_forward(const lc_tensor *pred, const lc_tensor *target, int from_logits, float eps, double *loss,
                  lc_error *e) {
  if (check_dist("categorical_crossentropy", pred, target, e)) return -1;
  int64_t N = pred->shape[0], C = pred->shape[1];
  double total = 0;
  for (int64_t n = 0; n < N; n++) {
    const float *row = pred->data + n * C, *t = target->data + n * C;
    double lse = from_logits ? logsumexp(row, C) : 0;
    for (int64_t c = 0; c < C; c++) {
      if (t[c] == 0) continue;
      total -= t[c] * (from_logits ? row[c] - lse : log((double)clip(row[c], eps)));
    }
  }
  *loss = total / (double)N;
  return 0;
}

int lc_ce_backward(lc_tensor *dpred, const lc_tensor *pred, const lc_tensor *target, int from_logits, float eps,
                   lc_error *e) {
  const char *what = "categorical_crossentropy backward";
  if (check_dist(what, pred, target, e) || check_pair(what, dpred, pred, e)) return -1;
  int64_t N = pred->shape[0], C = pred->shape[1];
  float inv_n = 1.0f / (float)N;
  for (int64_t n = 0; n < N; n++) {
    const float *row = pred->data + n * C, *t = target->data + n * C;
    float *g = dpred->data + n * C;
    if (from_logits) {
      /* d/dz of -sum t log softmax(z) = softmax(z) * sum(t) - t */
      double lse = logsumexp(row, C), tsum = 0;
      for (int64_t c = 0; c < C; c++) tsum += t[c];
      for (int64_t c = 0; c < C; c++) g[c] = ((float)(exp(row[c] - lse) * tsum) - t[c]) * inv_n;
    } else {
      for (int64_t c = 0; c < C; c++) {
        float p = row[c];
        g[c] = p < eps || p > 1.0f - eps ? 0.0f : -t[c] / p * inv_n;
      }
    }
  }
  return 0;
}

int lc_bce_forward(const lc_tensor *pred, const lc_tensor *target, int from_logits, float eps, double *loss,
                   lc_error *e) {
  if (check_pair("binary_crossentropy", pred, target, e)) return -1;
  int64_t n = lc_numel(pred);
  double total = 0;
  for (int64_t i = 0; i < n; i++) {
    double t = target->data[i];
    if (from_logits) {
      /* -(t log s(z) + (1-t) log(1-s(z))) = max(z,0) - z t + log(1 + e^-|z|) */
      double z = pred->data[i];
      total += (z > 0 ? z : 0) - z * t + log1p(exp(-fabs(z)));
    } else {
      double p = clip(pred->data[i], eps);
      total -= t * log(p) + (1 - t) * log(1 - p);
    }
  }
  *loss = total / (double)n;
  return 0;
}

int lc_bce_backward(lc_tensor *dpred, const lc_tensor *pred, const lc_tensor *target, int from_logits, float eps,
                    lc_error *e) {
  const char *what = "binary_crossentropy backward";
  if (check_pair(what, pred, target, e) || check_pair(what, dpred, pred, e)) return -1;
  int64_t n = lc_numel(pred);
  float inv_n = 1.0f / (float)n;
  for (int64_t i = 0; i < n; i++) {
    float t = target->data[i], v = pred->data[i];
    if (from_logits) {
      float s = v >= 0 ? 1.0f / (1.0f + expf(-v)) : expf(v) / (1.0f + expf(v));
      dpred->data[i] = (s - t) * inv_n;
    } else if (v < eps || v > 1.0f - eps) {
      dpred->data[i] = 0.0f;
    } else {
      dpred->data[i] = (v - t) / (v * (1.0f - v)) * inv_n;
    }
  }
  return 0;
}

int lc_mse_forward(const lc_tensor *pred, const lc_tensor *target, double *loss, lc_error *e) {
  if (check_pair("mse", pred, target, e)) return -1;
  int64_t n = lc_numel(pred);
  double total = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = (double)pred->data[i] - target->data[i];
    total += d * d;
  }
  *loss = total / (double)n;
  return 0;
}

int lc_mse_backward(lc_tensor *dpred, const lc_tensor *pred, const lc_tensor *target, lc_error *e) {
  if (check_pair("mse backward", pred, target, e) || check_pair("mse backward", dpred, pred, e)) return -1;
  int64_t n = lc_numel(pred);
  float scale = 2.0f / (float)n;
  for (int64_t i = 0; i < n; i++) dpred->data[i] = (pred->data[i] - target->data[i]) * scale;
  return 0;
}

int lc_count_correct(const lc_tensor *pred, const lc_tensor *labels, int k, int64_t *correct, lc_error *e) {
  if (check_sparse("accuracy", pred, labels, e)) return -1;
  if (k < 1) return lc_fail(e, "top_k_accuracy: k must be at least 1 (got %d)", k);
  int64_t N = pred->shape[0], C = pred->shape[1], hits = 0;
  for (int64_t n = 0; n < N; n++) {
    const float *row = pred->data + n * C;
    int64_t l = (int64_t)labels->data[n * labels->stride[0]];
    /* the label's rank: how many classes score higher (ties before it count, as argmax's first-wins) */
    int64_t above = 0;
    for (int64_t c = 0; c < C; c++)
      if (row[c] > row[l] || (row[c] == row[l] && c < l)) above++;
    if (above < k) hits++;
  }
  *correct = hits;
  return 0;
}
