// Measured kernel times of one GPU type: a device profile (docs/calibration-format.md, data/calibration/<device>.csv).
// GEMMs by (m, n, k) and dtype, prefill and decode attention by batch, length and heads per GPU, tensor-parallel
// all-reduce and pipeline send/recv by message size, elementwise operators by elements. Plain data, filled by sim/
// (read_device_profile), queried here with interpolation in log-log space between measured points. A query beyond
// the points is refused (TableRangeError, naming the table and the value) unless it is within 2x of the last point.
#pragma once
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "aif/models/hardware.hpp"
#include "aif/models/step_model.hpp"

namespace aif::models {

// A lookup outside what a measured table covers.
class TableRangeError : public std::out_of_range {
 public:
  using std::out_of_range::out_of_range;
};

// How far beyond its last measured point a table may be continued (log-log slope of its last segment).
inline constexpr double MAX_EXTRAPOLATION = 2.0;

struct KernelTables {
  struct Curve {
    std::vector<double> x, seconds;  // ascending x
  };
  // Attention tables are indexed by heads per GPU (after tensor parallelism) and the KV cache dtype.
  struct HeadsKey {
    std::string kv_dtype;
    int heads = 0, kv_heads = 0, head_dim = 0;
    bool operator<(const HeadsKey& o) const {
      return std::tie(kv_dtype, heads, kv_heads, head_dim) < std::tie(o.kv_dtype, o.heads, o.kv_heads, o.head_dim);
    }
  };
  // Rows by batch (ascending), each a curve over tokens: prompt length (prefill) or keys per sequence (decode).
  using Grid = std::map<int, Curve>;
  // A fused mixture-of-experts layer (vLLM's fused_moe: router top-k, gate+up and down of the chosen experts) on one
  // GPU that holds experts / ep of the experts, each split over tp GPUs. Its curve runs over the layer's tokens (all
  // tokens reach every GPU; each computes those routed to its experts), routing balanced over the experts.
  struct MoeKey {
    std::string dtype;
    int hidden = 0, ffn = 0, experts = 0, top_k = 0, tp = 1, ep = 1;
    bool operator<(const MoeKey& o) const {
      return std::tie(dtype, hidden, ffn, experts, top_k, tp, ep) <
             std::tie(o.dtype, o.hidden, o.ffn, o.experts, o.top_k, o.tp, o.ep);
    }
  };

  std::string device;                          // catalog key, e.g. "H100-SXM"
  std::string source;                          // file it was read from
  std::map<std::string, std::string> header;   // "# key: value" provenance lines
  std::map<std::string, std::map<std::pair<int, int>, Curve>> gemm;  // dtype -> (n, k) -> over m
  std::map<HeadsKey, Grid> prefill, decode;
  std::map<std::pair<std::string, int>, Curve> allreduce;  // (graph | eager | nccl, GPUs) -> over bytes per GPU
  std::map<std::string, Curve> p2p;                        // intra | inter (node) -> over bytes
  std::map<std::string, Curve> elementwise;                // operator name -> over elements (tokens x width)
  std::map<MoeKey, Curve> moe;                             // over tokens
  std::map<int, Curve> alltoall;                           // NCCL all-to-all of GPUs -> over bytes per GPU
};

// Interpolated lookups; `what` names the query in messages. Below the first measured point the first point's time
// (a call never gets cheaper); beyond the last, the log-log slope of the last segment up to MAX_EXTRAPOLATION.
double curve_seconds(const KernelTables::Curve& c, double x, const std::string& what,
                     double max_factor = MAX_EXTRAPOLATION);
// Elementwise operators stream their rows through HBM: past their measured range (whose largest calls, some 67 MB in
// bf16, no longer fit the 50 MB L2 of an H100 and already run at the HBM rate) they are continued in proportion to
// the elements, up to this factor.
inline constexpr double MAX_ELEMENTWISE_EXTRAPOLATION = 16.0;
// Attention beyond its measured points is continued in proportion to its work (query-key pairs or keys read) from the
// largest measured call, which already runs at the kernel's plateau (an H100 prefill of 16,384 tokens: about
// 500 TFLOP/s), up to this factor: a 16,384-token chunk at the end of a 131,072-token context is 15x the work of the
// largest measured prefill.
inline constexpr double MAX_ATTENTION_EXTRAPOLATION = 32.0;
double gemm_seconds(const KernelTables& t, const std::string& dtype, double m, int n, int k);
// Attention with heads per GPU; when the exact head configuration was not measured, the measured one with the same
// query heads per KV head and the nearest KV head count stands in, with the batch scaled by the KV head ratio (the
// kernels parallelise over sequences x KV heads and read the same KV bytes).
double prefill_attention_seconds(const KernelTables& t, const KernelTables::HeadsKey& heads, double batch,
                                 double tokens);
double decode_attention_seconds(const KernelTables& t, const KernelTables::HeadsKey& heads, double batch,
                                double keys);
// The measured head configuration that stands in for `heads` (itself when measured), and the batch factor.
std::pair<KernelTables::HeadsKey, double> attention_stand_in(const std::map<KernelTables::HeadsKey, KernelTables::Grid>& g,
                                                             const KernelTables::HeadsKey& heads, const std::string& table);

// The GEMM shapes (n, k) a model runs per GPU at tensor-parallel degree tp, in LinearOp order (QKV, O, gate+up, down,
// LM head); KV heads are replicated when tp exceeds them, as vLLM does.
struct ShardShapes {
  std::pair<int, int> gemm[5];
  KernelTables::HeadsKey heads;  // kv_dtype left empty
  int rope_width = 0;            // (query + key heads per GPU) x head_dim
  int activation_width = 0;      // ffn / tp
};
ShardShapes shard_shapes(const ModelArch& model, int tp);

struct KernelTableOptions {
  std::string dtype = "bf16";     // GEMM dtype: bf16 or fp8 (fp16: the bf16 table, the same tensor-core rate)
  std::string kv_dtype = "bf16";  // KV cache dtype of the attention tables
  // vLLM's custom all-reduce serves messages up to this size, NCCL larger ones
  // (vllm/distributed/device_communicators/custom_all_reduce.py, max_size 8 MiB).
  double custom_allreduce_max_bytes = 8.0 * 1024 * 1024;
  // Pipeline stages on different servers: their activations cross the fabric's NIC at this bandwidth (bytes/s, 0 =
  // as measured); the measured send/recv table bounds the time from below.
  bool stages_across_servers = true;
  double nic_bandwidth = 0;
  // A mixture of experts: its experts split over the tp x dp GPUs of the replica's ranks (expert parallelism), or
  // each expert split over them (tensor parallelism of the experts); dp attention ranks; GPUs of one server (the
  // all-to-all among more crosses the NICs).
  bool expert_parallel = false;
  int dp = 1;
  int gpus_per_server = 8;
  // The all-to-alls' bytes bound for other servers travel as flows on the simulated fabric (the replica starts them
  // each step); the operator times only the part within a server.
  bool alltoall_across_servers_by_flows = false;
};

// One measured curve prepared for fast queries (logs taken once), with the extrapolation rules of curve_seconds.
class CurveLookup {
 public:
  CurveLookup() = default;
  // proportional_tail: beyond the last point, time in proportion to x (up to max_factor) instead of the last
  // segment's log-log slope.
  CurveLookup(const KernelTables::Curve& c, std::string what, double max_factor = MAX_EXTRAPOLATION,
              bool proportional_tail = false);
  double at(double x) const;
  // log(at(x)) given log(x), inside the measured points (x_first <= x <= x_last): no exp/log round trip.
  double log_inside(double x, double log_x) const;
  bool empty() const { return x_.empty(); }
  double last_x() const { return x_.back(); }
  double last_seconds() const { return y_.back(); }
  double first_seconds() const { return y_.front(); }

 private:
  std::vector<double> x_, y_, lx_, ly_;
  std::string what_;
  double max_factor_ = MAX_EXTRAPOLATION;
  bool proportional_ = false;
};

// An attention grid prepared for fast queries (attention_stand_in and the rules of prefill/decode_attention_seconds).
class AttentionLookup {
 public:
  AttentionLookup() = default;
  AttentionLookup(const std::map<KernelTables::HeadsKey, KernelTables::Grid>& grids, const KernelTables::HeadsKey& heads,
                  bool prefill, const std::string& table);
  double at(double batch, double x) const;

 private:
  double work(double b, double x) const { return prefill_ ? b * x * (x + 1) / 2 : b * x; }
  std::vector<double> batches_, log_batches_;
  std::vector<CurveLookup> rows_;
  double factor_ = 1;
  bool prefill_ = false;
  std::string what_;
};

// StepOperators from a device profile, for one model at one tensor-parallel degree. Compute shares (for the clock)
// come from each call's FLOPs and bytes against the device's catalog peaks. Every lookup is prepared at construction:
// a GEMM is a curve over m at the model's (n, k), interpolated once from the measured shapes around it.
class KernelTableOperators final : public StepOperators {
 public:
  // Throws std::invalid_argument naming the table when the profile lacks what the model needs (a dtype, a head
  // configuration with the model's head_dim, the all-reduce of tp GPUs); an elementwise operator it lacks is a
  // TableRangeError when asked for (ComposedPerfModel::check_coverage asks for the engine's).
  KernelTableOperators(std::shared_ptr<const KernelTables> tables, const DeviceSpec& device, const ModelArch& model,
                       int tp, KernelTableOptions options);
  OpTime linear(LinearOp op, double rows) const override;
  OpTime elementwise(ElementwiseOp op, double tokens) const override;
  OpTime decode_attention(double seqs, double keys) const override;
  OpTime prefill_attention(double seqs, double chunk, double prefix) const override;
  OpTime allreduce(double bytes, bool in_graph) const override;
  OpTime pipeline_send(double bytes) const override;
  OpTime moe(double tokens) const override;
  OpTime expert_alltoall(double bytes) const override;
  void check_coverage(const StepLimits& limits) const override;
  std::string describe() const override;

 private:
  double share(double flops, double bytes) const;
  std::shared_ptr<const KernelTables> t_;
  ModelArch model_;
  int tp_;
  KernelTableOptions o_;
  std::string gemm_dtype_;  // the GEMM table used for o_.dtype
  ShardShapes shapes_;
  double peak_flops_ = 0, hbm_bandwidth_ = 0, weight_bytes_ = 0, kv_bytes_ = 2;
  CurveLookup linear_[5];
  std::map<ElementwiseOp, std::pair<CurveLookup, double>> elementwise_;  // curve over elements, row width
  AttentionLookup prefill_, decode_;
  CurveLookup allreduce_graph_, allreduce_eager_, allreduce_nccl_, p2p_;
  KernelTables::MoeKey moe_key_;  // the measured fused MoE this model's layers run as (mixtures of experts)
  CurveLookup moe_, alltoall_;
  int ep_local_ = 1;              // GPUs of the all-to-all on one server
};

}  // namespace aif::models
