// `aifsim compare-kernels KBENCH.csv --profile PROFILE.csv --model MODEL --tp N [-o comparison.md]`: the kernel times
// aifsim-kbench measured on this machine against a device profile (vLLM's kernels measured on the same GPU type),
// operator by operator at the model's tensor-parallel shard shapes, with the simulator's own interpolation
// (models/kernel_tables.hpp). What scripts/gpu_check.sh runs on a GPU.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "aif/models/calibration.hpp"
#include "aif/models/hardware.hpp"
#include "aif/models/kernel_tables.hpp"

namespace aif::cli {

struct CompareKernelsOptions {
  std::string kbench;   // aifsim-kbench table (docs/calibration-format.md)
  std::string profile;  // device profile (data/calibration/<device>.csv)
  std::string model;    // key of data/models.yaml
  int tp = 1;
  std::string output;   // Markdown report; "" = stdout
};

// One kbench row of a compared operator. reference_s is NaN when the profile has no counterpart (`unmatched` says
// why); only attention rows can be unmatched, a GEMM the profile cannot answer is an input error.
struct KernelComparisonRow {
  std::string op;
  int line = 0;  // in the kbench table
  int tokens = 0, batch = 0, kv_len = 0, n = 0, k = 0;
  double measured_s = 0, spread = 0;  // kbench median and (p90 - p10) / median (0 when the table has no p10/p90)
  double reference_s = 0;
  std::string unmatched;
  double ratio() const { return measured_s / reference_s; }
};

// Per operator: over its matched rows, the median ratio and the worst one (farthest from 1 in log terms).
struct KernelComparisonSummary {
  std::string op;
  size_t compared = 0, unmatched = 0;
  double median_ratio = 0, worst_ratio = 0, min_ratio = 0, max_ratio = 0;
  size_t worst_row = 0;  // index into KernelComparison::rows
};

struct KernelComparison {
  std::vector<KernelComparisonRow> rows;  // compared operators, in table order
  std::vector<KernelComparisonSummary> summary;  // qkv_proj, o_proj, gate_up_proj, down_proj, lm_head, attn_decode,
                                                 // attn_prefill (those with rows)
  size_t other_tp_rows = 0;                      // rows of another tp, left out
  std::vector<std::pair<std::string, size_t>> not_compared;  // operators the comparison does not cover, row counts
  models::ShardShapes shapes;                    // of the model at tp, attention heads with the profile's KV dtype
};

// Compares the rows of `table` at `tp` with `profile`. Throws sim::ScenarioError naming the kbench file, line and
// column when a GEMM row's (n, k) is not the model's shard shape at tp, when the profile cannot answer a GEMM row,
// or when no row has this tp.
KernelComparison compare_kernels(const models::CalibrationTable& table, const models::KernelTables& profile,
                                 const models::ModelArch& model, int tp);

// The comparison as Markdown (summary, then every row).
std::string format_kernel_comparison(const KernelComparison& c, const models::CalibrationTable& table,
                                     const models::KernelTables& profile, const models::ModelArch& model, int tp);

CLI::App* add_compare_kernels_command(CLI::App& app, CompareKernelsOptions& options);
// Exit code 0; bad input (a file, a row, the model, tp) throws sim::ScenarioError (exit 2 in main).
int run_compare_kernels(const CompareKernelsOptions& options);

}  // namespace aif::cli
