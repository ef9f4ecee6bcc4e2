#include "fuzz_input.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace aif::fuzz {

// The folder's path outlives every static string: the exit handler that removes it runs after their destructors.
char g_scratch[4096] = "";

std::string scratch_dir() {
  if (g_scratch[0] == '\0') {
    const char* tmp = std::getenv("TMPDIR");
    const std::filesystem::path d =
        std::filesystem::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") / ("aifsim-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    std::snprintf(g_scratch, sizeof g_scratch, "%s", d.c_str());
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(g_scratch, ignored);
    });
  }
  return g_scratch;
}

std::string write_input(const uint8_t* data, size_t size, const std::string& name) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) throw std::runtime_error("fuzz: cannot write " + path);  // the harness's own failure, not a finding
  return path;
}

void write_base_scenario() {
  static const bool written = [] {
    std::ofstream(scratch_dir() + "/base.yaml")
        << "simulation: {duration: 10min}\nservices:\n  - {name: chat, model: Llama-3.1-8B, replicas: 1,"
           " slo: {ttft: 1s, tpot: 50ms}}\nworkloads:\n  - {name: users, service: chat, arrival: {kind: poisson,"
           " rate: 1/s, prompt_tokens: 100, output_tokens: 50}}\n";
    return true;
  }();
  (void)written;
}

std::string& last_message() {
  static std::string message;
  return message;
}

}  // namespace aif::fuzz
