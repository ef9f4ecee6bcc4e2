// Serving a request trace with the reference engine: arrivals at their timestamps (wall clock), per-request
// and per-iteration records in the shape of the simulator's /requests and /iterations tables.
#pragma once
#include <cstdint>
#include <limits>
#include <vector>

#include "aif/kernels/engine.hpp"

namespace aif::kernels {

struct TraceRequest {
  int64_t id = 0;
  double arrival_s = 0;  // since the start of the trace
  int prompt_tokens = 0;
  int output_tokens = 0;
  // The prompt's content where the trace names it (Mooncake's hash_ids, block_tokens each): equal ids, equal tokens
  // (content_prompt). Empty: tokens of this request alone (synthetic_prompt).
  std::vector<int64_t> block_ids = {};
  int block_tokens = 0;
};

struct ReplayOptions {
  double rate_scale = 1.0;  // >1 compresses time: arrival = arrival_s / rate_scale
  // true: wait for each arrival on the wall clock. false: the clock still advances by each measured step,
  // but idle gaps are skipped (same order of events, much faster; used by tests and `bench`).
  bool real_time = true;
  int max_prompt_tokens = 0;  // clamp (0: none), to scale a trace down to a small model
  int max_output_tokens = 0;
  uint64_t prompt_seed = 1;   // synthetic prompt tokens (traces carry lengths only)
  double time_limit_s = std::numeric_limits<double>::infinity();  // stop (requests left UNFINISHED) after this
};

struct ReplayRequest {
  int64_t id = 0;
  double arrival_s = 0;
  double first_token_s = std::numeric_limits<double>::quiet_NaN();
  double finish_s = std::numeric_limits<double>::quiet_NaN();
  int prompt_tokens = 0;  // after clamping
  int output_tokens = 0;
  int generated_tokens = 0;
  int preemptions = 0;
  int cached_tokens = 0;  // prompt tokens its prefix cache spared (engine with prefix caching)
  bool rejected = false;  // could never fit the KV cache
};

// One engine step. duration_s is the whole of Engine::step() on the wall clock: scheduler schedule(), host
// inputs, Model::forward (metadata upload, every layer, final norm, LM head, logits download), host sampling
// and scheduler complete(). Admission of arrivals and the release of finished requests are outside it.
struct ReplayIteration {
  double start_s = 0;  // when Engine::step() was entered (run clock)
  double duration_s = 0;
  int num_seqs = 0;
  int prefill_tokens = 0;
  int decode_tokens = 0;
  int64_t context_tokens = 0;
  // The step's composition, from plan.shape (models::BatchShape).
  int prefill_seqs = 0;
  int sampled_seqs = 0;
  double attended_pairs = 0;
  double prefill_attended_pairs = 0;
  double forward_s = 0;  // of duration_s, Model::forward alone
};

struct ReplayResult {
  std::vector<ReplayRequest> requests;  // trace order
  std::vector<ReplayIteration> iterations;
  double wall_s = 0;
  int kv_blocks = 0;
  int kv_blocks_free_at_end = 0;
};

ReplayResult replay(Engine& engine, const std::vector<TraceRequest>& trace, const ReplayOptions& options);

}  // namespace aif::kernels
