// Files the commands write.
#pragma once
#include <filesystem>
#include <string>

namespace aif::cli {

// Writes `text` to path.tmp, then renames it to path: a reader never sees half a file. Throws std::runtime_error
// when the text cannot be written.
void write_atomically(const std::filesystem::path& path, const std::string& text);

}  // namespace aif::cli
