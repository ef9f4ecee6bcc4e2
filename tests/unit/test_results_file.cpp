// The results file: write, read back field by field, bounded buffers, atomic finish, and clear
// errors (never a crash) on missing, foreign, incomplete or truncated files.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "aif/analysis/fingerprint.hpp"
#include "aif/analysis/results.hpp"

namespace fs = std::filesystem;
using namespace aif::analysis;

namespace {

fs::path temp_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir =
      fs::temp_directory_path() / ("aif_test_results_" + std::to_string(::getpid()) + "_" + info->name());
  fs::create_directories(dir);
  return dir;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// Deterministic, varied records: NaN times for requests that did not get that far.
RequestRecord make_request(int64_t i) {
  RequestRecord r;
  r.id = i * 1000003 - 5;
  r.workload = static_cast<int32_t>(i % 3);
  r.service = static_cast<int32_t>(i % 5);
  r.replica = static_cast<int32_t>(i % 17) - 1;
  r.arrival_s = 0.01 * static_cast<double>(i) + 1e-9;
  r.outcome = static_cast<Outcome>(i % 4);
  r.first_token_s = r.outcome == Outcome::REJECTED ? NOT_HAPPENED : r.arrival_s + 0.25;
  r.finish_s = r.outcome == Outcome::FINISHED ? r.arrival_s + 3.5 + 1e-3 * static_cast<double>(i) : NOT_HAPPENED;
  r.prompt_tokens = static_cast<int32_t>(100 + i);
  r.output_tokens = static_cast<int32_t>(200 + 2 * i);
  r.generated_tokens = r.outcome == Outcome::FINISHED ? r.output_tokens : static_cast<int32_t>(i % 7);
  r.preemptions = static_cast<int32_t>(i % 2);
  return r;
}

EventRecord make_event(int64_t i) {
  return {0.5 * static_cast<double>(i), i % 2 ? "failure" : "repair", "rack/" + std::to_string(i) + "/gpu/3",
          i % 5 == 0 ? std::string() : "reason: µ-test " + std::string(static_cast<size_t>(i % 300), 'x')};
}

IterationRecord make_iteration(int64_t i) {
  return {static_cast<int32_t>(i % 4),
          0.02 * static_cast<double>(i),
          0.015 + 1e-6 * static_cast<double>(i),
          static_cast<int32_t>(1 + i % 64),
          static_cast<int32_t>(i % 3 == 0 ? 512 : 0),
          static_cast<int32_t>(1 + i % 64),
          4000000000LL + i};
}

void expect_same_time(double expected, double actual, const std::string& what) {
  if (std::isnan(expected)) {
    EXPECT_TRUE(std::isnan(actual)) << what << ": expected NaN, read " << actual;
  } else {
    EXPECT_EQ(expected, actual) << what;
  }
}

void expect_error_names_file(const std::function<void()>& action, const std::string& path, const std::string& what) {
  try {
    action();
    ADD_FAILURE() << what << ": no ResultsError for " << path;
  } catch (const ResultsError& error) {
    EXPECT_NE(std::string(error.what()).find(path), std::string::npos)
        << what << ": message lacks the file name: " << error.what();
    std::cout << "  " << what << " -> " << error.what() << "\n";
  }
}

}  // namespace

TEST(ResultsFile, RoundTripFieldByField) {
  const fs::path dir = temp_dir();
  const std::string path = (dir / "run.h5").string();
  const size_t chunk = 100;
  const int64_t requests = 357;  // more than 3 chunks, the last one partial
  const int64_t events = 233;
  const int64_t iterations = 450;
  const std::string scenario_text(200000, 's');  // above HDF5's 64 KiB compact attribute limit
  const std::vector<SeriesSpec> series = {{"facility_power", "W", "total facility power"},
                                          {"queue_len", "1", "requests waiting, all services"}};
  uint64_t written_fingerprint = 0;
  {
    ResultsWriter writer(path, chunk);
    writer.write_meta({{"tool_version", "0.1.0"}, {"seed", "42"}, {"scenario", scenario_text}});
    writer.write_meta({{"seed", "43"}});  // replaces
    writer.define_series(series);
    for (int64_t i = 0; i < requests; ++i) writer.add_request(make_request(i));
    for (int64_t i = 0; i < events; ++i) writer.add_event(make_event(i));
    for (int64_t i = 0; i < iterations; ++i) writer.add_iteration(make_iteration(i));
    for (int i = 0; i < 250; ++i) writer.add_sample(60.0 * i, {1e6 + i, static_cast<double>(i % 9)});
    written_fingerprint = writer.fingerprint();
    writer.finish({{"throughput", 12.5, "req/s"}, {"ttft_p99", 0.75, "s"}});
  }
  ASSERT_TRUE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));

  const ResultsReader reader(path);
  const auto meta = reader.meta();
  EXPECT_EQ(meta.at("format"), RESULTS_FORMAT_NAME);
  EXPECT_EQ(meta.at("format_version"), "2");
  EXPECT_EQ(meta.at("tool_version"), "0.1.0");
  EXPECT_EQ(meta.at("seed"), "43");
  EXPECT_EQ(meta.at("scenario"), scenario_text);
  EXPECT_EQ(meta.at("fingerprint"), fingerprint_hex(written_fingerprint));

  ASSERT_EQ(reader.request_count(), static_cast<size_t>(requests));
  size_t chunks_seen = 0;
  int64_t next = 0;
  reader.for_each_request_chunk(
      [&](const std::vector<RequestRecord>& rows) {
        EXPECT_LE(rows.size(), 64u);
        ++chunks_seen;
        for (const auto& got : rows) {
          const RequestRecord want = make_request(next);
          const std::string row = "request " + std::to_string(next);
          EXPECT_EQ(got.id, want.id) << row;
          EXPECT_EQ(got.workload, want.workload) << row;
          EXPECT_EQ(got.service, want.service) << row;
          EXPECT_EQ(got.replica, want.replica) << row;
          expect_same_time(want.arrival_s, got.arrival_s, row + " arrival_s");
          expect_same_time(want.first_token_s, got.first_token_s, row + " first_token_s");
          expect_same_time(want.finish_s, got.finish_s, row + " finish_s");
          EXPECT_EQ(got.prompt_tokens, want.prompt_tokens) << row;
          EXPECT_EQ(got.output_tokens, want.output_tokens) << row;
          EXPECT_EQ(got.generated_tokens, want.generated_tokens) << row;
          EXPECT_EQ(got.preemptions, want.preemptions) << row;
          EXPECT_EQ(got.outcome, want.outcome) << row;
          ++next;
        }
      },
      64);
  EXPECT_EQ(next, requests);
  EXPECT_EQ(chunks_seen, 6u);  // ceil(357 / 64)
  EXPECT_EQ(reader.requests().size(), static_cast<size_t>(requests));

  const auto read_events = reader.events();
  ASSERT_EQ(read_events.size(), static_cast<size_t>(events));
  for (int64_t i = 0; i < events; ++i) {
    const EventRecord want = make_event(i);
    const EventRecord& got = read_events[static_cast<size_t>(i)];
    EXPECT_EQ(got.time_s, want.time_s) << "event " << i;
    EXPECT_EQ(got.kind, want.kind) << "event " << i;
    EXPECT_EQ(got.target, want.target) << "event " << i;
    EXPECT_EQ(got.detail, want.detail) << "event " << i;
  }

  const auto read_iterations = reader.iterations();
  ASSERT_EQ(read_iterations.size(), static_cast<size_t>(iterations));
  EXPECT_EQ(reader.iteration_count(), static_cast<size_t>(iterations));
  for (int64_t i = 0; i < iterations; ++i) {
    const IterationRecord want = make_iteration(i);
    const IterationRecord& got = read_iterations[static_cast<size_t>(i)];
    EXPECT_EQ(got.replica, want.replica) << "iteration " << i;
    EXPECT_EQ(got.start_s, want.start_s) << "iteration " << i;
    EXPECT_EQ(got.duration_s, want.duration_s) << "iteration " << i;
    EXPECT_EQ(got.num_seqs, want.num_seqs) << "iteration " << i;
    EXPECT_EQ(got.prefill_tokens, want.prefill_tokens) << "iteration " << i;
    EXPECT_EQ(got.decode_tokens, want.decode_tokens) << "iteration " << i;
    EXPECT_EQ(got.context_tokens, want.context_tokens) << "iteration " << i;
  }

  const auto read_series = reader.series();
  ASSERT_EQ(read_series.size(), 2u);
  for (size_t s = 0; s < 2; ++s) {
    EXPECT_EQ(read_series[s].name, series[s].name);
    EXPECT_EQ(read_series[s].unit, series[s].unit);
    EXPECT_EQ(read_series[s].description, series[s].description);
  }
  const auto time = reader.series_time();
  const auto power = reader.series_values("facility_power");
  const auto queue = reader.series_values("queue_len");
  ASSERT_EQ(time.size(), 250u);
  ASSERT_EQ(power.size(), 250u);
  ASSERT_EQ(queue.size(), 250u);
  for (int i = 0; i < 250; ++i) {
    EXPECT_EQ(time[static_cast<size_t>(i)], 60.0 * i);
    EXPECT_EQ(power[static_cast<size_t>(i)], 1e6 + i);
    EXPECT_EQ(queue[static_cast<size_t>(i)], static_cast<double>(i % 9));
  }
  EXPECT_THROW(reader.series_values("no_such_series"), ResultsError);

  const auto summary = reader.summary();
  ASSERT_EQ(summary.size(), 2u);
  EXPECT_EQ(summary[0].name, "throughput");
  EXPECT_EQ(summary[0].value, 12.5);
  EXPECT_EQ(summary[0].unit, "req/s");
  EXPECT_EQ(reader.summary_value("ttft_p99"), 0.75);
  EXPECT_FALSE(reader.summary_value("missing").has_value());

  EXPECT_EQ(reader.stored_fingerprint(), written_fingerprint);
  EXPECT_EQ(reader.compute_fingerprint(), written_fingerprint);
  fs::remove_all(dir);
}

TEST(ResultsFile, EmptyRunAndCompressionReadBack) {
  const fs::path dir = temp_dir();
  const std::string empty = (dir / "empty.h5").string();
  ResultsWriter(empty).finish({});
  const ResultsReader empty_reader(empty);
  EXPECT_EQ(empty_reader.request_count(), 0u);
  EXPECT_TRUE(empty_reader.events().empty());
  EXPECT_TRUE(empty_reader.series().empty());
  EXPECT_TRUE(empty_reader.series_time().empty());
  EXPECT_TRUE(empty_reader.summary().empty());
  // Fingerprint of nothing: FNV-1a over four zero u64 after two empty streams; just stable and equal.
  EXPECT_EQ(empty_reader.stored_fingerprint(), Fingerprint().value());

  const std::string compressed = (dir / "deflate.h5").string();
  {
    ResultsWriter writer(compressed, 50, 6);
    for (int64_t i = 0; i < 500; ++i) writer.add_request(make_request(i));
    writer.finish({});
  }
  const auto rows = ResultsReader(compressed).requests();
  ASSERT_EQ(rows.size(), 500u);
  EXPECT_EQ(rows[499].id, make_request(499).id);
  EXPECT_EQ(rows[499].output_tokens, make_request(499).output_tokens);
  fs::remove_all(dir);
}

TEST(ResultsFile, BufferNeverExceedsChunkRows) {
  const fs::path dir = temp_dir();
  const std::string path = (dir / "bounded.h5").string();
  const size_t chunk = 64;
  ResultsWriter writer(path, chunk);
  writer.define_series({{"x", "1", "test"}});
  size_t peak = 0;
  for (int64_t i = 0; i < 5000; ++i) {
    writer.add_request(make_request(i));
    peak = std::max(peak, writer.buffered_rows());
    writer.add_event(make_event(i));
    peak = std::max(peak, writer.buffered_rows());
    writer.add_iteration(make_iteration(i));
    peak = std::max(peak, writer.buffered_rows());
    writer.add_sample(static_cast<double>(i), {1.0});
    peak = std::max(peak, writer.buffered_rows());
    ASSERT_LE(writer.buffered_rows(), chunk) << "after row " << i;
  }
  std::cout << "  peak buffered rows " << peak << " for chunk_rows " << chunk << " over 5000 rows per table\n";
  EXPECT_GT(peak, 0u);
  EXPECT_LT(peak, chunk);  // a full buffer is flushed inside the add that fills it
  writer.finish({});
  const ResultsReader reader(path);
  EXPECT_EQ(reader.request_count(), 5000u);
  EXPECT_EQ(reader.event_count(), 5000u);
  EXPECT_EQ(reader.iteration_count(), 5000u);
  EXPECT_EQ(reader.series_values("x").size(), 5000u);
  fs::remove_all(dir);
}

TEST(ResultsFile, AbandonedWriterLeavesNoFileAndKeepsTheOldOne) {
  const fs::path dir = temp_dir();
  const std::string fresh = (dir / "sub" / "dir" / "fresh.h5").string();  // parents created
  {
    ResultsWriter writer(fresh, 10);
    for (int64_t i = 0; i < 55; ++i) writer.add_request(make_request(i));
    EXPECT_TRUE(fs::exists(fresh + ".tmp"));
    EXPECT_FALSE(fs::exists(fresh));
  }
  EXPECT_FALSE(fs::exists(fresh)) << "a writer destroyed without finish() must not create the file";
  EXPECT_FALSE(fs::exists(fresh + ".tmp")) << "and must remove its tmp file";

  const std::string existing = (dir / "existing.h5").string();
  write_bytes(existing, "previous results");
  try {
    ResultsWriter writer(existing, 10);
    for (int64_t i = 0; i < 25; ++i) writer.add_request(make_request(i));
    throw std::runtime_error("simulated failure mid-run");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(read_bytes(existing), "previous results") << "a failed run must not replace the previous file";
  EXPECT_FALSE(fs::exists(existing + ".tmp"));

  {
    ResultsWriter writer(existing, 10);
    writer.add_request(make_request(1));
    writer.finish({});
  }
  EXPECT_EQ(ResultsReader(existing).request_count(), 1u) << "finish() replaces it";
  fs::remove_all(dir);
}

TEST(ResultsFile, MisuseIsRejected) {
  const fs::path dir = temp_dir();
  ResultsWriter writer((dir / "misuse.h5").string(), 8);
  EXPECT_THROW(writer.write_meta({{"fingerprint", "x"}}), std::invalid_argument);
  EXPECT_THROW(writer.write_meta({{"format", "x"}}), std::invalid_argument);
  EXPECT_THROW(writer.define_series({{"a/b", "", ""}}), std::invalid_argument);
  EXPECT_THROW(writer.define_series({{"time", "", ""}}), std::invalid_argument);
  EXPECT_THROW(writer.define_series({{"a", "", ""}, {"a", "", ""}}), std::invalid_argument);
  writer.define_series({{"a", "W", ""}, {"b", "W", ""}});
  EXPECT_THROW(writer.define_series({{"c", "", ""}}), std::logic_error);
  EXPECT_THROW(writer.add_sample(0.0, {1.0}), std::invalid_argument);
  writer.add_sample(0.0, {1.0, 2.0});
  writer.finish({});
  EXPECT_THROW(writer.add_request(make_request(0)), std::logic_error);
  EXPECT_THROW(writer.finish({}), std::logic_error);
  EXPECT_THROW(ResultsWriter((dir / "x.h5").string(), 0), std::invalid_argument);
  EXPECT_THROW(ResultsWriter((dir / "x.h5").string(), 10, 11), std::invalid_argument);
  fs::remove_all(dir);
}

TEST(ResultsFile, BadFilesThrowResultsErrorNamingTheFile) {
  const fs::path dir = temp_dir();
  const std::string missing = (dir / "missing.h5").string();
  expect_error_names_file([&] { ResultsReader r(missing); }, missing, "missing file");

  const std::string text = (dir / "notes.h5").string();
  write_bytes(text, "this is a text file, not HDF5\n");
  expect_error_names_file([&] { ResultsReader r(text); }, text, "text file");

  const std::string empty = (dir / "empty.h5").string();
  write_bytes(empty, "");
  expect_error_names_file([&] { ResultsReader r(empty); }, empty, "empty file");

  expect_error_names_file([&] { ResultsReader r(dir.string()); }, dir.string(), "directory");

  // A valid HDF5 file that is not a results file: one group, no /requests.
  const std::string foreign = (dir / "foreign.h5").string();
  {
    const hid_t file = H5Fcreate(foreign.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    const hid_t group = H5Gcreate2(file, "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(group);
    H5Fclose(file);
  }
  expect_error_names_file([&] { ResultsReader r(foreign); }, foreign, "HDF5 without /requests");

  // A results file cut in half, as if copied while being written or from a full disk.
  const std::string whole = (dir / "whole.h5").string();
  {
    ResultsWriter writer(whole, 100);
    for (int64_t i = 0; i < 2000; ++i) writer.add_request(make_request(i));
    for (int64_t i = 0; i < 500; ++i) writer.add_event(make_event(i));
    writer.finish({{"x", 1.0, ""}});
  }
  const std::string bytes = read_bytes(whole);
  for (double fraction : {0.5, 0.9, 0.02}) {
    const std::string truncated = (dir / ("truncated_" + std::to_string(fraction) + ".h5")).string();
    write_bytes(truncated, bytes.substr(0, static_cast<size_t>(fraction * static_cast<double>(bytes.size()))));
    expect_error_names_file(
        [&] {
          ResultsReader r(truncated);
          r.requests();
          r.events();
          r.summary();
        },
        truncated, "truncated to " + std::to_string(fraction));
  }
  fs::remove_all(dir);
}

TEST(ResultsFile, BusiestLinksRoundTripAndMustMatchTheSamples) {
  const fs::path dir = temp_dir();
  const std::string path = (dir / "links.h5").string();
  {
    ResultsWriter writer(path);
    writer.define_series({{"x", "1", "anything"}});
    for (int i = 0; i < 3; ++i) writer.add_sample(i * 10.0, {1.0 * i});
    writer.set_busiest_links({{"a-b_UP", "uplink", 25e9, 5e11, 0.5, 0.9, {0.0, 0.9, 0.1}},
                              {"c-d_DOWN", "core", 50e9, 1e11, 0.1, 0.2, {0.0, 0.2, 0.0}}});
    EXPECT_THROW(writer.set_busiest_links({}), std::logic_error);
    writer.finish({});
  }
  const auto links = ResultsReader(path).busiest_links();
  ASSERT_EQ(links.size(), 2u);
  EXPECT_EQ(links[0].name, "a-b_UP");
  EXPECT_EQ(links[1].tier, "core");
  EXPECT_EQ(links[1].bandwidth, 50e9);
  EXPECT_EQ(links[0].bytes, 5e11);
  EXPECT_EQ(links[0].peak_util, 0.9);
  EXPECT_EQ(links[1].mean_util, 0.1);
  EXPECT_EQ(links[0].util, (std::vector<double>{0.0, 0.9, 0.1}));
  EXPECT_EQ(links[1].util, (std::vector<double>{0.0, 0.2, 0.0}));
  // A file without /links reads as none.
  const std::string plain = (dir / "plain.h5").string();
  ResultsWriter(plain).finish({});
  EXPECT_TRUE(ResultsReader(plain).busiest_links().empty());
  // A series of the wrong length is refused at finish, and no file is left behind.
  const std::string bad = (dir / "bad.h5").string();
  {
    ResultsWriter writer(bad);
    writer.define_series({{"x", "1", "anything"}});
    writer.add_sample(0, {1});
    writer.set_busiest_links({{"a-b_UP", "uplink", 1, 1, 1, 1, {0.0, 1.0}}});
    EXPECT_THROW(writer.finish({}), std::invalid_argument);
  }
  EXPECT_FALSE(fs::exists(bad));
  fs::remove_all(dir);
}

TEST(ResultsFile, RackPowerRoundTripsAndMustMatchTheSamples) {
  const fs::path dir = temp_dir();
  const std::string path = (dir / "racks.h5").string();
  // 3 samples x 2 racks in 2 halls; a NaN (before the first control instant) survives the round trip.
  const std::vector<float> watts{std::nanf(""), 2.5f, 1000.25f, 3e4f, 0.f, 12345.5f};
  {
    ResultsWriter writer(path);
    writer.define_series({{"x", "1", "anything"}});
    for (int i = 0; i < 3; ++i) writer.add_sample(i * 10.0, {1.0 * i});
    writer.set_rack_power({{0, 1}, watts});
    EXPECT_THROW(writer.set_rack_power({{0}, {1.f, 2.f, 3.f}}), std::logic_error);
    writer.finish({});
  }
  const auto racks = ResultsReader(path).rack_power();
  ASSERT_TRUE(racks.has_value());
  EXPECT_EQ(racks->hall, (std::vector<int32_t>{0, 1}));
  ASSERT_EQ(racks->samples(), 3u);
  ASSERT_EQ(racks->racks(), 2u);
  EXPECT_TRUE(std::isnan(racks->at(0, 0)));
  EXPECT_EQ(racks->at(0, 1), 2.5f);
  EXPECT_EQ(racks->at(1, 0), 1000.25f);
  EXPECT_EQ(racks->at(1, 1), 3e4f);
  EXPECT_EQ(racks->at(2, 1), 12345.5f);
  // A file without /power reads as none.
  const std::string plain = (dir / "plain.h5").string();
  ResultsWriter(plain).finish({});
  EXPECT_FALSE(ResultsReader(plain).rack_power().has_value());
  // A matrix that does not have one row per sample is refused at finish, and no file is left behind.
  const std::string bad = (dir / "bad.h5").string();
  {
    ResultsWriter writer(bad);
    writer.define_series({{"x", "1", "anything"}});
    writer.add_sample(0, {1});
    writer.set_rack_power({{0, 0}, {1.f, 2.f, 3.f, 4.f}});
    EXPECT_THROW(writer.finish({}), std::invalid_argument);
  }
  EXPECT_FALSE(fs::exists(bad));
  fs::remove_all(dir);
}
