// aifsim calibrate --from aiconfigurator: a device profile (docs/calibration-format.md) from public measurements.
//   GEMMs, attention, all-reduce: AIConfigurator's kernel tables measured inside vLLM (ai-dynamo/aiconfigurator,
//     systems/data/<device>/..., Apache-2.0), read in CSV form with the upstream columns; latencies in ms.
//   Elementwise operators and pipeline send/recv: Vidur's profiles (microsoft/vidur, data/profiling/, MIT); ms.
// Only what the catalog's models need is kept: the measured GEMM shapes around each model's shard shapes at tp 1, 2,
// 4 and 8, the attention head configurations that stand in for theirs (bf16 and fp8 KV cache), the fused MoE layers
// of its mixtures of experts; rows keep their measured values (repeated
// measurements of one point: their median). Elementwise and send/recv profiles are dense in size; they are reduced to
// the median of each 1/8-octave bin of size.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "aif/inputs/device_profile.hpp"
#include "aif/studies/device_profile_convert.hpp"
#include "aif/scenario/scenario.hpp"
#include "aif/inputs/yaml_util.hpp"
#include "aif/inputs/csv_text.hpp"
#include "aif/inputs/measured_curves.hpp"

namespace aif::sim {

namespace fs = std::filesystem;

namespace {

// A plain CSV file of another project: a header line and rows, columns by name.
struct PlainCsv {
  std::string path;
  std::map<std::string, size_t> column;
  std::vector<std::pair<int, std::vector<std::string>>> rows;  // (line, fields)
  [[noreturn]] void fail(int line, const std::string& column_name, const std::string& message) const {
    throw ScenarioError(path, line, column_name, message);
  }
  const std::string& get(const std::pair<int, std::vector<std::string>>& row, const std::string& name) const {
    return row.second[column.at(name)];
  }
  double number(const std::pair<int, std::vector<std::string>>& row, const std::string& name) const {
    double v = 0;
    if (!csv::parse_double(get(row, name), v))
      fail(row.first, name, "expected a number, found '" + get(row, name) + "'");
    return v;
  }
};

PlainCsv read_plain_csv(const std::string& path, const std::vector<std::string>& required) {
  PlainCsv t;
  t.path = path;
  std::ifstream in(path, std::ios::binary);
  if (!in) t.fail(0, "", "cannot open this input of the converter");
  std::string line;
  if (!std::getline(in, line)) t.fail(1, "", "empty file; expected a CSV header line");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  const std::vector<std::string> names = csv::split_commas(line);
  for (size_t i = 0; i < names.size(); ++i)
    if (!names[i].empty()) t.column.emplace(names[i], i);
  for (const std::string& name : required)
    if (!t.column.count(name))
      t.fail(1, name, "missing column '" + name + "' (this converter reads " + yaml::join_or(required) + ")");
  int number = 1;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (csv::trim(line).empty()) continue;
    std::vector<std::string> fields = csv::split_commas(line);
    if (fields.size() != names.size())
      t.fail(number, "", "expected " + std::to_string(names.size()) + " fields as in the header, found " +
                             std::to_string(fields.size()));
    t.rows.emplace_back(number, std::move(fields));
  }
  if (t.rows.empty()) t.fail(1, "", "the file has a header but no rows");
  return t;
}

// The only sub-folder of `dir` (a version folder such as 0.14.0).
std::string only_subfolder(const std::string& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory()) found.push_back(e.path().string());
  if (ec || found.empty()) throw ScenarioError(dir, 0, "", "expected one version folder here, found none");
  std::sort(found.begin(), found.end());
  if (found.size() > 1)
    throw ScenarioError(dir, 0, "", "expected one version folder here, found " + std::to_string(found.size()));
  return found.front();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string g(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

// Source folders per catalog device.
struct DeviceFolders {
  const char* aiconfigurator;  // systems/data/<this>
  const char* vidur_compute;   // data/profiling/compute/<this>
  const char* vidur_network;   // data/profiling/network/<this>
};
const std::map<std::string, DeviceFolders>& device_folders() {
  // H200: Vidur has no H200 profile; the H100's stand in for the elementwise operators (same GH100 die, HBM3e's
  // higher bandwidth makes them faster still: < 3 % of a step) and for send/recv (same NVLink 4 and DGX NICs).
  static const std::map<std::string, DeviceFolders> M = {
      {"A100-80GB", {"a100_sxm", "a100", "a100_dgx"}},
      {"H100-SXM", {"h100_sxm", "h100", "h100_dgx"}},
      {"H200-SXM", {"h200_sxm", "h100", "h100_dgx"}},
  };
  return M;
}

// Points binned to 1/8 octave of x: the median x and median time of each bin, ascending.
std::vector<std::pair<double, double>> binned(const std::vector<std::pair<double, double>>& points) {
  std::map<long, std::pair<std::vector<double>, std::vector<double>>> bins;
  for (const auto& [x, s] : points) {
    auto& b = bins[std::lround(std::log2(x) * 8)];
    b.first.push_back(x);
    b.second.push_back(s);
  }
  std::vector<std::pair<double, double>> out;
  for (const auto& [key, b] : bins) out.emplace_back(std::round(median(b.first)), median(b.second));
  return out;
}

using measured::OUTLIER_FACTOR;

// Drops the outliers of one curve (x -> seconds); returns how many.
size_t drop_outliers(std::map<double, double>& curve) {
  const std::vector<double> drop = measured::outlier_sizes(curve);
  for (double x : drop) curve.erase(x);
  return drop.size();
}

struct Row {
  std::string op, variant, dtype;
  double gpus = 0, m = 0, n = 0, k = 0, batch = 0, tokens = 0, heads = 0, kv_heads = 0, head_dim = 0, elements = 0,
         bytes = 0, seconds = 0;
};

std::string text(const Row& r) {
  auto f = [](double v) { return v > 0 ? g(v) : std::string(); };
  char s[32];
  std::snprintf(s, sizeof s, "%.6e", r.seconds);
  return r.op + "," + r.variant + "," + r.dtype + "," + f(r.gpus) + "," + f(r.m) + "," + f(r.n) + "," + f(r.k) + "," +
         f(r.batch) + "," + f(r.tokens) + "," + f(r.heads) + "," + f(r.kv_heads) + "," + f(r.head_dim) + "," +
         f(r.elements) + "," + f(r.bytes) + "," + s;
}

}  // namespace

size_t write_device_profile(const ProfileSources& src, const std::string& output) {
  const auto folders = device_folders().find(src.device);
  if (folders == device_folders().end()) {
    std::string names;
    for (const auto& kv : device_folders()) names += (names.empty() ? "" : ", ") + kv.first;
    throw ScenarioError("<--device>", 0, "device",
                        "no public kernel tables for '" + src.device + "' (the converter knows " + names + ")");
  }
  const std::string base = src.aiconfigurator + "/" + folders->second.aiconfigurator;
  if (!fs::is_directory(base))
    throw ScenarioError(base, 0, "", "no such folder: expected AIConfigurator's systems/data/<device> layout");
  std::vector<Row> rows;
  std::vector<std::string> notes;
  std::map<std::string, size_t> dropped;  // table -> measurements left out as outliers

  // Which models the profile serves, and what they need.
  // Fused MoE layers: a mixture of experts is served only where its layer shape was measured on the device.
  const PlainCsv moe_table = read_plain_csv(only_subfolder(base + "/moe/vllm") + "/moe_perf.csv",
                                            {"kernel_source", "moe_dtype", "num_tokens", "hidden_size", "inter_size",
                                             "topk", "num_experts", "moe_tp_size", "moe_ep_size", "distribution",
                                             "latency"});
  std::set<std::tuple<int, int, int, int>> moe_measured;  // hidden, ffn, experts, top-k
  for (const auto& row : moe_table.rows)
    if (moe_table.get(row, "distribution") == "balanced" && moe_table.get(row, "kernel_source") == "vllm_fused_moe" &&
        moe_table.get(row, "moe_dtype") == "bfloat16")
      moe_measured.insert({static_cast<int>(moe_table.number(row, "hidden_size")),
                         static_cast<int>(moe_table.number(row, "inter_size")),
                         static_cast<int>(moe_table.number(row, "num_experts")),
                         static_cast<int>(moe_table.number(row, "topk"))});
  std::vector<models::ModelArch> served;
  std::vector<std::string> skipped;
  for (const models::ModelArch& m : src.models) {
    if (m.head_dim != 128)
      skipped.push_back(m.name + " (head_dim " + std::to_string(m.head_dim) + " not measured)");
    else if (m.is_moe() && !moe_measured.count({m.hidden, m.ffn, m.experts, m.experts_per_token}))
      skipped.push_back(m.name + " (its fused MoE layer not measured)");
    else
      served.push_back(m);
  }
  std::vector<std::pair<const models::ModelArch*, int>> shards;
  for (const models::ModelArch& m : served)
    for (int tp : {1, 2, 4, 8})
      if (m.heads % tp == 0) shards.emplace_back(&m, tp);

  // GEMMs: the measured (n, k) grid points around every shard shape (above the grid: the two largest).
  {
    const std::string path = only_subfolder(base + "/gemm/vllm") + "/gemm_perf.csv";
    const PlainCsv t = read_plain_csv(path, {"gemm_dtype", "m", "n", "k", "latency"});
    std::map<std::string, std::map<std::tuple<int, int, int>, std::vector<double>>> by;
    std::map<std::string, std::set<int>> ns, ks;
    for (const auto& row : t.rows) {
      const std::string& d = t.get(row, "gemm_dtype");
      const std::string dtype = d == "bfloat16" ? "bf16" : d == "fp8" ? "fp8" : "";
      if (dtype.empty()) continue;  // fp8_block (DeepSeek-style block scales): no catalog model uses it
      const int m = static_cast<int>(t.number(row, "m")), n = static_cast<int>(t.number(row, "n")),
                k = static_cast<int>(t.number(row, "k"));
      by[dtype][{m, n, k}].push_back(t.number(row, "latency") * 1e-3);
      ns[dtype].insert(n);
      ks[dtype].insert(k);
    }
    auto around = [](const std::set<int>& grid, int v) {
      std::set<int> keep;
      auto hi = grid.lower_bound(v);
      if (hi == grid.end()) {  // above the grid: its two largest points carry the slope
        keep.insert(*grid.rbegin());
        if (grid.size() > 1) keep.insert(*std::next(grid.rbegin()));
      } else {
        keep.insert(*hi);
        if (*hi != v && hi != grid.begin()) keep.insert(*std::prev(hi));
      }
      return keep;
    };
    for (const auto& [dtype, points] : by) {
      std::set<std::pair<int, int>> keep;
      for (const auto& [model, tp] : shards) {
        const models::ShardShapes s = models::shard_shapes(*model, tp);
        for (const auto& [n, k] : s.gemm)
          for (int nn : around(ns[dtype], n))
            for (int kk : around(ks[dtype], k)) keep.insert({nn, kk});
      }
      // Emitted by n, k, then m ascending.
      std::map<std::pair<int, int>, std::map<double, double>> curves;
      for (const auto& [mnk, lat] : points) {
        const auto [m, n, k] = mnk;
        if (keep.count({n, k})) curves[{n, k}][m] = median(lat);
      }
      for (auto& [nk, curve] : curves) {
        dropped["gemm"] += drop_outliers(curve);
        for (const auto& [m, s] : curve) {
          Row r;
          r.op = "gemm";
          r.dtype = dtype;
          r.n = nk.first, r.k = nk.second, r.m = m;
          r.seconds = s;
          rows.push_back(r);
        }
      }
    }
  }

  // Attention: the head configurations that stand in for the models', with a bf16 and an fp8 KV cache (bf16
  // activations both).
  for (const char* which : {"context", "generation"}) {
    const bool prefill = std::string(which) == "context";
    const std::string path =
        only_subfolder(base + "/attention/vllm") + "/" + which + "_attention_perf.csv";
    const PlainCsv t = read_plain_csv(path, {"batch_size", "isl", "num_heads", "num_key_value_heads", "head_dim",
                                             "attn_dtype", "kv_cache_dtype", "step", "latency"});
    std::map<models::KernelTables::HeadsKey, std::map<std::pair<int, int>, std::vector<double>>> by;
    for (const auto& row : t.rows) {
      if (t.get(row, "attn_dtype") != "bfloat16") continue;
      const std::string& kv = t.get(row, "kv_cache_dtype");
      const std::string kv_dtype = kv == "bfloat16" ? "bf16" : kv == "fp8" ? "fp8" : "";
      if (kv_dtype.empty()) continue;
      const models::KernelTables::HeadsKey key{kv_dtype, static_cast<int>(t.number(row, "num_heads")),
                                               static_cast<int>(t.number(row, "num_key_value_heads")),
                                               static_cast<int>(t.number(row, "head_dim"))};
      // Prefill: prompts of isl tokens. Decode: the step's token after isl + step cached ones reads isl + step keys.
      const int tokens = static_cast<int>(t.number(row, "isl") + (prefill ? 0 : t.number(row, "step")));
      by[key][{static_cast<int>(t.number(row, "batch_size")), tokens}].push_back(t.number(row, "latency") * 1e-3);
    }
    std::map<models::KernelTables::HeadsKey, models::KernelTables::Grid> grids;
    for (const auto& [key, pts] : by)
      for (const auto& [bt, lat] : pts) {
        auto& c = grids[key][bt.first];
        c.x.push_back(bt.second);
        c.seconds.push_back(median(lat));
      }
    std::set<models::KernelTables::HeadsKey> keep;
    for (const auto& [model, tp] : shards)
      for (const char* kv_dtype : {"bf16", "fp8"}) {
        models::KernelTables::HeadsKey h = models::shard_shapes(*model, tp).heads;
        h.kv_dtype = kv_dtype;
        try {
          keep.insert(models::attention_stand_in(grids, h, path).first);
        } catch (const std::invalid_argument&) {
          if (h.kv_dtype == "bf16") throw;  // an fp8 cache is optional (A100 has no fp8 attention measured)
        }
      }
    const std::string op = prefill ? "attn_prefill" : "attn_decode";
    for (const auto& key : keep) {
      std::map<int, std::map<double, double>> batch_rows;  // batch -> tokens -> seconds
      for (const auto& [bt, lat] : by.at(key)) batch_rows[bt.first][bt.second] = median(lat);
      for (auto& [batch, curve] : batch_rows) {
        dropped[op] += drop_outliers(curve);
        for (const auto& [tokens, s] : curve) {
          Row r;
          r.op = op;
          r.dtype = key.kv_dtype;
          r.batch = batch;
          r.tokens = tokens;
          r.heads = key.heads;
          r.kv_heads = key.kv_heads;
          r.head_dim = key.head_dim;
          r.seconds = s;
          rows.push_back(r);
        }
      }
    }
  }

  // Fused MoE layers of the catalog's mixtures of experts (bf16 and fp8 weights, every measured split over tp or ep
  // GPUs), routing balanced over the experts; absent where the device was not measured for a model's shapes.
  {
    const PlainCsv& t = moe_table;
    std::set<std::tuple<int, int, int, int>> wanted;  // hidden, ffn, experts, top-k
    for (const models::ModelArch& m : served)
      if (m.is_moe()) wanted.insert({m.hidden, m.ffn, m.experts, m.experts_per_token});
    std::map<models::KernelTables::MoeKey, std::map<int, std::vector<double>>> by;
    for (const auto& row : t.rows) {
      if (t.get(row, "distribution") != "balanced" || t.get(row, "kernel_source") != "vllm_fused_moe") continue;
      const std::string& d = t.get(row, "moe_dtype");
      const std::string dtype = d == "bfloat16" ? "bf16" : d == "fp8" ? "fp8" : "";
      if (dtype.empty()) continue;  // fp8_block, int4_wo: no catalog dtype
      const models::KernelTables::MoeKey key{dtype,
                                             static_cast<int>(t.number(row, "hidden_size")),
                                             static_cast<int>(t.number(row, "inter_size")),
                                             static_cast<int>(t.number(row, "num_experts")),
                                             static_cast<int>(t.number(row, "topk")),
                                             static_cast<int>(t.number(row, "moe_tp_size")),
                                             static_cast<int>(t.number(row, "moe_ep_size"))};
      if (!wanted.count({key.hidden, key.ffn, key.experts, key.top_k})) continue;
      if (key.tp > 1 && key.ep > 1) continue;  // vLLM splits experts over tp or over ep, not both
      by[key][static_cast<int>(t.number(row, "num_tokens"))].push_back(t.number(row, "latency") * 1e-3);
    }
    for (const auto& [key, pts] : by) {
      std::map<double, double> curve;
      for (const auto& [tokens, lat] : pts) curve[tokens] = median(lat);
      dropped["moe"] += drop_outliers(curve);
      for (const auto& [tokens, s] : curve) {
        Row r;
        r.op = "moe";
        r.variant = key.ep > 1 ? "ep" : "tp";
        r.dtype = key.dtype;
        r.gpus = key.ep > 1 ? key.ep : key.tp;
        r.m = tokens;
        r.n = key.ffn;
        r.k = key.hidden;
        r.heads = key.experts;
        r.kv_heads = key.top_k;
        r.seconds = s;
        rows.push_back(r);
      }
    }
  }

  // All-reduce: vLLM's custom all-reduce (in a CUDA graph and eager) and NCCL, bf16/fp16 elements -> bytes.
  {
    const std::string path = only_subfolder(base + "/comm/vllm") + "/custom_allreduce_perf.csv";
    const PlainCsv t = read_plain_csv(path, {"kernel_source", "allreduce_dtype", "num_gpus", "message_size", "latency"});
    std::map<std::tuple<std::string, int, double>, std::vector<double>> by;
    for (const auto& row : t.rows) {
      if (t.get(row, "allreduce_dtype") != "bfloat16") continue;
      const std::string& source = t.get(row, "kernel_source");
      const std::string variant = source == "vLLM_custom_graph" ? "graph" : source == "vLLM_custom_eager" ? "eager" : "";
      if (variant.empty()) t.fail(row.first, "kernel_source", "unknown kernel_source '" + source + "'");
      by[{variant, static_cast<int>(t.number(row, "num_gpus")), 2 * t.number(row, "message_size")}].push_back(
          t.number(row, "latency") * 1e-3);
    }
    const std::string npath = only_subfolder(base + "/comm/nccl") + "/nccl_perf.csv";
    const PlainCsv nt = read_plain_csv(npath, {"op_name", "nccl_dtype", "num_gpus", "message_size", "latency"});
    std::map<int, std::map<double, std::vector<double>>> alltoall;  // GPUs -> bytes per GPU -> latencies
    for (const auto& row : nt.rows) {
      if (nt.get(row, "op_name") == "alltoall" && nt.get(row, "nccl_dtype") == "half")
        alltoall[static_cast<int>(nt.number(row, "num_gpus"))][2 * nt.number(row, "message_size")].push_back(
            nt.number(row, "latency") * 1e-3);
      if (nt.get(row, "op_name") != "all_reduce" || nt.get(row, "nccl_dtype") != "half") continue;
      by[{"nccl", static_cast<int>(nt.number(row, "num_gpus")), 2 * nt.number(row, "message_size")}].push_back(
          nt.number(row, "latency") * 1e-3);
    }
    std::map<std::pair<std::string, int>, std::map<double, double>> curves;
    for (const auto& [key, lat] : by) curves[{std::get<0>(key), std::get<1>(key)}][std::get<2>(key)] = median(lat);
    for (auto& [vg, curve] : curves) {
      dropped["allreduce"] += drop_outliers(curve);
      for (const auto& [bytes, s] : curve) {
        Row r;
        r.op = "allreduce";
        r.variant = vg.first;
        r.gpus = vg.second;
        r.bytes = bytes;
        r.seconds = s;
        rows.push_back(r);
      }
    }
    // NCCL all-to-all (expert-parallel dispatch and combine), fp16 elements -> bytes per GPU.
    for (auto& [gpus, points] : alltoall) {
      std::map<double, double> curve;
      for (const auto& [bytes, lat] : points) curve[bytes] = median(lat);
      dropped["alltoall"] += drop_outliers(curve);
      for (const auto& [bytes, s] : curve) {
        Row r;
        r.op = "alltoall";
        r.variant = "nccl";
        r.gpus = gpus;
        r.bytes = bytes;
        r.seconds = s;
        rows.push_back(r);
      }
    }
  }

  // Pipeline send/recv (Vidur network profiles, fp16 elements): two GPUs on one node (NVLink) or two nodes.
  {
    const std::string path = src.vidur + "/data/profiling/network/" + folders->second.vidur_network + "/send_recv.csv";
    const PlainCsv t = read_plain_csv(path, {"size", "devices_per_node", "time_stats.send_recv.median"});
    std::map<std::string, std::vector<std::pair<double, double>>> by;
    for (const auto& row : t.rows) {
      const std::string variant = t.number(row, "devices_per_node") >= 2 ? "intra" : "inter";
      by[variant].emplace_back(2 * t.number(row, "size"), t.number(row, "time_stats.send_recv.median") * 1e-3);
    }
    for (const auto& [variant, points] : by)
      for (const auto& [bytes, s] : binned(points)) {
        Row r;
        r.op = "p2p";
        r.variant = variant;
        r.bytes = bytes;
        r.seconds = s;
        rows.push_back(r);
      }
  }

  // Elementwise operators (Vidur compute profiles of every model measured on the device), by elements processed.
  {
    const std::string dir = src.vidur + "/data/profiling/compute/" + folders->second.vidur_compute + "/meta-llama";
    std::vector<std::string> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (fs::is_regular_file(e.path() / "mlp.csv")) files.push_back((e.path() / "mlp.csv").string());
    if (ec || files.empty()) throw ScenarioError(dir, 0, "", "no <model>/mlp.csv profiles here (Vidur's layout)");
    std::sort(files.begin(), files.end());
    // op -> (Vidur operator, width of one token's row as a function of the model and tp)
    struct Source {
      const char* op;
      std::vector<const char*> vidur;
    };
    const std::vector<Source> sources = {{"rms_norm", {"input_layernorm", "post_attention_layernorm"}},
                                         {"rope", {"attn_rope"}},
                                         {"activation", {"mlp_act"}},
                                         {"add", {"add"}},
                                         {"embedding", {"emb"}}};
    std::map<std::string, std::vector<std::pair<double, double>>> by;
    for (const std::string& path : files) {
      const PlainCsv t = read_plain_csv(path, {"n_head", "n_kv_head", "n_embd", "n_expanded_embd", "num_tokens",
                                               "num_tensor_parallel_workers"});
      notes.push_back(fs::path(path).parent_path().filename().string());
      for (const auto& row : t.rows) {
        const double heads = t.number(row, "n_head"), kv = t.number(row, "n_kv_head"), hidden = t.number(row, "n_embd");
        const double ffn = t.number(row, "n_expanded_embd"), tokens = t.number(row, "num_tokens");
        const double tp = t.number(row, "num_tensor_parallel_workers"), hd = hidden / heads;
        for (const Source& s : sources) {
          const std::string op = s.op;
          const double width = op == "rope" ? (heads / tp + std::max(1.0, kv / tp)) * hd
                               : op == "activation" ? ffn / tp
                                                    : hidden;
          for (const char* v : s.vidur) {
            const std::string column = std::string("time_stats.") + v + ".median";
            if (!t.column.count(column)) t.fail(1, column, "missing column '" + column + "'");
            if (t.get(row, column).empty()) continue;
            by[op].emplace_back(tokens * width, t.number(row, column) * 1e-3);
          }
        }
      }
    }
    for (const auto& [op, points] : by)
      for (const auto& [elements, s] : binned(points)) {
        Row r;
        r.op = op;
        r.elements = elements;
        r.seconds = s;
        rows.push_back(r);
      }
  }

  const std::string tmp = output + ".tmp";
  {
    std::ofstream os(tmp, std::ios::binary);
    if (!os) throw std::runtime_error("cannot write " + tmp);
    std::string served_names;
    for (const auto& m : served) served_names += (served_names.empty() ? "" : ", ") + m.name;
    std::string skipped_names;
    for (const auto& s : skipped) skipped_names += (skipped_names.empty() ? "" : ", ") + s;
    std::string vidur_models;
    for (const auto& s : notes) vidur_models += (vidur_models.empty() ? "" : ", ") + s;
    os << "# aifsim device profile, format_version " << DEVICE_PROFILE_FORMAT_VERSION
       << " (docs/calibration-format.md)\n"
       << "# device: " << src.device << "\n"
       << "# kernels: vLLM " << fs::path(only_subfolder(base + "/gemm/vllm")).filename().string()
       << " GEMM and attention, vLLM custom all-reduce and NCCL all-reduce, measured by AIConfigurator on "
       << folders->second.aiconfigurator << "\n"
       << "# kernels_moe: vLLM " << fs::path(only_subfolder(base + "/moe/vllm")).filename().string()
       << " fused MoE and NCCL all-to-all, measured by AIConfigurator on "
       << folders->second.aiconfigurator << "\n"
       << "# source_kernels: ai-dynamo/aiconfigurator " << src.aiconfigurator_ref << " systems/data/"
       << folders->second.aiconfigurator << " (Apache-2.0)\n"
       << "# source_elementwise: microsoft/vidur " << src.vidur_ref << " data/profiling/compute/"
       << folders->second.vidur_compute << " (" << vidur_models << "), data/profiling/network/"
       << folders->second.vidur_network << "/send_recv.csv (MIT)\n"
       << "# units: seconds; bytes per GPU; elements = tokens x row width\n"
       << "# models: " << served_names << " (tp 1, 2, 4, 8)\n";
    if (!skipped_names.empty()) os << "# skipped: " << skipped_names << "\n";
    std::string outliers;
    for (const auto& [table, n] : dropped) outliers += (outliers.empty() ? "" : ", ") + table + " " + std::to_string(n);
    os << "# outliers_left_out: " << outliers << " (a measurement over " << OUTLIER_FACTOR
       << "x slower than one of a larger size on the same curve)\n";
    os << "# command: " << src.command << "\n";
    os << "op,variant,dtype,gpus,m,n,k,batch,tokens,heads,kv_heads,head_dim,elements,bytes,seconds\n";
    for (const Row& r : rows) os << text(r) << "\n";
    if (!os) throw std::runtime_error("cannot write " + tmp);
  }
  read_device_profile(tmp);  // what is renamed into place reads back
  fs::rename(tmp, output);
  return rows.size();
}

}  // namespace aif::sim
