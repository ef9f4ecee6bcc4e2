#include "aif/kernels/opcheck.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "aif/kernels/reference.hpp"
#include "aif/kernels/rng.hpp"

namespace aif::kernels {

Precision precision_of(const Backend& backend) {
  Precision p;
  if (backend.name() == "cuda") p.storage_u = 0x1.0p-8;  // bf16: 8 significant bits
  return p;
}

namespace {

const float NaN = std::numeric_limits<float>::quiet_NaN();

std::vector<float> random_floats(size_t n, uint64_t seed, uint64_t stream, double scale = 1.0) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(scale * (2.0 * counter_uniform(seed, stream, i) - 1.0));
  return v;
}

template <typename T>
DeviceArray<T> to_device(Backend& b, const std::vector<T>& host) {
  DeviceArray<T> d(b, std::max<size_t>(1, host.size()));
  if (!host.empty()) d.upload(host.data(), host.size());
  return d;
}

// A poisoned output buffer: every element NaN until the operator writes it.
DeviceArray<float> poisoned(Backend& b, size_t n) {
  DeviceArray<float> d(b, n);
  b.fill(d.data(), NaN, n);
  return d;
}

std::vector<float> to_host(Backend& b, const DeviceArray<float>& d, size_t n) {
  b.synchronize();
  std::vector<float> h(n);
  d.download(h.data(), n);
  return h;
}

double exact_error(const std::vector<float>& y, const ref::Vec& r) { return ref::normalized_error(y, r); }

}  // namespace

std::vector<OpCheck> check_operators(Backend& b, uint64_t seed) {
  const Precision p = precision_of(b);
  std::vector<OpCheck> out;
  uint64_t stream = 0;

  // linear: the dot products of length k accumulate k roundings (Higham's gamma_k = k u), and bf16
  // storage rounds each operand once (2 storage_u); normalized over the output vector.
  for (int m : {1, 7, 33}) {
    const int k = 96, n = 80;
    const auto x = random_floats(size_t(m) * k, seed, ++stream), w = random_floats(size_t(n) * k, seed, ++stream);
    auto dx = to_device(b, x);
    auto mat = b.make_matrix(w.data(), n, k);
    auto dy = poisoned(b, size_t(m) * n);
    b.linear(dx.data(), m, *mat, dy.data());
    out.push_back({"linear", "m=" + std::to_string(m) + " n=80 k=96",
                   exact_error(to_host(b, dy, size_t(m) * n), ref::linear(x.data(), m, k, w.data(), n)),
                   2 * p.storage_u + k * p.accumulate_u});
  }

  {  // embedding: a copy, exact.
    const int vocab = 50, hidden = 24, m = 9;
    const auto table = random_floats(size_t(vocab) * hidden, seed, ++stream);
    std::vector<int32_t> tok(static_cast<size_t>(m));
    for (int i = 0; i < m; ++i) tok[size_t(i)] = static_cast<int32_t>(counter_hash(seed, ++stream, 0) % vocab);
    auto dt = to_device(b, table);
    auto dtok = to_device(b, tok);
    auto dy = poisoned(b, size_t(m) * hidden);
    b.embedding(dtok.data(), m, dt.data(), hidden, dy.data());
    out.push_back({"embedding", "m=9 hidden=24",
                   exact_error(to_host(b, dy, size_t(m) * hidden), ref::embedding(tok.data(), m, table.data(), hidden)),
                   0.0});
  }

  {  // rms_norm: a sum of `hidden` squares (hidden u), then a few elementwise roundings.
    const int m = 5, hidden = 72;
    const auto x = random_floats(size_t(m) * hidden, seed, ++stream, 3.0);
    const auto g = random_floats(size_t(hidden), seed, ++stream);
    auto dx = to_device(b, x), dg = to_device(b, g);
    auto dy = poisoned(b, size_t(m) * hidden);
    b.rms_norm(dx.data(), dg.data(), m, hidden, 1e-5f, dy.data());
    out.push_back({"rms_norm", "m=5 hidden=72",
                   exact_error(to_host(b, dy, size_t(m) * hidden), ref::rms_norm(x.data(), g.data(), m, hidden, 1e-5)),
                   (hidden + 8) * p.accumulate_u});
  }

  {  // rope on a strided view (q inside a wider qkv row). Angles up to ~4000 rad: evaluating cos/sin of a
     // float-rounded angle costs |angle| u; each output is a 2-term sum.
    const int m = 6, heads = 3, head_dim = 16, stride = 80;
    auto x = random_floats(size_t(m) * stride, seed, ++stream);
    const std::vector<int32_t> pos{0, 1, 17, 300, 1023, 4000};
    auto dx = to_device(b, x);
    auto dpos = to_device(b, pos);
    const auto r = ref::rope(x.data(), stride, pos.data(), m, heads, head_dim, 10000.0);
    b.rope(dx.data(), stride, dpos.data(), m, heads, head_dim, 10000.0f);
    auto full = to_host(b, dx, size_t(m) * stride);
    std::vector<float> y;
    bool untouched_ok = true;  // columns past heads*head_dim must be left alone
    for (int i = 0; i < m; ++i) {
      y.insert(y.end(), full.begin() + i * stride, full.begin() + i * stride + heads * head_dim);
      for (int j = heads * head_dim; j < stride; ++j)
        untouched_ok &= full[size_t(i * stride + j)] == x[size_t(i * stride + j)];
    }
    out.push_back({"rope", "m=6 heads=3 head_dim=16 stride=80",
                   untouched_ok ? exact_error(y, r) : std::numeric_limits<double>::infinity(), 4096 * 4 * p.accumulate_u});
  }

  {  // swiglu: exp, division, two products: a handful of roundings.
    const int m = 4, ffn = 40;
    const auto gu = random_floats(size_t(m) * 2 * ffn, seed, ++stream, 4.0);
    auto dgu = to_device(b, gu);
    auto dy = poisoned(b, size_t(m) * ffn);
    b.swiglu(dgu.data(), m, ffn, dy.data());
    out.push_back({"swiglu", "m=4 ffn=40", exact_error(to_host(b, dy, size_t(m) * ffn), ref::swiglu(gu.data(), m, ffn)),
                   8 * p.accumulate_u});
  }

  {  // residual add: one rounding.
    const size_t n = 1000;
    const auto x = random_floats(n, seed, ++stream), y = random_floats(n, seed, ++stream);
    auto dx = to_device(b, x), dy = to_device(b, y);
    b.add(dx.data(), dy.data(), n);
    ref::Vec r(n);
    for (size_t i = 0; i < n; ++i) r[i] = double(x[i]) + y[i];
    out.push_back({"add", "n=1000", exact_error(to_host(b, dx, n), r), p.accumulate_u});
  }

  {  // gather_rows: a copy, exact.
    const int rows = 7, width = 12;
    const auto x = random_floats(size_t(rows) * width, seed, ++stream);
    const std::vector<int32_t> pick{6, 0, 3};
    auto dx = to_device(b, x);
    auto dp = to_device(b, pick);
    auto dy = poisoned(b, pick.size() * width);
    b.gather_rows(dx.data(), dp.data(), 3, width, dy.data());
    ref::Vec r;
    for (int32_t row : pick) r.insert(r.end(), x.begin() + row * width, x.begin() + (row + 1) * width);
    out.push_back({"gather_rows", "3 of 7 rows", exact_error(to_host(b, dy, pick.size() * width), r), 0.0});
  }

  // Paged KV write, then paged attention over scattered blocks: decode (q_len 1), a prompt with no prefix,
  // and a chunk after a cached prefix, with GQA (4 heads over 2 KV heads). Bound: q.k sums of head_dim terms
  // and softmax-weighted sums over up to `context` keys (head_dim + context) u, plus the exp rounding.
  {
    const int heads = 4, kv_heads = 2, hd = 16, bs = 4, num_blocks = 24;
    const int kv_w = kv_heads * hd, q_w = heads * hd;
    const std::vector<int> q_len{1, 5, 6}, ctx{37, 5, 22};
    const int nseq = 3, max_blocks = 10;
    // A permutation of the blocks: sequences get non-contiguous, out-of-order blocks.
    std::vector<int32_t> perm(num_blocks);
    std::iota(perm.begin(), perm.end(), 0);
    for (int i = num_blocks - 1; i > 0; --i)
      std::swap(perm[size_t(i)], perm[counter_hash(seed, 999, uint64_t(i)) % uint64_t(i + 1)]);
    std::vector<int32_t> tables(nseq * max_blocks, 0);
    int next = 0;
    for (int s = 0; s < nseq; ++s)
      for (int j = 0; j < (ctx[size_t(s)] + bs - 1) / bs; ++j) tables[size_t(s * max_blocks + j)] = perm[size_t(next++)];
    // K/V of every context token, written through kv_cache_write into a NaN-poisoned cache.
    auto k_cache = poisoned(b, size_t(num_blocks) * bs * kv_w), v_cache = poisoned(b, size_t(num_blocks) * bs * kv_w);
    std::vector<std::vector<float>> k_all, v_all;
    std::vector<float> q;
    std::vector<int32_t> q_start{0}, lens;
    for (int s = 0; s < nseq; ++s) {
      const int c = ctx[size_t(s)];
      // Rows carry K at offset 0 and V at offset kv_w of a 2 kv_w-wide row, as in a fused qkv buffer.
      const auto kv = random_floats(size_t(c) * 2 * kv_w, seed, ++stream, 2.0);
      std::vector<int32_t> slots(static_cast<size_t>(c));
      for (int j = 0; j < c; ++j) slots[size_t(j)] = tables[size_t(s * max_blocks + j / bs)] * bs + j % bs;
      auto dkv = to_device(b, kv);
      auto dslots = to_device(b, slots);
      b.kv_cache_write(dkv.data(), dkv.data() + kv_w, 2 * kv_w, dslots.data(), c, kv_heads, hd, k_cache.data(),
                       v_cache.data());
      std::vector<float> k(size_t(c) * kv_w), v(size_t(c) * kv_w);
      for (int j = 0; j < c; ++j)
        for (int d = 0; d < kv_w; ++d) {
          k[size_t(j * kv_w + d)] = kv[size_t(j * 2 * kv_w + d)];
          v[size_t(j * kv_w + d)] = kv[size_t(j * 2 * kv_w + kv_w + d)];
        }
      k_all.push_back(k);
      v_all.push_back(v);
      const auto qs = random_floats(size_t(q_len[size_t(s)]) * q_w, seed, ++stream, 2.0);
      q.insert(q.end(), qs.begin(), qs.end());
      q_start.push_back(q_start.back() + q_len[size_t(s)]);
      lens.push_back(c);
    }
    {  // The cache holds exactly what was written, in the slots the block tables name.
      const auto kc = to_host(b, k_cache, size_t(num_blocks) * bs * kv_w);
      ref::Vec expect;
      std::vector<float> got;
      for (int s = 0; s < nseq; ++s)
        for (int j = 0; j < ctx[size_t(s)]; ++j) {
          const size_t slot = size_t(tables[size_t(s * max_blocks + j / bs)] * bs + j % bs);
          got.insert(got.end(), kc.begin() + long(slot) * kv_w, kc.begin() + long(slot + 1) * kv_w);
          expect.insert(expect.end(), k_all[size_t(s)].begin() + j * kv_w, k_all[size_t(s)].begin() + (j + 1) * kv_w);
        }
      out.push_back({"kv_cache_write", "3 seqs, block_size 4, scattered blocks", exact_error(got, expect), 0.0});
    }
    auto dq = to_device(b, q);
    auto dqs = to_device(b, q_start), dl = to_device(b, lens), dt = to_device(b, tables);
    AttentionBatch batch;
    batch.num_seqs = nseq;
    batch.q_start = dqs.data();
    batch.context_lens = dl.data();
    batch.block_tables = dt.data();
    batch.max_blocks_per_seq = max_blocks;
    batch.block_size = bs;
    batch.max_q_len = 6;
    batch.max_context_len = 37;
    const int rows = q_start.back();
    auto dy = poisoned(b, size_t(rows) * q_w);
    const float scale = 1.0f / std::sqrt(float(hd));
    b.attention(dq.data(), q_w, batch, k_cache.data(), v_cache.data(), heads, kv_heads, hd, scale, dy.data());
    ref::Vec r;
    for (int s = 0; s < nseq; ++s) {
      const auto rs = ref::attention(q.data() + size_t(q_start[size_t(s)]) * q_w, q_len[size_t(s)], k_all[size_t(s)].data(),
                                     v_all[size_t(s)].data(), ctx[size_t(s)], heads, kv_heads, hd, double(scale));
      r.insert(r.end(), rs.begin(), rs.end());
    }
    out.push_back({"attention", "decode 1x37, prefill 5x5, chunk 6x22 (prefix 16); GQA 4/2",
                   exact_error(to_host(b, dy, size_t(rows) * q_w), r), (hd + 37 + 8) * p.accumulate_u});
  }
  return out;
}

}  // namespace aif::kernels
