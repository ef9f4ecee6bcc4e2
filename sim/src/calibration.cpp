// Reading kbench calibration tables (docs/calibration-format.md) with the project's error discipline: one
// ScenarioError per problem, naming the file, the line and the column.
#include "aif/sim/calibration.hpp"
#include "csv_text.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <tuple>

#include "aif/sim/scenario.hpp"
#include "aif/sim/yaml_util.hpp"

namespace aif::sim {

namespace {

const std::vector<std::string> REQUIRED_COLUMNS = {"op", "tp", "tokens",   "batch", "kv_len",
                                                   "n",  "k",  "median_s", "flop",  "bytes"};
const std::vector<std::string> OPTIONAL_COLUMNS = {"p10_s", "p90_s"};
const std::vector<std::string> OVERHEAD_KEYS = {"iteration_overhead_s", "overhead_per_seq_s", "overhead_per_token_s",
                                                "overhead_per_key_s"};

using csv::split_commas;
using csv::trim;

// A finite decimal number written in full (strtod syntax, nothing after it); false otherwise.
bool parse_double(const std::string& text, double& value) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  value = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && errno != ERANGE && std::isfinite(value);
}

class TableReader {
 public:
  explicit TableReader(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(int line, const std::string& column, const std::string& message) const {
    throw ScenarioError(path_, line, column, message);
  }

  double number(int line, const std::string& column, const std::string& text, double minimum, bool open) const {
    double value = 0;
    if (!parse_double(text, value)) fail(line, column, "expected a number, found '" + text + "'");
    if (open ? !(value > minimum) : !(value >= minimum)) {
      fail(line, column,
           std::string("expected a number ") + (open ? "> " : ">= ") + format(minimum) + ", found " + text);
    }
    return value;
  }

  int integer(int line, const std::string& column, const std::string& text, int minimum) const {
    if (text.empty()) fail(line, column, "expected a whole number, found an empty field");
    if (text[0] == '-' && text.size() > 1 && text.find_first_not_of("0123456789", 1) == std::string::npos)
      fail(line, column, "expected a whole number >= " + std::to_string(minimum) + ", found the negative " + text);
    if (text.find_first_not_of("0123456789") != std::string::npos)
      fail(line, column, "expected a whole number (digits only), found '" + text + "'");
    if (text.size() > 9) fail(line, column, "value " + text + " is too large (at most 999999999)");
    const int value = std::stoi(text);
    if (value < minimum)
      fail(line, column, "expected a whole number >= " + std::to_string(minimum) + ", found " + text);
    return value;
  }

 private:
  static std::string format(double v) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%g", v);
    return buffer;
  }

  std::string path_;
};

// "format_version 1" inside kbench's free-text title line; -1 when the line does not name one.
int version_in_title(const std::string& text) {
  const std::string tag = "format_version";
  const size_t at = text.find(tag);
  if (at == std::string::npos) return -1;
  size_t i = at + tag.size();
  while (i < text.size() && (text[i] == ' ' || text[i] == ':' || text[i] == '=')) ++i;
  size_t j = i;
  while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
  return j > i && j - i < 6 ? std::stoi(text.substr(i, j - i)) : 0;
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
  const TableReader r(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) r.fail(0, "", std::string("cannot open the calibration table: ") + std::strerror(errno));

  models::CalibrationTable table;
  table.source = path;
  std::map<std::string, int> header_line;  // key -> line, for messages
  int version = -1, version_line = 0;
  std::string line;
  int number = 0;
  bool have_columns = false;
  std::vector<std::string> names;
  std::map<std::string, size_t> column;  // name -> index in a row

  // Provenance header, then the column header.
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) continue;
    if (line[0] != '#') {
      have_columns = true;
      break;
    }
    const std::string body = trim(line.substr(1));
    const size_t colon = body.find(": ");
    const std::string key = colon == std::string::npos ? "" : trim(body.substr(0, colon));
    if (key.empty() || key.find(' ') != std::string::npos) {  // free text, such as kbench's title line
      if (const int v = version_in_title(body); v >= 0 && version < 0) version = v, version_line = number;
      continue;
    }
    if (header_line.count(key) != 0) {
      r.fail(number, key,
             "header key '" + key + "' given twice (also on line " + std::to_string(header_line[key]) + ")");
    }
    header_line[key] = number;
    table.header[key] = trim(body.substr(colon + 2));
    if (key == "format_version") {
      version = r.integer(number, key, table.header[key], 0);
      version_line = number;
    }
  }
  if (!have_columns) {
    r.fail(std::max(number, 1), "",
           "no column header found; expected a line such as 'op,tp,tokens,batch,kv_len,n,k,...,median_s,...' after "
           "the '# key: value' lines");
  }
  if (version < 0) {
    r.fail(1, "format_version",
           "the header does not give the format version; expected '# format_version: " +
               std::to_string(CALIBRATION_FORMAT_VERSION) + "' (or kbench's title line)");
  }
  if (version != CALIBRATION_FORMAT_VERSION) {
    r.fail(version_line, "format_version",
           "format_version " + std::to_string(version) + " is not supported; this aifsim reads version " +
               std::to_string(CALIBRATION_FORMAT_VERSION));
  }
  for (const char* key : {"peak_flop_per_s", "peak_bytes_per_s"}) {
    const auto it = table.header.find(key);
    if (it == table.header.end())
      r.fail(1, key, std::string("the header has no '# ") + key + ": <value>' line (measured by aifsim-kbench)");
    (key == std::string("peak_flop_per_s") ? table.peak_flop_per_s : table.peak_bytes_per_s) =
        r.number(header_line[key], key, it->second, 0, true);
  }
  for (const std::string& key : OVERHEAD_KEYS) {
    if (const auto it = table.header.find(key); it != table.header.end()) {
      r.number(header_line[key], key, it->second, 0, false);
    }
  }

  // Column header: names looked up, unknown ones ignored.
  const int column_line = number;
  names = split_commas(line);
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) r.fail(column_line, "", "column " + std::to_string(i + 1) + " of the header has no name");
    if (!column.emplace(names[i], i).second) r.fail(column_line, names[i], "column given twice in the header");
  }
  for (const std::string& name : REQUIRED_COLUMNS) {
    if (column.count(name) == 0)
      r.fail(column_line, name, "missing column '" + name + "' (required: " + yaml::join_or(REQUIRED_COLUMNS) + ")");
  }

  using GridPoint = std::tuple<std::string, int, int, int, int, int, int>;
  std::map<GridPoint, int> seen;  // grid point -> line
  const std::vector<std::string>& ops = calibration_ops();
  int blank_line = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) {
      if (blank_line == 0) blank_line = number;
      continue;
    }
    if (blank_line != 0) r.fail(blank_line, "", "blank line in the middle of the table (only the end may have them)");
    if (line[0] == '#') r.fail(number, "", "'#' lines belong in the header, before the column header");
    const std::vector<std::string> fields = split_commas(line);
    if (fields.size() != names.size()) {
      r.fail(number, fields.size() < names.size() ? names[fields.size()] : "",
             "expected " + std::to_string(names.size()) + " comma-separated fields as in the header (line " +
                 std::to_string(column_line) + "), found " + std::to_string(fields.size()));
    }
    auto field = [&](const std::string& name) -> const std::string& { return fields[column.at(name)]; };
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
    row.p10_s = column.count("p10_s") ? r.number(number, "p10_s", field("p10_s"), 0, false) : row.median_s;
    row.p90_s = column.count("p90_s") ? r.number(number, "p90_s", field("p90_s"), 0, false) : row.median_s;
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
  if (table.rows.empty()) r.fail(column_line, "", "the table has a column header but no rows");
  return table;
}

}  // namespace aif::sim
