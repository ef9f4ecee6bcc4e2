// Reading kbench calibration tables (docs/calibration-format.md) with the project's error discipline: one
// ScenarioError per problem, naming the file, the line and the column.
#include "aif/inputs/calibration.hpp"
#include "aif/inputs/annotated_csv.hpp"
#include "aif/inputs/csv_text.hpp"
#include "aif/inputs/measured_curves.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <tuple>

#include "aif/inputs/input_error.hpp"
#include "aif/inputs/yaml_util.hpp"

namespace aif::sim {

namespace {

const std::vector<std::string> REQUIRED_COLUMNS = {"op", "tp", "tokens",   "batch", "kv_len",
                                                   "n",  "k",  "median_s", "flop",  "bytes"};
const std::vector<std::string> OPTIONAL_COLUMNS = {"p10_s", "p90_s"};
const std::vector<std::string> OVERHEAD_KEYS = {"iteration_overhead_s", "overhead_per_seq_s", "overhead_per_token_s",
                                                "overhead_per_key_s", "overhead_per_prefill_pair_s"};

using csv::parse_double;
using csv::split_commas;
using csv::trim;

// Problems with a table are ScenarioErrors naming the file, the line and the column.
auto table_reader(const std::string& path) {
  return csv::FieldReader([path](int line, const std::string& column, const std::string& message) {
    throw ScenarioError(path, line, column, message);
  });
}

}  // namespace

const std::vector<std::string>& calibration_ops() {
  static const std::vector<std::string> OPS = {"peak_gemm",      "stream_triad", "qkv_proj",    "o_proj",
                                               "gate_up_proj",   "down_proj",    "lm_head",     "rms_norm",
                                               "swiglu",         "rope",         "add",         "embedding",
                                               "kv_cache_write", "sampling",     "attn_decode", "attn_prefill"};
  return OPS;
}

double calibration_header_number(const models::CalibrationTable& table, const std::string& key, double fallback) {
  const auto it = table.header.find(key);
  if (it == table.header.end()) return fallback;
  double value = 0;
  return parse_double(it->second, value) ? value : fallback;
}

models::CalibrationTable read_calibration_csv(const std::string& path) {
  const auto r = table_reader(path);
  const csv::AnnotatedCsv t = csv::read_annotated_csv(
      path, r,
      {"calibration table", CALIBRATION_FORMAT_VERSION, "kbench's title line",
       "op,tp,tokens,batch,kv_len,n,k,...,median_s,...", REQUIRED_COLUMNS});
  models::CalibrationTable table;
  table.source = path;
  table.header = t.header;
  for (const char* key : {"peak_flop_per_s", "peak_bytes_per_s"}) {
    const auto it = table.header.find(key);
    if (it == table.header.end())
      r.fail(1, key, std::string("the header has no '# ") + key + ": <value>' line (measured by aifsim-kbench)");
    (key == std::string("peak_flop_per_s") ? table.peak_flop_per_s : table.peak_bytes_per_s) =
        r.number(t.header_line.at(key), key, it->second, 0, true);
  }
  for (const std::string& key : OVERHEAD_KEYS) {
    if (const auto it = table.header.find(key); it != table.header.end()) {
      r.number(t.header_line.at(key), key, it->second, 0, false);
    }
  }

  using GridPoint = std::tuple<std::string, int, int, int, int, int, int>;
  std::map<GridPoint, int> seen;  // grid point -> line
  const std::vector<std::string>& ops = calibration_ops();
  for (const csv::AnnotatedCsv::Row& line : t.rows) {
    const int number = line.line;
    auto field = [&](const std::string& name) -> const std::string& { return t.field(line, name); };
    models::CalibrationRow row;
    row.line = number;
    row.op = field("op");
    if (std::find(ops.begin(), ops.end(), row.op) == ops.end())
      r.fail(number, "op", "unknown operator '" + row.op + "' (valid operators: " + yaml::join_or(ops) + ")");
    row.tp = r.integer(number, "tp", field("tp"), 1);
    row.tokens = r.integer(number, "tokens", field("tokens"), 0);
    row.batch = r.integer(number, "batch", field("batch"), 0);
    row.kv_len = r.integer(number, "kv_len", field("kv_len"), 0);
    row.n = r.integer(number, "n", field("n"), 0);
    row.k = r.integer(number, "k", field("k"), 0);
    row.median_s = r.number(number, "median_s", field("median_s"), 0, true);
    row.flop = r.number(number, "flop", field("flop"), 0, false);
    row.bytes = r.number(number, "bytes", field("bytes"), 0, false);
    // Without a spread the point counts as exact (p10 = p90 = median).
    row.p10_s = t.has("p10_s") ? r.number(number, "p10_s", field("p10_s"), 0, false) : row.median_s;
    row.p90_s = t.has("p90_s") ? r.number(number, "p90_s", field("p90_s"), 0, false) : row.median_s;
    const GridPoint point{row.op, row.tp, row.tokens, row.batch, row.kv_len, row.n, row.k};
    if (const auto [it, fresh] = seen.emplace(point, number); !fresh) {
      r.fail(number, "op",
             "duplicate grid point: " + row.op + " tp=" + std::to_string(row.tp) +
                 " tokens=" + std::to_string(row.tokens) + " batch=" + std::to_string(row.batch) +
                 " kv_len=" + std::to_string(row.kv_len) + " n=" + std::to_string(row.n) +
                 " k=" + std::to_string(row.k) + " is already on line " + std::to_string(it->second));
    }
    table.rows.push_back(row);
  }
  return table;
}

KbenchOutliers kbench_outliers(const models::CalibrationTable& table) {
  // Curves: (key of the curve) -> size -> (seconds, line).
  std::map<std::tuple<std::string, int, int, int, int>, std::map<double, std::pair<double, int>>> curves;
  for (const models::CalibrationRow& r : table.rows) {
    if (r.op == "peak_gemm" || r.op == "stream_triad") continue;
    const bool prefill = r.op == "attn_prefill", decode = r.op == "attn_decode";
    if (prefill) {
      const int prefix = r.kv_len - r.tokens;
      curves[{r.op + " over the prefix", r.tp, r.batch, r.tokens, 0}][prefix] = {r.median_s, r.line};
      curves[{r.op + " over the chunk", r.tp, r.batch, prefix, 0}][r.tokens] = {r.median_s, r.line};
    } else if (decode) {
      curves[{r.op + " over the keys", r.tp, r.batch, 0, 0}][r.kv_len] = {r.median_s, r.line};
      curves[{r.op + " over the batch", r.tp, r.kv_len, 0, 0}][r.batch] = {r.median_s, r.line};
    } else {
      curves[{r.op, r.tp, r.n, r.k, 0}][r.tokens] = {r.median_s, r.line};
    }
  }
  std::map<int, std::string> flagged;  // line -> operator (a row may be an outlier on two curves: counted once)
  for (const auto& [key, points] : curves) {
    std::map<double, double> curve;
    for (const auto& [x, v] : points) curve[x] = v.first;
    const std::string& name = std::get<0>(key);
    for (double x : measured::outlier_sizes(curve)) flagged[points.at(x).second] = name.substr(0, name.find(' '));
  }
  KbenchOutliers out;
  out.factor = measured::OUTLIER_FACTOR;
  for (const auto& [line, op] : flagged) {
    out.lines.push_back(line);
    ++out.by_op[op];
  }
  return out;
}

}  // namespace aif::sim
