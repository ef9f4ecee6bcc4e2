#include "aif/models/perf.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace aif::models {

namespace {

void check_clock(double clock_fraction) {
  if (!(clock_fraction > 0 && clock_fraction <= 1)) throw std::invalid_argument("clock_fraction must be in (0, 1]");
}

}  // namespace

ConstantPerfModel::ConstantPerfModel(double seconds) : seconds_(seconds) {
  if (!(seconds > 0)) throw std::invalid_argument("constant iteration time must be positive");
}

IterationCost ConstantPerfModel::iteration_at_clock(const BatchShape& shape, double clock_fraction) const {
  check_clock(clock_fraction);
  return iteration(shape);
}

IterationCost ConstantPerfModel::iteration(const BatchShape& shape) const {
  IterationCost c;
  if (shape.num_seqs == 0) return c;
  c.seconds = seconds_;
  c.memory_seconds = seconds_;  // no information: count it as memory-bound (decode-like power)
  return c;
}

std::string ConstantPerfModel::describe() const {
  std::ostringstream s;
  s << "constant " << seconds_ << " s per iteration";
  return s.str();
}

RooflinePerfModel::RooflinePerfModel(RooflineParams params) : p_(std::move(params)) {
  if (p_.tp < 1) throw std::invalid_argument("tp must be at least 1");
  auto it = p_.device.peak_flops.find(p_.dtype);
  if (it == p_.device.peak_flops.end() || !(it->second > 0))
    throw std::invalid_argument("device " + p_.device.name + " has no peak FLOP/s for dtype " + p_.dtype);
  if (!(p_.device.hbm_bandwidth > 0)) throw std::invalid_argument("device " + p_.device.name + " has no HBM bandwidth");
  if (p_.pp < 1) throw std::invalid_argument("pp must be at least 1");
  check_clock(p_.clock_fraction);
  peak_flops_ = it->second;
  bytes_per_element_ = dtype_bytes(p_.dtype);
  weight_bytes_ = p_.model.parameters() * bytes_per_element_;
  work_ = std::make_shared<StepWorkModel>(p_.model, bytes_per_element_, p_.tp, p_.pp,
                                          p_.kv_dtype.empty() ? 0 : dtype_bytes(p_.kv_dtype), p_.dp);
  if (p_.allreduce_bandwidth <= 0) p_.allreduce_bandwidth = p_.device.nvlink_bandwidth / 2;
  if (p_.stage_send_bandwidth <= 0) p_.stage_send_bandwidth = p_.allreduce_bandwidth;
}

IterationCost RooflinePerfModel::iteration(const BatchShape& s) const {
  return iteration_at_clock(s, p_.clock_fraction);
}

IterationCost RooflinePerfModel::iteration_at_clock(const BatchShape& full, double clock_fraction) const {
  check_clock(clock_fraction);
  IterationCost c;
  if (full.num_seqs == 0) return c;
  // One micro-batch of 1/pp of the step passes all layers (its stages hold 1/pp of the weights each, in turn).
  const double num_tokens = static_cast<double>(full.num_tokens) / p_.pp;
  const ModelArch& m = p_.model;
  const double tp = p_.tp;
  // The core clock scales peak FLOP/s; HBM bandwidth does not follow it.
  const double flop_rate = peak_flops_ * clock_fraction * p_.device.compute_efficiency;
  const double byte_rate = p_.device.hbm_bandwidth * p_.device.memory_efficiency;
  // Linear layers (every new token through every layer, sampled rows through the LM head) and attention (KV cache
  // read and written), per GPU: step_work.hpp.
  const StepWork w = work_->work(full);
  const double lin_c = w.linear_flops / flop_rate, lin_m = w.linear_bytes / byte_rate;
  const double attn_c = w.attention_flops / flop_rate, attn_m = w.attention_bytes / byte_rate;
  c.flops = w.flops();
  c.bytes = w.bytes();
  // Per group the slower resource sets the time; the compute-bound share counts the groups that are FLOP-bound.
  c.compute_seconds = (lin_c >= lin_m ? lin_c : 0) + (attn_c >= attn_m ? attn_c : 0);
  c.memory_seconds = (lin_c >= lin_m ? 0 : lin_m) + (attn_c >= attn_m ? 0 : attn_m);
  if (p_.tp > 1) {
    const double size = num_tokens * m.hidden * bytes_per_element_;
    const double one = 2.0 * (tp - 1) / tp * size / p_.allreduce_bandwidth + p_.allreduce_latency_s;
    c.comm_seconds = 2.0 * m.layers * one;
  }
  if (p_.pp > 1) {
    const double size = num_tokens * m.hidden * bytes_per_element_;
    c.comm_seconds += (p_.pp - 1) * (size / p_.stage_send_bandwidth + p_.allreduce_latency_s);
  }
  c.seconds = c.compute_seconds + c.memory_seconds + c.comm_seconds + p_.iteration_overhead_s;
  return c;
}

DraftedPerfModel::DraftedPerfModel(std::unique_ptr<PerfModel> target, std::unique_ptr<PerfModel> draft)
    : target_(std::move(target)), draft_(std::move(draft)) {
  if (!target_ || !draft_) throw std::invalid_argument("speculative decoding needs a target and a draft perf model");
}

namespace {

// The times of one step part after another (FLOPs and bytes are the power model's, from the target's shape).
void add_times(IterationCost& total, const IterationCost& c) {
  total.seconds += c.seconds;
  total.compute_seconds += c.compute_seconds;
  total.memory_seconds += c.memory_seconds;
  total.comm_seconds += c.comm_seconds;
}

}  // namespace

IterationCost DraftedPerfModel::draft_cost(const BatchShape& s, double clock) const {
  IterationCost total;
  auto add = [&](const IterationCost& c) { add_times(total, c); };
  // The step's prompt chunks (its prefill chunks but the verifications).
  BatchShape prefill;
  prefill.prefill_seqs = s.prefill_seqs - s.verify_seqs;
  prefill.prefill_tokens = s.prefill_tokens - (s.draft_tokens + s.verify_seqs);
  if (prefill.prefill_seqs > 0 && prefill.prefill_tokens > 0) {
    prefill.num_seqs = prefill.prefill_seqs;
    prefill.num_tokens = prefill.prefill_tokens;
    prefill.prefill_attended_pairs = s.prefill_attended_pairs - s.verify_attended_pairs;
    prefill.attended_pairs = prefill.prefill_attended_pairs;
    prefill.kv_read_tokens = static_cast<double>(prefill.prefill_tokens);
    add(draft_->iteration_at_clock(prefill, clock));
  }
  // The drafts: step j proposes each verifying sequence's (j + 1)-th draft after its context and j drafts.
  if (s.verify_seqs > 0) {
    const int steps = static_cast<int>((s.draft_tokens + s.verify_seqs - 1) / s.verify_seqs);
    for (int j = 0; j < steps; ++j) {
      BatchShape d;
      d.num_seqs = d.decode_seqs = d.sampled_seqs = s.verify_seqs;
      d.num_tokens = s.verify_seqs;
      d.attended_pairs = s.verify_context + static_cast<double>(s.verify_seqs) * (j + 1);
      d.kv_read_tokens = d.attended_pairs;
      add(draft_->iteration_at_clock(d, clock));
    }
  }
  return total;
}

IterationCost DraftedPerfModel::iteration(const BatchShape& s) const {
  return iteration_at_clock(s, target_->clock_fraction());
}

IterationCost DraftedPerfModel::iteration_at_clock(const BatchShape& s, double clock) const {
  IterationCost c = target_->iteration_at_clock(s, clock);
  add_times(c, draft_cost(s, clock));
  return c;
}

std::string DraftedPerfModel::describe() const {
  return target_->describe() + "; drafts by " + draft_->describe();
}

std::string RooflinePerfModel::describe() const {
  std::ostringstream s;
  s << "roofline " << p_.model.name << " " << p_.dtype << " tp" << p_.tp << " on " << p_.device.name
    << " (compute eff " << p_.device.compute_efficiency << ", memory eff " << p_.device.memory_efficiency << ")";
  return s.str();
}

}  // namespace aif::models
