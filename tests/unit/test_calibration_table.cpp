// Calibration tables (docs/calibration-format.md): every malformed file in tests/data/bad_calibration gives one
// ScenarioError at the expected line and column; the committed tables read back with the values a second, naive
// CSV parser in this file finds in them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "aif/inputs/calibration.hpp"
#include "aif/scenario/scenario.hpp"
#include "../support/input_error.hpp"

namespace fs = std::filesystem;
using aif::sim::ScenarioError;

namespace {

const std::string SOURCE_DIR = AIF_SOURCE_DIR;
const std::string BAD_DIR = SOURCE_DIR + "/tests/data/bad_calibration/";

ScenarioError error_of(const std::string& path) {
  return aif::testing::error_of_reading(path, [](const std::string& p) { aif::sim::read_calibration_csv(p); });
}

struct BadTable {
  std::string file;
  int line;
  std::string column;
  std::string message;  // a substring of what()
};

// Lines counted by hand in each file; the message is the part a user needs to fix it.
const std::vector<BadTable> BAD_TABLES = {
    {"missing_median_column.csv", 5, "median_s", "missing column 'median_s' (required: op, tp, tokens"},
    {"no_column_header.csv", 4, "", "no column header found"},
    {"non_numeric_median.csv", 7, "median_s", "expected a number, found 'fast'"},
    {"negative_tokens.csv", 7, "tokens", "expected a whole number >= 0, found the negative -4"},
    {"zero_median.csv", 6, "median_s", "expected a number > 0, found 0"},
    {"unknown_op.csv", 8, "op",
     "unknown operator 'qkv_projection' (valid operators: peak_gemm, stream_triad, qkv_proj, o_proj"},
    {"duplicate_grid_point.csv", 8, "op",
     "duplicate grid point: qkv_proj tp=1 tokens=1 batch=0 kv_len=0 n=1536 k=1024 is already on line 6"},
    {"format_version_2.csv", 1, "format_version", "format_version 2 is not supported; this aifsim reads version 1"},
    {"missing_peak_flops.csv", 1, "peak_flop_per_s", "the header has no '# peak_flop_per_s: <value>' line"},
    {"short_row.csv", 7, "bytes", "expected 13 comma-separated fields as in the header (line 5), found 12"},
    {"negative_overhead.csv", 5, "iteration_overhead_s", "expected a number >= 0, found -1e-3"},
    {"header_without_rows.csv", 5, "", "the table has a column header but no rows"},
    {"fractional_tp.csv", 7, "tp", "expected a whole number (digits only), found '1.5'"},
    {"negative_flop.csv", 7, "flop", "expected a number >= 0, found -2.0e+06"},
};

class BadCalibration : public ::testing::TestWithParam<BadTable> {};

std::string bad_name(const ::testing::TestParamInfo<BadTable>& info) {
  return fs::path(info.param.file).stem().string();
}

// Splits a CSV line on commas (the test's own parser, independent of the reader).
std::vector<std::string> fields_of(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream in(line);
  std::string field;
  while (std::getline(in, field, ',')) out.push_back(field);
  return out;
}

}  // namespace

TEST_P(BadCalibration, GivesOneErrorAtTheLineAndColumn) {
  const BadTable& bad = GetParam();
  const std::string path = BAD_DIR + bad.file;
  ASSERT_TRUE(fs::is_regular_file(path)) << path;
  const ScenarioError e = error_of(path);
  const std::string what = e.what();
  EXPECT_EQ(e.file(), path);
  EXPECT_EQ(e.line(), bad.line) << what;
  EXPECT_EQ(e.key_path(), bad.column) << what;
  EXPECT_NE(what.find(bad.message), std::string::npos) << "expected '" << bad.message << "' in: " << what;
}

INSTANTIATE_TEST_SUITE_P(Files, BadCalibration, ::testing::ValuesIn(BAD_TABLES), bad_name);

TEST(BadCalibration, EveryFileInTheFolderHasAnExpectation) {
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(BAD_DIR)) {
    const std::string name = entry.path().filename().string();
    ++files;
    EXPECT_TRUE(std::any_of(BAD_TABLES.begin(), BAD_TABLES.end(), [&](const BadTable& b) { return b.file == name; }))
        << name << " has no expectation in BAD_TABLES";
  }
  EXPECT_EQ(files, BAD_TABLES.size());
  EXPECT_GE(files, 8u);
}

TEST(CalibrationTable, MissingFileIsAnErrorOnLineZero) {
  const ScenarioError e = error_of(BAD_DIR + "no_such_table.csv");
  EXPECT_EQ(e.line(), 0);
  EXPECT_NE(std::string(e.what()).find("cannot open the calibration table"), std::string::npos) << e.what();
}

// Version as a header key, extra columns ignored, no p10/p90 columns (the spread defaults to none), CRLF line ends,
// the fitted overheads read back as numbers.
TEST(CalibrationTable, ColumnsAreLookedUpByName) {
  const fs::path path = fs::path(::testing::TempDir()) / "aif_calibration_by_name.csv";
  std::ofstream(path) << "# format_version: 1\r\n# peak_flop_per_s: 2e11\r\n# peak_bytes_per_s: 3e10\r\n"
                      << "# iteration_overhead_s: 0.00125\r\n"
                      << "bytes,flop,median_s,k,n,kv_len,batch,tokens,tp,op,comment\r\n"
                      << "4096,1e6,2.5e-4,0,0,512,8,8,2,attn_decode,warm\r\n";
  const aif::models::CalibrationTable t = aif::sim::read_calibration_csv(path.string());
  ASSERT_EQ(t.rows.size(), 1u);
  const aif::models::CalibrationRow& r = t.rows[0];
  EXPECT_EQ(r.op, "attn_decode");
  EXPECT_EQ(r.tp, 2);
  EXPECT_EQ(r.tokens, 8);
  EXPECT_EQ(r.batch, 8);
  EXPECT_EQ(r.kv_len, 512);
  EXPECT_DOUBLE_EQ(r.median_s, 2.5e-4);
  EXPECT_DOUBLE_EQ(r.p10_s, 2.5e-4);
  EXPECT_DOUBLE_EQ(r.p90_s, 2.5e-4);
  EXPECT_DOUBLE_EQ(r.flop, 1e6);
  EXPECT_DOUBLE_EQ(r.bytes, 4096);
  EXPECT_EQ(r.line, 6);
  EXPECT_DOUBLE_EQ(t.peak_flop_per_s, 2e11);
  EXPECT_DOUBLE_EQ(t.peak_bytes_per_s, 3e10);
  EXPECT_EQ(t.source, path.string());
  EXPECT_DOUBLE_EQ(aif::sim::calibration_header_number(t, "iteration_overhead_s", -1), 0.00125);
  EXPECT_DOUBLE_EQ(aif::sim::calibration_header_number(t, "overhead_per_seq_s", -1), -1);
}

// Every committed table reads, and each row equals what a naive split of the same file gives.
TEST(CalibrationTable, CommittedTablesMatchANaiveParse) {
  size_t tables = 0;
  for (const auto& entry : fs::directory_iterator(SOURCE_DIR + "/data/calibration")) {
    // kbench tables of this CPU (cpu-<model>.csv); GPU device profiles are checked in test_device_profile.cpp.
    if (entry.path().extension() != ".csv" || entry.path().filename().string().rfind("cpu-", 0) != 0) continue;
    ++tables;
    const std::string path = entry.path().string();
    SCOPED_TRACE(path);
    const aif::models::CalibrationTable t = aif::sim::read_calibration_csv(path);

    std::ifstream in(path);
    std::string line;
    std::map<std::string, std::string> header;
    std::vector<std::string> names;
    std::vector<std::vector<std::string>> rows;
    std::vector<int> lines;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (line.rfind("# ", 0) == 0) {
        const auto colon = line.find(": ");
        if (colon != std::string::npos) header[line.substr(2, colon - 2)] = line.substr(colon + 2);
      } else if (names.empty()) {
        names = fields_of(line);
      } else if (!line.empty()) {
        rows.push_back(fields_of(line));
        lines.push_back(number);
      }
    }
    auto col = [&](const std::string& name) {
      return static_cast<size_t>(std::find(names.begin(), names.end(), name) - names.begin());
    };
    EXPECT_DOUBLE_EQ(t.peak_flop_per_s, std::stod(header.at("peak_flop_per_s")));
    EXPECT_DOUBLE_EQ(t.peak_bytes_per_s, std::stod(header.at("peak_bytes_per_s")));
    ASSERT_EQ(t.rows.size(), rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& f = rows[i];
      const auto& r = t.rows[i];
      EXPECT_EQ(r.op, f[col("op")]);
      EXPECT_EQ(r.tokens, std::stoi(f[col("tokens")]));
      EXPECT_EQ(r.n, std::stoi(f[col("n")]));
      EXPECT_DOUBLE_EQ(r.median_s, std::stod(f[col("median_s")]));
      EXPECT_DOUBLE_EQ(r.p90_s, std::stod(f[col("p90_s")]));
      EXPECT_DOUBLE_EQ(r.flop, std::stod(f[col("flop")]));
      EXPECT_DOUBLE_EQ(r.bytes, std::stod(f[col("bytes")]));
      EXPECT_EQ(r.line, lines[i]);
    }
    // kbench's own consistency: flop_per_s = flop / median_s to the 7 digits it prints.
    for (size_t i = 0; i < rows.size(); ++i) {
      const double written = std::stod(rows[i][col("flop_per_s")]);
      const double derived = t.rows[i].flop / t.rows[i].median_s;
      EXPECT_NEAR(derived, written, 1e-5 * std::max(written, 1.0)) << "line " << lines[i];
    }
  }
  EXPECT_GE(tables, 1u);
}

// The cpu-local catalog entry quotes the measured peaks of this machine. The compute peak is compared with the best
// GEMM rate in the committed table (its peak_gemm row or any linear operator, whichever is faster): one timed shape
// can be slowed by other work on this shared 2-core machine, the fastest of many cannot be faster than the hardware.
TEST(CalibrationTable, CpuLocalCatalogEntryMatchesTheMeasuredPeaks) {
  const auto hw = aif::sim::load_hardware_catalog(SOURCE_DIR + "/data/hardware.yaml");
  const auto& cpu = hw.at("cpu-local");
  const auto t = aif::sim::read_calibration_csv(SOURCE_DIR + "/data/calibration/cpu-small-llama.csv");
  double best_flops = t.peak_flop_per_s;
  for (const auto& r : t.rows) {
    const bool linear = r.op == "qkv_proj" || r.op == "o_proj" || r.op == "gate_up_proj" || r.op == "down_proj" ||
                        r.op == "lm_head" || r.op == "peak_gemm";
    if (linear) best_flops = std::max(best_flops, r.flop / r.median_s);
  }
  std::printf("cpu-local fp32 peak %.4g FLOP/s (best GEMM in the table %.4g), bandwidth %.4g B/s (table %.4g)\n",
              cpu.peak_flops.at("fp32"), best_flops, cpu.hbm_bandwidth, t.peak_bytes_per_s);
  // 10 %: kbench runs on this machine differ by a few percent (the catalog may quote an earlier run).
  EXPECT_NEAR(cpu.peak_flops.at("fp32"), best_flops, 0.1 * best_flops);
  EXPECT_NEAR(cpu.hbm_bandwidth, t.peak_bytes_per_s, 0.1 * t.peak_bytes_per_s);
  EXPECT_EQ(cpu.peak_flops.size(), 1u);  // fp32 only: the CPU engine computes in fp32
}

// The outlier rule of aifsim calibrate (docs/calibration-format.md): a measurement at least 1.5x slower than one of a
// larger size on its curve is left out. Lines by hand: the header takes lines 1-4, rows start at line 5.
TEST(CalibrationTable, OutliersAreSlowerThanALargerSizeOnTheirCurve) {
  const fs::path path = fs::path(::testing::TempDir()) / "aif_calibration_outliers.csv";
  std::ofstream(path) << "# format_version: 1\n# peak_flop_per_s: 2e11\n# peak_bytes_per_s: 3e10\n"
                      << "op,tp,tokens,batch,kv_len,n,k,median_s,flop,bytes\n"
                      // gate_up_proj over tokens: 4 is 5.8 ms against 0.34 ms at 8 (17x: out), 3 is 0.28 ms (kept:
                      // faster than every larger size kept), 12 is 1.45x the 0.372 ms at 16 (kept: below 1.5x).
                      << "gate_up_proj,1,3,0,0,1024,256,2.8e-4,1,1\n"    // line 5
                      << "gate_up_proj,1,4,0,0,1024,256,5.8e-3,1,1\n"    // line 6: out
                      << "gate_up_proj,1,8,0,0,1024,256,3.4e-4,1,1\n"    // line 7
                      << "gate_up_proj,1,12,0,0,1024,256,5.4e-4,1,1\n"   // line 8
                      << "gate_up_proj,1,16,0,0,1024,256,3.72e-4,1,1\n"  // line 9
                      // The same sizes of another shape are another curve: 4 is not compared with the 8 above.
                      << "down_proj,1,4,0,0,256,512,1.6e-4,1,1\n"        // line 10
                      // Decode attention: batch 4 x 256 keys is 2x batch 8 x 256 (out over the batch), while over
                      // the keys at batch 4 it is the longest point (nothing larger to compare with).
                      << "attn_decode,1,4,4,128,0,0,4e-5,1,1\n"          // line 11
                      << "attn_decode,1,4,4,256,0,0,3.6e-4,1,1\n"        // line 12: out
                      << "attn_decode,1,8,8,256,0,0,1.8e-4,1,1\n"        // line 13
                      // Prefill: a 64-token chunk after a 128-token prefix (kv_len 192) slower than 1.5x the same
                      // chunk after 512 (kv_len 576): out over the prefix.
                      << "attn_prefill,1,64,1,192,0,0,9e-4,1,1\n"        // line 14: out
                      << "attn_prefill,1,64,1,576,0,0,5e-4,1,1\n";       // line 15
  const auto t = aif::sim::read_calibration_csv(path.string());
  const aif::sim::KbenchOutliers o = aif::sim::kbench_outliers(t);
  EXPECT_EQ(o.lines, (std::vector<int>{6, 12, 14}));
  EXPECT_EQ(o.by_op, (std::map<std::string, size_t>{{"attn_decode", 1}, {"attn_prefill", 1}, {"gate_up_proj", 1}}));
  EXPECT_DOUBLE_EQ(o.factor, 1.5);
}
