#include "aif/models/step_model.hpp"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "aif/models/perf.hpp"

namespace aif::models {

const char* linear_op_name(LinearOp op) {
  switch (op) {
    case LinearOp::QKV: return "qkv_proj";
    case LinearOp::O: return "o_proj";
    case LinearOp::GATE_UP: return "gate_up_proj";
    case LinearOp::DOWN: return "down_proj";
    case LinearOp::LM_HEAD: return "lm_head";
  }
  return "?";
}

const char* elementwise_op_name(ElementwiseOp op) {
  switch (op) {
    case ElementwiseOp::RMS_NORM: return "rms_norm";
    case ElementwiseOp::ROPE: return "rope";
    case ElementwiseOp::ACTIVATION: return "activation";
    case ElementwiseOp::ADD: return "add";
    case ElementwiseOp::EMBEDDING: return "embedding";
    case ElementwiseOp::KV_CACHE_WRITE: return "kv_cache_write";
    case ElementwiseOp::SAMPLING: return "sampling";
  }
  return "?";
}

OpTime StepOperators::moe(double) const {
  throw std::invalid_argument(describe() + ": no fused MoE layers measured (a mixture of experts needs a GPU device "
                              "profile with moe rows)");
}

OpTime StepOperators::expert_alltoall(double) const {
  throw std::invalid_argument(describe() + ": no all-to-all measured (expert parallelism over data-parallel ranks)");
}

ComposedPerfModel::ComposedPerfModel(std::shared_ptr<const StepOperators> ops, ModelArch model,
                                     ComposedOptions options, EngineProfile engine)
    : ops_(std::move(ops)),
      model_(std::move(model)),
      options_(options),
      engine_(std::move(engine)),
      cache_(std::make_unique<Cache>()) {
  if (!ops_) throw std::invalid_argument("composed perf model without operator times");
  if (options_.tp < 1) throw std::invalid_argument("tp must be at least 1");
  if (options_.pp < 1) throw std::invalid_argument("pp must be at least 1");
  if (options_.dp < 1) throw std::invalid_argument("dp must be at least 1");
  if (options_.dp > 1 && !model_.is_moe())
    throw std::invalid_argument("attention data parallelism is for mixtures of experts; " + model_.name +
                                " is dense (serve more replicas instead)");
  if (options_.pp > model_.layers)
    throw std::invalid_argument("pp " + std::to_string(options_.pp) + " exceeds the " + std::to_string(model_.layers) +
                                " layers of " + model_.name);
  if (!(options_.clock_fraction > 0 && options_.clock_fraction <= 1))
    throw std::invalid_argument("clock_fraction must be in (0, 1]");
}

ComposedPerfModel::~ComposedPerfModel() = default;

bool ComposedPerfModel::in_cuda_graph(const BatchShape& s) const {
  if (engine_.cuda_graph_max_seqs <= 0) return false;
  if (s.prefill_seqs > 0 && !engine_.graphs_for_prefill) return false;
  // Graphs are captured for batch sizes up to the maximum; a step with prefill tokens is sized by its tokens.
  const int64_t size = s.prefill_seqs > 0 ? s.num_tokens : s.num_seqs;
  return size <= engine_.cuda_graph_max_seqs;
}

IterationCost ComposedPerfModel::iteration(const BatchShape& s) const {
  return iteration_at_clock(s, options_.clock_fraction);
}

namespace {

struct Parts {
  double seconds = 0, compute = 0, comm = 0;
  void add(const Parts& o) { seconds += o.seconds, compute += o.compute, comm += o.comm; }
};

// Adds operator calls to `p`: an operator's compute-bound share stretches with the clock; outside a CUDA graph the
// launch bounds each call below (keeping its split); collectives do not follow the clock.
struct Calls {
  Parts& p;
  double clock;
  bool graph;
  double launch_s;
  void op(OpTime t, double times) const {
    if (times <= 0 || t.seconds <= 0) return;
    const double share = std::clamp(t.compute_share, 0.0, 1.0);
    const double bound = t.seconds * share, stretch = bound / clock - bound;
    double total = t.seconds + stretch;
    double cpart = bound + stretch;
    if (!graph && total < launch_s) {
      cpart *= launch_s / total;
      total = launch_s;
    }
    p.seconds += times * total;
    p.compute += times * cpart;
  }
  void comm(OpTime t, double times) const {
    const double total = graph ? t.seconds : std::max(t.seconds, launch_s);
    p.seconds += times * total;
    p.comm += times * total;
  }
};

// The calls of a step that depend on its token count alone, each to the Calls of its kind (they may be one): every
// layer's per-token operators, GEMMs or fused MoE, all-reduces and all-to-alls, the step's final per-token operators,
// the pipeline sends. Each pipeline stage sees 1/pp of the step's tokens and each attention rank 1/dp of those; the
// MoE layers see every rank's tokens.
void token_calls(const StepOperators& ops, const ModelArch& m, const ComposedOptions& o, const EngineProfile& e,
                 int64_t num_tokens, bool graph, const Calls& elementwise, const Calls& gemm, const Calls& comm) {
  const double layers = m.layers, pp = o.pp;
  const double stage_tokens = static_cast<double>(num_tokens) / pp, t = stage_tokens / o.dp;
  for (const EngineProfile::Call& c : e.layer_ops)
    // The fused MoE kernel applies the experts' activation itself.
    if (!c.per_sampled_row && !(m.is_moe() && c.op == ElementwiseOp::ACTIVATION))
      elementwise.op(ops.elementwise(c.op, t), layers * c.calls);
  if (m.is_moe()) {
    for (LinearOp op : {LinearOp::QKV, LinearOp::O}) gemm.op(ops.linear(op, t), layers);
    gemm.op(ops.moe(stage_tokens), layers);
  } else {
    for (LinearOp op : {LinearOp::QKV, LinearOp::O, LinearOp::GATE_UP, LinearOp::DOWN}) gemm.op(ops.linear(op, t), layers);
  }
  const double activations = t * m.hidden * o.activation_bytes;
  if (o.tp > 1) comm.comm(ops.allreduce(activations, graph), 2 * layers);
  // Dispatch and combine: each GPU sends its rank's share of the tokens to the other GPUs of their experts.
  if (o.dp > 1) comm.comm(ops.expert_alltoall(ComposedPerfModel::alltoall_bytes_per_token(m, o) / 2 * t / o.tp),
                          2 * layers);
  for (const EngineProfile::Call& c : e.final_ops)
    if (!c.per_sampled_row) elementwise.op(ops.elementwise(c.op, t), c.calls);
  if (o.pp > 1) comm.comm(ops.pipeline_send(activations), pp - 1);
}

// The calls of a step that depend on its sampled rows alone: the engine's per-row operators and the LM head, to the
// Calls of their kind (they may be one). Each attention rank of each stage samples its share of the rows.
void sampled_calls(const StepOperators& ops, const ComposedOptions& o, const EngineProfile& e, double layers,
                   int sampled_seqs, const Calls& elementwise, const Calls& gemm) {
  const double sampled = static_cast<double>(sampled_seqs) / o.pp / o.dp;
  for (const EngineProfile::Call& c : e.layer_ops)
    if (c.per_sampled_row) elementwise.op(ops.elementwise(c.op, sampled), layers * c.calls);
  for (const EngineProfile::Call& c : e.final_ops)
    if (c.per_sampled_row) elementwise.op(ops.elementwise(c.op, sampled), c.calls);
  gemm.op(ops.linear(LinearOp::LM_HEAD, sampled), 1);
}

// Attention of every layer: the decoding sequences by their mean keys, the prefill chunks by their mean chunk and
// prefix (pairs = n * prefix + n (n + 1) / 2 per chunk), each rank of each stage its share of the sequences.
void attention_calls(const StepOperators& ops, const ComposedOptions& o, double layers, const BatchShape& s,
                     const Calls& calls) {
  const double pp = o.pp, dp = o.dp;
  if (s.decode_seqs > 0) {
    const double keys = (s.attended_pairs - s.prefill_attended_pairs) / s.decode_seqs;
    calls.op(ops.decode_attention(s.decode_seqs / pp / dp, keys), layers);
  }
  if (s.prefill_seqs > 0) {
    const double n = static_cast<double>(s.prefill_tokens) / s.prefill_seqs;
    const double prefix = std::max(0.0, (s.prefill_attended_pairs / s.prefill_seqs - n * (n + 1) / 2) / n);
    calls.op(ops.prefill_attention(s.prefill_seqs / pp / dp, n, prefix), layers);
  }
}

// The engine's own CPU work for the step, serial with the GPU.
double engine_cpu_s(const EngineProfile& e, const BatchShape& s) {
  const double decode_keys = s.attended_pairs - s.prefill_attended_pairs;
  return e.step_s + e.per_seq_s * s.num_seqs + e.per_token_s * static_cast<double>(s.num_tokens) +
         e.per_key_s * decode_keys + e.per_prefill_pair_s * s.prefill_attended_pairs;
}

}  // namespace

double ComposedPerfModel::alltoall_bytes_per_token(const ModelArch& m, const ComposedOptions& o) {
  if (o.dp <= 1 || !m.is_moe()) return 0;
  const double ep = static_cast<double>(o.tp) * o.dp;
  // A token's activations go to each of its experts on another GPU (a share (ep - 1) / ep of them, routing balanced)
  // and come back: per MoE layer, per token.
  return 2.0 * m.experts_per_token * m.hidden * o.activation_bytes * (ep - 1) / ep;
}

// The parts of a step that depend on its token count alone (per-token operators of every layer and of the step's
// end, GEMMs, all-reduces, stage sends) are computed once per (tokens, graph, clock) and kept: steps repeat counts.
struct ComposedPerfModel::Cache {
  double clock = 0;
  std::vector<Parts> by_tokens[2], by_sampled[2];  // [graph]; seconds < 0: not computed yet
};

IterationCost ComposedPerfModel::iteration_at_clock(const BatchShape& s, double clock_fraction) const {
  if (!(clock_fraction > 0 && clock_fraction <= 1)) throw std::invalid_argument("clock_fraction must be in (0, 1]");
  IterationCost c;
  if (s.num_seqs == 0) return c;
  const bool graph = in_cuda_graph(s);
  const StepOperators& ops = *ops_;
  // Pipeline parallelism: the step is pp micro-batches in flight at once; each stage sees 1/pp of the batch (and each
  // attention rank 1/dp of that): token_calls, sampled_calls and attention_calls divide.
  const double layers = model_.layers;
  if (cache_->clock != clock_fraction) *cache_ = Cache{clock_fraction, {}, {}};
  auto cached = [&](std::vector<Parts>& v, int64_t key, auto compute_parts) -> const Parts& {
    if (static_cast<int64_t>(v.size()) <= key) v.resize(static_cast<size_t>(key) + 1, Parts{-1, 0, 0});
    Parts& p = v[static_cast<size_t>(key)];
    if (p.seconds < 0) p = compute_parts();
    return p;
  };
  const Parts& per_token = cached(cache_->by_tokens[graph], s.num_tokens, [&] {
    Parts p;
    const Calls calls{p, clock_fraction, graph, engine_.launch_s};
    token_calls(ops, model_, options_, engine_, s.num_tokens, graph, calls, calls, calls);
    return p;
  });
  const Parts& per_sampled = cached(cache_->by_sampled[graph], s.sampled_seqs, [&] {
    Parts p;
    const Calls calls{p, clock_fraction, graph, engine_.launch_s};
    sampled_calls(ops, options_, engine_, layers, s.sampled_seqs, calls, calls);
    return p;
  });
  Parts total = per_token;
  total.add(per_sampled);
  attention_calls(ops, options_, layers, s, Calls{total, clock_fraction, graph, engine_.launch_s});
  const double overhead = engine_cpu_s(engine_, s);
  c.compute_seconds = total.compute;
  c.comm_seconds = total.comm;
  c.memory_seconds = total.seconds - total.compute - total.comm;
  c.seconds = total.seconds + overhead;
  return c;
}

StepBreakdown ComposedPerfModel::breakdown(const BatchShape& s) const {
  StepBreakdown b;
  if (s.num_seqs == 0) return b;
  b.cuda_graph = in_cuda_graph(s);
  const StepOperators& ops = *ops_;
  const double layers = model_.layers, clock = options_.clock_fraction;
  Parts elementwise, gemm, attention, comm;
  const Calls e{elementwise, clock, b.cuda_graph, engine_.launch_s}, g{gemm, clock, b.cuda_graph, engine_.launch_s},
      a{attention, clock, b.cuda_graph, engine_.launch_s}, c{comm, clock, b.cuda_graph, engine_.launch_s};
  token_calls(ops, model_, options_, engine_, s.num_tokens, b.cuda_graph, e, g, c);
  sampled_calls(ops, options_, engine_, layers, s.sampled_seqs, e, g);
  attention_calls(ops, options_, layers, s, a);
  b.elementwise = elementwise.seconds;
  b.gemm = gemm.seconds;
  b.attention = attention.seconds;
  b.communication = comm.seconds;
  b.engine = engine_cpu_s(engine_, s);
  return b;
}

void ComposedPerfModel::check_coverage(const StepLimits& limits) const {
  ops_->check_coverage(limits);
  if (options_.dp > 1)
    ops_->expert_alltoall(alltoall_bytes_per_token(model_, options_) / 2 * limits.max_tokens / options_.pp / options_.dp /
                          options_.tp);
  // The engine's own operators at the largest step (an operator the tables lack is refused here, before a run).
  for (const auto* calls : {&engine_.layer_ops, &engine_.final_ops})
    for (const EngineProfile::Call& e : *calls)
      ops_->elementwise(e.op, e.per_sampled_row ? limits.max_seqs : limits.max_tokens);
  if (options_.pp > 1) ops_->pipeline_send(limits.max_tokens / static_cast<double>(options_.pp) * model_.hidden *
                                           options_.activation_bytes);
}

std::string ComposedPerfModel::describe() const {
  std::string d = "calibrated " + model_.name + " tp" + std::to_string(options_.tp);
  if (options_.pp > 1) d += " pp" + std::to_string(options_.pp);
  if (options_.dp > 1) d += " dp" + std::to_string(options_.dp);
  d += " from " + ops_->describe() + ", engine " + engine_.name;
  if (options_.clock_fraction != 1) d += ", clock " + std::to_string(options_.clock_fraction);
  return d;
}

}  // namespace aif::models
