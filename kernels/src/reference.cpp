#include "aif/kernels/reference.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace aif::kernels::ref {
namespace {
size_t idx(int a, int b, int width) { return static_cast<size_t>(a) * static_cast<size_t>(width) + size_t(b); }
}  // namespace

Vec linear(const float* x, int m, int k, const float* w, int n) {
  Vec y(static_cast<size_t>(m) * size_t(n));
  for (int i = 0; i < m; ++i)
    for (int o = 0; o < n; ++o) {
      double s = 0;
      for (int j = 0; j < k; ++j) s += double(x[idx(i, j, k)]) * double(w[idx(o, j, k)]);
      y[idx(i, o, n)] = s;
    }
  return y;
}

Vec embedding(const int32_t* tokens, int m, const float* table, int hidden) {
  Vec y(static_cast<size_t>(m) * size_t(hidden));
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < hidden; ++j) y[idx(i, j, hidden)] = table[idx(tokens[i], j, hidden)];
  return y;
}

Vec rms_norm(const float* x, const float* gamma, int m, int hidden, double eps) {
  Vec y(static_cast<size_t>(m) * size_t(hidden));
  for (int i = 0; i < m; ++i) {
    double ss = 0;
    for (int j = 0; j < hidden; ++j) ss += double(x[idx(i, j, hidden)]) * x[idx(i, j, hidden)];
    const double inv = 1.0 / std::sqrt(ss / hidden + eps);
    for (int j = 0; j < hidden; ++j) y[idx(i, j, hidden)] = x[idx(i, j, hidden)] * inv * gamma[j];
  }
  return y;
}

Vec rope(const float* x, int row_stride, const int32_t* positions, int m, int heads, int head_dim, double theta) {
  const int width = heads * head_dim, half = head_dim / 2;
  Vec y(static_cast<size_t>(m) * size_t(width));
  for (int r = 0; r < m; ++r)
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < half; ++i) {
        const double angle = positions[r] * std::pow(theta, -2.0 * i / head_dim);
        const double a = x[idx(r, h * head_dim + i, row_stride)], b = x[idx(r, h * head_dim + i + half, row_stride)];
        y[idx(r, h * head_dim + i, width)] = a * std::cos(angle) - b * std::sin(angle);
        y[idx(r, h * head_dim + i + half, width)] = b * std::cos(angle) + a * std::sin(angle);
      }
  return y;
}

Vec attention(const float* q, int q_len, const float* k, const float* v, int context_len, int heads, int kv_heads,
              int head_dim, double scale) {
  const int width = heads * head_dim, kv_width = kv_heads * head_dim, group = heads / kv_heads;
  Vec out(static_cast<size_t>(q_len) * size_t(width));
  for (int r = 0; r < q_len; ++r)
    for (int h = 0; h < heads; ++h) {
      const int keys = context_len - q_len + r + 1;
      const int kvh = h / group;
      std::vector<double> p(static_cast<size_t>(keys));
      double mx = -std::numeric_limits<double>::infinity();
      for (int j = 0; j < keys; ++j) {
        double s = 0;
        for (int d = 0; d < head_dim; ++d)
          s += double(q[idx(r, h * head_dim + d, width)]) * k[idx(j, kvh * head_dim + d, kv_width)];
        p[size_t(j)] = s * scale;
        mx = std::max(mx, p[size_t(j)]);
      }
      double sum = 0;
      for (auto& e : p) sum += (e = std::exp(e - mx));
      for (int d = 0; d < head_dim; ++d) {
        double acc = 0;
        for (int j = 0; j < keys; ++j) acc += p[size_t(j)] * v[idx(j, kvh * head_dim + d, kv_width)];
        out[idx(r, h * head_dim + d, width)] = acc / sum;
      }
    }
  return out;
}

Vec swiglu(const float* gate_up, int m, int ffn) {
  Vec y(static_cast<size_t>(m) * size_t(ffn));
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < ffn; ++j) {
      const double g = gate_up[idx(i, j, 2 * ffn)], u = gate_up[idx(i, ffn + j, 2 * ffn)];
      y[idx(i, j, ffn)] = g / (1.0 + std::exp(-g)) * u;
    }
  return y;
}

namespace {
std::vector<float> to_float(const Vec& v) { return std::vector<float>(v.begin(), v.end()); }
}  // namespace

Vec model_forward(const HostWeights& w, const std::vector<int32_t>& tokens) {
  // Kept in double throughout; converted to float only where the next reference operator takes float input.
  const ModelShape& s = w.shape;
  const int t = static_cast<int>(tokens.size());
  const int qkv_w = s.qkv_width(), q_w = s.heads * s.head_dim, kv_w = s.kv_heads * s.head_dim;
  std::vector<int32_t> positions(tokens.size());
  for (int i = 0; i < t; ++i) positions[size_t(i)] = i;
  Vec x = embedding(tokens.data(), t, w.embedding.data(), s.hidden);
  for (const auto& layer : w.layers) {
    const auto xf = to_float(x);
    const auto h = to_float(rms_norm(xf.data(), layer.attn_norm.data(), t, s.hidden, s.norm_eps));
    auto qkv = to_float(linear(h.data(), t, s.hidden, layer.wqkv.data(), qkv_w));
    const auto q = to_float(rope(qkv.data(), qkv_w, positions.data(), t, s.heads, s.head_dim, s.rope_theta));
    const auto k = to_float(rope(qkv.data() + q_w, qkv_w, positions.data(), t, s.kv_heads, s.head_dim, s.rope_theta));
    std::vector<float> v(static_cast<size_t>(t) * size_t(kv_w));
    for (int i = 0; i < t; ++i)
      for (int j = 0; j < kv_w; ++j) v[idx(i, j, kv_w)] = qkv[idx(i, q_w + kv_w + j, qkv_w)];
    const auto a = to_float(attention(q.data(), t, k.data(), v.data(), t, s.heads, s.kv_heads, s.head_dim,
                                      1.0 / std::sqrt(double(s.head_dim))));
    const Vec o = linear(a.data(), t, q_w, layer.wo.data(), s.hidden);
    for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];
    const auto xf2 = to_float(x);
    const auto h2 = to_float(rms_norm(xf2.data(), layer.mlp_norm.data(), t, s.hidden, s.norm_eps));
    const auto gu = to_float(linear(h2.data(), t, s.hidden, layer.w_gate_up.data(), 2 * s.ffn));
    const auto act = to_float(swiglu(gu.data(), t, s.ffn));
    const Vec d = linear(act.data(), t, s.ffn, layer.w_down.data(), s.hidden);
    for (size_t i = 0; i < x.size(); ++i) x[i] += d[i];
  }
  const auto xf = to_float(x);
  const auto hf = to_float(rms_norm(xf.data(), w.final_norm.data(), t, s.hidden, s.norm_eps));
  return linear(hf.data(), t, s.hidden, w.lm_head.data(), s.vocab);
}

double normalized_error(const float* y, const Vec& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (std::isnan(y[i])) return std::numeric_limits<double>::infinity();
    num += (y[i] - ref[i]) * (y[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

double normalized_error(const std::vector<float>& y, const Vec& ref) {
  if (y.size() != ref.size()) return std::numeric_limits<double>::infinity();
  return normalized_error(y.data(), ref);
}

}  // namespace aif::kernels::ref
