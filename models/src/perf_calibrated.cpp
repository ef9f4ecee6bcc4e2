#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <stdexcept>

#include "aif/models/perf.hpp"

namespace aif::models {

namespace {

// The per-layer operators, each called once per layer except where the count says otherwise.
struct LayerOp {
  const char* name;
  int calls;
};
constexpr LayerOp LAYER_OPS[] = {{"rms_norm", 2}, {"qkv_proj", 1}, {"rope", 1}, {"kv_cache_write", 1},
                                 {"o_proj", 1},   {"add", 2},      {"gate_up_proj", 1}, {"swiglu", 1},
                                 {"down_proj", 1}};
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

}  // namespace

CalibratedPerfModel::CalibratedPerfModel(const CalibrationTable& table, const ModelArch& model, int tp,
                                         CalibratedOptions options)
    : source_(table.source), model_(model), tp_(tp), options_(options) {
  if (!(options_.clock_fraction > 0 && options_.clock_fraction <= 1))
    throw std::invalid_argument("clock_fraction must be in (0, 1]");
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

CalibratedPerfModel::Time CalibratedPerfModel::curve_at(const Curve& c, double x) const {
  const auto& p = c.points;
  if (p.size() == 1 || x <= p.front().x) return {p.front().seconds, p.front().seconds * p.front().compute_share};
  size_t i = 0;
  while (i + 2 < p.size() && x > p[i + 1].x) ++i;
  const Point &a = p[i], &b = p[i + 1];
  const double f = (x - a.x) / (b.x - a.x);  // > 1 past the last point: linear continuation
  // A noisy last segment that slopes down is not continued downwards: past the grid, flat at the last point.
  const double s = f > 1 && b.seconds < a.seconds ? b.seconds : a.seconds + f * (b.seconds - a.seconds);
  const double share = std::clamp(a.compute_share + std::min(f, 1.0) * (b.compute_share - a.compute_share), 0.0, 1.0);
  return {s, s * share};
}

CalibratedPerfModel::Time CalibratedPerfModel::grid_at(const Grid& g, double a, double b) const {
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
  return {s, s * std::clamp(bilinear(g.compute_share), 0.0, 1.0)};
}

CalibratedPerfModel::Time CalibratedPerfModel::op(const std::string& name, double tokens) const {
  if (tokens <= 0) return {};
  return curve_at(curves_.at(name), tokens);
}

CalibratedPerfModel::Time CalibratedPerfModel::scaled(Time t, double clock_fraction) {
  const double stretch = (t.compute / clock_fraction) - t.compute;
  return {t.seconds + stretch, t.compute + stretch};
}

double CalibratedPerfModel::op_seconds(const std::string& name, double tokens) const {
  return scaled(op(name, tokens), options_.clock_fraction).seconds;
}

double CalibratedPerfModel::decode_attention_seconds(double batch, double kv_len) const {
  return scaled(grid_at(decode_, batch, kv_len), options_.clock_fraction).seconds;
}

double CalibratedPerfModel::prefill_attention_seconds(double chunk, double kv_len) const {
  return scaled(grid_at(prefill_, chunk, kv_len - chunk), options_.clock_fraction).seconds;
}

IterationCost CalibratedPerfModel::iteration(const BatchShape& s) const {
  return iteration_at_clock(s, options_.clock_fraction);
}

IterationCost CalibratedPerfModel::iteration_at_clock(const BatchShape& s, double clock_fraction) const {
  if (!(clock_fraction > 0 && clock_fraction <= 1)) throw std::invalid_argument("clock_fraction must be in (0, 1]");
  IterationCost c;
  if (s.num_seqs == 0) return c;
  const double t = static_cast<double>(s.num_tokens);
  Time layer;
  auto add = [](Time& sum, Time x, double times) {
    sum.seconds += times * x.seconds;
    sum.compute += times * x.compute;
  };
  for (const LayerOp& o : LAYER_OPS) add(layer, scaled(op(o.name, t), clock_fraction), o.calls);
  if (s.decode_seqs > 0) {
    const double keys = (s.attended_pairs - s.prefill_attended_pairs) / s.decode_seqs;
    add(layer, scaled(grid_at(decode_, s.decode_seqs, keys), clock_fraction), 1);
  }
  if (s.prefill_seqs > 0) {
    // Mean chunk and prefix of the prefill sequences; pairs = n * prefix + n (n + 1) / 2 per chunk.
    const double n = static_cast<double>(s.prefill_tokens) / s.prefill_seqs;
    const double prefix = std::max(0.0, (s.prefill_attended_pairs / s.prefill_seqs - n * (n + 1) / 2) / n);
    add(layer, scaled(grid_at(prefill_, n, prefix), clock_fraction), s.prefill_seqs);
  }
  Time total;
  add(total, layer, model_.layers);
  add(total, scaled(op("embedding", t), clock_fraction), 1);
  add(total, scaled(op("rms_norm", s.sampled_seqs), clock_fraction), 1);
  add(total, scaled(op("lm_head", s.sampled_seqs), clock_fraction), 1);
  add(total, scaled(op("sampling", s.sampled_seqs), clock_fraction), 1);
  const double decode_keys = s.attended_pairs - s.prefill_attended_pairs;
  const double overhead = options_.iteration_overhead_s + options_.overhead_per_seq_s * s.num_seqs +
                          options_.overhead_per_token_s * t + options_.overhead_per_key_s * decode_keys;
  if (tp_ > 1) {
    const double tp = tp_;
    const double size = t * model_.hidden * options_.activation_bytes;
    c.comm_seconds = 2.0 * model_.layers *
                     (2.0 * (tp - 1) / tp * size / options_.allreduce_bandwidth + options_.allreduce_latency_s);
  }
  c.compute_seconds = total.compute;
  c.memory_seconds = total.seconds - total.compute;
  c.seconds = total.seconds + c.comm_seconds + overhead;
  return c;
}

void CalibratedPerfModel::check_coverage(int max_tokens, int max_seqs, int max_context) const {
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
      check(kv.first + " tokens", max_tokens, kv.second.points.back().x);
  check("lm_head rows", max_seqs, curves_.at("lm_head").points.back().x);
  check("attn_decode batch", max_seqs, decode_.a.back());
  check("attn_decode keys", max_context, decode_.b.back());
  check("attn_prefill chunk", max_tokens, prefill_.a.back());
  check("attn_prefill keys", max_context, prefill_.b.back() + prefill_.a.back());
}

std::string CalibratedPerfModel::describe() const {
  std::ostringstream s;
  s << "calibrated " << model_.name << " tp" << tp_ << " from " << source_ << " (overhead "
    << options_.iteration_overhead_s << " s + " << options_.overhead_per_seq_s << " s/seq + "
    << options_.overhead_per_token_s << " s/token + " << options_.overhead_per_key_s << " s/decode key, clock "
    << options_.clock_fraction << ")";
  return s.str();
}

}  // namespace aif::models
