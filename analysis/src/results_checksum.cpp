// The checksum block of a results file (results.hpp: RESULTS_CHECKSUM_BLOCK): stamped by the writer, checked by
// the reader before libhdf5 sees the file.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "aif/analysis/results.hpp"

namespace aif::analysis {

namespace {

constexpr const char* MARK = "aifsim-results fnv1a64 ";

// FNV-1a (64 bits) of every byte after the block, streamed.
uint64_t hash_after_block(std::ifstream& in) {
  uint64_t h = 14695981039346656037ULL;
  in.seekg(static_cast<std::streamoff>(RESULTS_CHECKSUM_BLOCK));
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const std::streamsize n = in.gcount();
    for (std::streamsize i = 0; i < n; ++i) {
      h ^= static_cast<unsigned char>(buffer[static_cast<size_t>(i)]);
      h *= 1099511628211ULL;
    }
  }
  return h;
}

std::string hex(uint64_t v) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
  return text;
}

}  // namespace

void stamp_results_checksum(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ResultsError(path + ": cannot read it back to stamp its checksum");
  const std::string line = std::string(MARK) + hex(hash_after_block(in)) + "\n";
  in.close();
  std::fstream out(path, std::ios::binary | std::ios::in | std::ios::out);
  std::string block(RESULTS_CHECKSUM_BLOCK, '\0');
  block.replace(0, line.size(), line);
  out.write(block.data(), static_cast<std::streamsize>(block.size()));
  if (!out.flush()) throw ResultsError(path + ": cannot write its checksum block");
}

// "" when the file's checksum block matches its contents; else why not (used by ResultsReader).
std::string results_checksum_problem(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "cannot be read";
  std::string block(RESULTS_CHECKSUM_BLOCK, '\0');
  in.read(block.data(), static_cast<std::streamsize>(block.size()));
  if (in.gcount() < static_cast<std::streamsize>(RESULTS_CHECKSUM_BLOCK) || block.compare(0, std::strlen(MARK), MARK) != 0)
    return "no checksum block";
  const std::string stored = block.substr(std::strlen(MARK), 16);
  in.clear();
  const std::string actual = hex(hash_after_block(in));
  if (stored != actual)
    return "damaged: its contents do not match the checksum aifsim wrote (changed or cut short since; stored " +
           stored + ", found " + actual + ")";
  return "";
}

}  // namespace aif::analysis
