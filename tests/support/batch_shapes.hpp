// Step shapes the perf and power tests use: one sequence's whole prompt as a prefill chunk, and a batch of decode
// steps each attending to the same number of keys (its context and its own).
#pragma once
#include <cstdint>

#include "aif/models/serving.hpp"

namespace aif::testing {

inline aif::models::BatchShape prefill_shape(int64_t tokens) {
  aif::models::BatchShape s;
  s.num_seqs = s.prefill_seqs = s.sampled_seqs = 1;
  s.num_tokens = s.prefill_tokens = tokens;
  s.attended_pairs = s.prefill_attended_pairs = static_cast<double>(tokens) * static_cast<double>(tokens + 1) / 2;
  s.kv_read_tokens = static_cast<double>(tokens);
  return s;
}

inline aif::models::BatchShape decode_shape(int seqs, double keys_per_seq) {
  aif::models::BatchShape s;
  s.num_seqs = s.decode_seqs = s.sampled_seqs = seqs;
  s.num_tokens = seqs;
  s.attended_pairs = s.kv_read_tokens = seqs * keys_per_seq;
  return s;
}

}  // namespace aif::testing
