// `aifsim compare-kernels`: kbench's measured kernel times against a device profile, at the same shapes, with the
// lookups the simulator uses (gemm_seconds, decode_attention_seconds, prefill_attention_seconds).
#include "compare_kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>

#include "aif/inputs/calibration.hpp"
#include "aif/inputs/device_profile.hpp"
#include "aif/scenario/scenario.hpp"

namespace aif::cli {

namespace {

// kbench's GEMM operators in LinearOp order, the order of ShardShapes::gemm.
const char* const GEMM_OPS[5] = {"qkv_proj", "o_proj", "gate_up_proj", "down_proj", "lm_head"};
const char* const ATTENTION_OPS[2] = {"attn_decode", "attn_prefill"};
// The profile's attention tables are vLLM's bf16 KV cache; its GEMMs are bf16.
const char* const PROFILE_DTYPE = "bf16";

int gemm_index(const std::string& op) {
  for (int i = 0; i < 5; ++i)
    if (op == GEMM_OPS[i]) return i;
  return -1;
}

bool is_attention(const std::string& op) { return op == ATTENTION_OPS[0] || op == ATTENTION_OPS[1]; }

// The line of a '# key: value' header line, for messages (1 when it cannot be found).
int header_line(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty() || line[0] != '#') break;
    if (line.rfind("# " + key + ":", 0) == 0) return number;
  }
  return 1;
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string shape_text(const models::ShardShapes& s) {
  std::string t;
  for (int i = 0; i < 5; ++i)
    t += std::string(i ? ", " : "") + GEMM_OPS[i] + " " + std::to_string(s.gemm[i].first) + "x" +
         std::to_string(s.gemm[i].second);
  return t;
}

std::string header_value(const models::CalibrationTable& t, const std::string& key) {
  const auto it = t.header.find(key);
  return it == t.header.end() ? "(not given)" : it->second;
}

// Where a kbench row sits in its operator's grid, for the summary's "worst at" column.
std::string where(const KernelComparisonRow& r) {
  if (r.op == "attn_decode") return "batch " + std::to_string(r.batch) + ", " + std::to_string(r.kv_len) + " keys";
  if (r.op == "attn_prefill") return "chunk " + std::to_string(r.tokens);
  return std::to_string(r.tokens) + (r.tokens == 1 ? " token" : " tokens");
}

}  // namespace

KernelComparison compare_kernels(const models::CalibrationTable& table, const models::KernelTables& profile,
                                 const models::ModelArch& model, int tp) {
  const std::string& path = table.source;
  if (tp < 1 || model.heads % tp != 0)
    throw sim::ScenarioError(path, 0, "--tp", "tp " + std::to_string(tp) + " does not divide the " +
                                                  std::to_string(model.heads) + " heads of " + model.name);
  KernelComparison c;
  c.shapes = models::shard_shapes(model, tp);
  c.shapes.heads.kv_dtype = PROFILE_DTYPE;
  std::map<std::string, size_t> others;
  for (const models::CalibrationRow& row : table.rows) {
    if (row.op == "peak_gemm" || row.op == "stream_triad") continue;  // device peaks, not operators
    if (row.tp != tp) {
      ++c.other_tp_rows;
      continue;
    }
    const int g = gemm_index(row.op);
    if (g < 0 && !is_attention(row.op)) {
      ++others[row.op];
      continue;
    }
    if (!(row.median_s > 0) || !std::isfinite(row.median_s))
      throw sim::ScenarioError(path, row.line, "median_s", "a measured time must be a positive number");
    KernelComparisonRow r;
    r.op = row.op;
    r.line = row.line;
    r.tokens = row.tokens, r.batch = row.batch, r.kv_len = row.kv_len, r.n = row.n, r.k = row.k;
    r.measured_s = row.median_s;
    r.spread = row.p90_s > 0 ? (row.p90_s - row.p10_s) / row.median_s : 0;
    if (g >= 0) {
      const auto [n, k] = c.shapes.gemm[g];
      if (row.n != n || row.k != k)
        throw sim::ScenarioError(path, row.line, "n",
                                 row.op + " of " + model.name + " at tp " + std::to_string(tp) + " is n=" +
                                     std::to_string(n) + " k=" + std::to_string(k) + "; this row has n=" +
                                     std::to_string(row.n) + " k=" + std::to_string(row.k) +
                                     " (the table was measured for another model or tp: see its '# model:' line)");
      try {
        r.reference_s = models::gemm_seconds(profile, PROFILE_DTYPE, row.tokens, n, k);
      } catch (const std::exception& e) {
        // The smallest m never fails (it clamps): a failure there is the (n, k) shape, otherwise the token count.
        bool shape_known = true;
        try {
          models::gemm_seconds(profile, PROFILE_DTYPE, 1, n, k);
        } catch (const std::exception&) {
          shape_known = false;
        }
        throw sim::ScenarioError(path, row.line, shape_known ? "tokens" : "n",
                                 row.op + " n=" + std::to_string(n) + " k=" + std::to_string(k) + " at " +
                                     std::to_string(row.tokens) + " tokens is not in the profile: " + e.what());
      }
    } else {
      r.reference_s = std::numeric_limits<double>::quiet_NaN();
      const int prefix = row.kv_len - row.tokens;
      if (row.op == "attn_prefill" && prefix != 0) {
        r.unmatched = "a chunk after " + std::to_string(prefix) +
                      " cached tokens; the profile times whole prompts (no cached prefix)";
      } else {
        try {
          r.reference_s =
              row.op == "attn_decode"
                  ? models::decode_attention_seconds(profile, c.shapes.heads, std::max(1, row.batch), row.kv_len)
                  : models::prefill_attention_seconds(profile, c.shapes.heads, std::max(1, row.batch), row.tokens);
        } catch (const std::exception& e) {  // no such head configuration, or beyond the measured points
          r.unmatched = e.what();
        }
      }
    }
    c.rows.push_back(r);
  }
  if (c.rows.empty())
    throw sim::ScenarioError(path, 0, "tp",
                             "no GEMM or attention rows at tp " + std::to_string(tp) + " (" +
                                 std::to_string(c.other_tp_rows) + " rows of other tp values)");

  std::vector<std::string> order(GEMM_OPS, GEMM_OPS + 5);
  order.insert(order.end(), ATTENTION_OPS, ATTENTION_OPS + 2);
  for (const std::string& op : order) {
    KernelComparisonSummary s;
    s.op = op;
    std::vector<double> ratios;
    double worst_log = -1;
    for (size_t i = 0; i < c.rows.size(); ++i) {
      const KernelComparisonRow& r = c.rows[i];
      if (r.op != op) continue;
      if (!r.unmatched.empty()) {
        ++s.unmatched;
        continue;
      }
      const double ratio = r.ratio();
      ratios.push_back(ratio);
      if (std::abs(std::log(ratio)) > worst_log) worst_log = std::abs(std::log(ratio)), s.worst_row = i;
    }
    if (ratios.empty() && s.unmatched == 0) continue;
    s.compared = ratios.size();
    if (!ratios.empty()) {
      std::sort(ratios.begin(), ratios.end());
      const size_t h = ratios.size() / 2;
      s.median_ratio = ratios.size() % 2 ? ratios[h] : (ratios[h - 1] + ratios[h]) / 2;
      s.min_ratio = ratios.front();
      s.max_ratio = ratios.back();
      s.worst_ratio = c.rows[s.worst_row].ratio();
    }
    c.summary.push_back(s);
  }
  c.not_compared.assign(others.begin(), others.end());
  return c;
}

std::string format_kernel_comparison(const KernelComparison& c, const models::CalibrationTable& table,
                                     const models::KernelTables& profile, const models::ModelArch& model, int tp) {
  namespace fs = std::filesystem;
  const std::string device = header_value(table, "device");
  std::string md;
  md += "# Kernel times: " + fs::path(table.source).filename().string() + " vs " +
        fs::path(profile.source).filename().string() + "\n\n";
  md += "- measured: `" + fs::path(table.source).filename().string() + "`, device " + device + " (" +
        header_value(table, "device_description") + "), model " + header_value(table, "model") + ", grid " +
        header_value(table, "grid") + ", " + header_value(table, "date") + "\n";
  const auto kernels = profile.header.find("kernels");
  md += "- reference: `" + fs::path(profile.source).filename().string() + "`, " + profile.device +
        (kernels == profile.header.end() ? "" : " (" + kernels->second + ")") + "\n";
  md += "- shapes: " + model.name + " at tp " + std::to_string(tp) + ": GEMMs (n x k) " + shape_text(c.shapes) +
        "; attention " + std::to_string(c.shapes.heads.heads) + " query / " + std::to_string(c.shapes.heads.kv_heads) +
        " KV heads per GPU, head_dim " + std::to_string(c.shapes.heads.head_dim) + "\n";
  for (const auto* grids : {&profile.decode, &profile.prefill}) {
    try {
      const auto [key, factor] = models::attention_stand_in(*grids, c.shapes.heads, "profile");
      if (factor != 1)
        md += std::string("- ") + (grids == &profile.decode ? "attn_decode" : "attn_prefill") + ": the profile has " +
              std::to_string(key.heads) + "/" + std::to_string(key.kv_heads) +
              " heads, not this shard's; it stands in with the batch scaled by " + fmt("%g", factor) +
              " (as the simulator does)\n";
    } catch (const std::exception&) {
      // Reported on every attention row as unmatched.
    }
  }
  md += "- ratio = measured median / profile time at the same shape, interpolated as the simulator does "
        "(gemm_seconds, decode_attention_seconds, prefill_attention_seconds of models/kernel_tables.hpp); "
        "above 1: slower here. Worst = farthest from 1.\n";
  md += "- by construction the two differ: this engine's linear converts fp32 activations to bf16 and writes fp32 "
        "(vLLM: bf16 in and out); its attention is a plain kernel over an fp32 KV cache (vLLM: FlashAttention or "
        "FlashInfer over bf16).\n";
  if (device != "cuda")
    md += "- **device " + device + ": a dry run of the pipeline; these ratios set a CPU against a GPU's profile.**\n";

  md += "\n## Summary\n\n| operator | rows | median ratio | worst ratio | worst at | min | max | not matched |\n"
        "|---|---:|---:|---:|---|---:|---:|---:|\n";
  for (const KernelComparisonSummary& s : c.summary) {
    if (s.compared == 0) {
      md += "| " + s.op + " | 0 | - | - | - | - | - | " + std::to_string(s.unmatched) + " |\n";
      continue;
    }
    md += "| " + s.op + " | " + std::to_string(s.compared) + " | " + fmt("%.3g", s.median_ratio) + " | " +
          fmt("%.3g", s.worst_ratio) + " | " + where(c.rows[s.worst_row]) + " | " + fmt("%.3g", s.min_ratio) + " | " +
          fmt("%.3g", s.max_ratio) + " | " + std::to_string(s.unmatched) + " |\n";
  }

  md += "\n## GEMMs\n\n| operator | n | k | tokens | measured us | profile us | ratio | spread |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const KernelComparisonRow& r : c.rows) {
    if (is_attention(r.op)) continue;
    md += "| " + r.op + " | " + std::to_string(r.n) + " | " + std::to_string(r.k) + " | " + std::to_string(r.tokens) +
          " | " + fmt("%.4g", r.measured_s * 1e6) + " | " + fmt("%.4g", r.reference_s * 1e6) + " | " +
          fmt("%.3g", r.ratio()) + " | " + fmt("%.2f", r.spread) + " |\n";
  }
  md += "\n## Attention\n\n| operator | batch | tokens | kv_len | measured us | profile us | ratio | spread |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|\n";
  std::vector<const KernelComparisonRow*> unmatched;
  for (const KernelComparisonRow& r : c.rows) {
    if (!is_attention(r.op)) continue;
    if (!r.unmatched.empty()) {
      unmatched.push_back(&r);
      continue;
    }
    md += "| " + r.op + " | " + std::to_string(r.batch) + " | " + std::to_string(r.tokens) + " | " +
          std::to_string(r.kv_len) + " | " + fmt("%.4g", r.measured_s * 1e6) + " | " +
          fmt("%.4g", r.reference_s * 1e6) + " | " + fmt("%.3g", r.ratio()) + " | " + fmt("%.2f", r.spread) + " |\n";
  }
  if (!unmatched.empty()) {
    md += "\n### Not matched by the profile\n\n| operator | batch | tokens | kv_len | measured us | why |\n"
          "|---|---:|---:|---:|---:|---|\n";
    for (const KernelComparisonRow* r : unmatched)
      md += "| " + r->op + " | " + std::to_string(r->batch) + " | " + std::to_string(r->tokens) + " | " +
            std::to_string(r->kv_len) + " | " + fmt("%.4g", r->measured_s * 1e6) + " | " + r->unmatched + " |\n";
  }
  md += "\n## Not compared\n\n";
  std::string ops;
  for (const auto& [op, n] : c.not_compared) ops += (ops.empty() ? "" : ", ") + op + " (" + std::to_string(n) + ")";
  md += "- operators without a counterpart here (vLLM fuses or times them differently): " +
        (ops.empty() ? std::string("none") : ops) + "\n";
  md += "- rows of other tp values: " + std::to_string(c.other_tp_rows) + "\n";
  return md;
}

CLI::App* add_compare_kernels_command(CLI::App& app, CompareKernelsOptions& o) {
  CLI::App* c = app.add_subcommand(
      "compare-kernels",
      "Compare a kbench table with a device profile, operator by operator at a model's shard shapes "
      "(ratio measured / profile)");
  c->add_option("kbench", o.kbench, "Table written by aifsim-kbench")->required();
  c->add_option("--profile", o.profile, "Device profile (e.g. data/calibration/H100-SXM.csv)")->required();
  c->add_option("--model", o.model, "Model whose shard shapes the table timed (key of data/models.yaml)")->required();
  c->add_option("--tp", o.tp, "Tensor-parallel degree of the rows to compare")->required();
  c->add_option("-o,--output", o.output, "Write the Markdown report here instead of stdout");
  return c;
}

int run_compare_kernels(const CompareKernelsOptions& o) {
  const std::string catalog_path = sim::data_dir() + "/models.yaml";
  const auto catalog = sim::load_model_catalog(catalog_path);
  const auto arch = catalog.find(o.model);
  if (arch == catalog.end()) {
    std::string names;
    for (const auto& [name, m] : catalog) names += (names.empty() ? "" : ", ") + name;
    throw sim::ScenarioError(catalog_path, 0, "--model", o.model + " is not in the model catalog (" + names + ")");
  }
  const models::CalibrationTable table = sim::read_calibration_csv(o.kbench);
  const auto model_key = table.header.find("model");
  if (model_key != table.header.end() && model_key->second != o.model)
    throw sim::ScenarioError(o.kbench, header_line(o.kbench, "model"), "model",
                             "the table timed " + model_key->second + "'s shapes, --model is " + o.model);
  const auto profile = sim::read_device_profile(o.profile);
  const KernelComparison c = compare_kernels(table, *profile, arch->second, o.tp);
  const std::string md = format_kernel_comparison(c, table, *profile, arch->second, o.tp);
  if (o.output.empty()) {
    std::cout << md;
    return 0;
  }
  const std::string tmp = o.output + ".tmp";
  {
    std::ofstream out(tmp);
    out << md;
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, o.output);  // a failed run leaves nothing under the real name
  for (const KernelComparisonSummary& s : c.summary) {
    if (s.compared)
      std::printf("%-13s %3zu rows: median ratio %.3g, worst %.3g (%s)%s\n", s.op.c_str(), s.compared,
                  s.median_ratio, s.worst_ratio, where(c.rows[s.worst_row]).c_str(),
                  s.unmatched ? (", " + std::to_string(s.unmatched) + " not matched").c_str() : "");
    else
      std::printf("%-13s   0 rows matched, %zu not matched\n", s.op.c_str(), s.unmatched);
  }
  std::printf("wrote    %s\n", o.output.c_str());
  return 0;
}

}  // namespace aif::cli
