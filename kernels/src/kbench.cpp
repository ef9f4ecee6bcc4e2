#include "aif/kernels/kbench.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "aif/kernels/rng.hpp"
#include "aif/kernels/sampling.hpp"

namespace aif::kernels {

BenchGrid bench_grid(const std::string& name) {
  BenchGrid g;
  if (name == "full") {
    g.tokens = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096};
    g.decode_batches = {1, 2, 4, 8, 16, 32, 64, 128};
    g.decode_kv_lens = {16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
    g.prefill_chunks = {1, 16, 64, 256, 512, 1024, 2048};
    g.prefill_prefixes = {0, 128, 512, 1024, 2048, 4096};
  } else if (name == "small") {
    // 1..2048 with a point at least every factor of 2: piecewise-linear interpolation stays within a few %.
    g.tokens = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048};
    g.decode_batches = {1, 4, 16, 64};
    g.decode_kv_lens = {16, 128, 512, 2048};
    g.prefill_chunks = {1, 16, 64, 256, 1024, 2048};
    g.prefill_prefixes = {0, 512, 2048};
  } else if (name == "tiny") {
    g.tokens = {1, 3, 8};
    g.decode_batches = {1, 3};
    g.decode_kv_lens = {16, 40};
    g.prefill_chunks = {1, 8};
    g.prefill_prefixes = {0, 20};
  } else {
    throw std::invalid_argument("unknown kbench grid '" + name + "' (tiny, small or full)");
  }
  return g;
}

const std::vector<std::string>& engine_ops() {
  static const std::vector<std::string> ops{"embedding", "rms_norm",   "qkv_proj",  "rope",         "kv_cache_write",
                                            "attn_decode", "attn_prefill", "o_proj", "add",       "gate_up_proj",
                                            "swiglu",    "down_proj",  "lm_head",   "sampling"};
  return ops;
}

namespace {

std::vector<float> random_host(size_t n, uint64_t stream) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(2 * counter_uniform(7, stream, i) - 1);
  return v;
}

template <typename T>
DeviceArray<T> upload(Backend& b, const std::vector<T>& host) {
  DeviceArray<T> d(b, std::max<size_t>(1, host.size()));
  if (!host.empty()) d.upload(host.data(), host.size());
  return d;
}

}  // namespace

void for_each_bench_point(Backend& b, const ModelShape& m, int tp, const BenchGrid& grid, int bs,
                          const std::function<void(const BenchPoint&, const std::function<void()>&)>& visit) {
  if (tp < 1 || m.heads % tp || m.kv_heads % tp || m.ffn % tp || m.vocab % tp)
    throw std::invalid_argument("tp=" + std::to_string(tp) + " does not divide heads/kv_heads/ffn/vocab of " + m.name);
  if (bs < 1) throw std::invalid_argument("block size must be positive");
  const int hq = m.heads / tp, hkv = m.kv_heads / tp, f = m.ffn / tp, hd = m.head_dim;
  const int q_w = hq * hd, kv_w = hkv * hd, qkv_w = q_w + 2 * kv_w, h = m.hidden;
  const int max_tokens = grid.tokens.empty() ? 1 : *std::max_element(grid.tokens.begin(), grid.tokens.end());
  const size_t mt = static_cast<size_t>(max_tokens);

  struct Lin {
    const char* op;
    int n, k;
  };
  const std::vector<Lin> lins{{"qkv_proj", qkv_w, h}, {"o_proj", h, q_w}, {"gate_up_proj", 2 * f, h},
                              {"down_proj", h, f},    {"lm_head", m.vocab / tp, h}};
  const int widest = std::max({h, q_w, f, 2 * f, qkv_w, m.vocab / tp});
  const auto xin = random_host(mt * size_t(widest), 2);
  DeviceArray<float> x = upload(b, xin), y(b, mt * size_t(widest));
  for (const Lin& l : lins) {
    const auto w = random_host(size_t(l.n) * size_t(l.k), 3);
    auto mat = b.make_matrix(w.data(), l.n, l.k);
    for (int t : grid.tokens) {
      BenchPoint p{l.op, tp, t, 0, 0, l.n, l.k, 2.0 * t * l.n * double(l.k),
                   4.0 * (double(t) * l.k + double(l.n) * l.k + double(t) * l.n)};
      visit(p, [&, t] { b.linear(x.data(), t, *mat, y.data()); });
    }
  }

  // Elementwise and memory operators, with the engine's arguments (Model::forward).
  DeviceArray<float> gamma = upload(b, random_host(size_t(h), 4));
  DeviceArray<float> table = upload(b, random_host(size_t(m.vocab) * size_t(h), 5));  // embedding: never sharded
  std::vector<int32_t> iota(mt), toks(mt);
  std::iota(iota.begin(), iota.end(), 0);
  for (size_t i = 0; i < mt; ++i) toks[i] = static_cast<int32_t>(counter_hash(7, 6, i) % uint64_t(m.vocab));
  DeviceArray<int32_t> dpos = upload(b, iota), dslots = upload(b, iota), dtok = upload(b, toks), drows = upload(b, iota);
  DeviceArray<float> kc(b, mt * size_t(kv_w)), vc(b, mt * size_t(kv_w));
  DeviceArray<float> last(b, mt * size_t(h)), normed(b, mt * size_t(h));
  const auto logit_host = random_host(mt * size_t(m.vocab), 8);
  DeviceArray<float> logits = upload(b, logit_host);  // sampling: the full vocabulary (gathered under TP)
  const float theta = m.rope_theta, eps = m.norm_eps;
  for (int t : grid.tokens) {
    const double td = t;
    visit({"rms_norm", tp, t, 0, 0, h, 0, 4.0 * td * h, 8.0 * td * h},
          [&, t] { b.rms_norm(x.data(), gamma.data(), t, h, eps, y.data()); });
    visit({"swiglu", tp, t, 0, 0, f, 0, 6.0 * td * f, 12.0 * td * f}, [&, t] { b.swiglu(x.data(), t, f, y.data()); });
    // Both calls of one layer: q heads, then k heads, in place in the fused qkv rows.
    visit({"rope", tp, t, 0, 0, q_w + kv_w, 0, 6.0 * td * (q_w + kv_w), 8.0 * td * (q_w + kv_w)}, [&, t] {
      b.rope(y.data(), qkv_w, dpos.data(), t, hq, hd, theta);
      b.rope(y.data() + q_w, qkv_w, dpos.data(), t, hkv, hd, theta);
    });
    visit({"kv_cache_write", tp, t, 0, 0, kv_w, 0, 0.0, 16.0 * td * kv_w}, [&, t] {
      b.kv_cache_write(y.data() + q_w, y.data() + q_w + kv_w, qkv_w, dslots.data(), t, hkv, hd, kc.data(), vc.data());
    });
    visit({"add", tp, t, 0, 0, h, 0, td * h, 12.0 * td * h},
          [&, t] { b.add(y.data(), x.data(), size_t(t) * size_t(h)); });
    visit({"embedding", tp, t, 0, 0, h, 0, 0.0, 8.0 * td * h + 4.0 * td},
          [&, t] { b.embedding(dtok.data(), t, table.data(), h, y.data()); });
    // What the engine does per sampled row besides the final norm and the LM head: gather the row's last
    // hidden state, download its logits, greedy choice over the vocabulary on the host (Model::forward, Engine::step).
    visit({"sampling", tp, t, 0, 0, m.vocab, h, td * m.vocab, 8.0 * td * h + 12.0 * td * m.vocab}, [&, t] {
      std::vector<float> host(size_t(t) * size_t(m.vocab));
      b.gather_rows(x.data(), drows.data(), t, h, last.data());
      logits.download(host.data(), host.size());
      b.synchronize();
      volatile int32_t sink = 0;
      for (int r = 0; r < t; ++r)
        sink = sample_seeded(host.data() + size_t(r) * size_t(m.vocab), m.vocab, 0.0, 0, 1, uint64_t(r), 0);
      (void)sink;
    });
  }

  // Attention over a paged cache, one call for the batch as the engine makes it (q rows inside the fused qkv
  // rows, stride qkv_w; scale 1/sqrt(head_dim)).
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  auto attention_point = [&](const char* op, int nseq, int q_len, int ctx) {
    const int blocks_per = (ctx + bs - 1) / bs;
    const int nblocks = nseq * blocks_per;
    DeviceArray<float> k_cache(b, size_t(nblocks) * size_t(bs) * size_t(kv_w)),
        v_cache(b, size_t(nblocks) * size_t(bs) * size_t(kv_w));
    b.fill(k_cache.data(), 0.01f, k_cache.size());
    b.fill(v_cache.data(), 0.02f, v_cache.size());
    std::vector<int32_t> qs(size_t(nseq) + 1), lens(size_t(nseq), ctx), tables(static_cast<size_t>(nblocks));
    for (int s = 0; s <= nseq; ++s) qs[size_t(s)] = s * q_len;
    std::iota(tables.begin(), tables.end(), 0);
    DeviceArray<int32_t> dqs = upload(b, qs), dl = upload(b, lens), dt = upload(b, tables);
    const size_t rows_q = size_t(nseq) * size_t(q_len);
    DeviceArray<float> qkv(b, rows_q * size_t(qkv_w)), o(b, rows_q * size_t(q_w));
    b.fill(qkv.data(), 0.1f, qkv.size());
    AttentionBatch ab;
    ab.num_seqs = nseq;
    ab.q_start = dqs.data();
    ab.context_lens = dl.data();
    ab.block_tables = dt.data();
    ab.max_blocks_per_seq = blocks_per;
    ab.block_size = bs;
    ab.max_q_len = q_len;
    ab.max_context_len = ctx;
    const double prefix = ctx - q_len;
    const double pairs = nseq * (double(q_len) * prefix + double(q_len) * (q_len + 1) / 2);
    BenchPoint p{op, tp, nseq * q_len, nseq, ctx, 0, 0, 4.0 * pairs * q_w,
                 double(nseq) * ctx * kv_w * 8.0 + 8.0 * double(rows_q) * q_w};
    visit(p, [&] { b.attention(qkv.data(), qkv_w, ab, k_cache.data(), v_cache.data(), hq, hkv, hd, scale, o.data()); });
  };
  for (int bt : grid.decode_batches)
    for (int kv : grid.decode_kv_lens) attention_point("attn_decode", bt, 1, kv);
  for (int c : grid.prefill_chunks)
    for (int pre : grid.prefill_prefixes) attention_point("attn_prefill", 1, c, c + pre);
}

}  // namespace aif::kernels
