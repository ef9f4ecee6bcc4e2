// The reference inference engine: a Model, a paged KV cache and the shared continuous-batching scheduler
// (aif::models::Scheduler, the same code the simulated replicas run), in one step loop:
// schedule -> prepare inputs -> forward -> sample -> complete.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "aif/kernels/model.hpp"
#include "aif/models/serving.hpp"

namespace aif::kernels {

struct EngineConfig {
  models::SchedulerLimits limits;  // limits.num_blocks must be set (see blocks_for_memory)
  uint64_t seed = 1;               // sampling seed
  double temperature = 0.0;        // 0: greedy
  int top_k = 0;
};

// KV blocks that fit in `bytes` for this shape and block size.
int blocks_for_memory(const ModelShape& shape, int block_size, double bytes);

// Synthetic prompt tokens for trace replay: token j of request id is a hash of (seed, id, j).
std::vector<int32_t> synthetic_prompt(uint64_t seed, int64_t id, int length, int vocab);
// Prompt tokens named by a trace's block ids (block_tokens each): token j of block b is a hash of (seed, the chained
// ids of blocks 0..b, j), so prompts that share leading ids share those tokens; tokens past the ids are the
// request's own (synthetic_prompt).
std::vector<int32_t> content_prompt(uint64_t seed, int64_t id, const std::vector<int64_t>& block_ids, int block_tokens,
                                    int length, int vocab);
// Prefix caching by content (SchedulerLimits::prefix_caching): the hashes naming each full block of `tokens` and all
// before it, for the scheduler.
std::vector<uint64_t> token_block_hashes(const std::vector<int32_t>& tokens, int block_size);

struct StepReport {
  models::StepPlan plan;
  std::vector<models::SeqOutcome> outcomes;
  double forward_s = 0.0;  // wall time of the forward pass (inputs, model, logits download)
  int prefill_tokens = 0;
  int decode_tokens = 0;
  int64_t context_tokens = 0;  // sum of context_before over the chunks
};

class Engine {
 public:
  Engine(Model& model, const EngineConfig& config);

  // False when the request can never fit the cache (the scheduler refuses it).
  bool add_request(models::RequestId id, std::vector<int32_t> prompt, int max_output_tokens);
  // One step; an empty plan when nothing is runnable.
  StepReport step();
  bool idle() const { return scheduler_.idle(); }

  // Prompt and generated tokens of a request (kept after it finishes until release()).
  const std::vector<int32_t>& tokens(models::RequestId id) const;
  int prompt_length(models::RequestId id) const;
  void release(models::RequestId id);

  const models::Scheduler& scheduler() const { return scheduler_; }
  const Model& model() const { return model_; }
  KvCache& cache() { return cache_; }
  // Called with every logits row used for sampling: (request, index of the token it samples, logits[vocab]).
  std::function<void(models::RequestId, int, const float*)> on_logits;

 private:
  struct Request {
    std::vector<int32_t> tokens;
    int prompt = 0;
  };
  Model& model_;
  EngineConfig config_;
  models::Scheduler scheduler_;
  KvCache cache_;
  std::unordered_map<models::RequestId, Request> requests_;
};

}  // namespace aif::kernels
