#include "aif/models/kernel_tables.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

namespace aif::models {

namespace {

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

double lerp_log(double x0, double y0, double x1, double y1, double x) {
  if (x1 == x0) return y0;
  const double f = (std::log(x) - std::log(x0)) / (std::log(x1) - std::log(x0));
  return std::exp(std::log(y0) + f * (std::log(y1) - std::log(y0)));
}

// The nearest measured values below and above v (equal when v is measured); false when v is outside them.
template <class It>
bool bracket(It first, It last, double v, double& lo, double& hi) {
  bool have_lo = false, have_hi = false;
  for (It it = first; it != last; ++it) {
    const double x = *it;
    if (x <= v && (!have_lo || x > lo)) lo = x, have_lo = true;
    if (x >= v && (!have_hi || x < hi)) hi = x, have_hi = true;
  }
  return have_lo && have_hi;
}

std::string heads_text(const KernelTables::HeadsKey& h) {
  return std::to_string(h.heads) + " query / " + std::to_string(h.kv_heads) + " KV heads per GPU, head_dim " +
         std::to_string(h.head_dim) + ", KV cache " + h.kv_dtype;
}

// The measured (n, k) corners around a GEMM shape: below the smallest measured value the smallest (never cheaper);
// above the largest, its two largest carry the log-log slope up to MAX_EXTRAPOLATION (a Llama 3 LM head at tp 1 has
// n = 128,256, the tables stop at 65,536).
struct GemmCorners {
  double n0, n1, k0, k1;
  const KernelTables::Curve *c00, *c01, *c10, *c11;
};

GemmCorners gemm_corners(const KernelTables& t, const std::string& dtype, int n, int k) {
  const std::string what = t.source + ": gemm " + dtype;
  const auto d = t.gemm.find(dtype);
  if (d == t.gemm.end()) throw TableRangeError(what + ": no rows of this dtype");
  std::vector<double> ns, ks;
  for (const auto& kv : d->second) ns.push_back(kv.first.first), ks.push_back(kv.first.second);
  auto around = [&](std::vector<double> v, double x, double& lo, double& hi, const char* axis) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    if (x < v.front()) return lo = hi = v.front(), true;
    if (x > v.back()) {
      if (x > MAX_EXTRAPOLATION * v.back() || v.size() < 2)
        throw TableRangeError(what + ": " + axis + " measured up to " + num(v.back()) + ", asked for " + num(x) +
                              " (more than " + num(MAX_EXTRAPOLATION) + "x beyond the table)");
      return lo = v[v.size() - 2], hi = v.back(), true;
    }
    return bracket(v.begin(), v.end(), x, lo, hi);
  };
  GemmCorners g{};
  const bool inside = around(ns, n, g.n0, g.n1, "n") && around(ks, k, g.k0, g.k1, "k");
  auto corner = [&](double nn, double kk) -> const KernelTables::Curve* {
    if (!inside) return nullptr;
    const auto it = d->second.find({static_cast<int>(nn), static_cast<int>(kk)});
    return it == d->second.end() ? nullptr : &it->second;
  };
  g.c00 = corner(g.n0, g.k0), g.c01 = corner(g.n0, g.k1), g.c10 = corner(g.n1, g.k0), g.c11 = corner(g.n1, g.k1);
  if (!g.c00 || !g.c01 || !g.c10 || !g.c11)
    throw TableRangeError(what + ": no measured shapes around n=" + std::to_string(n) + ", k=" + std::to_string(k) +
                          " (the profile keeps the neighbourhood of the catalog models' shapes; regenerate it with "
                          "aifsim calibrate --from aiconfigurator for a new model)");
  return g;
}

double gemm_at(const GemmCorners& g, double m, int n, int k, const std::string& what) {
  const double y00 = curve_seconds(*g.c00, m, what), y01 = curve_seconds(*g.c01, m, what);
  const double y10 = curve_seconds(*g.c10, m, what), y11 = curve_seconds(*g.c11, m, what);
  const double lo = lerp_log(g.k0, y00, g.k1, y01, k), hi = lerp_log(g.k0, y10, g.k1, y11, k);
  return lerp_log(g.n0, lo, g.n1, hi, n);
}

std::string gemm_what(const KernelTables& t, const std::string& dtype, int n, int k) {
  return t.source + ": gemm " + dtype + " n=" + std::to_string(n) + " k=" + std::to_string(k) + " m";
}

}  // namespace

// ---------------------------------------------------------------------------------------------------- lookups

CurveLookup::CurveLookup(const KernelTables::Curve& c, std::string what, double max_factor, bool proportional_tail)
    : x_(c.x), y_(c.seconds), what_(std::move(what)), max_factor_(max_factor), proportional_(proportional_tail) {
  if (x_.empty()) throw TableRangeError(what_ + ": no measured points");
  for (size_t i = 0; i < x_.size(); ++i) lx_.push_back(std::log(x_[i])), ly_.push_back(std::log(y_[i]));
}

double CurveLookup::at(double x) const {
  const size_t n = x_.size();
  if (x <= x_.front()) return y_.front();
  if (x > x_.back()) {
    if (n == 1 && !proportional_)
      throw TableRangeError(what_ + ": one measured point at " + num(x_.front()) + ", asked for " + num(x));
    if (x > max_factor_ * x_.back())
      throw TableRangeError(what_ + ": measured up to " + num(x_.back()) + ", asked for " + num(x) + " (more than " +
                            num(max_factor_) + "x beyond the table)");
    if (proportional_) return y_.back() * x / x_.back();
    // Continue the last segment's log-log slope, never downwards.
    const double f = (std::log(x) - lx_[n - 2]) / (lx_[n - 1] - lx_[n - 2]);
    return std::max(y_.back(), std::exp(ly_[n - 2] + f * (ly_[n - 1] - ly_[n - 2])));
  }
  const size_t i = static_cast<size_t>(std::upper_bound(x_.begin(), x_.end(), x) - x_.begin());
  if (i >= n) return y_.back();  // x equals the last point
  const double f = (std::log(x) - lx_[i - 1]) / (lx_[i] - lx_[i - 1]);
  return std::exp(ly_[i - 1] + f * (ly_[i] - ly_[i - 1]));
}

double CurveLookup::log_inside(double x, double log_x) const {
  if (x <= x_.front()) return ly_.front();
  const size_t i = static_cast<size_t>(std::upper_bound(x_.begin(), x_.end(), x) - x_.begin());
  if (i >= x_.size()) return ly_.back();
  const double f = (log_x - lx_[i - 1]) / (lx_[i] - lx_[i - 1]);
  return ly_[i - 1] + f * (ly_[i] - ly_[i - 1]);
}

AttentionLookup::AttentionLookup(const std::map<KernelTables::HeadsKey, KernelTables::Grid>& grids,
                                 const KernelTables::HeadsKey& heads, bool prefill, const std::string& table)
    : prefill_(prefill) {
  const auto [key, factor] = attention_stand_in(grids, heads, table);
  factor_ = factor;
  what_ = table + " (" + heads_text(key) + ")";
  for (const auto& [b, row] : grids.at(key)) {
    batches_.push_back(b);
    log_batches_.push_back(std::log(static_cast<double>(b)));
    rows_.emplace_back(row, what_ + " batch " + std::to_string(b));
  }
}

// Inside the measured points (both neighbouring batch rows reach x): log-log interpolation. Outside (the tables are
// triangular: large batches are measured at short lengths only; or longer than any row): the measured point of the
// largest work at no larger batch, scaled in proportion to the work, at most MAX_ATTENTION_EXTRAPOLATION times its
// work. At these sizes the kernels stream keys (decode) or run at their FLOP plateau (prefill): time follows the work.
double AttentionLookup::at(double batch_in, double x) const {
  const double batch = batch_in * factor_;
  const size_t n = batches_.size();
  if (batch <= batches_.back()) {
    size_t i1 = static_cast<size_t>(std::lower_bound(batches_.begin(), batches_.end(), batch) - batches_.begin());
    const size_t i0 = i1 == 0 || batches_[i1] == batch ? i1 : i1 - 1;
    if (x <= rows_[i0].last_x() && x <= rows_[i1].last_x()) {
      const double lx = std::log(std::max(x, 1e-300));
      const double y0 = rows_[i0].log_inside(x, lx);
      if (i0 == i1) return std::exp(y0);
      const double f = (std::log(batch) - log_batches_[i0]) / (log_batches_[i1] - log_batches_[i0]);
      return std::exp(y0 + f * (rows_[i1].log_inside(x, lx) - y0));
    }
  }
  // Beyond the grid (a larger batch, or longer than the rows around the batch were measured): continued in
  // proportion to the work from the largest call the query covers, a measured row's batch at no more than the
  // query's and its length capped at the query's. Covered calls only grow with the query, so the continuation never
  // jumps down, and an outlying corner of the grid (the longest call of a small batch) does not set the time of
  // every larger query, as continuing from the largest call overall did.
  size_t best = 0;
  double best_x = std::min(x, rows_[0].last_x()), best_work = 0;
  for (size_t i = 0; i < n && (i == 0 || batches_[i] <= batch); ++i) {
    const double xi = std::min(x, rows_[i].last_x()), w = work(batches_[i], xi);
    if (w > best_work) best = i, best_x = xi, best_work = w;
  }
  const double ratio = work(batch, x) / best_work;
  if (ratio > MAX_ATTENTION_EXTRAPOLATION)
    throw TableRangeError(what_ + ": batch " + num(batch) + " x " + num(x) + " is " + num(ratio) +
                          "x the work of the largest measured call it covers (batch " + num(batches_[best]) + " x " +
                          num(best_x) + "); at most " + num(MAX_ATTENTION_EXTRAPOLATION) + "x");
  return rows_[best].at(best_x) * ratio;
}

// ---------------------------------------------------------------------------------------------------- free lookups

double curve_seconds(const KernelTables::Curve& c, double x, const std::string& what, double max_factor) {
  return CurveLookup(c, what, max_factor).at(x);
}

double gemm_seconds(const KernelTables& t, const std::string& dtype, double m, int n, int k) {
  return gemm_at(gemm_corners(t, dtype, n, k), m, n, k, gemm_what(t, dtype, n, k));
}

std::pair<KernelTables::HeadsKey, double> attention_stand_in(
    const std::map<KernelTables::HeadsKey, KernelTables::Grid>& g, const KernelTables::HeadsKey& h,
    const std::string& table) {
  if (g.count(h)) return {h, 1.0};
  const KernelTables::HeadsKey* best = nullptr;
  for (const auto& kv : g) {
    const KernelTables::HeadsKey& c = kv.first;
    if (c.kv_dtype != h.kv_dtype || c.head_dim != h.head_dim) continue;
    if (static_cast<long>(c.heads) * h.kv_heads != static_cast<long>(h.heads) * c.kv_heads) continue;  // group size
    const double d = std::abs(std::log(static_cast<double>(c.kv_heads) / h.kv_heads));
    if (!best || d < std::abs(std::log(static_cast<double>(best->kv_heads) / h.kv_heads))) best = &c;
  }
  if (!best)
    throw std::invalid_argument(table + ": no attention measured for " + heads_text(h) +
                                " nor for any configuration with the same query heads per KV head");
  return {*best, static_cast<double>(h.kv_heads) / best->kv_heads};
}

double prefill_attention_seconds(const KernelTables& t, const KernelTables::HeadsKey& h, double batch,
                                 double tokens) {
  return AttentionLookup(t.prefill, h, true, t.source + ": attn_prefill").at(batch, tokens);
}

double decode_attention_seconds(const KernelTables& t, const KernelTables::HeadsKey& h, double batch, double keys) {
  return AttentionLookup(t.decode, h, false, t.source + ": attn_decode").at(batch, keys);
}

ShardShapes shard_shapes(const ModelArch& m, int tp) {
  ShardShapes s;
  const int heads = m.heads / tp, kv = std::max(1, m.kv_heads / tp), hd = m.head_dim;
  s.gemm[0] = {(heads + 2 * kv) * hd, m.hidden};  // QKV
  s.gemm[1] = {m.hidden, heads * hd};             // O
  s.gemm[2] = {2 * m.ffn / tp, m.hidden};         // gate + up
  s.gemm[3] = {m.hidden, m.ffn / tp};             // down
  s.gemm[4] = {m.vocab / tp, m.hidden};           // LM head (vocabulary-parallel)
  s.heads = {"", heads, kv, hd};
  s.rope_width = (heads + kv) * hd;
  s.activation_width = m.ffn / tp;
  return s;
}

// ---------------------------------------------------------------------------------------------------- operators

KernelTableOperators::KernelTableOperators(std::shared_ptr<const KernelTables> tables, const DeviceSpec& device,
                                           const ModelArch& model, int tp, KernelTableOptions options)
    : t_(std::move(tables)), model_(model), tp_(tp), o_(std::move(options)) {
  if (!t_) throw std::invalid_argument("no kernel tables");
  if (tp < 1) throw std::invalid_argument("tp must be at least 1");
  if (model.heads % tp != 0)
    throw std::invalid_argument(model.name + ": " + std::to_string(model.heads) + " heads do not split over tp " +
                                std::to_string(tp));
  shapes_ = shard_shapes(model, tp);
  shapes_.heads.kv_dtype = o_.kv_dtype;
  // fp16 runs at the bf16 times where only bf16 was measured: the same tensor-core rate on A100, H100 and H200.
  gemm_dtype_ = o_.dtype == "fp16" && !t_->gemm.count("fp16") ? "bf16" : o_.dtype;
  if (!t_->gemm.count(gemm_dtype_))
    throw std::invalid_argument(t_->source + ": no " + o_.dtype + " GEMMs measured on " + t_->device);
  const auto peak = device.peak_flops.find(o_.dtype);
  peak_flops_ = peak == device.peak_flops.end() ? 0 : peak->second;
  hbm_bandwidth_ = device.hbm_bandwidth;
  weight_bytes_ = dtype_bytes(o_.dtype);
  kv_bytes_ = dtype_bytes(o_.kv_dtype);

  // GEMMs: one curve over m at the model's (n, k), interpolated from the measured corners at each measured m.
  for (int op = 0; op < 5; ++op) {
    auto [n, k] = shapes_.gemm[op];
    // A vocabulary beyond what the tables allow (Qwen3's 151,936 at tp 1; they stop at 65,536): the LM head runs as
    // equal column blocks of a measured width, one after another.
    int parts = 1;
    if (op == static_cast<int>(LinearOp::LM_HEAD)) {
      int widest = 0;
      for (const auto& kv : t_->gemm.at(gemm_dtype_)) widest = std::max(widest, kv.first.first);
      if (widest > 0 && n > MAX_EXTRAPOLATION * widest) {
        parts = (n + widest - 1) / widest;
        n = (n + parts - 1) / parts;
      }
    }
    const GemmCorners g = gemm_corners(*t_, gemm_dtype_, n, k);
    const std::string what = gemm_what(*t_, gemm_dtype_, n, k);
    std::set<double> ms;
    for (const KernelTables::Curve* c : {g.c00, g.c01, g.c10, g.c11}) ms.insert(c->x.begin(), c->x.end());
    KernelTables::Curve curve;
    for (double m : ms) curve.x.push_back(m), curve.seconds.push_back(parts * gemm_at(g, m, n, k, what));
    linear_[op] = CurveLookup(curve, what);
  }
  prefill_ = AttentionLookup(t_->prefill, shapes_.heads, true, t_->source + ": attn_prefill");
  decode_ = AttentionLookup(t_->decode, shapes_.heads, false, t_->source + ": attn_decode");
  // Elementwise operators stream their rows: beyond the profile in proportion to the elements, up to
  // MAX_ELEMENTWISE_EXTRAPOLATION. An operator the profile lacks is refused when first asked for (TableRangeError).
  const std::pair<ElementwiseOp, double> widths[] = {{ElementwiseOp::RMS_NORM, model.hidden},
                                                     {ElementwiseOp::ADD, model.hidden},
                                                     {ElementwiseOp::EMBEDDING, model.hidden},
                                                     {ElementwiseOp::ROPE, shapes_.rope_width},
                                                     {ElementwiseOp::ACTIVATION, shapes_.activation_width}};
  for (const auto& [op, width] : widths) {
    const auto it = t_->elementwise.find(elementwise_op_name(op));
    if (it != t_->elementwise.end())
      elementwise_[op] = {CurveLookup(it->second, t_->source + ": " + elementwise_op_name(op) + " elements",
                                      MAX_ELEMENTWISE_EXTRAPOLATION, true),
                          width};
  }
  auto collective = [&](const std::string& variant) {
    const auto it = t_->allreduce.find({variant, tp});
    return it == t_->allreduce.end()
               ? CurveLookup()
               : CurveLookup(it->second, t_->source + ": allreduce " + variant + " " + std::to_string(tp) +
                                             " GPUs bytes");
  };
  if (tp > 1) {
    allreduce_graph_ = collective("graph");
    allreduce_eager_ = collective("eager");
    allreduce_nccl_ = collective("nccl");
    if (allreduce_nccl_.empty() && allreduce_graph_.empty())
      throw std::invalid_argument(t_->source + ": no all-reduce of " + std::to_string(tp) + " GPUs measured");
  }
  const std::string variant = o_.stages_across_servers ? "inter" : "intra";
  if (const auto it = t_->p2p.find(variant); it != t_->p2p.end())
    p2p_ = CurveLookup(it->second, t_->source + ": p2p " + variant + " bytes");
  if (o_.dp < 1) throw std::invalid_argument("dp must be at least 1");
  if (model.is_moe()) {
    const int gpus = tp * o_.dp;
    moe_key_ = {gemm_dtype_, model.hidden, model.ffn, model.experts, model.experts_per_token,
                o_.expert_parallel ? 1 : gpus, o_.expert_parallel ? gpus : 1};
    if (o_.expert_parallel && model.experts % gpus != 0)
      throw std::invalid_argument(model.name + ": its " + std::to_string(model.experts) +
                                  " experts do not split over expert parallelism of " + std::to_string(gpus) + " GPUs");
    const auto it = t_->moe.find(moe_key_);
    if (it == t_->moe.end()) {
      std::string measured;
      for (const auto& [k, c] : t_->moe)
        if (k.dtype == moe_key_.dtype && k.hidden == model.hidden && k.ffn == model.ffn &&
            k.experts == model.experts && k.top_k == model.experts_per_token)
          measured += (measured.empty() ? "" : ", ") +
                      (k.ep > 1 ? "ep " + std::to_string(k.ep) : "tp " + std::to_string(k.tp));
      throw std::invalid_argument(
          t_->source + ": no fused MoE of " + model.name + " in " + gemm_dtype_ + " measured with " +
          (o_.expert_parallel ? "its experts over " : "each expert split over ") + std::to_string(gpus) + " GPUs on " +
          t_->device +
          (measured.empty() ? " (none of its shapes was measured)" : " (measured: " + measured + ")"));
    }
    moe_ = CurveLookup(it->second, t_->source + ": moe " + model.name + " " + gemm_dtype_ +
                                       (o_.expert_parallel ? " ep " : " tp ") + std::to_string(gpus) + " tokens");
    if (o_.dp > 1) {
      ep_local_ = std::min(gpus, std::max(1, o_.gpus_per_server));
      if (ep_local_ > 1) {
        const auto a = t_->alltoall.find(ep_local_);
        if (a == t_->alltoall.end())
          throw std::invalid_argument(t_->source + ": no all-to-all of " + std::to_string(ep_local_) +
                                      " GPUs measured on " + t_->device);
        alltoall_ = CurveLookup(a->second, t_->source + ": alltoall " + std::to_string(ep_local_) + " GPUs bytes");
      }
    }
  }
}

double KernelTableOperators::share(double flops, double bytes) const {
  if (!(peak_flops_ > 0) || !(hbm_bandwidth_ > 0)) return 0;
  const double fc = flops / peak_flops_, fm = bytes / hbm_bandwidth_;
  return fc + fm > 0 ? fc / (fc + fm) : 0;
}

OpTime KernelTableOperators::linear(LinearOp op, double rows) const {
  if (rows <= 0) return {};
  const auto [n, k] = shapes_.gemm[static_cast<int>(op)];
  const double s = linear_[static_cast<int>(op)].at(rows);
  const double flops = 2.0 * rows * n * k;
  const double bytes = (rows * k + static_cast<double>(n) * k) * weight_bytes_ + rows * n * 2.0;
  return {s, share(flops, bytes)};
}

OpTime KernelTableOperators::elementwise(ElementwiseOp op, double tokens) const {
  if (tokens <= 0) return {};
  const auto it = elementwise_.find(op);
  if (it == elementwise_.end())
    throw TableRangeError(t_->source + ": no elementwise '" + elementwise_op_name(op) +
                          "' rows (the GPU tables time rms_norm, rope, activation, add and embedding; vLLM writes the "
                          "KV cache inside attention and samples on the engine's side)");
  return {it->second.first.at(tokens * it->second.second), 0};
}

OpTime KernelTableOperators::decode_attention(double seqs, double keys) const {
  if (seqs <= 0) return {};
  const double s = decode_.at(seqs, keys);
  const auto& h = shapes_.heads;
  const double flops = 4.0 * h.heads * h.head_dim * keys * seqs;
  const double bytes = seqs * keys * h.kv_heads * h.head_dim * 2.0 * kv_bytes_;
  return {s, share(flops, bytes)};
}

OpTime KernelTableOperators::prefill_attention(double seqs, double chunk, double prefix) const {
  if (seqs <= 0 || chunk <= 0) return {};
  // The tables time whole prompts (no cached prefix): a chunk after a prefix counts as the prompt length with the
  // same causal (query, key) pairs, n * prefix + n (n + 1) / 2 = L (L + 1) / 2.
  const double pairs = chunk * prefix + chunk * (chunk + 1) / 2;
  const double length = (std::sqrt(1 + 8 * pairs) - 1) / 2;
  const double s = prefill_.at(seqs, length);
  const auto& h = shapes_.heads;
  const double flops = 4.0 * h.heads * h.head_dim * pairs * seqs;
  const double bytes = seqs * (chunk + prefix) * h.kv_heads * h.head_dim * 2.0 * kv_bytes_;
  return {s, share(flops, bytes)};
}

OpTime KernelTableOperators::allreduce(double bytes, bool in_graph) const {
  if (tp_ < 2 || bytes <= 0) return {};
  const CurveLookup* c = &allreduce_nccl_;
  if (bytes <= o_.custom_allreduce_max_bytes) {
    const CurveLookup& custom = in_graph ? allreduce_graph_ : allreduce_eager_;
    if (!custom.empty()) c = &custom;
  }
  if (c->empty()) c = &allreduce_graph_;
  return {c->at(bytes), 0};
}

OpTime KernelTableOperators::pipeline_send(double bytes) const {
  if (bytes <= 0) return {};
  if (p2p_.empty())
    throw TableRangeError(t_->source + ": no " + std::string(o_.stages_across_servers ? "inter" : "intra") +
                          "-node send/recv measured for pipeline stages");
  double s = p2p_.at(bytes);
  // Across servers the fabric's NIC bounds the transfer: the measured latency plus the bytes at its bandwidth.
  if (o_.stages_across_servers && o_.nic_bandwidth > 0) s = std::max(s, p2p_.first_seconds() + bytes / o_.nic_bandwidth);
  return {s, 0};
}

OpTime KernelTableOperators::moe(double tokens) const {
  if (moe_.empty()) return StepOperators::moe(tokens);
  if (tokens <= 0) return {};
  const KernelTables::MoeKey& k = moe_key_;
  // Per GPU: its experts' share of the routed rows (balanced), gate+up and down over its share of each expert.
  const double gpus = static_cast<double>(k.tp) * k.ep;
  const double flops = 2.0 * tokens * k.top_k * 3.0 * k.hidden * k.ffn / gpus;
  const double local_experts = static_cast<double>(k.experts) / k.ep;
  const double touched = local_experts * (1 - std::pow(1 - static_cast<double>(k.top_k) / k.experts, tokens));
  const double bytes = touched * 3.0 * k.hidden * k.ffn / k.tp * weight_bytes_ + 2.0 * tokens * k.hidden * 2.0;
  return {moe_.at(tokens), share(flops, bytes)};
}

OpTime KernelTableOperators::expert_alltoall(double bytes) const {
  if (o_.dp <= 1 || !model_.is_moe()) return StepOperators::expert_alltoall(bytes);
  if (bytes <= 0) return {};
  const double ep = static_cast<double>(tp_) * o_.dp, local = ep_local_;
  // The share of a GPU's bytes bound for the other GPUs of its server goes over NVLink (the measured all-to-all of
  // those GPUs, at its bytes per GPU); the rest crosses the server's NICs at the fabric's bandwidth. Both at once.
  const double intra = bytes * (local - 1) / (ep - 1), inter = bytes - intra;
  double s = local > 1 ? alltoall_.at(intra) : 0;
  if (inter > 0 && !o_.alltoall_across_servers_by_flows) {
    const double latency = alltoall_.empty() ? 0 : alltoall_.first_seconds();
    if (!(o_.nic_bandwidth > 0))
      throw std::invalid_argument("an all-to-all across servers needs the fabric's NIC bandwidth");
    s = std::max(s, latency + inter / o_.nic_bandwidth);
  }
  return {s, 0};
}

void KernelTableOperators::check_coverage(const StepLimits& l) const {
  const double tokens = std::max(1, l.max_tokens), seqs = std::max(1, l.max_seqs);
  for (LinearOp op : {LinearOp::QKV, LinearOp::O}) linear(op, tokens);
  if (model_.is_moe()) moe(tokens);  // every rank's tokens reach the MoE layers
  else
    for (LinearOp op : {LinearOp::GATE_UP, LinearOp::DOWN}) linear(op, tokens);
  linear(LinearOp::LM_HEAD, seqs);
  for (const auto& [op, lookup] : elementwise_) elementwise(op, tokens);
  // Decode: any batch up to max_seqs whose keys fit the context limit and, in total, the KV cache.
  const double context = std::max(1, l.max_context);
  const double cache = l.max_kv_tokens > 0 ? static_cast<double>(l.max_kv_tokens) : seqs * context;
  for (double b = 1; b <= seqs; b = std::min(seqs, b * 2)) {
    decode_attention(b, std::min(context, std::max(1.0, cache / b)));
    if (b == seqs) break;
  }
  // Prefill: one chunk of the whole budget after the longest prefix, and the budget spread over many sequences.
  const double chunk = std::min(tokens, context);
  prefill_attention(1, chunk, std::max(0.0, context - chunk));
  prefill_attention(std::min(seqs, tokens), std::max(1.0, tokens / std::min(seqs, tokens)), 0);
  if (tp_ > 1) allreduce(tokens * model_.hidden * 2, false);
}

std::string KernelTableOperators::describe() const {
  std::string d = t_->device + " kernel tables (" + t_->source;
  const auto src = t_->header.find("kernels");
  if (src != t_->header.end()) d += "; " + src->second;
  return d + "; " + o_.dtype + ")";
}

}  // namespace aif::models
