#include "aif/inputs/input_error.hpp"

#include <cstdlib>
#include <utility>

namespace aif::sim {

namespace {

std::string format_error(const std::string& file, int line, const std::string& key_path, const std::string& message) {
  // Values given on the command line have no line: "--set services[0].tp: ...", not "<--set>:0: services[0].tp: ...";
  // a file-wide problem (unreadable, no such model) names the file alone.
  if (file == "<--set>") return "--set " + (key_path.empty() ? std::string() : key_path + ": ") + message;
  std::string text = line > 0 ? file + ":" + std::to_string(line) + ": " : file + ": ";
  if (!key_path.empty()) text += key_path + ": ";
  return text + message;
}

}  // namespace

ScenarioError::ScenarioError(std::string file, int line, std::string key_path, const std::string& message)
    : std::runtime_error(format_error(file, line, key_path, message)),
      file_(std::move(file)),
      line_(line),
      key_path_(std::move(key_path)) {}

std::string data_dir() {
  const char* env = std::getenv("AIFSIM_DATA_DIR");
  if (env != nullptr && *env != '\0') return env;
  return AIF_SOURCE_DIR "/data";
}

}  // namespace aif::sim
