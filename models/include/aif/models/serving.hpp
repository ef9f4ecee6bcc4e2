// Continuous-batching scheduler and paged KV block manager, shared by the simulated
// replica (sim/) and the real reference engine (kernels/). No SimGrid, no clock:
// the caller says when a step starts and ends.
//
// Per request only `num_computed_tokens` is tracked against `num_tokens` (prompt plus
// tokens generated so far), as in vLLM V1: prefill, chunked prefill, decode and
// recompute after preemption all fall out of one loop.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <unordered_map>

#include <absl/container/flat_hash_map.h>
#include <vector>

namespace aif::models {

using RequestId = int64_t;

// How the engine's scheduler forms steps.
enum class StepPolicy {
  UNIFIED,        // vLLM V1 (and aifsim-engine): running requests first, then waiting prompts join the same step
  PREFILL_FIRST,  // vLLM V0 without chunked prefill: waiting prompts that fit are prefilled in a step of their own;
                  // running requests decode in steps without prompts
};

struct SchedulerLimits {
  int max_num_seqs = 256;             // sequences in one step
  int max_num_batched_tokens = 8192;  // token budget of one step
  int block_size = 16;                // tokens per KV block
  int num_blocks = 0;                 // KV blocks in the replica's cache
  bool chunked_prefill = true;        // split long prompts over several steps
  int max_model_len = 0;              // longest prompt+output accepted (0 = no limit besides the cache)
  StepPolicy policy = StepPolicy::UNIFIED;
  // Prefix caching, two ways. By content (vLLM's automatic prefix caching): a request that names the content of its
  // full prompt blocks (SeqState::block_hashes) starts with the leading ones some block still holds computed; a block
  // keeps its content after its last owner ends, until the free list hands it out again (oldest freed first: LRU).
  // By prefix group: requests that declare the same group begin with the same tokens; once one request has computed
  // them, their full blocks stay in the cache (pinned) and later requests of the group start with them computed.
  bool prefix_caching = false;
  // A host-memory tier under the prefix cache (KV offloading, as vLLM's CPU offloading or LMCache): a block whose
  // content is evicted from HBM is copied to host memory, which holds host_blocks of them (oldest used first out);
  // a request whose next blocks are there reloads them (BatchShape::reload_tokens) instead of computing them.
  int host_blocks = 0;
  // A local disk tier under host memory (as LMCache's local disk backend): contents host memory pushes out are
  // written there (disk_blocks of them, oldest used first out); a request reloads its next blocks from either tier.
  int disk_blocks = 0;
  // Speculative decoding: each decoding request proposes up to spec_tokens draft tokens per step (fewer when its
  // output has fewer left) and the step verifies them with its last token, spec_tokens + 1 tokens through the model.
  // Each draft is accepted with probability spec_acceptance until the first rejection, and the step yields the
  // accepted drafts plus one token of its own (Leviathan et al. 2023): (1 - a^(k+1)) / (1 - a) tokens on average.
  // The draws come from a hash of (spec_seed, request, tokens generated), the same in both fidelity modes.
  int spec_tokens = 0;
  double spec_acceptance = 0;
  uint64_t spec_seed = 0;
};

// A request as the scheduler sees it.
struct SeqState {
  RequestId id = 0;
  int prompt_tokens = 0;
  int max_output_tokens = 0;          // stop after generating this many tokens
  int num_tokens = 0;                 // prompt + generated so far
  int num_computed_tokens = 0;        // tokens whose KV is in the cache
  int generated = 0;
  int preemptions = 0;
  int prefix_group = -1;              // shared-prefix group (-1: none) and the length of that prefix
  int prefix_tokens = 0;
  // Prefix caching by content: block_hashes[i] names the tokens of full prompt block i and everything before it
  // (prompt_block_hashes()); hashed_blocks of them are registered with the cache (computed, their hash findable).
  std::vector<uint64_t> block_hashes;
  int hashed_blocks = 0;
  int cached_tokens = -1;             // prompt tokens the prefix cache spared at its first admission (-1: not yet)
  int reload_tokens = 0;              // of its computed tokens, those its admission reloads from host memory or disk
  int reload_disk_tokens = 0;         // of them, from disk
  // Prefix caching: the full blocks a preemption released, with their generations; taken back on re-admission while
  // they have not been handed out again (vLLM's cache finds them by hash), so the recompute skips their tokens.
  std::vector<std::pair<int, uint32_t>> released_blocks;
  // Prefill/decode disaggregation: the prompt's KV was computed on another replica and arrives with the request,
  // so num_computed_tokens starts at the prompt while the blocks are allocated only at admission. 0 otherwise,
  // and 0 again after a preemption (the transferred KV is dropped and recomputed here).
  int transferred_kv_tokens = 0;
  std::vector<int> block_table;       // physical KV block ids, in logical order
  int remaining_output() const { return max_output_tokens - generated; }
  bool in_decode() const { return num_tokens - num_computed_tokens == 1 && generated > 0; }
};

// A tier of KV contents below HBM (host memory, local disk) that keeps the most recently used `capacity` of them.
// Each use stamps a content anew; order_ lists (content, stamp) oldest first, an entry whose stamp is no longer the
// content's is stale (skipped when reached, dropped in bulk when they outnumber the live ones).
class LruTier {
 public:
  explicit LruTier(size_t capacity = 0) : capacity_(capacity) {}
  size_t capacity() const { return capacity_; }
  bool contains(uint64_t hash) const { return stamp_.count(hash) > 0; }
  void touch(uint64_t hash);
  // Adds a content it does not hold; appends what that pushes out (least recently used first) to `evicted`.
  void add(uint64_t hash, std::vector<uint64_t>& evicted);

 private:
  size_t capacity_;
  absl::flat_hash_map<uint64_t, uint64_t> stamp_;
  std::deque<std::pair<uint64_t, uint64_t>> order_;
  uint64_t clock_ = 0;
};

// Paged KV cache bookkeeping: a free list in eviction order and a reference count per block.
// Blocks never used yet are not listed: they are handed out after the free list runs dry (or when the next free block
// holds cached content), so memory grows with the blocks a replica actually touches (1,000 replicas x 30k blocks is
// cheap).
class KvBlockManager {
 public:
  KvBlockManager(int num_blocks, int block_size, int host_blocks = 0, int disk_blocks = 0);
  int block_size() const { return block_size_; }
  int num_blocks() const { return num_blocks_; }
  int num_free() const { return free_count_ + (num_blocks_ - untouched_); }
  int blocks_for(int64_t tokens) const { return static_cast<int>((tokens + block_size_ - 1) / block_size_); }
  // Blocks that growing `seq` to hold `tokens` tokens would take from the free list.
  int extra_blocks(const SeqState& seq, int64_t tokens) const;
  // Grow seq's block table to hold `tokens` tokens; false (and no change) if not enough free blocks.
  bool allocate(SeqState& seq, int64_t tokens);
  void release(SeqState& seq);
  // One more owner of an allocated block (a cached prefix pins it; a request sharing it appends it to its table).
  void share(int block);
  // A freed block keeps its content until it is handed out again: its generation changes at every allocation.
  uint32_t generation(int block) const { return generation_[static_cast<size_t>(block)]; }
  // Takes back a free block whose content is still that of `generation` (not handed out since), for `seq`; false
  // when it was reused or is not free.
  bool reclaim(SeqState& seq, int block, uint32_t generation);
  bool is_reclaimable(int block, uint32_t generation) const;
  // Undoes an admission that did not go ahead: blocks reclaimed for `seq` go back to the place on the free list they
  // had (so a failed attempt changes nothing, and the fidelity modes, which attempt at different times, agree);
  // shared ones lose an owner. Throws if `seq` holds a block it allocated.
  void give_back_unwritten(SeqState& seq);
  // Throws std::logic_error if a block is leaked, double-owned or double-freed, given every live sequence and the
  // blocks pinned by cached prefixes.
  void check_integrity(const std::vector<const SeqState*>& live, const std::vector<int>& pinned = {}) const;

  // Prefix caching by content. The block holding the tokens named by `hash` (computed, owned or free and not handed
  // out since), or -1. A block handed out again loses its hash: that is the eviction.
  int cached_block(uint64_t hash) const;
  bool is_free(int block) const { return is_free_[static_cast<size_t>(block)] != 0; }
  // The block now holds the tokens named by `hash`; the first block to hold a content keeps it.
  void set_hash(int block, uint64_t hash);
  // Appends a cached block to seq's table: one more owner of a block in use, or taken off the free list.
  void take_cached(SeqState& seq, int block);
  int64_t evictions() const { return evictions_; }  // cached blocks handed out again for other content
  // The host-memory and disk tiers (SchedulerLimits::host_blocks, disk_blocks): whether they hold a content; a
  // reload marks it used where it is.
  bool in_host(uint64_t hash) const { return host_.contains(hash); }
  bool in_disk(uint64_t hash) const { return disk_.contains(hash); }
  void touch_offloaded(uint64_t hash);
  int64_t offloads() const { return offloads_; }            // contents copied to host memory
  int64_t disk_offloads() const { return disk_offloads_; }  // contents host memory pushed out to disk
  // Changes whenever what a lookup by content finds may change (a block gains or loses content, or one holding content
  // is taken or freed): a caller may keep what it found until then.
  uint64_t cache_epoch() const { return cache_epoch_; }

 private:
  int block_size_;
  int num_blocks_;
  int untouched_ = 0;          // blocks [untouched_, num_blocks_) have never been allocated
  // Released blocks, oldest first, with the release they stand for: an entry whose block was reclaimed, or released
  // again since, is stale and skipped when reached.
  std::deque<std::pair<int, uint32_t>> free_;
  bool is_current(const std::pair<int, uint32_t>& entry) const {
    return is_free_[static_cast<size_t>(entry.first)] && releases_[static_cast<size_t>(entry.first)] == entry.second;
  }
  int free_count_ = 0;         // blocks free (current entries on the free list)
  std::vector<int> ref_count_; // per block in [0, untouched_)
  std::vector<uint32_t> generation_;  // per block: allocations so far
  std::vector<uint8_t> is_free_;      // per block: on the free list
  std::vector<uint32_t> releases_;    // per block: releases so far (names its current free-list entry)
  absl::flat_hash_map<uint64_t, int> by_hash_;  // content -> the block that holds it (open addressing: one probe)
  std::vector<uint64_t> hash_;        // per block: its content's hash, valid where has_hash_
  std::vector<uint8_t> has_hash_;
  int64_t evictions_ = 0;
  uint64_t cache_epoch_ = 0;
  LruTier host_, disk_;
  int64_t offloads_ = 0, disk_offloads_ = 0;
  void offload(uint64_t hash);
};

// The content hashes of a prompt's full blocks of `block_size` tokens, from a trace's chained hashes of larger blocks
// (Mooncake's hash_ids name 512-token blocks: equal ids, equal tokens). chain[j] names blocks 0..j of
// `chain_block_tokens` tokens; a block of ours is named by the chain of the last large block it reaches into and its
// own index. Blocks past the prompt's full blocks or past the chain get none.
std::vector<uint64_t> prompt_block_hashes(const std::vector<uint64_t>& chain, int chain_block_tokens, int block_size,
                                          int prompt_tokens);
// Chains a trace's per-block ids into hashes of whole prefixes: chain[j] depends on ids[0..j].
std::vector<uint64_t> chain_block_ids(const std::vector<int64_t>& ids);

// One scheduled piece of work: `num_tokens` new tokens of request `id`, whose first
// `context_before` tokens are already in the KV cache.
struct ScheduledChunk {
  RequestId id;
  int num_tokens;
  int context_before;
  bool decode;  // a single generated token (not part of a prompt or a recompute)
  int drafts = 0;  // speculative decoding: the last token and this many draft tokens, verified (num_tokens = drafts + 1)
};

// What one step computes, summed over its chunks: enough for a perf model.
struct BatchShape {
  int num_seqs = 0;
  int64_t num_tokens = 0;           // all new tokens in the step
  int64_t prefill_tokens = 0;       // of which prompt / recompute tokens
  int decode_seqs = 0;
  int prefill_seqs = 0;             // sequences with prompt / recompute tokens
  int sampled_seqs = 0;             // sequences that produce a token this step (LM head rows)
  double attended_pairs = 0;        // sum over chunks of query x key pairs (causal): attention FLOPs scale with this
  double prefill_attended_pairs = 0;  // of which from prefill chunks; decode ones = decode keys read
  double kv_read_tokens = 0;        // sum over chunks of context_before + num_tokens: KV bytes read
  int64_t reload_tokens = 0;        // KV tokens copied back from host memory or disk before the step (prefix cache)
  int64_t reload_disk_tokens = 0;   // of them, from disk
  // Speculative decoding: sequences verifying drafts (their chunks count as prefill chunks of drafts + 1 tokens after
  // their context, every token sampled), their drafts, and the keys before them (what a draft model reads per draft).
  int verify_seqs = 0;
  int64_t draft_tokens = 0;
  double verify_context = 0;
  double verify_attended_pairs = 0;  // of prefill_attended_pairs, those of the verify chunks
};

struct StepPlan {
  std::vector<ScheduledChunk> chunks;
  std::vector<RequestId> preempted;  // preempted (by recompute) while planning this step
  BatchShape shape;
  bool empty() const { return chunks.empty(); }
};

struct SeqOutcome {
  RequestId id;
  bool first_token;  // this step produced the request's first output token
  bool finished;     // this step produced its last token; its blocks are freed
  int generated;
  int preemptions;
  int cached_tokens;  // prompt tokens the prefix cache spared at its first admission
};

class Scheduler {
 public:
  explicit Scheduler(const SchedulerLimits& limits);

  // Queue a request. Returns false (and does not queue it) if it can never fit:
  // prompt+output longer than the cache or than max_model_len.
  bool add_request(RequestId id, int prompt_tokens, int max_output_tokens);
  // The same for a request whose first prefix_tokens tokens are those of every request of prefix_group (>= 0), which
  // the cache may hold already (SchedulerLimits::prefix_caching).
  bool add_request(RequestId id, int prompt_tokens, int max_output_tokens, int prefix_group, int prefix_tokens);
  // The same for a request that names the content of its full prompt blocks (prompt_block_hashes(); at most
  // prompt_tokens / block_size of them), for prefix caching by content.
  bool add_request(RequestId id, int prompt_tokens, int max_output_tokens, std::vector<uint64_t> block_hashes);
  // Prompt tokens a request with these block hashes would find cached now (leading blocks held by content).
  int64_t cached_prefix_tokens(const std::vector<uint64_t>& block_hashes) const;
  // KV tokens reloaded from host memory and contents offloaded to it, over the run.
  int64_t host_reload_tokens() const { return host_reload_tokens_; }
  int64_t host_offloads() const { return blocks_.offloads(); }
  // KV tokens reloaded from disk and contents written to it, over the run.
  int64_t disk_reload_tokens() const { return disk_reload_tokens_; }
  int64_t disk_offloads() const { return blocks_.disk_offloads(); }
  // Cached blocks handed out again for other content, over the run.
  int64_t prefix_evictions() const { return blocks_.evictions(); }
  // Prompt tokens a cached prefix spared (not computed), over all requests so far.
  int64_t prefix_hit_tokens() const { return prefix_hit_tokens_; }
  // Speculative decoding, over the run: draft tokens verified, and of them accepted.
  int64_t verifications() const { return verifications_; }  // verify chunks (a request's drafts in one step)
  int64_t drafts_proposed() const { return drafts_proposed_; }
  int64_t drafts_accepted() const { return drafts_accepted_; }
  // Queue a request whose prompt was prefilled elsewhere and whose first token is already generated (prefill /
  // decode disaggregation): on admission it takes blocks for prompt + 1 tokens and decodes from there, so it
  // generates max_output_tokens - 1 tokens here. Same refusals as add_request.
  bool add_prefilled_request(RequestId id, int prompt_tokens, int max_output_tokens);

  // Plan the next step: running requests first (decode or the rest of a chunked
  // prefill), in arrival order, preempting the most recent ones by recompute when
  // KV blocks run out; then waiting requests while the budget, sequence limit and
  // free blocks allow. Allocates the step's KV blocks.
  StepPlan schedule();
  // Apply a planned step once it has run: advance tokens, sample, finish.
  std::vector<SeqOutcome> complete(const StepPlan& plan);

  // Fast path (DESIGN principle 2). A step is "steady" when it would be every running
  // request decoding one token with nothing admissible from the queue. Returns how many
  // consecutive steady steps can run with no change in the batch: it stops at the
  // first step in which a request finishes (that step included) or before the step
  // whose KV growth would not fit. 0 when the next step is not steady.
  int steady_steps() const;
  // Shape of the i-th (0-based) of the coming steady steps.
  BatchShape steady_shape(int i) const;
  // Apply n steady steps at once (n <= steady_steps()); equal to n schedule()+complete() rounds.
  std::vector<SeqOutcome> advance_steady(int n);

  const SchedulerLimits& limits() const { return limits_; }
  const KvBlockManager& blocks() const { return blocks_; }
  size_t num_running() const { return running_.size(); }
  size_t num_waiting() const { return waiting_.size(); }
  bool idle() const { return running_.empty() && waiting_.empty(); }
  const SeqState* find(RequestId id) const;
  // Tokens still to process for queued and running requests (prompt left + output left): for routing.
  int64_t outstanding_tokens() const { return outstanding_tokens_; }
  // Block-table integrity over all live requests (tests call it after every step).
  void check_integrity() const;

 private:
  bool try_allocate_running(SeqState& seq, int num_new, StepPlan& plan, size_t& limit);
  // A waiting request about to be admitted: the cached blocks of its prefix, if any, join its table and count as
  // computed (at least one prompt token is always computed, for its logits). Returns the tokens it still has to compute.
  int attach_cached_prefix(SeqState& seq);
  void detach_cached_prefix(SeqState& seq);  // undoes attach_cached_prefix when the request is not admitted after all
  // The cached blocks a waiting request would start with, and the released ones it would take back after them.
  int cached_prefix_blocks(const SeqState& seq) const;
  int reclaimable_blocks(const SeqState& seq, int from) const;
  // After a step: a request that has computed its group's prefix leaves those full blocks cached.
  void remember_prefix(const SeqState& seq);
  // After a step: the request's prompt blocks now computed become findable by their content.
  void register_hashes(SeqState& seq);
  // Leading blocks of a waiting request found by content: in HBM (all of them, and those of them now free), and
  // after them in host memory.
  struct Hits {
    int hbm = 0, hbm_free = 0, host = 0;  // host: after those in HBM, the blocks host memory or disk holds
    int disk = 0;                         // of them, those only on disk
  };
  Hits hash_hits(const SeqState& seq) const;
  void drop_cached_prefixes();  // unpins every cached prefix (their blocks go free once no request shares them)
  // Moves the head of the queue to the running requests; true when its KV came from a prefill replica.
  bool admit_head();
  void preempt(SeqState& seq, StepPlan& plan);
  static void add_to_shape(BatchShape& shape, const ScheduledChunk& chunk, bool samples);

  SchedulerLimits limits_;
  KvBlockManager blocks_;
  std::unordered_map<RequestId, std::unique_ptr<SeqState>> seqs_;
  std::vector<SeqState*> running_;  // admission order
  std::deque<SeqState*> waiting_;   // FCFS; preempted requests go to the front
  int64_t outstanding_tokens_ = 0;
  std::unordered_map<int, std::vector<int>> cached_prefixes_;  // group -> its full blocks, pinned
  int64_t prefix_hit_tokens_ = 0;
  // hash_hits() of the last request asked about, while the cache's epoch stays: the fast path asks about the head of
  // the queue before every window, and a long prompt has hundreds of blocks to look up.
  mutable RequestId hits_of_ = -1;
  mutable int hits_tokens_ = 0;
  mutable uint64_t hits_epoch_ = 0;
  mutable Hits hits_;
  int64_t host_reload_tokens_ = 0, disk_reload_tokens_ = 0;
  int64_t verifications_ = 0, drafts_proposed_ = 0, drafts_accepted_ = 0;
  // Speculative decoding: how many of a verify step's drafts are accepted (a pure function of the request's state).
  int accepted_drafts(const SeqState& seq, int drafts) const;
  mutable double steady_context_sum_ = 0;  // sum of num_computed_tokens over running, set by steady_steps()
};

}  // namespace aif::models
