// Runs the aifsim binary as a child process: SimGrid allows one engine per process,
// so every test that simulates twice (or compares modes) goes through the CLI.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace aif::testing {

inline std::string source_path(const std::string& rel) { return std::string(AIF_SOURCE_DIR) + "/" + rel; }
inline std::string aifsim_binary() { return std::string(AIF_BINARY_DIR) + "/sim/aifsim"; }

// A fresh scratch directory per test name under the build tree.
inline std::string scratch_dir(const std::string& name) {
  const std::string dir = std::string(AIF_BINARY_DIR) + "/test-scratch/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

struct ProcessResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command line, stdout and stderr together.
inline ProcessResult run_command(const std::string& command_line) {
  const std::string cmd = command_line + " 2>&1";
  ProcessResult r;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline ProcessResult run_aifsim(const std::string& args) { return run_command(aifsim_binary() + " " + args); }

// Processes whose command line holds `needle` (e.g. the points folder of a sweep: its runs still alive).
inline int processes_with(const std::string& needle) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(e.path() / "cmdline");
    const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    n += cmdline.find(needle) != std::string::npos;
  }
  return n;
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace aif::testing
