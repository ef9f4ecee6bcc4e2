// Run fingerprint: a 64-bit hash over the request and event records of a run, so that a refactor can
// prove it did not change behaviour. Stable across runs, compilers and platforms: every field is fed
// as little-endian bytes, doubles by their IEEE-754 bits (all NaNs as one canonical NaN), strings as
// a 64-bit length then their bytes. Hash: 64-bit FNV-1a (Fowler, Noll, Vo; public-domain algorithm).
//
// Requests and events are hashed as two separate streams, each in the order added, and combined at
// the end with their counts. So the value does not depend on how the two streams interleave, and a
// reader can recompute it from the file (/requests and /events keep each stream's order).
#pragma once
#include <cstdint>
#include <string>

#include "aif/analysis/results.hpp"

namespace aif::analysis {

class Fnv1a64 {
 public:
  static constexpr uint64_t OFFSET_BASIS = 0xcbf29ce484222325ULL;
  static constexpr uint64_t PRIME = 0x100000001b3ULL;
  void add_byte(uint8_t byte) {
    hash_ ^= byte;
    hash_ *= PRIME;
  }
  void add_u64(uint64_t value);  // little-endian, 8 bytes
  void add_u32(uint32_t value);  // little-endian, 4 bytes
  void add_double(double value);
  void add_string(const std::string& text);
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = OFFSET_BASIS;
};

class Fingerprint {
 public:
  void add(const RequestRecord& record);
  void add(const EventRecord& record);
  uint64_t value() const;
  uint64_t request_count() const { return request_count_; }
  uint64_t event_count() const { return event_count_; }

 private:
  Fnv1a64 requests_;
  Fnv1a64 events_;
  uint64_t request_count_ = 0;
  uint64_t event_count_ = 0;
};

std::string fingerprint_hex(uint64_t fingerprint);  // 16 lowercase hex digits
// Parses what fingerprint_hex writes; std::invalid_argument otherwise.
uint64_t parse_fingerprint_hex(const std::string& text);

}  // namespace aif::analysis
