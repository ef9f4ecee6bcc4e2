// The layout the measured tables of sim/ share (kbench calibration tables, GPU device profiles): '# key: value'
// provenance lines and a free-text title line naming "format_version N", then a CSV column header and rows.
// Reading it checks what is common (one version, no key twice, named columns, no blank or '#' line inside the rows,
// one field per column); each table then checks its own columns. Private to sim/.
#pragma once
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "aif/inputs/yaml_util.hpp"
#include "aif/inputs/csv_text.hpp"

namespace aif::sim::csv {

struct AnnotatedCsv {
  struct Row {
    int line = 0;
    std::vector<std::string> fields;
  };
  std::map<std::string, std::string> header;  // '# key: value'
  std::map<std::string, int> header_line;     // key -> line, for messages
  std::vector<std::string> names;             // column header
  std::map<std::string, size_t> column;       // name -> index in a row
  int column_line = 0;
  std::vector<Row> rows;
  const std::string& field(const Row& row, const std::string& name) const { return row.fields[column.at(name)]; }
  bool has(const std::string& name) const { return column.count(name) != 0; }
};

// "format_version 1" inside a free-text title line; -1 when the line does not name one.
inline int version_in_title(const std::string& text) {
  const std::string tag = "format_version";
  const size_t at = text.find(tag);
  if (at == std::string::npos) return -1;
  size_t i = at + tag.size();
  while (i < text.size() && (text[i] == ' ' || text[i] == ':' || text[i] == '=')) ++i;
  size_t j = i;
  while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
  return j > i && j - i < 6 ? std::stoi(text.substr(i, j - i)) : 0;
}

struct AnnotatedCsvSpec {
  std::string what;                     // "calibration table", for messages
  int version = 1;                      // the format version this reader understands
  std::string title;                    // how the title line reads, for the message when no version is given
  std::string example_columns;          // "op,tp,tokens,...", for the message when no column header is found
  std::vector<std::string> required;    // columns that must be present
};

template <class Reader>
AnnotatedCsv read_annotated_csv(const std::string& path, const Reader& r, const AnnotatedCsvSpec& spec) {
  std::ifstream in(path, std::ios::binary);
  if (!in) r.fail(0, "", "cannot open the " + spec.what + ": " + std::strerror(errno));
  AnnotatedCsv t;
  int version = -1, version_line = 0, number = 0;
  bool have_columns = false;
  std::string line;
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
    if (key.empty() || key.find(' ') != std::string::npos) {  // free text, such as the title line
      if (const int v = version_in_title(body); v >= 0 && version < 0) version = v, version_line = number;
      continue;
    }
    if (t.header_line.count(key) != 0) {
      r.fail(number, key,
             "header key '" + key + "' given twice (also on line " + std::to_string(t.header_line[key]) + ")");
    }
    t.header_line[key] = number;
    t.header[key] = trim(body.substr(colon + 2));
    if (key == "format_version") {
      version = r.integer(number, key, t.header[key], 0);
      version_line = number;
    }
  }
  if (!have_columns) {
    r.fail(std::max(number, 1), "",
           "no column header found; expected a line such as '" + spec.example_columns +
               "' after the '# key: value' lines");
  }
  if (version < 0) {
    r.fail(1, "format_version",
           "the header does not give the format version; expected '# format_version: " +
               std::to_string(spec.version) + "' (or " + spec.title + ")");
  }
  if (version != spec.version) {
    r.fail(version_line, "format_version",
           "format_version " + std::to_string(version) + " is not supported; this aifsim reads version " +
               std::to_string(spec.version));
  }
  // Column header: names looked up, unknown ones ignored.
  t.column_line = number;
  t.names = split_commas(line);
  for (size_t i = 0; i < t.names.size(); ++i) {
    if (t.names[i].empty()) r.fail(number, "", "column " + std::to_string(i + 1) + " of the header has no name");
    if (!t.column.emplace(t.names[i], i).second) r.fail(number, t.names[i], "column given twice in the header");
  }
  for (const std::string& name : spec.required) {
    if (t.column.count(name) == 0)
      r.fail(number, name, "missing column '" + name + "' (required: " + yaml::join_or(spec.required) + ")");
  }
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
    AnnotatedCsv::Row row{number, split_commas(line)};
    if (row.fields.size() != t.names.size()) {
      r.fail(number, row.fields.size() < t.names.size() ? t.names[row.fields.size()] : "",
             "expected " + std::to_string(t.names.size()) + " comma-separated fields as in the header (line " +
                 std::to_string(t.column_line) + "), found " + std::to_string(row.fields.size()));
    }
    t.rows.push_back(std::move(row));
  }
  if (t.rows.empty()) r.fail(t.column_line, "", "the table has a column header but no rows");
  return t;
}

}  // namespace aif::sim::csv
