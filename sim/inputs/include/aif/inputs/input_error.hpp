// The one error type of every reader of user input (scenarios, catalogs, traces, signal CSVs, calibration tables),
// and where the bundled data/ folder is.
#pragma once
#include <stdexcept>
#include <string>

namespace aif::sim {

// Every problem with user input is reported as one ScenarioError whose what() reads
//   "<file>:<line>: <key.path>: <what was expected, what was found>"
// The CLI prints it and exits with code 2.
class ScenarioError : public std::runtime_error {
 public:
  ScenarioError(std::string file, int line, std::string key_path, const std::string& message);
  const std::string& file() const { return file_; }
  int line() const { return line_; }
  const std::string& key_path() const { return key_path_; }

 private:
  std::string file_;
  int line_;
  std::string key_path_;
};

// Where the bundled data/ folder is ($AIFSIM_DATA_DIR overrides the build-time source path).
std::string data_dir();

}  // namespace aif::sim
