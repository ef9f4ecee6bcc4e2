#include "aif/analysis/plan_table.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include "aif/analysis/results.hpp"

namespace aif::analysis {

namespace {

constexpr double UNFINISHED_FROM = 1e299;  // the plan's measure of a request that never finished is 1e300 or more

std::string cell(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string number(double v) {
  if (v >= UNFINISHED_FROM) return "unfinished";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string number(const std::optional<double>& v) { return v ? number(*v) : ""; }

const char* const FIXED_BEFORE_SLOS[] = {"racks", "gpus", "gpu_cost_per_h", "status", "reason", "min_step_s",
                                         "utilization_bound"};

std::vector<std::string> header_of(const PlanTable& t) {
  std::vector<std::string> h{"id"};
  h.insert(h.end(), t.dimensions.begin(), t.dimensions.end());
  h.insert(h.end(), std::begin(FIXED_BEFORE_SLOS), std::end(FIXED_BEFORE_SLOS));
  for (const std::string& s : t.slos) h.push_back(s + "_s");
  for (const char* c : {"availability", "facility_energy_kwh", "cost_per_h", "meets"}) h.emplace_back(c);
  if (t.racks_down > 0) {
    const std::string p = "n" + std::to_string(t.racks_down) + ".";
    for (const std::string& s : t.slos) h.push_back(p + s + "_s");
    h.push_back(p + "availability");
    h.push_back(p + "meets");
  }
  h.emplace_back("frontier");
  h.emplace_back("chosen");
  return h;
}

// One record per line: aifsim plan writes no line breaks inside cells (a reason is one sentence).
std::vector<std::string> split_record(const std::string& line, const std::string& file, int line_no) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      cells.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      cells.emplace_back();
    } else {
      cells.back() += c;
    }
  }
  if (quoted) throw ResultsError(file + ":" + std::to_string(line_no) + ": a quoted cell is not closed");
  return cells;
}

class RowReader {
 public:
  RowReader(const std::vector<std::string>& header, const std::vector<std::string>& cells, std::string file, int line)
      : header_(header), cells_(cells), file_(std::move(file)), line_(line) {}
  const std::string& text(size_t column) const { return cells_[column]; }
  [[noreturn]] void fail(size_t column, const std::string& what) const {
    throw ResultsError(file_ + ":" + std::to_string(line_) + ": " + header_[column] + ": " + what + ", found '" +
                       cells_[column] + "'");
  }
  std::optional<double> optional_number(size_t column, bool unfinished_allowed = false) const {
    const std::string& s = cells_[column];
    if (s.empty()) return std::nullopt;
    if (s == "unfinished") {
      if (!unfinished_allowed) fail(column, "expected a number");
      return std::numeric_limits<double>::infinity();
    }
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size() || !std::isfinite(v))
      fail(column, unfinished_allowed ? "expected a number or 'unfinished'" : "expected a number");
    return v;
  }
  double number(size_t column) const {
    const std::optional<double> v = optional_number(column);
    if (!v) fail(column, "expected a number");
    return *v;
  }
  int whole(size_t column) const {
    const double v = number(column);
    if (v < 0 || v != std::floor(v) || v > std::numeric_limits<int>::max()) fail(column, "expected a whole number >= 0");
    return static_cast<int>(v);
  }
  // A run's cells: absent when its "meets" cell is empty, and then every one of them must be.
  std::optional<PlanRunCells> run(const std::vector<size_t>& latency, size_t availability, size_t meets,
                                  std::optional<size_t> energy, std::optional<size_t> cost) const {
    std::vector<size_t> all = latency;
    all.push_back(availability);
    if (energy) all.push_back(*energy), all.push_back(*cost);
    if (cells_[meets].empty()) {
      for (size_t c : all)
        if (!cells_[c].empty()) fail(c, "expected an empty cell, as the run's 'meets' is empty");
      return std::nullopt;
    }
    PlanRunCells r;
    if (cells_[meets] != "yes" && cells_[meets] != "no") fail(meets, "expected yes, no or an empty cell");
    r.meets = cells_[meets] == "yes";
    for (size_t c : latency) {
      const std::optional<double> v = optional_number(c, true);
      if (!v) fail(c, "expected a number or 'unfinished'");
      r.latency_s.push_back(*v);
    }
    r.availability = number(availability);
    if (energy) r.facility_energy_kwh = number(*energy), r.cost_per_h = number(*cost);
    return r;
  }

 private:
  const std::vector<std::string>& header_;
  const std::vector<std::string>& cells_;
  std::string file_;
  int line_;
};

}  // namespace

std::vector<std::vector<std::string>> plan_table_cells(const PlanTable& t) {
  std::vector<std::vector<std::string>> rows{header_of(t)};
  auto run_cells = [&](std::vector<std::string>& out, const std::optional<PlanRunCells>& r, bool with_cost) {
    for (size_t k = 0; k < t.slos.size(); ++k) out.push_back(r ? number(r->latency_s.at(k)) : "");
    out.push_back(r ? number(r->availability) : "");
    if (with_cost) {
      out.push_back(r ? number(r->facility_energy_kwh) : "");
      out.push_back(r ? number(r->cost_per_h) : "");
    }
    out.push_back(r ? (r->meets ? "yes" : "no") : "");
  };
  for (const PlanRow& r : t.rows) {
    std::vector<std::string> out{r.id};
    out.insert(out.end(), r.settings.begin(), r.settings.end());
    for (const std::string& c : {std::to_string(r.racks), std::to_string(r.gpus), number(r.gpu_cost_per_h), r.status,
                                 r.reason, number(r.min_step_s), number(r.utilization_bound)})
      out.push_back(c);
    run_cells(out, r.normal, true);
    if (t.racks_down > 0) run_cells(out, r.failure, false);
    out.push_back(r.frontier);
    out.push_back(r.chosen);
    rows.push_back(std::move(out));
  }
  return rows;
}

std::string plan_table_csv(const PlanTable& t) {
  std::string csv;
  for (const std::vector<std::string>& row : plan_table_cells(t)) {
    for (size_t i = 0; i < row.size(); ++i) csv += (i ? "," : "") + cell(row[i]);
    csv += "\n";
  }
  return csv;
}

void write_plan_table(const std::string& path, const PlanTable& table) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out << plan_table_csv(table);
    if (!out.flush()) throw ResultsError(tmp + ": cannot write");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw ResultsError(path + ": cannot rename " + tmp + " to it");
}

PlanTable parse_plan_table(const std::string& csv, const std::string& file) {
  std::istringstream in(csv);
  std::string line;
  if (!std::getline(in, line) || line.empty()) throw ResultsError(file + ":1: empty: not a plan table");
  const std::vector<std::string> header = split_record(line, file, 1);
  auto at = [&](const std::string& name) -> std::optional<size_t> {
    for (size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return i;
    return std::nullopt;
  };
  auto required = [&](const std::string& name) {
    const auto i = at(name);
    if (!i) throw ResultsError(file + ":1: no column '" + name + "': not a plan table");
    return *i;
  };
  PlanTable t;
  if (header.front() != "id") throw ResultsError(file + ":1: the first column is '" + header.front() + "', not 'id'");
  const size_t racks = required("racks");
  t.dimensions.assign(header.begin() + 1, header.begin() + static_cast<long>(racks));
  const size_t after_bounds = required("utilization_bound") + 1, availability = required("availability");
  for (size_t c = after_bounds; c < availability; ++c) {
    if (header[c].size() < 3 || header[c].compare(header[c].size() - 2, 2, "_s") != 0)
      throw ResultsError(file + ":1: column '" + header[c] + "': expected an SLO column '<metric>_s'");
    t.slos.push_back(header[c].substr(0, header[c].size() - 2));
  }
  for (size_t c = required("meets") + 1; c < header.size(); ++c) {
    const std::string& h = header[c];
    if (h.size() > 2 && h[0] == 'n' && h.find('.') != std::string::npos) {
      t.racks_down = std::atoi(h.c_str() + 1);
      break;
    }
  }
  if (header != header_of(t))
    throw ResultsError(file + ":1: the columns are not those of a plan table (docs/plan.md, Outputs)");
  std::vector<size_t> latency, latency_failure;
  const std::string p = "n" + std::to_string(t.racks_down) + ".";
  for (const std::string& s : t.slos) {
    latency.push_back(required(s + "_s"));
    if (t.racks_down > 0) latency_failure.push_back(required(p + s + "_s"));
  }
  for (int line_no = 2; std::getline(in, line); ++line_no) {
    const std::vector<std::string> cells = split_record(line, file, line_no);
    if (cells.size() != header.size())
      throw ResultsError(file + ":" + std::to_string(line_no) + ": expected " + std::to_string(header.size()) +
                         " cells as in the header, found " + std::to_string(cells.size()));
    const RowReader r(header, cells, file, line_no);
    PlanRow row;
    row.id = cells[0];
    row.settings.assign(cells.begin() + 1, cells.begin() + static_cast<long>(racks));
    row.racks = r.whole(racks);
    row.gpus = r.whole(required("gpus"));
    row.gpu_cost_per_h = r.number(required("gpu_cost_per_h"));
    row.status = cells[required("status")];
    row.reason = cells[required("reason")];
    row.min_step_s = r.optional_number(required("min_step_s"));
    row.utilization_bound = r.optional_number(required("utilization_bound"));
    row.normal = r.run(latency, availability, required("meets"), required("facility_energy_kwh"), required("cost_per_h"));
    if (t.racks_down > 0)
      row.failure = r.run(latency_failure, required(p + "availability"), required(p + "meets"), std::nullopt,
                          std::nullopt);
    row.frontier = cells[required("frontier")];
    row.chosen = cells[required("chosen")];
    t.rows.push_back(std::move(row));
  }
  return t;
}

PlanTable read_plan_table(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ResultsError(path + ": cannot read (aifsim plan -o DIR writes DIR/plan.csv)");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_plan_table(text.str(), path);
}

}  // namespace aif::analysis
