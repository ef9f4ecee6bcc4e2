#include "aif/analysis/fingerprint.hpp"

#include <cmath>
#include <cstring>
#include <stdexcept>

namespace aif::analysis {

namespace {
constexpr uint64_t CANONICAL_NAN_BITS = 0x7ff8000000000000ULL;
}

void Fnv1a64::add_u64(uint64_t value) {
  for (int i = 0; i < 8; ++i) add_byte(static_cast<uint8_t>(value >> (8 * i)));
}

void Fnv1a64::add_u32(uint32_t value) {
  for (int i = 0; i < 4; ++i) add_byte(static_cast<uint8_t>(value >> (8 * i)));
}

void Fnv1a64::add_double(double value) {
  uint64_t bits = CANONICAL_NAN_BITS;
  if (!std::isnan(value)) std::memcpy(&bits, &value, sizeof bits);
  add_u64(bits);
}

void Fnv1a64::add_string(const std::string& text) {
  add_u64(text.size());
  for (char c : text) add_byte(static_cast<uint8_t>(c));
}

void Fingerprint::add(const RequestRecord& r) {
  requests_.add_u64(static_cast<uint64_t>(r.id));
  requests_.add_u32(static_cast<uint32_t>(r.workload));
  requests_.add_u32(static_cast<uint32_t>(r.service));
  requests_.add_u32(static_cast<uint32_t>(r.replica));
  requests_.add_double(r.arrival_s);
  requests_.add_double(r.first_token_s);
  requests_.add_double(r.finish_s);
  requests_.add_u32(static_cast<uint32_t>(r.prompt_tokens));
  requests_.add_u32(static_cast<uint32_t>(r.output_tokens));
  requests_.add_u32(static_cast<uint32_t>(r.generated_tokens));
  requests_.add_u32(static_cast<uint32_t>(r.preemptions));
  requests_.add_byte(static_cast<uint8_t>(r.outcome));
  ++request_count_;
}

void Fingerprint::add(const EventRecord& e) {
  events_.add_double(e.time_s);
  events_.add_string(e.kind);
  events_.add_string(e.target);
  events_.add_string(e.detail);
  ++event_count_;
}

uint64_t Fingerprint::value() const {
  Fnv1a64 combined;
  combined.add_u64(requests_.value());
  combined.add_u64(request_count_);
  combined.add_u64(events_.value());
  combined.add_u64(event_count_);
  return combined.value();
}

std::string fingerprint_hex(uint64_t fingerprint) {
  static const char DIGITS[] = "0123456789abcdef";
  std::string text(16, '0');
  for (int i = 15; i >= 0; --i) {
    text[static_cast<size_t>(i)] = DIGITS[fingerprint & 0xf];
    fingerprint >>= 4;
  }
  return text;
}

uint64_t parse_fingerprint_hex(const std::string& text) {
  if (text.size() != 16) throw std::invalid_argument("fingerprint '" + text + "' is not 16 hex digits");
  uint64_t value = 0;
  for (char c : text) {
    int digit = -1;
    if (c >= '0' && c <= '9') digit = c - '0';
    if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    if (digit < 0) throw std::invalid_argument("fingerprint '" + text + "' is not 16 hex digits");
    value = (value << 4) | static_cast<uint64_t>(digit);
  }
  return value;
}

const char* outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::FINISHED:
      return "FINISHED";
    case Outcome::UNFINISHED:
      return "UNFINISHED";
    case Outcome::REJECTED:
      return "REJECTED";
    case Outcome::DROPPED:
      return "DROPPED";
  }
  return "UNKNOWN";
}

}  // namespace aif::analysis
