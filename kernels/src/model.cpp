#include "aif/kernels/model.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "aif/kernels/rng.hpp"

namespace aif::kernels {

void ModelShape::check_consistent() const {
  auto need = [&](bool ok, const char* what) {
    if (!ok) throw std::invalid_argument("model '" + name + "': " + what);
  };
  need(layers > 0 && hidden > 0 && heads > 0 && kv_heads > 0 && head_dim > 0 && ffn > 0 && vocab > 0,
       "layers, hidden, heads, kv_heads, head_dim, ffn and vocab must all be positive");
  need(heads % kv_heads == 0, "heads must be a multiple of kv_heads (GQA groups)");
  need(head_dim % 2 == 0, "head_dim must be even (RoPE rotates pairs)");
}

ModelShape shape_from_arch(const models::ModelArch& arch) {
  ModelShape s;
  s.name = arch.name;
  s.layers = arch.layers;
  s.hidden = arch.hidden;
  s.heads = arch.heads;
  s.kv_heads = arch.kv_heads;
  s.head_dim = arch.head_dim > 0 ? arch.head_dim : (arch.heads > 0 ? arch.hidden / arch.heads : 0);
  s.ffn = arch.ffn;
  s.vocab = arch.vocab;
  s.max_context = arch.max_context;
  s.check_consistent();
  return s;
}

namespace {

// Uniform weights with the given standard deviation: (2u - 1) sqrt(3) std. Stream = tensor number.
std::vector<float> random_tensor(size_t count, double std_dev, uint64_t seed, uint64_t stream) {
  std::vector<float> w(count);
  const double half_width = std::sqrt(3.0) * std_dev;
  tbb::parallel_for(tbb::blocked_range<size_t>(0, count, 1 << 16), [&](const tbb::blocked_range<size_t>& r) {
    for (size_t i = r.begin(); i < r.end(); ++i)
      w[i] = static_cast<float>((2.0 * counter_uniform(seed, stream, i) - 1.0) * half_width);
  });
  return w;
}

// Norm gains near one (1 +- 0.1), so a wrong gamma index shows in the tests.
std::vector<float> norm_gain(size_t count, uint64_t seed, uint64_t stream) {
  auto g = random_tensor(count, 0.1 / std::sqrt(3.0), seed, stream);
  for (float& v : g) v += 1.0f;
  return g;
}

size_t sz(int a, int b) { return static_cast<size_t>(a) * static_cast<size_t>(b); }

}  // namespace

HostWeights make_weights(const ModelShape& s, uint64_t seed, double logit_std) {
  s.check_consistent();
  HostWeights w;
  w.shape = s;
  const double residual_scale = 1.0 / std::sqrt(2.0 * s.layers);
  // Embedding rows have unit variance, like a normalized hidden state.
  w.embedding = random_tensor(sz(s.vocab, s.hidden), 1.0, seed, 1);
  for (int l = 0; l < s.layers; ++l) {
    const uint64_t base = 16 + 16 * static_cast<uint64_t>(l);
    HostWeights::Layer L;
    L.attn_norm = norm_gain(size_t(s.hidden), seed, base + 0);
    L.wqkv = random_tensor(sz(s.qkv_width(), s.hidden), 1.0 / std::sqrt(s.hidden), seed, base + 1);
    L.wo = random_tensor(sz(s.hidden, s.heads * s.head_dim), residual_scale / std::sqrt(s.heads * s.head_dim), seed,
                         base + 2);
    L.mlp_norm = norm_gain(size_t(s.hidden), seed, base + 3);
    L.w_gate_up = random_tensor(sz(2 * s.ffn, s.hidden), 1.0 / std::sqrt(s.hidden), seed, base + 4);
    L.w_down = random_tensor(sz(s.hidden, s.ffn), residual_scale / std::sqrt(s.ffn), seed, base + 5);
    w.layers.push_back(std::move(L));
  }
  w.final_norm = norm_gain(size_t(s.hidden), seed, 2);
  // The final RMSNorm makes each input row have unit RMS, so a logit is a sum of `hidden` products of
  // variance std^2: std = logit_std / sqrt(hidden) gives logits of standard deviation logit_std.
  w.lm_head = random_tensor(sz(s.vocab, s.hidden), logit_std / std::sqrt(s.hidden), seed, 3);
  return w;
}

size_t KvCache::bytes_per_block(const ModelShape& s, int block_size) {
  return 2 * sizeof(float) * size_t(s.layers) * size_t(block_size) * sz(s.kv_heads, s.head_dim);
}

KvCache::KvCache(Backend& backend, const ModelShape& s, int num_blocks, int block_size)
    : num_blocks_(num_blocks), block_size_(block_size) {
  if (num_blocks <= 0 || block_size <= 0) throw std::invalid_argument("KV cache needs positive blocks and block size");
  const size_t per_layer = sz(num_blocks, block_size) * sz(s.kv_heads, s.head_dim);
  for (int l = 0; l < s.layers; ++l) {
    k_.emplace_back(backend, per_layer);
    v_.emplace_back(backend, per_layer);
  }
}

Model::Model(Backend& backend, const HostWeights& w) : backend_(backend), shape_(w.shape) {
  shape_.check_consistent();
  auto upload = [&](const std::vector<float>& host) {
    DeviceArray<float> d(backend_, host.size());
    d.upload(host.data(), host.size());
    return d;
  };
  embedding_ = upload(w.embedding);
  final_norm_ = upload(w.final_norm);
  const auto& s = shape_;
  for (const auto& L : w.layers) {
    DeviceLayer d;
    d.attn_norm = upload(L.attn_norm);
    d.mlp_norm = upload(L.mlp_norm);
    d.wqkv = backend_.make_matrix(L.wqkv.data(), s.qkv_width(), s.hidden);
    d.wo = backend_.make_matrix(L.wo.data(), s.hidden, s.heads * s.head_dim);
    d.w_gate_up = backend_.make_matrix(L.w_gate_up.data(), 2 * s.ffn, s.hidden);
    d.w_down = backend_.make_matrix(L.w_down.data(), s.hidden, s.ffn);
    layers_.push_back(std::move(d));
  }
  lm_head_ = backend_.make_matrix(w.lm_head.data(), s.vocab, s.hidden);
}

std::vector<float> Model::forward(const ForwardInput& in, KvCache& cache) {
  const auto& s = shape_;
  const int t = static_cast<int>(in.tokens.size());
  const int nseq = static_cast<int>(in.seqs.size());
  if (t == 0) return {};
  // Host-side step metadata: positions, cache slots, attention batch description, rows to sample.
  std::vector<int32_t> positions, slots, q_start{0}, context_lens, sample_rows;
  int max_blocks = 1, max_q = 0, max_ctx = 0;
  for (const auto& c : in.seqs) max_blocks = std::max(max_blocks, static_cast<int>(c.block_table.size()));
  std::vector<int32_t> tables(sz(nseq, max_blocks), 0);
  for (int i = 0; i < nseq; ++i) {
    const SeqChunk& c = in.seqs[size_t(i)];
    const int bs = cache.block_size();
    if (c.q_len <= 0 || c.context_len < c.q_len || static_cast<int>(c.block_table.size()) * bs < c.context_len)
      throw std::invalid_argument("forward: chunk " + std::to_string(i) + " has inconsistent lengths or block table");
    for (int p = c.context_len - c.q_len; p < c.context_len; ++p) {
      positions.push_back(p);
      slots.push_back(c.block_table[size_t(p / bs)] * bs + p % bs);
    }
    std::copy(c.block_table.begin(), c.block_table.end(), tables.begin() + static_cast<std::ptrdiff_t>(sz(i, max_blocks)));
    q_start.push_back(q_start.back() + c.q_len);
    context_lens.push_back(c.context_len);
    if (c.sample) sample_rows.push_back(q_start.back() - 1);
    max_q = std::max(max_q, c.q_len);
    max_ctx = std::max(max_ctx, c.context_len);
  }
  if (q_start.back() != t) throw std::invalid_argument("forward: tokens do not match the chunks' q_len sum");

  auto up = [&](DeviceArray<int32_t>& d, const std::vector<int32_t>& h) {
    d.reserve(backend_, std::max<size_t>(1, h.size()));
    if (!h.empty()) d.upload(h.data(), h.size());
  };
  up(tokens_, in.tokens);
  up(positions_, positions);
  up(slots_, slots);
  up(q_start_, q_start);
  up(context_lens_, context_lens);
  up(block_tables_, tables);
  up(sample_rows_, sample_rows);
  const size_t tt = static_cast<size_t>(t);
  const int q_w = s.heads * s.head_dim, kv_w = s.kv_heads * s.head_dim, qkv_w = s.qkv_width();
  x_.reserve(backend_, tt * size_t(s.hidden));
  h_.reserve(backend_, tt * size_t(s.hidden));
  proj_.reserve(backend_, tt * size_t(s.hidden));
  qkv_.reserve(backend_, tt * size_t(qkv_w));
  attn_.reserve(backend_, tt * size_t(q_w));
  gate_up_.reserve(backend_, tt * 2 * size_t(s.ffn));
  act_.reserve(backend_, tt * size_t(s.ffn));

  AttentionBatch batch;
  batch.num_seqs = nseq;
  batch.q_start = q_start_.data();
  batch.context_lens = context_lens_.data();
  batch.block_tables = block_tables_.data();
  batch.max_blocks_per_seq = max_blocks;
  batch.block_size = cache.block_size();
  batch.max_q_len = max_q;
  batch.max_context_len = max_ctx;
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));

  backend_.embedding(tokens_.data(), t, embedding_.data(), s.hidden, x_.data());  // x [t][hidden]
  for (int l = 0; l < s.layers; ++l) {
    DeviceLayer& L = layers_[size_t(l)];
    backend_.rms_norm(x_.data(), L.attn_norm.data(), t, s.hidden, s.norm_eps, h_.data());  // h [t][hidden]
    backend_.linear(h_.data(), t, *L.wqkv, qkv_.data());                                 // qkv [t][q | k | v]
    backend_.rope(qkv_.data(), qkv_w, positions_.data(), t, s.heads, s.head_dim, s.rope_theta);
    backend_.rope(qkv_.data() + q_w, qkv_w, positions_.data(), t, s.kv_heads, s.head_dim, s.rope_theta);
    backend_.kv_cache_write(qkv_.data() + q_w, qkv_.data() + q_w + kv_w, qkv_w, slots_.data(), t, s.kv_heads,
                            s.head_dim, cache.k(l), cache.v(l));
    backend_.attention(qkv_.data(), qkv_w, batch, cache.k(l), cache.v(l), s.heads, s.kv_heads, s.head_dim, scale,
                       attn_.data());                                                      // attn [t][heads head_dim]
    backend_.linear(attn_.data(), t, *L.wo, proj_.data());                                 // proj [t][hidden]
    backend_.add(x_.data(), proj_.data(), tt * size_t(s.hidden));
    backend_.rms_norm(x_.data(), L.mlp_norm.data(), t, s.hidden, s.norm_eps, h_.data());
    backend_.linear(h_.data(), t, *L.w_gate_up, gate_up_.data());                          // gate_up [t][2 ffn]
    backend_.swiglu(gate_up_.data(), t, s.ffn, act_.data());                               // act [t][ffn]
    backend_.linear(act_.data(), t, *L.w_down, proj_.data());                              // proj [t][hidden]
    backend_.add(x_.data(), proj_.data(), tt * size_t(s.hidden));
  }
  const int ns = static_cast<int>(sample_rows.size());
  std::vector<float> logits(sz(ns, s.vocab));
  if (ns == 0) {
    backend_.synchronize();
    return logits;
  }
  last_.reserve(backend_, sz(ns, s.hidden));
  logits_.reserve(backend_, sz(ns, s.vocab));
  backend_.gather_rows(x_.data(), sample_rows_.data(), ns, s.hidden, last_.data());        // last [ns][hidden]
  backend_.rms_norm(last_.data(), final_norm_.data(), ns, s.hidden, s.norm_eps, h_.data());
  backend_.linear(h_.data(), ns, *lm_head_, logits_.data());                               // logits [ns][vocab]
  logits_.download(logits.data(), logits.size());
  backend_.synchronize();
  return logits;
}

}  // namespace aif::kernels
