// A small typed reader over yaml-cpp for the scenario and catalog parsers:
// "read node as type X at key path P with units U", with every mistake turned
// into one ScenarioError naming file, line and key path.
#pragma once
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "aif/inputs/input_error.hpp"

namespace aif::sim::yaml {

// Where the nodes of one document came from.
struct Source {
  std::string file;
  // Key paths replaced by --set overrides: errors at or below them cite "<--set>", line 0,
  // because their YAML marks point into the override text, not into the file.
  std::vector<std::string> override_paths;
};

enum class Unit { DURATION, POWER, BANDWIDTH, BYTES, FLOPS, RATE, ENERGY };

// An interval of accepted values, with the wording used in error messages.
struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;
  bool hi_open = false;
  std::string text;  // how to say it ("> 0", "between 1 and 64"); built from the bounds when empty

  bool contains(double value) const;
  std::string describe() const;
};
Range any();
Range positive();                     // > 0
Range non_negative();                 // >= 0
Range at_least(double lo);            // >= lo
Range between(double lo, double hi);  // [lo, hi]

// A node with its key path. Absent nodes (a key that is not in its map) are valid objects:
// present() is false, line() is the line of the enclosing map, and reading them fails with "missing".
class Node {
 public:
  Node(YAML::Node node, std::string path, std::shared_ptr<const Source> source, int line);

  const std::string& path() const { return path_; }
  int line() const { return line_; }  // 1-based
  const Source& source() const { return *source_; }
  bool present() const { return node_.IsDefined(); }
  bool is_map() const { return node_.IsMap(); }
  bool is_list() const { return node_.IsSequence(); }
  bool is_scalar() const { return node_.IsScalar(); }
  const YAML::Node& raw() const { return node_; }

  // Throws ScenarioError "<file>:<line>: <path>: <message>".
  [[noreturn]] void fail(const std::string& message) const;

  // Maps. check_keys() also requires a map and rejects duplicate keys; keys in `planned` fail with
  // "<key>: not supported yet (planned: <text>)".
  void check_keys(const std::vector<std::string>& allowed,
                  const std::vector<std::pair<std::string, std::string>>& planned = {}) const;
  Node child(const std::string& key) const;                   // absent node when missing
  Node required(const std::string& key) const;                // fails when missing
  std::vector<std::pair<std::string, Node>> entries() const;  // map entries in file order

  // Lists.
  std::vector<Node> items() const;

  // Scalars (each checks the node type first).
  std::string as_string() const;  // non-empty
  std::string as_enum(const std::vector<std::string>& valid) const;
  bool as_bool() const;
  int64_t as_int(const Range& range = any()) const;
  double as_number(const Range& range = any()) const;  // plain number, no unit
  double as_quantity(Unit unit, const Range& range = any()) const;

  // Optional keys of a map: leave `out` unchanged when the key is absent.
  void read(const std::string& key, std::string& out) const;
  void read(const std::string& key, bool& out) const;
  void read(const std::string& key, int& out, const Range& range) const;
  void read(const std::string& key, int64_t& out, const Range& range) const;
  void read(const std::string& key, uint64_t& out) const;
  void read_number(const std::string& key, double& out, const Range& range) const;
  void read_quantity(const std::string& key, Unit unit, double& out, const Range& range) const;

  // What the node is, for messages: "a map", "a list", "the scalar '5s'", "null".
  std::string describe() const;

 private:
  std::string scalar(const char* expected) const;

  YAML::Node node_;
  std::string path_;
  std::shared_ptr<const Source> source_;
  int line_;
};

// Parses YAML text into the root Node; syntax errors become ScenarioError with the line.
Node parse(const std::string& text, std::shared_ptr<const Source> source);
// Reads and parses a YAML file (sweep and plan files); "cannot read the <what>" when it cannot be read.
Node parse_file(const std::string& path, const std::string& what);
// The file a node names, relative to the folder of the file the node is in, as a normal path; fails at the node with
// "no <what> <path>" when there is no such file.
std::string existing_file(const Node& n, const std::string& what);
// Whether a path names a regular file; false, not an exception, for a path the system refuses (too long, a
// component that is not a folder): paths come from users' files.
bool is_file(const std::filesystem::path& path);
// The root Node of an already parsed tree.
Node parse_tree(const YAML::Node& root, std::shared_ptr<const Source> source);

// Applies one "key.path=value" override (value parsed as YAML) to `root`; returns the key path.
// Fails (file "<--set>", line 0) on a malformed assignment, an index out of range or a path through a scalar.
std::string apply_override(YAML::Node& root, const std::string& assignment);

// "a, b or c"
std::string join_or(const std::vector<std::string>& words);

}  // namespace aif::sim::yaml
