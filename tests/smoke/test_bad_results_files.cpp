// Every command that reads a results file (report, compare, trace, replay as a trace) answers a file of another
// layout version, a truncated one, one with a changed byte, a foreign HDF5 file and a text file with one message
// naming the file and what is wrong, and exit code 2: never a crash, never exit 1.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "../support/aifsim_process.hpp"
#include "aif/analysis/results.hpp"

using namespace aif::testing;
namespace fs = std::filesystem;

namespace {

// Rewrites /meta's format_version attribute of a results file (a file from another aifsim).
void set_format_version(const std::string& path, const std::string& version) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const hid_t meta = H5Gopen2(file, "meta", H5P_DEFAULT);
  ASSERT_GE(meta, 0);
  ASSERT_GE(H5Adelete(meta, "format_version"), 0);
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, version.size());
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t attr = H5Acreate2(meta, "format_version", type, space, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(H5Awrite(attr, type, version.data()), 0);
  H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
  H5Gclose(meta);
  H5Fclose(file);
  aif::analysis::stamp_results_checksum(path);  // as the other aifsim would have: only the version differs
}

}  // namespace

TEST(BadResultsFiles, EveryReaderRefusesThemCleanly) {
  const std::string dir = scratch_dir("bad_results_files");
  const std::string good = dir + "/good.h5";
  ASSERT_EQ(run_aifsim("run " + source_path("tests/data/scenarios/fuzz_results_seed.yaml") + " -q -o " + good).exit_code,
            0);
  const std::string bytes = read_bytes(good);
  struct Bad {
    std::string name, says;
  };
  std::vector<Bad> bad;
  fs::copy_file(good, dir + "/newer.h5");
  set_format_version(dir + "/newer.h5", "3");
  bad.push_back({"newer.h5", "layout version 3 (written by aifsim 0.1.0) is newer than the version 2 this aifsim reads"});
  fs::copy_file(good, dir + "/older.h5");
  set_format_version(dir + "/older.h5", "1");
  bad.push_back({"older.h5", "layout version 1 (written by aifsim 0.1.0) is not the version 2 this aifsim reads"});
  // Cut short, and one byte changed in the middle: the checksum block catches both before libhdf5 decodes them.
  std::ofstream(dir + "/half.h5", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  bad.push_back({"half.h5", "damaged: its contents do not match the checksum aifsim wrote"});
  std::string flipped = bytes;
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x20);
  std::ofstream(dir + "/flipped.h5", std::ios::binary) << flipped;
  bad.push_back({"flipped.h5", "damaged: its contents do not match the checksum aifsim wrote"});
  // An HDF5 file without the block: an older aifsim's (layout 1) or another program's.
  {
    const hid_t file = H5Fcreate((dir + "/foreign.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    H5Fclose(file);
  }
  bad.push_back({"foreign.h5", "it has no checksum block, so it is not an aifsim results file of layout 2"});
  std::ofstream(dir + "/notes.h5") << "these are notes, not HDF5\n";
  bad.push_back({"notes.h5", "not an HDF5 file"});
  for (const Bad& b : bad) {
    const std::string path = dir + "/" + b.name;
    const std::string trace_scenario = "run " + source_path("tests/data/scenarios/fuzz_results_seed.yaml") +
                                       " -q -o " + dir + "/replay.h5 --set 'workloads[0].arrival={kind: trace, "
                                       "format: results-h5, path: " + path + "}'";
    for (const std::string& command :
         {"report " + path + " -o " + dir + "/r.html", "compare " + path + " " + good, "trace " + path + " -o " + dir +
          "/t.json", trace_scenario}) {
      const ProcessResult r = run_aifsim(command);
      EXPECT_EQ(r.exit_code, 2) << command << "\n" << r.output;
      EXPECT_NE(r.output.find(path), std::string::npos) << command << "\n" << r.output;
      EXPECT_NE(r.output.find(b.says), std::string::npos) << command << "\n" << r.output;
      EXPECT_EQ(r.output.find('\n'), r.output.size() - 1) << "one line: " << r.output;
    }
  }
  // A name longer than the system allows (255 bytes) is a file that is not there: before, the report and the
  // scenario's trace path let std::filesystem's exception out (exit 1, no key, no line).
  const std::string too_long = dir + "/" + std::string(300, 'y') + ".h5";
  for (const auto& [command, says] : std::vector<std::pair<std::string, std::string>>{
           {"report " + too_long + " -o " + dir + "/r.html", "no such file"},
           {"compare " + too_long + " " + good, "no such file"},
           {"trace " + too_long + " -o " + dir + "/t.json", "no such file"},
           {"run " + source_path("tests/data/scenarios/fuzz_results_seed.yaml") + " -q -o " + dir +
                "/replay.h5 --set 'workloads[0].arrival={kind: trace, format: results-h5, path: " + too_long + "}'",
            "workloads[0].arrival.path: file not found"}}) {
    const ProcessResult r = run_aifsim(command);
    EXPECT_EQ(r.exit_code, 2) << command << "\n" << r.output;
    EXPECT_NE(r.output.find(too_long), std::string::npos) << command << "\n" << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << command << "\n" << r.output;
  }
  // Nothing was written by the refused commands.
  EXPECT_FALSE(fs::exists(dir + "/r.html"));
  EXPECT_FALSE(fs::exists(dir + "/t.json"));
  EXPECT_FALSE(fs::exists(dir + "/replay.h5"));
}
