#include "aif/kernels/engine.hpp"

#include <chrono>
#include <stdexcept>
#include <string>

#include "aif/kernels/rng.hpp"
#include "aif/models/mix64.hpp"
#include "aif/kernels/sampling.hpp"

namespace aif::kernels {

int blocks_for_memory(const ModelShape& shape, int block_size, double bytes) {
  return static_cast<int>(bytes / static_cast<double>(KvCache::bytes_per_block(shape, block_size)));
}

std::vector<int32_t> synthetic_prompt(uint64_t seed, int64_t id, int length, int vocab) {
  std::vector<int32_t> tokens(static_cast<size_t>(length));
  // Stream offset 0x50 ("P"): prompts never reuse the weight streams of the same seed.
  for (int j = 0; j < length; ++j)
    tokens[size_t(j)] = static_cast<int32_t>(counter_hash(seed, 0x50ULL << 56 | static_cast<uint64_t>(id), uint64_t(j)) %
                                             static_cast<uint64_t>(vocab));
  return tokens;
}

std::vector<int32_t> content_prompt(uint64_t seed, int64_t id, const std::vector<int64_t>& block_ids, int block_tokens,
                                    int length, int vocab) {
  if (block_ids.empty() || block_tokens < 1) return synthetic_prompt(seed, id, length, vocab);
  std::vector<int32_t> tokens = synthetic_prompt(seed, id, length, vocab);
  const std::vector<uint64_t> chain = models::chain_block_ids(block_ids);
  // Stream offset 0x43 ("C"): named content never meets a request's own stream.
  for (int j = 0; j < length; ++j) {
    const size_t b = static_cast<size_t>(j / block_tokens);
    if (b >= chain.size()) break;
    tokens[size_t(j)] = static_cast<int32_t>(counter_hash(seed, (0x43ULL << 56) ^ (chain[b] >> 8), uint64_t(j)) %
                                             static_cast<uint64_t>(vocab));
  }
  return tokens;
}

std::vector<uint64_t> token_block_hashes(const std::vector<int32_t>& tokens, int block_size) {
  std::vector<uint64_t> out;
  uint64_t h = 0x9e3779b97f4a7c15ULL;
  for (size_t b = 0; (b + 1) * static_cast<size_t>(block_size) <= tokens.size(); ++b) {
    for (size_t j = b * block_size; j < (b + 1) * static_cast<size_t>(block_size); ++j)
      h = models::mix64(h ^ static_cast<uint32_t>(tokens[j]));
    out.push_back(h);  // chained: names this block's tokens and every one before
  }
  return out;
}

Engine::Engine(Model& model, const EngineConfig& config)
    : model_(model),
      config_(config),
      scheduler_(config.limits),
      cache_(model.backend(), model.shape(), config.limits.num_blocks, config.limits.block_size) {}

bool Engine::add_request(models::RequestId id, std::vector<int32_t> prompt, int max_output_tokens) {
  if (prompt.empty()) throw std::invalid_argument("request " + std::to_string(id) + ": empty prompt");
  for (int32_t tok : prompt)
    if (tok < 0 || tok >= model_.shape().vocab)
      throw std::invalid_argument("request " + std::to_string(id) + ": token " + std::to_string(tok) +
                                  " outside the vocabulary");
  if (requests_.count(id)) throw std::invalid_argument("request " + std::to_string(id) + " added twice");
  const int n = static_cast<int>(prompt.size());
  const bool accepted =
      config_.limits.prefix_caching
          ? scheduler_.add_request(id, n, max_output_tokens, token_block_hashes(prompt, config_.limits.block_size))
          : scheduler_.add_request(id, n, max_output_tokens);
  if (!accepted) return false;
  Request r;
  r.prompt = static_cast<int>(prompt.size());
  r.tokens = std::move(prompt);
  requests_.emplace(id, std::move(r));
  return true;
}

StepReport Engine::step() {
  StepReport rep;
  rep.plan = scheduler_.schedule();
  if (rep.plan.empty()) return rep;
  ForwardInput in;
  std::vector<models::RequestId> sampled;
  for (const models::ScheduledChunk& c : rep.plan.chunks) {
    const models::SeqState* st = scheduler_.find(c.id);
    Request& r = requests_.at(c.id);
    SeqChunk sc;
    sc.q_len = c.num_tokens;
    sc.context_len = c.context_before + c.num_tokens;
    sc.block_table.assign(st->block_table.begin(), st->block_table.end());
    sc.sample = sc.context_len == st->num_tokens;  // the chunk completes every pending token
    if (static_cast<int>(r.tokens.size()) != st->num_tokens)
      throw std::logic_error("engine: request " + std::to_string(c.id) + " token count disagrees with the scheduler");
    in.tokens.insert(in.tokens.end(), r.tokens.begin() + c.context_before, r.tokens.begin() + sc.context_len);
    if (sc.sample) sampled.push_back(c.id);
    in.seqs.push_back(std::move(sc));
    (c.decode ? rep.decode_tokens : rep.prefill_tokens) += c.num_tokens;
    rep.context_tokens += c.context_before;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<float> logits = model_.forward(in, cache_);
  rep.forward_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int vocab = model_.shape().vocab;
  for (size_t i = 0; i < sampled.size(); ++i) {
    Request& r = requests_.at(sampled[i]);
    const float* row = logits.data() + i * static_cast<size_t>(vocab);
    const int position = static_cast<int>(r.tokens.size());
    if (on_logits) on_logits(sampled[i], position - r.prompt, row);
    r.tokens.push_back(sample_seeded(row, vocab, config_.temperature, config_.top_k, config_.seed,
                                     static_cast<uint64_t>(sampled[i]), static_cast<uint64_t>(position)));
  }
  rep.outcomes = scheduler_.complete(rep.plan);
  return rep;
}

const std::vector<int32_t>& Engine::tokens(models::RequestId id) const { return requests_.at(id).tokens; }
int Engine::prompt_length(models::RequestId id) const { return requests_.at(id).prompt; }
void Engine::release(models::RequestId id) { requests_.erase(id); }

}  // namespace aif::kernels
