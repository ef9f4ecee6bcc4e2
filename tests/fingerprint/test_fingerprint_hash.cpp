// The run fingerprint: FNV-1a against published test vectors, against a second implementation
// written from the documented byte layout, sensitivity to every field, and byte-identical files
// from identical write sequences.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <thread>

#include "aif/analysis/fingerprint.hpp"
#include "aif/analysis/results.hpp"

namespace fs = std::filesystem;
using namespace aif::analysis;

namespace {

fs::path temp_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir = fs::temp_directory_path() / ("aif_test_fp_" + std::to_string(::getpid()) + "_" + info->name());
  fs::create_directories(dir);
  return dir;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Independent FNV-1a 64 over a byte buffer (constants from the FNV reference).
uint64_t fnv1a(const std::vector<uint8_t>& bytes) {
  uint64_t hash = 14695981039346656037ULL;
  for (uint8_t b : bytes) {
    hash ^= b;
    hash *= 1099511628211ULL;
  }
  return hash;
}

void put_le(std::vector<uint8_t>& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

void put_double(std::vector<uint8_t>& out, double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, 8);
  put_le(out, bits, 8);
}

RequestRecord sample_request(int64_t i) {
  RequestRecord r;
  r.id = i;
  r.workload = 1;
  r.service = 2;
  r.replica = static_cast<int32_t>(i % 4);
  r.arrival_s = 0.1 * static_cast<double>(i);
  r.first_token_s = r.arrival_s + 0.05;
  r.finish_s = r.arrival_s + 1.25;
  r.prompt_tokens = 512;
  r.output_tokens = 128;
  r.generated_tokens = 128;
  r.preemptions = 0;
  r.outcome = Outcome::FINISHED;
  return r;
}

EventRecord sample_event(int64_t i) { return {3.0 * static_cast<double>(i), "scale_up", "service/chat", "queue > 10"}; }

// The fixed sequence both file writes and hash checks use.
void write_run(ResultsWriter& writer) {
  writer.write_meta({{"tool_version", "0.1.0"}, {"seed", "7"}});
  writer.define_series({{"power", "W", "facility power"}, {"queue", "1", "waiting requests"}});
  for (int64_t i = 0; i < 300; ++i) {
    writer.add_request(sample_request(i));
    if (i % 10 == 0) writer.add_event(sample_event(i));
    if (i % 3 == 0)
      writer.add_sample(static_cast<double>(i), {1e5 + static_cast<double>(i), static_cast<double>(i % 7)});
    writer.add_iteration({static_cast<int32_t>(i % 4), 0.01 * static_cast<double>(i), 0.01, 8, 0, 8, 4096});
  }
  writer.finish({{"throughput", 42.0, "req/s"}});
}

}  // namespace

TEST(FingerprintHash, Fnv1aPublishedVectors) {
  // Published FNV-1a 64-bit test vectors: "" -> cbf29ce484222325, "a" -> af63dc4c8601ec8c,
  // "foobar" -> 85944171f73967e8.
  Fnv1a64 empty;
  EXPECT_EQ(empty.value(), 0xcbf29ce484222325ULL);
  Fnv1a64 a;
  a.add_byte('a');
  EXPECT_EQ(a.value(), 0xaf63dc4c8601ec8cULL);
  Fnv1a64 foobar;
  for (char c : std::string("foobar")) foobar.add_byte(static_cast<uint8_t>(c));
  EXPECT_EQ(foobar.value(), 0x85944171f73967e8ULL);
}

TEST(FingerprintHash, MatchesSecondImplementationOfTheDocumentedLayout) {
  // docs/results-format.md: request fields little-endian in column order (i64, 3 x i32, 3 x f64 bits,
  // 4 x i32, u8 outcome); event = f64 bits + (u64 length, bytes) per string; final = FNV-1a over
  // (request hash, request count, event hash, event count) as u64 LE.
  std::vector<uint8_t> request_bytes;
  std::vector<uint8_t> event_bytes;
  Fingerprint fingerprint;
  for (int64_t i = 0; i < 3; ++i) {
    RequestRecord r = sample_request(i);
    if (i == 2) {
      r.finish_s = NOT_HAPPENED;
      r.outcome = Outcome::UNFINISHED;
    }
    fingerprint.add(r);
    put_le(request_bytes, static_cast<uint64_t>(r.id), 8);
    put_le(request_bytes, static_cast<uint32_t>(r.workload), 4);
    put_le(request_bytes, static_cast<uint32_t>(r.service), 4);
    put_le(request_bytes, static_cast<uint32_t>(r.replica), 4);
    put_double(request_bytes, r.arrival_s);
    put_double(request_bytes, r.first_token_s);
    if (std::isnan(r.finish_s)) {
      put_le(request_bytes, 0x7ff8000000000000ULL, 8);  // canonical NaN
    } else {
      put_double(request_bytes, r.finish_s);
    }
    for (int32_t v : {r.prompt_tokens, r.output_tokens, r.generated_tokens, r.preemptions}) {
      put_le(request_bytes, static_cast<uint32_t>(v), 4);
    }
    request_bytes.push_back(static_cast<uint8_t>(r.outcome));
  }
  const EventRecord e = sample_event(1);
  fingerprint.add(e);
  put_double(event_bytes, e.time_s);
  for (const std::string* s : {&e.kind, &e.target, &e.detail}) {
    put_le(event_bytes, s->size(), 8);
    event_bytes.insert(event_bytes.end(), s->begin(), s->end());
  }
  std::vector<uint8_t> combined;
  put_le(combined, fnv1a(request_bytes), 8);
  put_le(combined, 3, 8);
  put_le(combined, fnv1a(event_bytes), 8);
  put_le(combined, 1, 8);
  const uint64_t expected = fnv1a(combined);
  std::cout << "  independent " << fingerprint_hex(expected) << " library " << fingerprint_hex(fingerprint.value())
            << "\n";
  EXPECT_EQ(fingerprint.value(), expected);
}

TEST(FingerprintHash, SameRecordsSameHashAnyChangedFieldDifferent) {
  auto hash_of = [](const std::function<void(RequestRecord&)>& change,
                    const std::function<void(EventRecord&)>& change_event) {
    Fingerprint fingerprint;
    for (int64_t i = 0; i < 50; ++i) {
      RequestRecord r = sample_request(i);
      if (i == 17) change(r);
      fingerprint.add(r);
    }
    for (int64_t i = 0; i < 5; ++i) {
      EventRecord e = sample_event(i);
      if (i == 3) change_event(e);
      fingerprint.add(e);
    }
    return fingerprint.value();
  };
  const auto no_request_change = [](RequestRecord&) {};
  const auto no_event_change = [](EventRecord&) {};
  const uint64_t base = hash_of(no_request_change, no_event_change);
  EXPECT_EQ(hash_of(no_request_change, no_event_change), base);

  const std::vector<std::pair<std::string, std::function<void(RequestRecord&)>>> request_changes = {
      {"id", [](RequestRecord& r) { r.id += 1; }},
      {"workload", [](RequestRecord& r) { r.workload += 1; }},
      {"service", [](RequestRecord& r) { r.service += 1; }},
      {"replica", [](RequestRecord& r) { r.replica += 1; }},
      {"arrival_s (1 ulp)", [](RequestRecord& r) { r.arrival_s = std::nextafter(r.arrival_s, 1e9); }},
      {"first_token_s", [](RequestRecord& r) { r.first_token_s += 1e-9; }},
      {"finish_s -> NaN", [](RequestRecord& r) { r.finish_s = NOT_HAPPENED; }},
      {"prompt_tokens", [](RequestRecord& r) { r.prompt_tokens += 1; }},
      {"output_tokens", [](RequestRecord& r) { r.output_tokens += 1; }},
      {"generated_tokens", [](RequestRecord& r) { r.generated_tokens -= 1; }},
      {"preemptions", [](RequestRecord& r) { r.preemptions += 1; }},
      {"outcome", [](RequestRecord& r) { r.outcome = Outcome::DROPPED; }},
  };
  for (const auto& [field, change] : request_changes) {
    EXPECT_NE(hash_of(change, no_event_change), base) << "changing request " << field;
  }
  const std::vector<std::pair<std::string, std::function<void(EventRecord&)>>> event_changes = {
      {"time_s", [](EventRecord& e) { e.time_s += 0.5; }},
      {"kind", [](EventRecord& e) { e.kind = "scale_down"; }},
      {"target", [](EventRecord& e) { e.target += "x"; }},
      {"detail", [](EventRecord& e) { e.detail.clear(); }},
      // Moving a byte between adjacent strings must change the hash (lengths are hashed).
      {"kind/target boundary",
       [](EventRecord& e) {
         e.kind += e.target.substr(0, 1);
         e.target.erase(0, 1);
       }},
  };
  for (const auto& [field, change] : event_changes) {
    EXPECT_NE(hash_of(no_request_change, change), base) << "changing event " << field;
  }
  // Any NaN payload hashes as the canonical NaN.
  const auto other_nan = hash_of([](RequestRecord& r) { r.finish_s = -std::nan("0x123"); }, no_event_change);
  EXPECT_EQ(other_nan, hash_of(request_changes[6].second, no_event_change));
}

TEST(FingerprintHash, OrderWithinAStreamMattersInterleavingDoesNot) {
  Fingerprint requests_first;
  Fingerprint interleaved;
  Fingerprint swapped;
  for (int64_t i = 0; i < 10; ++i) requests_first.add(sample_request(i));
  for (int64_t i = 0; i < 3; ++i) requests_first.add(sample_event(i));
  for (int64_t i = 0; i < 10; ++i) {
    interleaved.add(sample_request(i));
    if (i < 3) interleaved.add(sample_event(i));
  }
  for (int64_t i : {1, 0, 2, 3, 4, 5, 6, 7, 8, 9}) swapped.add(sample_request(i));
  for (int64_t i = 0; i < 3; ++i) swapped.add(sample_event(i));
  EXPECT_EQ(interleaved.value(), requests_first.value());
  EXPECT_NE(swapped.value(), requests_first.value());
}

TEST(FingerprintHash, HexRoundTrip) {
  EXPECT_EQ(fingerprint_hex(0x00ab00cd00ef0012ULL), "00ab00cd00ef0012");
  EXPECT_EQ(parse_fingerprint_hex("00ab00cd00ef0012"), 0x00ab00cd00ef0012ULL);
  EXPECT_EQ(parse_fingerprint_hex("FFFFFFFFFFFFFFFF"), ~0ULL);
  EXPECT_THROW(parse_fingerprint_hex("12"), std::invalid_argument);
  EXPECT_THROW(parse_fingerprint_hex("00ab00cd00ef001g"), std::invalid_argument);
}

TEST(FingerprintHash, IdenticalWriteSequencesGiveByteIdenticalFiles) {
  const fs::path dir = temp_dir();
  const std::string first = (dir / "first.h5").string();
  const std::string second = (dir / "second.h5").string();
  uint64_t first_fingerprint = 0;
  uint64_t second_fingerprint = 0;
  {
    ResultsWriter writer(first, 64);
    write_run(writer);
    first_fingerprint = writer.fingerprint();
  }
  // HDF5 timestamps have 1 s resolution: wait past a second so that any stored time would differ.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  {
    ResultsWriter writer(second, 64);
    write_run(writer);
    second_fingerprint = writer.fingerprint();
  }
  EXPECT_EQ(first_fingerprint, second_fingerprint);
  const std::string a = read_bytes(first);
  const std::string b = read_bytes(second);
  ASSERT_GT(a.size(), 10000u);
  EXPECT_EQ(a.size(), b.size());
  size_t first_difference = 0;
  while (first_difference < std::min(a.size(), b.size()) && a[first_difference] == b[first_difference]) {
    ++first_difference;
  }
  EXPECT_TRUE(a == b) << "files differ from byte " << first_difference << " of " << a.size();

  const ResultsReader reader(first);
  EXPECT_EQ(reader.stored_fingerprint(), first_fingerprint);
  EXPECT_EQ(reader.compute_fingerprint(), first_fingerprint) << "recomputed from /requests and /events";
  std::cout << "  fingerprint " << fingerprint_hex(first_fingerprint) << ", file " << a.size() << " bytes\n";
  fs::remove_all(dir);
}
