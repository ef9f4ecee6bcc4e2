#include "aif/inputs/yaml_util.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <set>
#include <stdexcept>

#include "aif/inputs/units.hpp"

namespace aif::sim::yaml {
namespace {

const char* const OVERRIDE_FILE = "<--set>";

int mark_line(const YAML::Node& node, int fallback) {
  const int line = node.IsDefined() ? node.Mark().line : -1;
  return line >= 0 ? line + 1 : fallback;
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// Whole numbers in full ("10000000"), others in shortest %g form.
std::string format_number(double value) {
  char buffer[32];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buffer, sizeof buffer, "%.0f", value);
  } else {
    std::snprintf(buffer, sizeof buffer, "%g", value);
  }
  return buffer;
}

const char* quantity_name(Unit unit) {
  switch (unit) {
    case Unit::DURATION:
      return "a duration";
    case Unit::POWER:
      return "a power";
    case Unit::BANDWIDTH:
      return "a bandwidth";
    case Unit::BYTES:
      return "a size";
    case Unit::FLOPS:
      return "a compute rate";
    case Unit::RATE:
      return "a rate";
    case Unit::ENERGY:
      return "an energy";
  }
  return "a quantity";
}

double parse_unit(Unit unit, const std::string& text) {
  switch (unit) {
    case Unit::DURATION:
      return units::parse_duration(text);
    case Unit::POWER:
      return units::parse_power(text);
    case Unit::BANDWIDTH:
      return units::parse_bandwidth(text);
    case Unit::BYTES:
      return units::parse_bytes(text);
    case Unit::FLOPS:
      return units::parse_flops(text);
    case Unit::RATE:
      return units::parse_rate(text);
    case Unit::ENERGY:
      return units::parse_energy(text);
  }
  throw std::logic_error("unhandled unit");
}

}  // namespace

// ---- Range -------------------------------------------------------------------------------------------------------

bool Range::contains(double value) const {
  if (std::isnan(value)) return false;
  if (lo_open ? !(value > lo) : !(value >= lo)) return false;
  if (hi_open ? !(value < hi) : !(value <= hi)) return false;
  return true;
}

std::string Range::describe() const {
  if (!text.empty()) return text;
  const bool has_lo = std::isfinite(lo), has_hi = std::isfinite(hi);
  if (has_lo && has_hi) {
    if (!lo_open && !hi_open) return "between " + format_number(lo) + " and " + format_number(hi);
    return std::string("in ") + (lo_open ? "(" : "[") + format_number(lo) + ", " + format_number(hi) +
           (hi_open ? ")" : "]");
  }
  if (has_lo) return (lo_open ? "> " : ">= ") + format_number(lo);
  if (has_hi) return (hi_open ? "< " : "<= ") + format_number(hi);
  return "";
}

Range any() { return Range{}; }
Range positive() { return Range{0, Range{}.hi, true, false, "> 0"}; }
Range non_negative() { return Range{0, Range{}.hi, false, false, ">= 0"}; }
Range at_least(double lo) { return Range{lo, Range{}.hi, false, false, ""}; }
Range between(double lo, double hi) { return Range{lo, hi, false, false, ""}; }

// ---- Node --------------------------------------------------------------------------------------------------------

Node::Node(YAML::Node node, std::string path, std::shared_ptr<const Source> source, int line)
    : node_(std::move(node)), path_(std::move(path)), source_(std::move(source)), line_(line) {}

void Node::fail(const std::string& message) const {
  for (const auto& overridden : source_->override_paths) {
    if (path_ == overridden || starts_with(path_, overridden + ".") || starts_with(path_, overridden + "[")) {
      throw ScenarioError(OVERRIDE_FILE, 0, path_, message);
    }
  }
  throw ScenarioError(source_->file, line_, path_, message);
}

std::string Node::describe() const {
  if (!present()) return "nothing";
  if (node_.IsNull()) return "nothing (null)";
  if (node_.IsMap()) return "a map";
  if (node_.IsSequence()) return "a list";
  return "'" + node_.Scalar() + "'";
}

void Node::check_keys(const std::vector<std::string>& allowed,
                      const std::vector<std::pair<std::string, std::string>>& planned) const {
  std::vector<std::string> valid = allowed;
  for (const auto& [key, plan] : planned) valid.push_back(key + " (planned)");
  if (!is_map()) fail("expected a map with keys " + join_or(valid) + ", found " + describe());
  std::set<std::string> seen;
  for (const auto& [key, value] : entries()) {
    if (!seen.insert(key).second) value.fail("duplicate key '" + key + "'");
    bool known = false;
    for (const auto& name : allowed) known = known || name == key;
    if (known) continue;
    for (const auto& [name, plan] : planned) {
      if (name == key) value.fail("not supported yet (planned: " + plan + ")");
    }
    value.fail("unknown key '" + key + "' (valid keys: " + join_or(valid) + ")");
  }
}

std::vector<std::pair<std::string, Node>> Node::entries() const {
  if (!is_map()) fail("expected a map, found " + describe());
  std::vector<std::pair<std::string, Node>> out;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (!it->second.IsDefined()) continue;  // yaml-cpp's placeholder for a looked-up, never-assigned key
    const int key_line = mark_line(it->first, line_);
    if (!it->first.IsScalar()) {
      const Node key(it->first, path_, source_, key_line);
      key.fail("map keys must be plain names, found " + key.describe());
    }
    const std::string key = it->first.Scalar();
    // Errors about a value cite the line of its key: that is where a reader looks for it.
    out.emplace_back(key, Node(it->second, path_.empty() ? key : path_ + "." + key, source_, key_line));
  }
  return out;
}

Node Node::child(const std::string& key) const {
  if (present() && is_map()) {
    for (auto& [name, value] : entries()) {
      if (name == key) return value;
    }
  } else if (present()) {
    fail("expected a map, found " + describe());
  }
  return Node(YAML::Node(YAML::NodeType::Undefined), path_.empty() ? key : path_ + "." + key, source_, line_);
}

Node Node::required(const std::string& key) const {
  Node value = child(key);
  if (!value.present()) value.fail("required key '" + key + "' is missing");
  return value;
}

std::vector<Node> Node::items() const {
  if (!is_list()) fail("expected a list, found " + describe());
  std::vector<Node> out;
  for (size_t i = 0; i < node_.size(); ++i) {
    const YAML::Node item = node_[i];
    out.emplace_back(item, path_ + "[" + std::to_string(i) + "]", source_, mark_line(item, line_));
  }
  return out;
}

std::string Node::scalar(const char* expected) const {
  if (!present()) fail(std::string("required value is missing; expected ") + expected);
  if (!is_scalar()) fail(std::string("expected ") + expected + ", found " + describe());
  return node_.Scalar();
}

std::string Node::as_string() const {
  std::string text = scalar("a string");
  if (text.empty()) fail("expected a non-empty string");
  return text;
}

std::string Node::as_enum(const std::vector<std::string>& valid) const {
  const std::string expected = "one of " + join_or(valid);
  const std::string text = scalar(expected.c_str());
  for (const auto& name : valid) {
    if (name == text) return text;
  }
  fail("expected " + expected + ", found '" + text + "'");
}

bool Node::as_bool() const {
  const std::string text = scalar("true or false");
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  fail("expected true or false, found '" + text + "'");
}

int64_t Node::as_int(const Range& range) const {
  const std::string text = scalar("an integer");
  int64_t value = 0;
  const char* begin = text.data() + (!text.empty() && text[0] == '+' ? 1 : 0);
  const auto [end, error] = std::from_chars(begin, text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) fail("expected an integer, found '" + text + "'");
  if (!range.contains(static_cast<double>(value))) {
    fail("expected an integer " + range.describe() + ", found " + text);
  }
  return value;
}

double Node::as_number(const Range& range) const {
  const std::string text = scalar("a number");
  double value = 0;
  try {
    value = units::parse_number(text);
  } catch (const std::invalid_argument& e) {
    fail(e.what());
  }
  if (!range.contains(value)) fail("expected a number " + range.describe() + ", found " + text);
  return value;
}

double Node::as_quantity(Unit unit, const Range& range) const {
  const std::string text = scalar(quantity_name(unit));
  double value = 0;
  try {
    value = parse_unit(unit, text);
  } catch (const std::invalid_argument& e) {
    fail(e.what());
  }
  if (!range.contains(value))
    fail(std::string("expected ") + quantity_name(unit) + " " + range.describe() + ", found '" + text + "'");
  return value;
}

void Node::read(const std::string& key, std::string& out) const {
  if (const Node value = child(key); value.present()) out = value.as_string();
}

void Node::read(const std::string& key, bool& out) const {
  if (const Node value = child(key); value.present()) out = value.as_bool();
}

void Node::read(const std::string& key, int& out, const Range& range) const {
  const Range bounded{std::max(range.lo, double(std::numeric_limits<int>::min())),
                      std::min(range.hi, double(std::numeric_limits<int>::max())), range.lo_open, range.hi_open,
                      range.text};
  if (const Node value = child(key); value.present()) out = static_cast<int>(value.as_int(bounded));
}

void Node::read(const std::string& key, int64_t& out, const Range& range) const {
  if (const Node value = child(key); value.present()) out = value.as_int(range);
}

void Node::read(const std::string& key, uint64_t& out) const {
  if (const Node value = child(key); value.present()) out = static_cast<uint64_t>(value.as_int(non_negative()));
}

void Node::read_number(const std::string& key, double& out, const Range& range) const {
  if (const Node value = child(key); value.present()) out = value.as_number(range);
}

void Node::read_quantity(const std::string& key, Unit unit, double& out, const Range& range) const {
  if (const Node value = child(key); value.present()) out = value.as_quantity(unit, range);
}

// ---- documents and overrides ----------------------------------------------------------------------------------------

Node parse(const std::string& text, std::shared_ptr<const Source> source) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ScenarioError(source->file, e.mark.line >= 0 ? e.mark.line + 1 : 1, "", "YAML syntax error: " + e.msg);
  }
  return parse_tree(root, std::move(source));
}

Node parse_file(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) throw ScenarioError(path, 0, "", "cannot read the " + what);
  std::stringstream text;
  text << in.rdbuf();
  auto source = std::make_shared<Source>();
  source->file = path;
  return parse(text.str(), source);
}

bool is_file(const std::filesystem::path& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error);
}

std::string existing_file(const Node& n, const std::string& what) {
  std::filesystem::path file = n.as_string();
  if (file.is_relative()) file = std::filesystem::absolute(n.source().file).parent_path() / file;
  if (!is_file(file)) n.fail("no " + what + " " + file.string());
  return file.lexically_normal().string();
}

Node parse_tree(const YAML::Node& root, std::shared_ptr<const Source> source) {
  return Node(root, "", std::move(source), mark_line(root, 1));
}

namespace {

struct PathStep {
  std::string key;  // map key, or empty for a list index
  size_t index = 0;
};

[[noreturn]] void override_error(const std::string& path, const std::string& message) {
  throw ScenarioError(OVERRIDE_FILE, 0, path, message);
}

std::vector<PathStep> parse_path(const std::string& path, const std::string& assignment) {
  const std::string malformed =
      "malformed override '" + assignment + "': expected key.path=value, e.g. services[0].replicas=4";
  std::vector<PathStep> steps;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = i;
    while (j < path.size() && (std::isalnum(static_cast<unsigned char>(path[j])) || path[j] == '_' || path[j] == '-')) {
      ++j;
    }
    if (j == i) override_error(path, malformed);
    steps.push_back({path.substr(i, j - i), 0});
    while (j < path.size() && path[j] == '[') {
      const size_t close = path.find(']', j);
      size_t index = 0;
      const auto [end, error] = std::from_chars(path.data() + j + 1, path.data() + std::min(close, path.size()), index);
      if (close == std::string::npos || close == j + 1 || error != std::errc() || end != path.data() + close) {
        override_error(path, malformed);
      }
      steps.push_back({"", index});
      j = close + 1;
    }
    if (j == path.size()) break;
    if (path[j] != '.' || j + 1 == path.size()) override_error(path, malformed);
    i = j + 1;
  }
  if (steps.empty()) override_error(path, malformed);
  return steps;
}

}  // namespace

std::string apply_override(YAML::Node& root, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  std::string path = assignment.substr(0, eq);
  while (!path.empty() && std::isspace(static_cast<unsigned char>(path.back()))) path.pop_back();
  if (eq == std::string::npos) {
    override_error(path,
                   "malformed override '" + assignment + "': expected key.path=value, e.g. services[0].replicas=4");
  }
  const std::vector<PathStep> steps = parse_path(path, assignment);
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    override_error(path, "the value is not valid YAML: " + e.msg);
  }

  // Walk with reset(): assigning one YAML::Node to another would alias the two in the tree.
  YAML::Node current;
  current.reset(root);
  std::string walked, created;
  for (size_t s = 0; s < steps.size(); ++s) {
    const PathStep& step = steps[s];
    const bool last = s + 1 == steps.size();
    if (!step.key.empty()) {
      walked += (walked.empty() ? "" : ".") + step.key;
      if (!current.IsMap() && !current.IsNull()) {
        override_error(walked, "cannot set '" + path + "': the value here is not a map");
      }
      if (last) {
        if (!current[step.key].IsDefined() && created.empty()) created = walked;
        current[step.key] = value;
        break;
      }
      if (!current[step.key].IsDefined()) {
        if (created.empty()) created = walked;
        // A list when the path indexes it next (`failures.incidents[0]=...` on a scenario without incidents).
        current[step.key] = YAML::Node(steps[s + 1].key.empty() ? YAML::NodeType::Sequence : YAML::NodeType::Map);
      }
      YAML::Node next = current[step.key];
      current.reset(next);
    } else {
      const std::string list_path = walked;
      walked += "[" + std::to_string(step.index) + "]";
      if (!current.IsSequence()) override_error(list_path, "cannot set '" + path + "': the value here is not a list");
      if (step.index > current.size()) {
        override_error(walked, "cannot set '" + path + "': index out of range (the list has " +
                                   std::to_string(current.size()) + " entries; index " +
                                   std::to_string(current.size()) + " appends one)");
      }
      if (step.index == current.size()) {  // appends
        if (created.empty()) created = walked;
        current.push_back(last ? value : YAML::Node(steps[s + 1].key.empty() ? YAML::NodeType::Sequence
                                                                              : YAML::NodeType::Map));
        if (last) break;
      }
      if (last) {
        current[step.index] = value;
        break;
      }
      YAML::Node next = current[step.index];
      current.reset(next);
    }
  }
  // Errors at or below the first key that did not exist before point at the override, not at the file.
  return created.empty() ? path : created;
}

std::string join_or(const std::vector<std::string>& words) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += (i + 1 == words.size()) ? " or " : ", ";
    out += words[i];
  }
  return out;
}

}  // namespace aif::sim::yaml
