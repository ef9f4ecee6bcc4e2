#include "aif/models/serving.hpp"

#include "aif/models/mix64.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace aif::models {

// ---------------------------------------------------------------- KvBlockManager

void LruTier::touch(uint64_t hash) {
  const auto it = stamp_.find(hash);
  if (it == stamp_.end()) return;
  it->second = ++clock_;
  order_.emplace_back(hash, clock_);
  if (order_.size() > 2 * capacity_ + 64) {  // drop the stale entries, keeping the order
    std::deque<std::pair<uint64_t, uint64_t>> current;
    for (const auto& e : order_)
      if (stamp_.at(e.first) == e.second) current.push_back(e);
    order_.swap(current);
  }
}

void LruTier::add(uint64_t hash, std::vector<uint64_t>& evicted) {
  stamp_[hash] = ++clock_;
  order_.emplace_back(hash, clock_);
  while (stamp_.size() > capacity_) {  // the least recently used content goes
    const auto [h, stamp] = order_.front();
    order_.pop_front();
    const auto it = stamp_.find(h);
    if (it != stamp_.end() && it->second == stamp) {
      stamp_.erase(it);
      evicted.push_back(h);
    }
  }
}

KvBlockManager::KvBlockManager(int num_blocks, int block_size, int host_blocks, int disk_blocks)
    : block_size_(block_size),
      num_blocks_(num_blocks),
      host_(static_cast<size_t>(std::max(0, host_blocks))),
      disk_(static_cast<size_t>(std::max(0, disk_blocks))) {
  if (num_blocks <= 0) throw std::invalid_argument("KV cache needs at least one block, got " + std::to_string(num_blocks));
  if (block_size <= 0) throw std::invalid_argument("KV block size must be positive, got " + std::to_string(block_size));
}

int KvBlockManager::extra_blocks(const SeqState& seq, int64_t tokens) const {
  return std::max(0, blocks_for(tokens) - static_cast<int>(seq.block_table.size()));
}

bool KvBlockManager::allocate(SeqState& seq, int64_t tokens) {
  const int need = extra_blocks(seq, tokens);
  if (need > num_free()) return false;
  for (int i = 0; i < need; ++i) {
    int b;
    while (!free_.empty() && !is_current(free_.front())) free_.pop_front();  // stale
    // A block never used goes before one whose cached content a later request may find (vLLM's free queue starts
    // with every block, so cached blocks are evicted only once the cache is full).
    const bool keep_cached = !free_.empty() && has_hash_[static_cast<size_t>(free_.front().first)] &&
                             untouched_ < num_blocks_;
    if (!free_.empty() && !keep_cached) {
      b = free_.front().first;
      free_.pop_front();
      is_free_[static_cast<size_t>(b)] = 0;
      --free_count_;
      if (has_hash_[static_cast<size_t>(b)]) {  // its cached content goes: evicted (its entry in by_hash_ is stale)
        has_hash_[static_cast<size_t>(b)] = 0;
        ++evictions_;
        ++cache_epoch_;
        if (host_.capacity() > 0) offload(hash_[static_cast<size_t>(b)]);
      }
    } else {
      b = untouched_++;
      ref_count_.push_back(0);
      generation_.push_back(0);
      is_free_.push_back(0);
      releases_.push_back(0);
      hash_.push_back(0);
      has_hash_.push_back(0);
    }
    ref_count_[static_cast<size_t>(b)] = 1;
    ++generation_[static_cast<size_t>(b)];
    seq.block_table.push_back(b);
  }
  return true;
}

bool KvBlockManager::is_reclaimable(int block, uint32_t generation) const {
  return block >= 0 && block < untouched_ && is_free_[static_cast<size_t>(block)] &&
         generation_[static_cast<size_t>(block)] == generation;
}

bool KvBlockManager::reclaim(SeqState& seq, int block, uint32_t generation) {
  if (!is_reclaimable(block, generation)) return false;
  const size_t b = static_cast<size_t>(block);
  is_free_[b] = 0;  // its entry on the free list is skipped when reached
  --free_count_;
  ref_count_[b] = 1;
  seq.block_table.push_back(block);
  return true;
}

void KvBlockManager::give_back_unwritten(SeqState& seq) {
  for (int block : seq.block_table) {
    const size_t b = static_cast<size_t>(block);
    if (block < 0 || block >= untouched_ || ref_count_[b] <= 0)
      throw std::logic_error("KV block " + std::to_string(block) + " is not held: it cannot be given back");
    if (--ref_count_[b] > 0) continue;  // shared: a cached prefix keeps it
    is_free_[b] = 1;  // its free-list entry (same release count) is current again
    ++free_count_;
    if (has_hash_[b]) ++cache_epoch_;
  }
  seq.block_table.clear();
}

void KvBlockManager::release(SeqState& seq) {
  // Tail blocks first: they are the least likely to be shared by a future prefix cache.
  for (auto it = seq.block_table.rbegin(); it != seq.block_table.rend(); ++it) {
    if (*it < 0 || *it >= untouched_) throw std::logic_error("KV block " + std::to_string(*it) + " was never allocated");
    int& rc = ref_count_[static_cast<size_t>(*it)];
    if (rc <= 0) throw std::logic_error("KV block " + std::to_string(*it) + " freed twice");
    if (--rc == 0) {
      free_.emplace_back(*it, ++releases_[static_cast<size_t>(*it)]);
      is_free_[static_cast<size_t>(*it)] = 1;
      ++free_count_;
      if (has_hash_[static_cast<size_t>(*it)]) ++cache_epoch_;
    }
  }
  seq.block_table.clear();
}

void KvBlockManager::share(int block) {
  if (block < 0 || block >= untouched_ || ref_count_[static_cast<size_t>(block)] <= 0)
    throw std::logic_error("KV block " + std::to_string(block) + " is not allocated: it cannot be shared");
  ++ref_count_[static_cast<size_t>(block)];
}

void KvBlockManager::offload(uint64_t hash) {
  if (host_.contains(hash)) {  // a copy is there already (it was reloaded from it): no second write
    host_.touch(hash);
    return;
  }
  ++offloads_;
  std::vector<uint64_t> pushed_out;
  host_.add(hash, pushed_out);
  if (disk_.capacity() == 0) return;
  std::vector<uint64_t> dropped;
  for (uint64_t h : pushed_out) {  // host memory's oldest contents go down to disk
    if (disk_.contains(h)) {
      disk_.touch(h);
    } else {
      ++disk_offloads_;
      disk_.add(h, dropped);
    }
  }
}

void KvBlockManager::touch_offloaded(uint64_t hash) {
  if (host_.contains(hash)) host_.touch(hash);
  else disk_.touch(hash);
}

int KvBlockManager::cached_block(uint64_t hash) const {
  const auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return -1;
  const size_t b = static_cast<size_t>(it->second);
  return has_hash_[b] && hash_[b] == hash ? it->second : -1;  // else the block was handed out again since
}

void KvBlockManager::set_hash(int block, uint64_t hash) {
  const size_t b = static_cast<size_t>(block);
  if (block < 0 || block >= untouched_ || ref_count_[b] <= 0)
    throw std::logic_error("KV block " + std::to_string(block) + " is not held: its content cannot be cached");
  if (has_hash_[b] || cached_block(hash) >= 0) return;  // a block already holds that content
  // Evictions leave their entries behind (erasing each would cost a cache miss per block handed out); once stale
  // entries outnumber the blocks, they go in one pass.
  if (by_hash_.size() >= 2 * static_cast<size_t>(num_blocks_))
    absl::erase_if(by_hash_, [&](const auto& entry) {
      const size_t k = static_cast<size_t>(entry.second);
      return !has_hash_[k] || hash_[k] != entry.first;
    });
  by_hash_.insert_or_assign(hash, block);
  hash_[b] = hash;
  has_hash_[b] = 1;
  ++cache_epoch_;
}

void KvBlockManager::take_cached(SeqState& seq, int block) {
  const size_t b = static_cast<size_t>(block);
  if (block < 0 || block >= untouched_ || !has_hash_[b])
    throw std::logic_error("KV block " + std::to_string(block) + " holds no cached content");
  if (is_free_[b]) {
    is_free_[b] = 0;  // its entry on the free list is skipped when reached
    --free_count_;
    ++cache_epoch_;
  }
  ++ref_count_[b];
  seq.block_table.push_back(block);
}

void KvBlockManager::check_integrity(const std::vector<const SeqState*>& live, const std::vector<int>& pinned) const {
  for (int b = 0; b < untouched_; ++b)  // a block holding content is found by its hash
    if (has_hash_[static_cast<size_t>(b)]) {
      if (cached_block(hash_[static_cast<size_t>(b)]) != b)
        throw std::logic_error("KV block " + std::to_string(b) + " holds cached content its hash does not find");
    }
  for (const auto& [hash, block] : by_hash_)
    if (block < 0 || block >= untouched_) throw std::logic_error("the prefix cache names a block never allocated");
  std::vector<int> owners(ref_count_.size(), 0);
  for (int b : pinned) {
    if (b < 0 || b >= untouched_) throw std::logic_error("a cached prefix pins a block never allocated");
    ++owners[static_cast<size_t>(b)];
  }
  for (const SeqState* s : live)
    for (int b : s->block_table) {
      if (b < 0 || b >= untouched_)
        throw std::logic_error("request " + std::to_string(s->id) + " holds a block never allocated");
      ++owners[static_cast<size_t>(b)];
    }
  std::vector<int> in_free(ref_count_.size(), 0);
  for (const auto& entry : free_)
    if (is_current(entry)) ++in_free[static_cast<size_t>(entry.first)];
  int counted = 0;
  for (size_t b = 0; b < in_free.size(); ++b) {
    if (in_free[b] > 1) throw std::logic_error("KV block " + std::to_string(b) + " is on the free list twice");
    if (is_free_[b] && in_free[b] == 0) throw std::logic_error("KV block " + std::to_string(b) + " lost from the free list");
    counted += in_free[b];
  }
  if (counted != free_count_) throw std::logic_error("KV cache: the free count does not match the free list");
  for (size_t b = 0; b < ref_count_.size(); ++b) {
    const std::string id = "KV block " + std::to_string(b);
    if (owners[b] != ref_count_[b])
      throw std::logic_error(id + ": reference count " + std::to_string(ref_count_[b]) + " but " +
                             std::to_string(owners[b]) + " owners");
    if (in_free[b] > 1) throw std::logic_error(id + " is on the free list twice");
    if (owners[b] == 0 && in_free[b] == 0) throw std::logic_error(id + " leaked: neither owned nor free");
    if (owners[b] > 0 && in_free[b] > 0) throw std::logic_error(id + " is owned and free at once");
  }
}

// ---------------------------------------------------------------- Scheduler

Scheduler::Scheduler(const SchedulerLimits& limits)
    : limits_(limits),
      blocks_(limits.num_blocks, limits.block_size, limits.prefix_caching ? limits.host_blocks : 0,
              limits.prefix_caching ? limits.disk_blocks : 0) {
  if (limits.max_num_seqs <= 0) throw std::invalid_argument("max_num_seqs must be positive");
  if (limits.max_num_batched_tokens <= 0) throw std::invalid_argument("max_num_batched_tokens must be positive");
  if (limits.spec_tokens < 0) throw std::invalid_argument("spec_tokens must be >= 0");
  if (!(limits.spec_acceptance >= 0 && limits.spec_acceptance <= 1))
    throw std::invalid_argument("spec_acceptance must be in [0, 1]");
}

bool Scheduler::add_request(RequestId id, int prompt_tokens, int max_output_tokens) {
  if (prompt_tokens < 1 || max_output_tokens < 1)
    throw std::invalid_argument("request " + std::to_string(id) + ": prompt and output need at least one token");
  if (seqs_.count(id)) throw std::invalid_argument("request " + std::to_string(id) + " queued twice");
  // The KV of the last generated token is never computed: prompt + output - 1 tokens is the most it holds.
  const int64_t max_kv = static_cast<int64_t>(prompt_tokens) + max_output_tokens - 1;
  if (blocks_.blocks_for(max_kv) > blocks_.num_blocks()) return false;
  if (limits_.max_model_len > 0 && max_kv + 1 > limits_.max_model_len) return false;
  // Without chunking a (re)prefill must fit one step's budget.
  if (!limits_.chunked_prefill && max_kv > limits_.max_num_batched_tokens) return false;
  auto seq = std::make_unique<SeqState>();
  seq->id = id;
  seq->prompt_tokens = prompt_tokens;
  seq->max_output_tokens = max_output_tokens;
  seq->num_tokens = prompt_tokens;
  waiting_.push_back(seq.get());
  seqs_.emplace(id, std::move(seq));
  outstanding_tokens_ += static_cast<int64_t>(prompt_tokens) + max_output_tokens;
  return true;
}

bool Scheduler::add_request(RequestId id, int prompt_tokens, int max_output_tokens, int prefix_group,
                            int prefix_tokens) {
  if (prefix_group >= 0 && (prefix_tokens < 0 || prefix_tokens > prompt_tokens))
    throw std::invalid_argument("request " + std::to_string(id) + ": a shared prefix of " +
                                std::to_string(prefix_tokens) + " tokens in a prompt of " +
                                std::to_string(prompt_tokens));
  if (!add_request(id, prompt_tokens, max_output_tokens)) return false;
  SeqState& seq = *seqs_.at(id);
  seq.prefix_group = prefix_group;
  seq.prefix_tokens = prefix_group >= 0 ? prefix_tokens : 0;
  return true;
}

bool Scheduler::add_request(RequestId id, int prompt_tokens, int max_output_tokens, std::vector<uint64_t> block_hashes) {
  if (block_hashes.size() > static_cast<size_t>(prompt_tokens / blocks_.block_size()))
    throw std::invalid_argument("request " + std::to_string(id) + ": " + std::to_string(block_hashes.size()) +
                                " block hashes for a prompt of " + std::to_string(prompt_tokens / blocks_.block_size()) +
                                " full blocks");
  if (!add_request(id, prompt_tokens, max_output_tokens)) return false;
  seqs_.at(id)->block_hashes = std::move(block_hashes);
  return true;
}

Scheduler::Hits Scheduler::hash_hits(const SeqState& seq) const {
  if (!limits_.prefix_caching || seq.block_hashes.empty() || seq.num_computed_tokens != 0 || !seq.block_table.empty())
    return {};
  // At least one prompt token is computed whatever is cached: its logits give the first output token.
  if (hits_of_ == seq.id && hits_tokens_ == seq.num_tokens && hits_epoch_ == blocks_.cache_epoch()) return hits_;
  const size_t usable = std::min(seq.block_hashes.size(), static_cast<size_t>((seq.num_tokens - 1) / blocks_.block_size()));
  Hits h;
  size_t i = 0;
  for (; i < usable; ++i) {
    const int b = blocks_.cached_block(seq.block_hashes[i]);
    if (b < 0) break;
    ++h.hbm;
    h.hbm_free += blocks_.is_free(b) ? 1 : 0;
  }
  for (; i < usable; ++i) {
    const uint64_t hash = seq.block_hashes[i];
    if (blocks_.in_host(hash)) {
      ++h.host;
    } else if (blocks_.in_disk(hash)) {
      ++h.host;
      ++h.disk;
    } else {
      break;
    }
  }
  hits_of_ = seq.id, hits_tokens_ = seq.num_tokens, hits_epoch_ = blocks_.cache_epoch(), hits_ = h;
  return hits_;
}

void Scheduler::register_hashes(SeqState& seq) {
  if (!limits_.prefix_caching) return;
  const size_t full = std::min(seq.block_hashes.size(), static_cast<size_t>(seq.num_computed_tokens / blocks_.block_size()));
  for (; static_cast<size_t>(seq.hashed_blocks) < full; ++seq.hashed_blocks) {
    const size_t i = static_cast<size_t>(seq.hashed_blocks);
    blocks_.set_hash(seq.block_table[i], seq.block_hashes[i]);
  }
}

int64_t Scheduler::cached_prefix_tokens(const std::vector<uint64_t>& block_hashes) const {
  if (!limits_.prefix_caching) return 0;
  int64_t blocks = 0;
  for (uint64_t h : block_hashes) {
    if (blocks_.cached_block(h) < 0) break;
    ++blocks;
  }
  return blocks * blocks_.block_size();
}

int Scheduler::cached_prefix_blocks(const SeqState& seq) const {
  if (!limits_.prefix_caching || seq.prefix_group < 0 || seq.num_computed_tokens != 0 || !seq.block_table.empty())
    return 0;
  const auto it = cached_prefixes_.find(seq.prefix_group);
  if (it == cached_prefixes_.end()) return 0;
  // At least one prompt token is computed whatever is cached: its logits give the first output token.
  const int usable = (seq.num_tokens - 1) / blocks_.block_size();
  return std::min(static_cast<int>(it->second.size()), usable);
}

int Scheduler::attach_cached_prefix(SeqState& seq) {
  // Blocks found by content first (a request with hashes has no prefix group).
  const Hits hits = hash_hits(seq);
  for (size_t i = 0; i < static_cast<size_t>(hits.hbm); ++i)
    blocks_.take_cached(seq, blocks_.cached_block(seq.block_hashes[i]));
  const int k = cached_prefix_blocks(seq);
  if (k > 0) {
    const std::vector<int>& blocks = cached_prefixes_.at(seq.prefix_group);
    for (int i = 0; i < k; ++i) {
      blocks_.share(blocks[static_cast<size_t>(i)]);
      seq.block_table.push_back(blocks[static_cast<size_t>(i)]);
    }
  }
  // After a preemption, the blocks it released that nobody has taken since still hold its KV (unless host memory
  // holds the blocks after the cached ones: then those are reloaded and the rest computed).
  if (limits_.prefix_caching && seq.num_computed_tokens == 0 && hits.host == 0) {
    const size_t usable = static_cast<size_t>((seq.num_tokens - 1) / blocks_.block_size());
    for (size_t i = seq.block_table.size(); i < seq.released_blocks.size() && i < usable; ++i)
      if (!blocks_.reclaim(seq, seq.released_blocks[i].first, seq.released_blocks[i].second)) break;
  }
  if (seq.num_computed_tokens == 0 && (!seq.block_table.empty() || hits.host > 0)) {
    // Blocks reloaded from host memory count as computed: the step that admits the request copies them in first.
    seq.reload_tokens = hits.host * blocks_.block_size();
    seq.reload_disk_tokens = hits.disk * blocks_.block_size();
    const int tokens = (static_cast<int>(seq.block_table.size()) + hits.host) * blocks_.block_size();
    seq.num_computed_tokens = tokens;
    prefix_hit_tokens_ += tokens;
    // The prompt work the cache spares (a recompute redoes the generated tokens too, counted as prompt).
    outstanding_tokens_ -= std::min(tokens, seq.prompt_tokens);
  }
  return seq.num_tokens - seq.num_computed_tokens;
}

int Scheduler::reclaimable_blocks(const SeqState& seq, int from) const {
  if (!limits_.prefix_caching || seq.num_computed_tokens != 0) return 0;
  const size_t usable = static_cast<size_t>((seq.num_tokens - 1) / blocks_.block_size());
  int n = 0;
  for (size_t i = static_cast<size_t>(from); i < seq.released_blocks.size() && i < usable; ++i, ++n)
    if (!blocks_.is_reclaimable(seq.released_blocks[i].first, seq.released_blocks[i].second)) break;
  return n;
}

void Scheduler::detach_cached_prefix(SeqState& seq) {
  if (seq.num_computed_tokens == 0) return;
  prefix_hit_tokens_ -= seq.num_computed_tokens;
  outstanding_tokens_ += std::min(seq.num_computed_tokens, seq.prompt_tokens);
  blocks_.give_back_unwritten(seq);
  seq.num_computed_tokens = 0;
  seq.reload_tokens = 0;
  seq.reload_disk_tokens = 0;
}

void Scheduler::remember_prefix(const SeqState& seq) {
  if (!limits_.prefix_caching || seq.prefix_group < 0 || cached_prefixes_.count(seq.prefix_group)) return;
  const int k = seq.prefix_tokens / blocks_.block_size();  // only full blocks are shared
  if (k < 1 || seq.num_computed_tokens < k * blocks_.block_size()) return;
  std::vector<int>& pinned = cached_prefixes_[seq.prefix_group];
  for (int i = 0; i < k; ++i) {
    blocks_.share(seq.block_table[static_cast<size_t>(i)]);
    pinned.push_back(seq.block_table[static_cast<size_t>(i)]);
  }
}

const SeqState* Scheduler::find(RequestId id) const {
  auto it = seqs_.find(id);
  return it == seqs_.end() ? nullptr : it->second.get();
}

void Scheduler::add_to_shape(BatchShape& shape, const ScheduledChunk& c, bool samples) {
  const double n = c.num_tokens;
  shape.num_seqs += 1;
  shape.num_tokens += c.num_tokens;
  const double pairs = n * c.context_before + n * (n + 1) / 2;  // causal: token j sees context + j + 1 keys
  if (c.decode) {
    shape.decode_seqs += 1;
  } else {
    shape.prefill_tokens += c.num_tokens;
    shape.prefill_seqs += 1;
    shape.prefill_attended_pairs += pairs;
  }
  if (c.drafts > 0) {  // every verified position gets its logits
    shape.verify_seqs += 1;
    shape.draft_tokens += c.drafts;
    shape.verify_context += c.context_before;
    shape.verify_attended_pairs += pairs;
    shape.sampled_seqs += c.num_tokens;
  } else if (samples) {
    shape.sampled_seqs += 1;
  }
  shape.attended_pairs += pairs;
  shape.kv_read_tokens += c.context_before + n;
}

void Scheduler::preempt(SeqState& seq, StepPlan& plan) {
  seq.released_blocks.clear();
  if (limits_.prefix_caching) {
    const size_t full = static_cast<size_t>(seq.num_computed_tokens / blocks_.block_size());
    for (size_t i = 0; i < full && i < seq.block_table.size(); ++i)
      seq.released_blocks.emplace_back(seq.block_table[i], blocks_.generation(seq.block_table[i]));
  }
  blocks_.release(seq);
  seq.hashed_blocks = 0;  // the blocks went back; those still holding their content are found by hash
  outstanding_tokens_ += std::min(seq.num_computed_tokens, seq.prompt_tokens);  // prompt work to redo
  seq.num_computed_tokens = 0;
  seq.transferred_kv_tokens = 0;
  seq.preemptions += 1;
  running_.erase(std::find(running_.begin(), running_.end(), &seq));
  waiting_.push_front(&seq);
  plan.preempted.push_back(seq.id);
}

bool Scheduler::add_prefilled_request(RequestId id, int prompt_tokens, int max_output_tokens) {
  if (max_output_tokens < 2)
    throw std::invalid_argument("request " + std::to_string(id) +
                                ": a prefilled request needs at least one token left to generate");
  if (!add_request(id, prompt_tokens, max_output_tokens)) return false;
  SeqState& seq = *seqs_.at(id);
  seq.generated = 1;
  seq.num_tokens = prompt_tokens + 1;
  seq.num_computed_tokens = prompt_tokens;
  seq.transferred_kv_tokens = prompt_tokens;
  outstanding_tokens_ -= static_cast<int64_t>(prompt_tokens) + 1;  // the prompt and the first token are done
  return true;
}

bool Scheduler::admit_head() {
  SeqState& s = *waiting_.front();
  const bool transferred = s.transferred_kv_tokens > 0;
  if (s.cached_tokens < 0) s.cached_tokens = transferred ? 0 : std::min(s.num_computed_tokens, s.prompt_tokens);
  if (s.reload_tokens > 0) {  // the reloaded contents were used: the last to leave host memory
    const int bs = blocks_.block_size();
    for (int i = (s.num_computed_tokens - s.reload_tokens) / bs; i < s.num_computed_tokens / bs; ++i)
      blocks_.touch_offloaded(s.block_hashes[static_cast<size_t>(i)]);
    host_reload_tokens_ += s.reload_tokens - s.reload_disk_tokens;
    disk_reload_tokens_ += s.reload_disk_tokens;
  }
  s.transferred_kv_tokens = 0;  // its KV now sits in this replica's blocks
  waiting_.pop_front();
  s.released_blocks.clear();
  running_.push_back(&s);
  return transferred;
}

StepPlan Scheduler::schedule() {
  StepPlan plan;
  int budget = limits_.max_num_batched_tokens;
  // may_decode false: a request admitted with a single token left to compute after taking back its blocks (preempted
  // with all but the last block's worth of KV cached) recomputes it as prompt work; running requests, and requests
  // whose KV came from a prefill replica, decode.
  auto schedule_chunk = [&](SeqState& s, int num_new, bool may_decode, int drafts = 0) {
    const ScheduledChunk c{s.id, num_new, s.num_computed_tokens,
                           may_decode && s.generated > 0 && num_new == 1 && s.num_computed_tokens + 1 == s.num_tokens,
                           drafts};
    add_to_shape(plan.shape, c, s.num_computed_tokens + num_new == s.num_tokens);
    plan.shape.reload_tokens += s.reload_tokens;
    plan.shape.reload_disk_tokens += s.reload_disk_tokens;
    s.reload_tokens = 0;
    s.reload_disk_tokens = 0;
    plan.chunks.push_back(c);
    budget -= num_new;
  };

  // PREFILL_FIRST (vLLM V0 without chunked prefill): waiting prompts that fit whole are admitted into a step of their
  // own, while the running requests wait; decoding resumes in the next step that admits nobody.
  if (limits_.policy == StepPolicy::PREFILL_FIRST) {
    while (!waiting_.empty() && static_cast<int>(running_.size()) < limits_.max_num_seqs) {
      SeqState& s = *waiting_.front();
      const int num_new = attach_cached_prefix(s);
      if (num_new > budget || !blocks_.allocate(s, static_cast<int64_t>(s.num_computed_tokens) + num_new)) {
        detach_cached_prefix(s);
        break;
      }
      schedule_chunk(s, num_new, admit_head());
    }
    if (!plan.empty()) return plan;
  }

  // Running requests first, oldest first; preempt from the back when blocks run out.
  for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
    SeqState& s = *running_[i];
    // Speculative decoding: a decoding request verifies its last token and up to spec_tokens drafts (no more than its
    // output has left after that token), within the step's budget; their KV slots are taken with the step's.
    const int drafts = limits_.spec_tokens > 0 && s.in_decode()
                           ? std::max(0, std::min({limits_.spec_tokens, s.remaining_output() - 1, budget - 1}))
                           : 0;
    const int num_new = std::min(s.num_tokens - s.num_computed_tokens, budget) + drafts;
    bool self_preempted = false;
    while (!blocks_.allocate(s, static_cast<int64_t>(s.num_computed_tokens) + num_new)) {
      SeqState& victim = *running_.back();
      self_preempted = (&victim == &s);
      preempt(victim, plan);
      if (self_preempted) break;
    }
    if (self_preempted) break;
    schedule_chunk(s, num_new, drafts == 0, drafts);
  }

  // Then admit waiting requests, unless this step had to preempt (no room to grow).
  if (plan.preempted.empty() && limits_.policy == StepPolicy::UNIFIED) {
    while (!waiting_.empty() && budget > 0 && static_cast<int>(running_.size()) < limits_.max_num_seqs) {
      SeqState& s = *waiting_.front();
      int num_new = attach_cached_prefix(s);
      if (num_new > budget) {
        if (!limits_.chunked_prefill) {
          detach_cached_prefix(s);
          break;
        }
        num_new = budget;
      }
      if (!blocks_.allocate(s, static_cast<int64_t>(s.num_computed_tokens) + num_new)) {
        detach_cached_prefix(s);
        break;
      }
      schedule_chunk(s, num_new, admit_head());
    }
  }
  // Nothing runs and the first waiting request still cannot start: the pinned prefixes hold the room it needs (every
  // accepted request fits the whole cache). vLLM evicts cached blocks nobody uses when it needs room; here every
  // prefix goes (the next request of a group computes it again), and the step is planned anew.
  if (plan.empty() && running_.empty() && !waiting_.empty() && !cached_prefixes_.empty()) {
    drop_cached_prefixes();
    return schedule();
  }
  return plan;
}

void Scheduler::drop_cached_prefixes() {
  std::vector<int> groups;
  for (const auto& kv : cached_prefixes_) groups.push_back(kv.first);
  std::sort(groups.begin(), groups.end());  // a fixed order: the free list's order follows it
  for (int g : groups) {
    SeqState holder;  // the cache's own reference to the blocks
    holder.block_table = cached_prefixes_.at(g);
    blocks_.release(holder);
  }
  cached_prefixes_.clear();
}

std::vector<SeqOutcome> Scheduler::complete(const StepPlan& plan) {
  std::vector<SeqOutcome> out;
  std::vector<SeqState*> finished;
  for (const ScheduledChunk& c : plan.chunks) {
    SeqState& s = *seqs_.at(c.id);
    if (s.num_computed_tokens != c.context_before)
      throw std::logic_error("request " + std::to_string(c.id) + ": step applied twice or out of order");
    if (c.drafts > 0) {
      // The last token and the accepted drafts keep their KV; the step yields the accepted drafts and a token of its
      // own. The rejected drafts' slots stay allocated for the next step's drafts.
      const int accepted = accepted_drafts(s, c.drafts);
      ++verifications_;
      drafts_proposed_ += c.drafts;
      drafts_accepted_ += accepted;
      s.num_computed_tokens += 1 + accepted;
      s.generated += 1 + accepted;
      s.num_tokens += 1 + accepted;
      outstanding_tokens_ -= 1 + accepted;
      const bool done = s.generated >= s.max_output_tokens;
      out.push_back(SeqOutcome{s.id, false, done, s.generated, s.preemptions, std::max(0, s.cached_tokens)});
      if (done) finished.push_back(&s);
      continue;
    }
    const int prompt_before = std::min(s.num_computed_tokens, s.prompt_tokens);
    s.num_computed_tokens += c.num_tokens;
    outstanding_tokens_ -= std::min(s.num_computed_tokens, s.prompt_tokens) - prompt_before;
    remember_prefix(s);
    register_hashes(s);
    if (s.num_computed_tokens < s.num_tokens) continue;  // a prefill chunk that is not the last
    s.generated += 1;
    s.num_tokens += 1;
    outstanding_tokens_ -= 1;
    const bool done = s.generated >= s.max_output_tokens;
    out.push_back(SeqOutcome{s.id, s.generated == 1, done, s.generated, s.preemptions, std::max(0, s.cached_tokens)});
    if (done) finished.push_back(&s);
  }
  for (SeqState* s : finished) {
    blocks_.release(*s);
    running_.erase(std::find(running_.begin(), running_.end(), s));
    seqs_.erase(s->id);
  }
  return out;
}

int Scheduler::accepted_drafts(const SeqState& seq, int drafts) const {
  // Draft j is accepted when its uniform draw is below the acceptance rate, until the first one that is not.
  const uint64_t base = mix64(limits_.spec_seed ^ mix64(static_cast<uint64_t>(seq.id) ^ 0x5350454355ULL) ^
                              mix64(static_cast<uint64_t>(seq.generated)));
  int accepted = 0;
  while (accepted < drafts) {
    const double u = static_cast<double>(mix64(base + static_cast<uint64_t>(accepted)) >> 11) * 0x1.0p-53;
    if (!(u < limits_.spec_acceptance)) break;
    ++accepted;
  }
  return accepted;
}

int Scheduler::steady_steps() const {
  // Speculative decoding advances each request by a drawn number of tokens: no window of identical steps.
  if (limits_.spec_tokens > 0) return 0;
  const int batch = static_cast<int>(running_.size());
  if (batch == 0 || batch > limits_.max_num_batched_tokens) return 0;
  int min_remaining = limits_.max_num_batched_tokens;
  double context_sum = 0;
  int decode_need = 0;  // blocks the next step takes
  for (const SeqState* s : running_) {
    if (!s->in_decode()) return 0;
    min_remaining = std::min(min_remaining, s->remaining_output());
    context_sum += s->num_computed_tokens;
    decode_need += blocks_.extra_blocks(*s, static_cast<int64_t>(s->num_computed_tokens) + 1);
  }
  // A waiting request that could join now makes the next step non-steady. Free blocks only
  // shrink during steady decoding, so one that cannot join now cannot join until a finish.
  // PREFILL_FIRST: a prompt runs in a step of its own, with the whole token budget and no decode growth beside it.
  const bool prefill_first = limits_.policy == StepPolicy::PREFILL_FIRST;
  const int budget_left = limits_.max_num_batched_tokens - (prefill_first ? 0 : batch);
  if (!waiting_.empty() && batch < limits_.max_num_seqs && budget_left > 0) {
    const SeqState& head = *waiting_.front();
    // As admission would: a cached prefix counts as computed and its blocks as held; blocks a preemption released
    // and nobody took since count as computed too, and come from the free ones.
    // Blocks found by content count as computed; those in use as held, the free ones come from the free blocks.
    // Blocks reloaded from host memory count as computed and come from the free ones (no blocks taken back then).
    const Hits hits = hash_hits(head);
    const int cached = cached_prefix_blocks(head) + hits.hbm - hits.hbm_free;
    const int start = cached_prefix_blocks(head) + hits.hbm;
    const int computed =
        head.num_computed_tokens +
        (start + hits.host + (hits.host > 0 ? 0 : reclaimable_blocks(head, start))) * blocks_.block_size();
    int num_new = head.num_tokens - computed;
    const bool fits_budget = num_new <= budget_left || (limits_.chunked_prefill && !prefill_first);
    num_new = std::min(num_new, budget_left);
    const int need = blocks_.blocks_for(static_cast<int64_t>(computed) + num_new) -
                     static_cast<int>(head.block_table.size()) - cached;
    if (fits_budget && need <= blocks_.num_free() - (prefill_first ? 0 : decode_need)) return 0;
  }
  // Largest n <= min_remaining whose cumulative KV growth fits the free blocks (monotone in n).
  auto need = [&](int n) {
    int total = 0;
    for (const SeqState* s : running_)
      total += blocks_.extra_blocks(*s, static_cast<int64_t>(s->num_computed_tokens) + n);
    return total;
  };
  steady_context_sum_ = context_sum;
  if (need(min_remaining) <= blocks_.num_free()) return min_remaining;
  int lo = 0, hi = min_remaining;  // need(lo) fits, need(hi) does not
  while (hi - lo > 1) {
    const int mid = lo + (hi - lo) / 2;
    (need(mid) <= blocks_.num_free() ? lo : hi) = mid;
  }
  return lo;
}

BatchShape Scheduler::steady_shape(int i) const {
  // Every running request decodes one token whose context is its computed tokens plus i.
  BatchShape shape;
  const int batch = static_cast<int>(running_.size());
  const double context = steady_context_sum_ + static_cast<double>(i) * batch;
  shape.num_seqs = batch;
  shape.num_tokens = batch;
  shape.decode_seqs = batch;
  shape.sampled_seqs = batch;
  shape.attended_pairs = context + batch;
  shape.kv_read_tokens = context + batch;
  return shape;
}

std::vector<SeqOutcome> Scheduler::advance_steady(int n) {
  std::vector<SeqOutcome> out;
  if (n <= 0) return out;
  std::vector<SeqState*> finished;
  // Blocks are taken in the order n single steps take them (step by step, running order within a step): which block
  // a request holds decides what a later preemption leaves reclaimable, so it must not depend on the fidelity mode.
  std::vector<std::pair<int, size_t>> grows;  // (step, running index) of each new block
  const int bs = blocks_.block_size();
  for (size_t r = 0; r < running_.size(); ++r) {
    const SeqState* s = running_[r];
    if (!s->in_decode() || s->remaining_output() < n)
      throw std::logic_error("advance_steady(" + std::to_string(n) + ") beyond the steady window");
    // Step i (1-based) needs room for computed + i tokens; a new block at every multiple of bs crossed.
    const int held = static_cast<int>(s->block_table.size()) * bs;
    for (int i = std::max(1, held - s->num_computed_tokens + 1); i <= n; i += bs) grows.emplace_back(i, r);
  }
  std::sort(grows.begin(), grows.end());
  for (const auto& g : grows) {
    SeqState& s = *running_[g.second];
    if (!blocks_.allocate(s, static_cast<int64_t>(s.num_computed_tokens) + g.first))
      throw std::logic_error("advance_steady: KV blocks ran out inside the steady window");
  }
  for (SeqState* s : running_) {
    if (static_cast<int>(s->block_table.size()) < blocks_.blocks_for(static_cast<int64_t>(s->num_computed_tokens) + n))
      throw std::logic_error("advance_steady: request " + std::to_string(s->id) + " short of KV blocks");
    s->num_computed_tokens += n;
    s->num_tokens += n;
    s->generated += n;
    outstanding_tokens_ -= n;
    const bool done = s->generated >= s->max_output_tokens;
    if (done) {
      out.push_back(SeqOutcome{s->id, false, true, s->generated, s->preemptions, std::max(0, s->cached_tokens)});
      finished.push_back(s);
    }
  }
  for (SeqState* s : finished) {
    blocks_.release(*s);
    running_.erase(std::find(running_.begin(), running_.end(), s));
    seqs_.erase(s->id);
  }
  return out;
}

void Scheduler::check_integrity() const {
  std::vector<const SeqState*> live;
  live.reserve(seqs_.size());
  for (const auto& kv : seqs_) live.push_back(kv.second.get());
  std::vector<int> pinned;
  for (const auto& kv : cached_prefixes_) pinned.insert(pinned.end(), kv.second.begin(), kv.second.end());
  blocks_.check_integrity(live, pinned);
  if (running_.size() + waiting_.size() != seqs_.size())
    throw std::logic_error("scheduler: a request is neither running nor waiting");
  if (static_cast<int>(running_.size()) > limits_.max_num_seqs) throw std::logic_error("scheduler: too many running");
  for (const SeqState* s : waiting_)
    if (s->num_computed_tokens != s->transferred_kv_tokens || !s->block_table.empty())
      throw std::logic_error("scheduler: waiting request " + std::to_string(s->id) + " holds KV");
}


std::vector<uint64_t> chain_block_ids(const std::vector<int64_t>& ids) {
  std::vector<uint64_t> chain;
  chain.reserve(ids.size());
  uint64_t h = 0;
  for (int64_t id : ids) chain.push_back(h = mix64(h ^ mix64(static_cast<uint64_t>(id))));
  return chain;
}

std::vector<uint64_t> prompt_block_hashes(const std::vector<uint64_t>& chain, int chain_block_tokens, int block_size,
                                          int prompt_tokens) {
  if (chain_block_tokens < 1 || block_size < 1)
    throw std::invalid_argument("block sizes must be positive to name prompt blocks");
  std::vector<uint64_t> out;
  for (int64_t i = 0; (i + 1) * block_size <= prompt_tokens; ++i) {
    const size_t j = static_cast<size_t>(((i + 1) * block_size - 1) / chain_block_tokens);  // last large block reached
    if (j >= chain.size()) break;
    out.push_back(mix64(chain[j] ^ mix64(static_cast<uint64_t>(i) + 0x5bd1e995ULL)));
  }
  return out;
}

}  // namespace aif::models
