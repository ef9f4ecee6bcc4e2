// Trace readers: the real Azure 2023 and Mooncake traces against the figures published with them
// (/work/shared/data/README.md, repeated in data/traces/README.md), and malformed files against the exact line and
// key path of the error.
#include <gtest/gtest.h>

#include <set>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "aif/scenario/scenario.hpp"
#include "aif/inputs/trace.hpp"

namespace fs = std::filesystem;
using aif::sim::ScenarioError;
using aif::sim::TraceRecord;

namespace {

std::string data_path(const std::string& name) { return std::string(AIF_SOURCE_DIR) + "/data/traces/" + name; }
std::string bad_path(const std::string& name) { return std::string(AIF_SOURCE_DIR) + "/tests/data/bad_traces/" + name; }

// Nearest-rank percentile: the smallest value with at least q of the data at or below it.
int32_t percentile(std::vector<int32_t> v, double q) {
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::max<size_t>(rank, 1) - 1];
}

std::vector<int32_t> prompts(const std::vector<TraceRecord>& r) {
  std::vector<int32_t> v;
  for (const TraceRecord& x : r) v.push_back(x.prompt_tokens);
  return v;
}

std::vector<int32_t> outputs(const std::vector<TraceRecord>& r) {
  std::vector<int32_t> v;
  for (const TraceRecord& x : r) v.push_back(x.output_tokens);
  return v;
}

void expect_sorted_from_zero(const std::vector<TraceRecord>& r) {
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r.front().time_s, 0.0);
  for (size_t i = 1; i < r.size(); ++i) ASSERT_GE(r[i].time_s, r[i - 1].time_s) << "row " << i;
  for (const TraceRecord& x : r) {
    ASSERT_GE(x.prompt_tokens, 1);
    ASSERT_GE(x.output_tokens, 1);
  }
}

// A file written by a test, removed at the end.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& text)
      : path_((fs::temp_directory_path() / ("aif_test_trace_" + std::to_string(::getpid()) + "_" + name)).string()) {
    std::ofstream(path_, std::ios::binary) << text;
  }
  ~TempFile() { fs::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------------------------------
// Real traces

TEST(AzureTrace, ConversationTraceMatchesThePublishedFigures) {
  const std::vector<TraceRecord> r = aif::sim::read_azure_csv(data_path("azure2023_conv.csv"));
  ASSERT_EQ(r.size(), 19366u);
  expect_sorted_from_zero(r);
  // First row 18:15:46.6805900, last 19:14:08.4025270: 58 min 21.7219370 s later, by hand.
  std::printf("conv: %zu rows, last time %.7f s (expected 3501.7219370)\n", r.size(), r.back().time_s);
  EXPECT_NEAR(r.back().time_s, 3501.7219370, 1e-9);
  EXPECT_NEAR(r[1].time_s, 4.3145790, 1e-9);  // 18:15:50.9951690 - 18:15:46.6805900
  EXPECT_EQ(r[0].prompt_tokens, 374);
  EXPECT_EQ(r[0].output_tokens, 44);
  const int32_t p50_in = percentile(prompts(r), 0.5), p50_out = percentile(outputs(r), 0.5);
  const int32_t p99_in = percentile(prompts(r), 0.99), p99_out = percentile(outputs(r), 0.99);
  std::printf("conv: context p50 %d (published 1020) p99 %d (4142), generated p50 %d (129) p99 %d (601)\n", p50_in,
              p99_in, p50_out, p99_out);
  EXPECT_EQ(p50_in, 1020);
  EXPECT_EQ(p50_out, 129);
  EXPECT_EQ(p99_in, 4142);
  EXPECT_EQ(p99_out, 601);
  // 5.53 req/s published: 19,366 rows over the span.
  EXPECT_NEAR(static_cast<double>(r.size()) / r.back().time_s, 5.53, 0.01);
}

TEST(AzureTrace, CodeTraceMatchesThePublishedFigures) {
  const std::vector<TraceRecord> r = aif::sim::read_azure_csv(data_path("azure2023_code.csv"));
  ASSERT_EQ(r.size(), 8819u);
  expect_sorted_from_zero(r);
  // 18:17:03.9799600 -> 19:14:19.9280160: 57 min 15.9480560 s.
  EXPECT_NEAR(r.back().time_s, 3435.9480560, 1e-9);
  EXPECT_EQ(percentile(prompts(r), 0.5), 1469);
  EXPECT_EQ(percentile(outputs(r), 0.5), 13);
  EXPECT_EQ(percentile(prompts(r), 0.99), 7436);
  EXPECT_NEAR(static_cast<double>(r.size()) / r.back().time_s, 2.57, 0.01);
}

TEST(MooncakeTrace, ConversationTraceMatchesThePublishedFigures) {
  const std::vector<TraceRecord> r = aif::sim::read_mooncake_jsonl(data_path("mooncake_conversation.jsonl"));
  ASSERT_EQ(r.size(), 12031u);
  expect_sorted_from_zero(r);
  EXPECT_EQ(r[0].prompt_tokens, 6758);  // first line: {"timestamp": 0, "input_length": 6758, "output_length": 500, ...
  EXPECT_EQ(r[0].output_tokens, 500);
  EXPECT_NEAR(r.back().time_s, 3536.999, 1e-9);  // last timestamp 3536999 ms
  EXPECT_EQ(percentile(prompts(r), 0.5), 6909);
  EXPECT_EQ(percentile(outputs(r), 0.5), 350);
  EXPECT_NEAR(static_cast<double>(r.size()) / r.back().time_s, 3.4, 0.05);
  // Every line names its 512-token blocks: ceil(input_length / 512) ids each, 288,500 in all, 182,790 distinct (the
  // rest repeat a block of an earlier turn: at most 36.6 % of the blocks can come from a cache). Counted with Python's
  // json module over the file.
  size_t ids = 0;
  std::set<int64_t> distinct;
  for (const TraceRecord& x : r) {
    EXPECT_EQ(x.block_ids.size(), static_cast<size_t>((x.prompt_tokens + 511) / 512));
    ids += x.block_ids.size();
    distinct.insert(x.block_ids.begin(), x.block_ids.end());
  }
  EXPECT_EQ(ids, 288500u);
  EXPECT_EQ(distinct.size(), 182790u);
}

TEST(MooncakeTrace, SyntheticTraceReads) {
  const std::vector<TraceRecord> r = aif::sim::read_mooncake_jsonl(data_path("mooncake_synthetic.jsonl"));
  ASSERT_EQ(r.size(), 3993u);
  expect_sorted_from_zero(r);
  EXPECT_EQ(r[0].prompt_tokens, 40160);
  EXPECT_EQ(r[0].output_tokens, 6);
}

// ---------------------------------------------------------------------------------------------------------------------
// Accepted variations

TEST(AzureTrace, AcceptsColumnOrderShortFractionsAndTrailingBlankLines) {
  // Columns reordered, a 3-digit fraction, no fraction, a date across a leap day and a year end; CRLF; blank tail.
  const TempFile f("variants.csv",
                   "GeneratedTokens, TIMESTAMP ,ContextTokens\r\n"
                   "5,2023-12-31 23:59:59.5,100\r\n"
                   "6,2024-01-01 00:00:00,200\r\n"
                   "7,2024-03-01 00:00:00.0000001,300\r\n"
                   "\r\n\r\n");
  const std::vector<TraceRecord> r = aif::sim::read_azure_csv(f.path());
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].time_s, 0.0);
  EXPECT_EQ(r[1].time_s, 0.5);
  // 2024-01-01 -> 2024-03-01: 31 + 29 days (2024 is a leap year) = 5,184,000 s, + 0.5 s + 100 ns.
  EXPECT_NEAR(r[2].time_s, 5184000.5000001, 1e-7);
  EXPECT_EQ(r[2].prompt_tokens, 300);
  EXPECT_EQ(r[2].output_tokens, 7);
}

TEST(AzureTrace, EqualTimestampsAreAllowed) {
  const std::vector<TraceRecord> r =
      aif::sim::read_azure_csv(std::string(AIF_SOURCE_DIR) + "/tests/data/traces/closed_batch.csv");
  ASSERT_EQ(r.size(), 8u);
  for (const TraceRecord& x : r) EXPECT_EQ(x.time_s, 0.0);
}

TEST(MooncakeTrace, ReadsHashIdsAndIgnoresOtherFields) {
  // 513 prompt tokens: ceil(513 / 512) = 2 block ids at most; fewer (or none) is allowed.
  const TempFile f("variants.jsonl",
                   "{\"hash_ids\": [7, 12], \"timestamp\": 1000, \"output_length\": 2, \"input_length\": 513, \"x\": {}}\n"
                   "{\"timestamp\": 1250.5, \"input_length\": 4, \"output_length\": 1}\n"
                   "{\"timestamp\": 1300, \"input_length\": 4, \"output_length\": 1, \"hash_ids\": []}\n\n");
  const std::vector<TraceRecord> r = aif::sim::read_mooncake_jsonl(f.path());
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].time_s, 0.0);
  EXPECT_DOUBLE_EQ(r[1].time_s, 0.2505);
  EXPECT_EQ(r[0].prompt_tokens, 513);
  EXPECT_EQ(r[0].output_tokens, 2);
  EXPECT_EQ(r[0].block_ids, (std::vector<int64_t>{7, 12}));
  EXPECT_EQ(r[0].block_tokens, 512);
  EXPECT_TRUE(r[1].block_ids.empty());
  EXPECT_EQ(r[1].block_tokens, 0);
  EXPECT_TRUE(r[2].block_ids.empty());
}

// ---------------------------------------------------------------------------------------------------------------------
// Malformed traces: each row names the file, the 1-based line and the key path the error must carry, and a piece
// of the message.

struct BadTrace {
  const char* file;
  int line;
  const char* key;
  const char* message;
};

class BadTraceTest : public ::testing::TestWithParam<BadTrace> {};

TEST_P(BadTraceTest, ReportsLineAndKey) {
  const BadTrace& bad = GetParam();
  const std::string path = bad_path(bad.file);
  ASSERT_TRUE(fs::is_regular_file(path)) << path;
  const bool csv = std::string(bad.file).find(".csv") != std::string::npos;
  const bool plain = std::string(bad.file).rfind("plain_", 0) == 0;
  try {
    if (plain) {
      aif::sim::read_csv_trace(path);
    } else if (csv) {
      aif::sim::read_azure_csv(path);
    } else {
      aif::sim::read_mooncake_jsonl(path);
    }
    FAIL() << bad.file << ": no error";
  } catch (const ScenarioError& e) {
    std::printf("%s\n", e.what());
    EXPECT_EQ(e.file(), path);
    EXPECT_EQ(e.line(), bad.line) << e.what();
    EXPECT_EQ(e.key_path(), bad.key) << e.what();
    EXPECT_NE(std::string(e.what()).find(bad.message), std::string::npos)
        << "expected '" << bad.message << "' in: " << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Traces, BadTraceTest,
    ::testing::Values(
        // file, expected line, expected key path, piece of the message
        BadTrace{"azure_01_empty.csv", 1, "", "empty; expected the header TIMESTAMP,ContextTokens,GeneratedTokens"},
        BadTrace{"azure_02_unknown_column.csv", 1, "time", "unknown column 'time'"},
        BadTrace{"azure_03_missing_column.csv", 1, "GeneratedTokens", "missing column GeneratedTokens"},
        BadTrace{"azure_04_duplicated_column.csv", 1, "ContextTokens", "appears twice"},
        BadTrace{"azure_05_too_few_columns.csv", 3, "GeneratedTokens", "expected 3 comma-separated columns"},
        BadTrace{"azure_06_too_many_columns.csv", 2, "", "found 4"},
        BadTrace{"azure_07_non_numeric_tokens.csv", 4, "ContextTokens", "found '12a'"},
        BadTrace{"azure_08_negative_tokens.csv", 2, "GeneratedTokens", "negative -5"},
        BadTrace{"azure_09_zero_output.csv", 5, "GeneratedTokens", "generates at least one token"},
        BadTrace{"azure_10_time_backwards.csv", 4, "TIMESTAMP", "must be sorted by time"},
        BadTrace{"azure_11_bad_date.csv", 3, "TIMESTAMP", "'2023-11-31 18:15:50.9951690'"},
        BadTrace{"azure_12_eight_fraction_digits.csv", 2, "TIMESTAMP", "wall-clock time"},
        BadTrace{"azure_13_header_only.csv", 1, "", "no requests"},
        BadTrace{"azure_14_blank_line_inside.csv", 3, "", "blank line"},
        BadTrace{"mooncake_01_empty.jsonl", 1, "", "empty"},
        BadTrace{"mooncake_02_malformed_json.jsonl", 3, "", "malformed JSON"},
        BadTrace{"mooncake_03_missing_field.jsonl", 2, "output_length", "missing field"},
        BadTrace{"mooncake_04_duplicated_field.jsonl", 2, "input_length", "given twice"},
        BadTrace{"mooncake_05_zero_output.jsonl", 4, "output_length", "generates at least one token"},
        BadTrace{"mooncake_06_time_backwards.jsonl", 3, "timestamp", "must be sorted by time"},
        BadTrace{"mooncake_07_string_tokens.jsonl", 1, "input_length", "whole number of tokens, found \"6758\""},
        BadTrace{"mooncake_08_not_an_object.jsonl", 2, "", "one JSON object per line, found array"},
        BadTrace{"mooncake_09_negative_timestamp.jsonl", 1, "timestamp", ">= 0"},
        BadTrace{"mooncake_10_fractional_tokens.jsonl", 2, "output_length", "found 12.5"},
        BadTrace{"mooncake_11_negative_tokens.jsonl", 3, "input_length", "negative -3"},
        BadTrace{"mooncake_12_blank_line_inside.jsonl", 2, "", "blank line"},
        BadTrace{"mooncake_13_hash_ids_not_a_list.jsonl", 2, "hash_ids", "expected a list of block ids"},
        BadTrace{"mooncake_14_hash_id_not_an_integer.jsonl", 3, "hash_ids[1]", "expected a block id (an integer >= 0), found 1.5"},
        // 513 tokens: ceil(513 / 512) = 2 blocks of 512, so 3 ids name a block the prompt does not have.
        BadTrace{"mooncake_15_more_hash_ids_than_blocks.jsonl", 1, "hash_ids", "3 block ids for 513 prompt tokens; expected at most 2"},
        BadTrace{"mooncake_16_negative_hash_id.jsonl", 1, "hash_ids[0]", "found -4"},
        BadTrace{"mooncake_17_number_overflow.jsonl", 1, "", "number overflow parsing '10e2023'"},
        BadTrace{"plain_01_empty.csv", 1, "", "empty; expected a header naming arrival_s, prompt_tokens"},
        BadTrace{"plain_02_missing_column.csv", 1, "output_tokens", "missing column output_tokens"},
        BadTrace{"plain_03_duplicated_column.csv", 1, "prompt_tokens", "appears twice"},
        BadTrace{"plain_04_short_row.csv", 3, "output_tokens", "expected 3 comma-separated fields"},
        BadTrace{"plain_05_negative_time.csv", 3, "arrival_s", "expected seconds >= 0, found '-1'"},
        BadTrace{"plain_06_time_backwards.csv", 3, "arrival_s", "must be sorted"},
        BadTrace{"plain_07_zero_output.csv", 2, "output_tokens", "generates at least one token"},
        BadTrace{"plain_08_blank_line_inside.csv", 3, "", "blank line"},
        BadTrace{"plain_09_header_only.csv", 1, "", "no requests"}),
    [](const ::testing::TestParamInfo<BadTrace>& param) {
      std::string name = param.param.file;
      for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return name;
    });

// A plain CSV trace: the three columns in any order among others, times from the first row's.
TEST(Traces, PlainCsvReadsItsColumnsAndIgnoresTheRest) {
  const auto rows = aif::sim::read_csv_trace(AIF_SOURCE_DIR + std::string("/tests/data/traces/plain_extra_columns.csv"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_DOUBLE_EQ(rows[0].time_s, 0.0);
  EXPECT_EQ(rows[0].prompt_tokens, 5);
  EXPECT_EQ(rows[0].output_tokens, 7);
  EXPECT_DOUBLE_EQ(rows[1].time_s, 2.5);  // 2.5 s after the first row; the ignored ttft_s column holds 'x' here
  EXPECT_EQ(rows[1].prompt_tokens, 3);
  EXPECT_EQ(rows[1].output_tokens, 9);
}

TEST(Traces, MissingFileIsAScenarioError) {
  for (const bool csv : {true, false}) {
    const std::string path = bad_path("does_not_exist.csv");
    try {
      csv ? aif::sim::read_azure_csv(path) : aif::sim::read_mooncake_jsonl(path);
      FAIL() << "no error";
    } catch (const ScenarioError& e) {
      EXPECT_EQ(e.file(), path);
      EXPECT_EQ(e.line(), 0);  // no line to point at
      EXPECT_NE(std::string(e.what()).find("cannot open"), std::string::npos) << e.what();
    }
  }
}
