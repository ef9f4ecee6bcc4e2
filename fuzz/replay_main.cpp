// Runs a fuzz target once per input file, without libFuzzer: how the normal and the sanitizer builds replay the
// corpora and the kept crash inputs in ctest (seconds), and how docs/reliability.md's catalog of bad inputs is made.
//   <target> [--messages] FILE_OR_DIR...
// Directories are read recursively, in name order. --messages prints "<file>\t<message>" per input: the documented
// error it gave, or "accepted". A finding aborts the process (uncaught exception or sanitizer report).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz_input.hpp"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  bool messages = false;
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--messages") {
      messages = true;
    } else if (fs::is_directory(arg)) {
      std::vector<fs::path> found;
      for (const auto& entry : fs::recursive_directory_iterator(arg))
        if (entry.is_regular_file()) found.push_back(entry.path());
      std::sort(found.begin(), found.end());
      inputs.insert(inputs.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(arg)) {
      inputs.emplace_back(arg);
    } else {
      std::fprintf(stderr, "%s: no such file or folder: %s\n", argv[0], arg.c_str());
      return 2;
    }
  }
  for (const fs::path& input : inputs) {
    std::ifstream in(input, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    if (messages) {
      const std::string& m = aif::fuzz::last_message();
      std::printf("%s\t%s\n", input.string().c_str(), m.empty() ? "accepted" : m.c_str());
    }
  }
  std::fprintf(stderr, "%s: %zu inputs replayed\n", argv[0], inputs.size());
  return 0;
}
