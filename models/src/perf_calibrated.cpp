// The reference engine on this machine's CPU: operator times from a kbench table, composed by ComposedPerfModel.
#include <filesystem>
#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <stdexcept>

#include "aif/models/perf.hpp"

namespace aif::models {

namespace {

constexpr const char* TOKEN_OPS[] = {"rms_norm", "qkv_proj", "rope",   "kv_cache_write", "o_proj", "add",
                                     "gate_up_proj", "swiglu", "down_proj", "embedding", "lm_head", "sampling"};

// How compute-bound a measured call was: achieved FLOP/s over achieved bytes/s, each against its peak.
double compute_share(const CalibrationRow& r, const CalibrationTable& t) {
  if (!(t.peak_flop_per_s > 0) || !(t.peak_bytes_per_s > 0) || !(r.median_s > 0)) return 0;
  const double fc = r.flop / r.median_s / t.peak_flop_per_s, fm = r.bytes / r.median_s / t.peak_bytes_per_s;
  return fc + fm > 0 ? fc / (fc + fm) : 0;
}

// Index of the segment [v[i], v[i+1]] used for x (clamped to the first / last segment).
size_t segment(const std::vector<double>& v, double x) {
  if (v.size() < 2) return 0;
  const size_t i = static_cast<size_t>(std::upper_bound(v.begin(), v.end(), x) - v.begin());
  return std::min(std::max<size_t>(i, 1), v.size() - 1) - 1;
}

// The kbench table's operator curves for one model at one tensor-parallel degree.
class KbenchOperators final : public StepOperators {
 public:
  KbenchOperators(const CalibrationTable& table, const ModelArch& model, int tp, const CalibratedOptions& options)
      : source_(table.source), model_(model), tp_(tp), options_(options) {
    const auto m = table.header.find("model");
    if (m != table.header.end() && m->second != model.name)
      throw std::invalid_argument(table.source + ": measured for model " + m->second + ", not " + model.name);
    std::map<std::string, std::map<double, Point>> by_op;
    std::map<std::pair<double, double>, Point> decode, prefill;
    std::set<double> da, db, pa, pb;
    for (const CalibrationRow& r : table.rows) {
      if (r.tp != tp) continue;
      const double share = compute_share(r, table);
      if (r.op == "attn_decode") {
        decode[{static_cast<double>(r.batch), static_cast<double>(r.kv_len)}] = {0, r.median_s, share};
        da.insert(r.batch);
        db.insert(r.kv_len);
      } else if (r.op == "attn_prefill") {
        // Indexed by (chunk, prefix): kbench's grid is a rectangle there (kv_len = prefix + chunk).
        prefill[{static_cast<double>(r.tokens), static_cast<double>(r.kv_len - r.tokens)}] = {0, r.median_s, share};
        pa.insert(r.tokens);
        pb.insert(r.kv_len - r.tokens);
      } else {
        by_op[r.op][r.tokens] = {static_cast<double>(r.tokens), r.median_s, share};
      }
    }
    for (const char* op : TOKEN_OPS) {
      auto it = by_op.find(op);
      if (it == by_op.end() || it->second.empty())
        throw std::invalid_argument(table.source + ": no '" + op + "' rows for tp " + std::to_string(tp));
      Curve c;
      for (const auto& kv : it->second) c.points.push_back(kv.second);
      curves_[op] = c;
    }
    // Attention grids must be full rectangles for bilinear interpolation: kbench's grids are.
    auto fill = [&](Grid& g, const std::set<double>& a, const std::set<double>& b,
                    const std::map<std::pair<double, double>, Point>& pts, const char* op) {
      g.a.assign(a.begin(), a.end());
      g.b.assign(b.begin(), b.end());
      if (g.a.empty()) throw std::invalid_argument(table.source + ": no '" + std::string(op) + "' rows");
      for (double x : g.a)
        for (double y : g.b) {
          auto it = pts.find({x, y});
          if (it == pts.end())
            throw std::invalid_argument(table.source + ": '" + op + "' grid is not a full rectangle (missing " +
                                        std::to_string(x) + ", " + std::to_string(y) + ")");
          g.seconds.push_back(it->second.seconds);
          g.compute_share.push_back(it->second.compute_share);
        }
    };
    fill(decode_, da, db, decode, "attn_decode");
    fill(prefill_, pa, pb, prefill, "attn_prefill");
  }

  OpTime op(const std::string& name, double tokens) const {
    if (tokens <= 0) return {};
    return curve_at(curves_.at(name), tokens);
  }

  OpTime linear(LinearOp op_, double rows) const override { return op(linear_op_name(op_), rows); }

  OpTime elementwise(ElementwiseOp e, double tokens) const override {
    return op(e == ElementwiseOp::ACTIVATION ? "swiglu" : elementwise_op_name(e), tokens);
  }

  OpTime decode_attention(double seqs, double keys) const override { return grid_at(decode_, seqs, keys); }

  OpTime prefill_attention(double seqs, double chunk, double prefix) const override {
    // The reference engine runs prefill attention one sequence at a time.
    const OpTime one = grid_at(prefill_, chunk, prefix);
    return {seqs * one.seconds, one.compute_share};
  }

  // A ring all-reduce over the NVLink-like link of the options (kbench measures no collective).
  OpTime allreduce(double bytes, bool) const override {
    const double tp = tp_;
    return {2.0 * (tp - 1) / tp * bytes / options_.allreduce_bandwidth + options_.allreduce_latency_s, 0};
  }

  OpTime pipeline_send(double bytes) const override {
    return {bytes / options_.allreduce_bandwidth + options_.allreduce_latency_s, 0};
  }

  void check_coverage(const StepLimits& l) const override {
    auto check = [&](const std::string& what, double asked, double measured) {
      if (asked > 2 * measured) {
        std::ostringstream m;
        m << source_ << ": " << what << " measured up to " << measured << ", the service may ask for " << asked
          << " (more than 2x beyond the table): measure a larger grid (aifsim-kbench --grid full)";
        throw std::out_of_range(m.str());
      }
    };
    for (const auto& kv : curves_)
      if (kv.first != "lm_head" && kv.first != "sampling")
        check(kv.first + " tokens", l.max_tokens, kv.second.points.back().x);
    check("lm_head rows", l.max_seqs, curves_.at("lm_head").points.back().x);
    check("attn_decode batch", l.max_seqs, decode_.a.back());
    check("attn_decode keys", l.max_context, decode_.b.back());
    check("attn_prefill chunk", l.max_tokens, prefill_.a.back());
    check("attn_prefill keys", l.max_context, prefill_.b.back() + prefill_.a.back());
  }

  // The table's file name, not its path: the description goes into the run's events, whose fingerprint must not
  // depend on where the repository is checked out.
  std::string describe() const override { return std::filesystem::path(source_).filename().string(); }

  OpTime prefill_one(double chunk, double prefix) const { return grid_at(prefill_, chunk, prefix); }

 private:
  struct Point {
    double x, seconds, compute_share;
  };
  struct Curve {
    std::vector<Point> points;  // ascending x
  };
  struct Grid {  // attention: (batch, keys) for decode, (chunk, prefix) for prefill; a full rectangle
    std::vector<double> a, b;
    std::vector<double> seconds, compute_share;  // a.size() x b.size()
  };

  static OpTime curve_at(const Curve& c, double x) {
    const auto& p = c.points;
    if (p.size() == 1 || x <= p.front().x) return {p.front().seconds, p.front().compute_share};
    size_t i = 0;
    while (i + 2 < p.size() && x > p[i + 1].x) ++i;
    const Point &a = p[i], &b = p[i + 1];
    const double f = (x - a.x) / (b.x - a.x);  // > 1 past the last point: linear continuation
    // A noisy last segment that slopes down is not continued downwards: past the grid, flat at the last point.
    const double s = f > 1 && b.seconds < a.seconds ? b.seconds : a.seconds + f * (b.seconds - a.seconds);
    const double share =
        std::clamp(a.compute_share + std::min(f, 1.0) * (b.compute_share - a.compute_share), 0.0, 1.0);
    return {s, share};
  }

  static OpTime grid_at(const Grid& g, double a, double b) {
    a = std::max(a, g.a.front());
    b = std::max(b, g.b.front());
    const size_t i = segment(g.a, a), j = segment(g.b, b);
    const size_t nb = g.b.size();
    auto at = [&](size_t ia, size_t jb, const std::vector<double>& v) { return v[ia * nb + jb]; };
    const size_t i1 = std::min(i + 1, g.a.size() - 1), j1 = std::min(j + 1, nb - 1);
    const double fa = i1 == i ? 0 : (a - g.a[i]) / (g.a[i1] - g.a[i]);
    const double fb = j1 == j ? 0 : (b - g.b[j]) / (g.b[j1] - g.b[j]);
    auto bilinear = [&](const std::vector<double>& v) {
      const double lo = at(i, j, v) + fb * (at(i, j1, v) - at(i, j, v));
      const double hi = at(i1, j, v) + fb * (at(i1, j1, v) - at(i1, j, v));
      return lo + fa * (hi - lo);
    };
    const double s = std::max(0.0, bilinear(g.seconds));
    return {s, std::clamp(bilinear(g.compute_share), 0.0, 1.0)};
  }

  std::string source_;
  ModelArch model_;
  int tp_;
  CalibratedOptions options_;
  std::map<std::string, Curve> curves_;
  Grid decode_, prefill_;
};

ComposedOptions composed_options(int tp, const CalibratedOptions& o) {
  ComposedOptions c;
  c.tp = tp;
  c.clock_fraction = o.clock_fraction;
  c.activation_bytes = o.activation_bytes;
  return c;
}

// The operator time at the model's clock, as ComposedPerfModel counts it.
double at_clock(OpTime t, double clock_fraction) {
  const double bound = t.seconds * std::clamp(t.compute_share, 0.0, 1.0);
  return t.seconds + (bound / clock_fraction - bound);
}

}  // namespace

EngineProfile CalibratedPerfModel::reference_engine(const CalibratedOptions& o) {
  EngineProfile e;
  e.name = "aifsim-engine";
  using E = ElementwiseOp;
  e.layer_ops = {{E::RMS_NORM, 2, false},       {E::ROPE, 1, false}, {E::KV_CACHE_WRITE, 1, false},
                 {E::ADD, 2, false},            {E::ACTIVATION, 1, false}};
  e.final_ops = {{E::EMBEDDING, 1, false}, {E::RMS_NORM, 1, true}, {E::SAMPLING, 1, true}};
  e.step_s = o.iteration_overhead_s;
  e.per_seq_s = o.overhead_per_seq_s;
  e.per_token_s = o.overhead_per_token_s;
  e.per_key_s = o.overhead_per_key_s;
  e.per_prefill_pair_s = o.overhead_per_prefill_pair_s;
  e.source = "aifsim calibrate (fit of the step overhead on a profile of aifsim-engine)";
  return e;
}

CalibratedPerfModel::CalibratedPerfModel(const CalibrationTable& table, const ModelArch& model, int tp,
                                         CalibratedOptions options)
    : ComposedPerfModel(std::make_shared<KbenchOperators>(table, model, tp, options), model,
                        composed_options(tp, options), reference_engine(options)),
      source_(table.source),
      calibrated_(options) {}

double CalibratedPerfModel::op_seconds(const std::string& name, double tokens) const {
  const auto& ops = static_cast<const KbenchOperators&>(operators());
  return at_clock(ops.op(name, tokens), clock_fraction());
}

double CalibratedPerfModel::decode_attention_seconds(double batch, double kv_len) const {
  return at_clock(operators().decode_attention(batch, kv_len), clock_fraction());
}

double CalibratedPerfModel::prefill_attention_seconds(double chunk, double kv_len) const {
  const auto& ops = static_cast<const KbenchOperators&>(operators());
  return at_clock(ops.prefill_one(chunk, kv_len - chunk), clock_fraction());
}

void CalibratedPerfModel::check_coverage(int max_tokens, int max_seqs, int max_context) const {
  ComposedPerfModel::check_coverage({max_tokens, max_seqs, max_context});
}

std::string CalibratedPerfModel::describe() const {
  std::ostringstream s;
  s << "calibrated " << model().name << " tp" << options().tp << " from " << std::filesystem::path(source_).filename().string()
    << " (overhead "
    << calibrated_.iteration_overhead_s << " s + " << calibrated_.overhead_per_seq_s << " s/seq + "
    << calibrated_.overhead_per_token_s << " s/token + " << calibrated_.overhead_per_key_s << " s/decode key + "
    << calibrated_.overhead_per_prefill_pair_s << " s/prefill pair, clock "
    << calibrated_.clock_fraction << ")";
  return s.str();
}

}  // namespace aif::models
