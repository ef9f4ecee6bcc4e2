// Request arrival processes: when requests come and how long they are. Pure models (no SimGrid, no files).
//
// A process is pulled one arrival at a time, so memory does not grow with the number of requests.
// Randomness is reproducible on every platform: one std::mt19937_64 per (seed, stream, substream), and every
// sampler (uniform, exponential, normal, gamma, integer) is written here from the raw 64-bit output, because the
// std:: distributions are implementation-defined and differ between standard libraries.
// (The samplers call std::log/std::exp/std::sqrt; sqrt is exactly rounded by IEEE 754, log and exp are within an ulp
// on common libms, so streams match bit for bit wherever those agree, which includes glibc on every architecture.)
#pragma once
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <vector>

namespace aif::models {

struct Arrival {
  double time_s;          // simulation time of arrival, s
  int32_t prompt_tokens;  // >= 1
  int32_t output_tokens;  // >= 1: a request generates at least one token
  // The prompt's content where a trace names it (prefix caching by content): prefix_chain[j] names its tokens up to
  // the end of block j of chain_block_tokens tokens (chain_block_ids()); null when unknown.
  std::shared_ptr<const std::vector<uint64_t>> prefix_chain = nullptr;
  int32_t chain_block_tokens = 0;
};

class ArrivalProcess {
 public:
  virtual ~ArrivalProcess();
  // The next arrival (times never decrease), or nothing once a stop condition is reached; then always nothing.
  virtual std::optional<Arrival> next() = 0;
};

// Stop conditions, checked on every next(): no arrival after horizon_s, at most max_requests arrivals.
struct ArrivalLimits {
  double horizon_s = std::numeric_limits<double>::infinity();  // an arrival at exactly horizon_s is still made
  int64_t max_requests = -1;                                   // < 0: no limit
};

// A reproducible random stream. Streams for different (seed, stream, substream) are seeded from a SplitMix64 hash
// of the three numbers, so workload i of a scenario gets the same draws whatever the other workloads are.
class RandomStream {
 public:
  RandomStream(uint64_t seed, uint64_t stream, uint64_t substream = 0);
  uint64_t next_u64() { return engine_(); }
  double uniform();                             // [0, 1), 53 random bits
  double uniform_positive();                    // (0, 1], 53 random bits
  int64_t uniform_int(int64_t lo, int64_t hi);  // lo..hi inclusive, unbiased (rejection)
  double exponential(double rate);              // mean 1/rate, by inverse transform
  double standard_normal();                     // N(0, 1), Marsaglia's polar method
  double gamma(double shape, double scale);     // mean shape*scale, Marsaglia & Tsang (2000), boost for shape < 1

 private:
  std::mt19937_64 engine_;
};

// Token count distribution of prompts or outputs. Default: fixed at 1 token.
class LengthDistribution {
 public:
  enum class Kind { FIXED, UNIFORM, LOGNORMAL };
  LengthDistribution() = default;
  static LengthDistribution fixed(int32_t tokens);              // tokens >= 1
  static LengthDistribution uniform(int32_t min, int32_t max);  // integers min..max inclusive, 1 <= min <= max
  // exp(ln(median) + sigma * Z) rounded to the nearest integer, then clamped to [min, max];
  // max <= 0 means no upper clamp (INT32_MAX). min < 1 is raised to 1.
  static LengthDistribution lognormal(double median, double sigma, int32_t min, int32_t max);

  int32_t sample(RandomStream& rng) const;
  Kind kind() const { return kind_; }
  int32_t min() const { return min_; }
  int32_t max() const { return max_; }

 private:
  Kind kind_ = Kind::FIXED;
  int32_t min_ = 1, max_ = 1;  // FIXED: min_ == max_ == the value
  double log_median_ = 0, sigma_ = 0;
};

// Synthetic processes. Each draws its times from RandomStream(seed, stream, 0) and its lengths (prompt, then output)
// from RandomStream(seed, stream, 1), so the same lengths come with any choice of timing. The process starts at
// t = 0 with no arrival there: the first arrival is one inter-arrival time after 0 (an ordinary renewal process).
// Invalid parameters throw std::invalid_argument.

// Poisson process: exponential inter-arrival times with mean 1/rate_per_s.
std::unique_ptr<ArrivalProcess> make_poisson(double rate_per_s, LengthDistribution prompt, LengthDistribution output,
                                             uint64_t seed, uint64_t stream, ArrivalLimits limits = {});
// Gamma renewal process: inter-arrival times Gamma(shape k = 1/cv^2, scale = 1/(rate k)): mean 1/rate, coefficient
// of variation cv. cv = 1 has the Poisson process's distribution (not the same draws as make_poisson);
// cv > 1 is burstier, cv < 1 more regular.
std::unique_ptr<ArrivalProcess> make_gamma(double rate_per_s, double cv, LengthDistribution prompt,
                                           LengthDistribution output, uint64_t seed, uint64_t stream,
                                           ArrivalLimits limits = {});
// Non-homogeneous Poisson process with rate(t) = peak_rate_per_s * c(t mod period_s), where c interpolates the
// relative values curve[i] linearly between the points t_i = i * period_s / n (n = curve.size(); between the last
// point and the period's end it goes back to curve[0], so c is continuous and periodic). Curve values are used as
// given (not normalised): with max(curve) = 1, peak_rate_per_s is the peak rate. Values >= 0, at least one > 0.
// Generated by inverting the integrated rate (exact, no rejection): from the last arrival t, draw E ~ Exp(1) and find
// t' with integral_t^t' rate = E, solving the quadratic of each linear piece in closed form.
std::unique_ptr<ArrivalProcess> make_diurnal(double peak_rate_per_s, std::vector<double> curve, double period_s,
                                             LengthDistribution prompt, LengthDistribution output, uint64_t seed,
                                             uint64_t stream, ArrivalLimits limits = {});
// Replays recorded arrivals: arrival i comes at (time_i - time_0) / rate_scale, so the first request arrives at
// t = 0 of the simulation whatever its recorded time, and rate_scale > 1 compresses the gaps (more load). Lengths
// are kept. Records must be sorted by time, with prompt and output tokens >= 1 (std::invalid_argument otherwise).
// Holds the records (the trace's size), nothing per arrival made.
std::unique_ptr<ArrivalProcess> make_trace_replay(std::vector<Arrival> records, double rate_scale = 1,
                                                  ArrivalLimits limits = {});

// Multi-turn conversations over a process of first turns. Each arrival of `first_turns` opens a conversation: its
// prompt is one of `system_prompts` system prompts of `system_prompt_tokens` tokens (chosen uniformly), then the
// user's message (the first turn's prompt tokens). Each later turn arrives think_time after the one before (open
// loop: it does not wait for the answer) and carries the whole conversation so far, the answers included, then a new
// message: prompt_j = system + sum over i < j of (message_i + answer_i) + message_j. Its content is named by block
// (Arrival::prefix_chain, chain_block_tokens each) so that a prefix cache finds the system prompt and the turns
// before: blocks wholly inside the system prompt by the system prompt's id, the others by the conversation's. Turns
// come in time order with the first turns; none after limits.horizon_s, at most limits.max_requests in all.
struct ConversationSpec {
  LengthDistribution turns = LengthDistribution::fixed(1);  // per conversation
  double think_time_s = 0;       // gap between a turn's arrival and the next's: its mean when exponential
  bool think_time_exponential = true;
  LengthDistribution messages;   // each later turn's new message, tokens
  LengthDistribution answers;    // each later turn's output, tokens
  int32_t system_prompt_tokens = 0;
  int32_t system_prompts = 1;
  int32_t chain_block_tokens = 16;
};
// Draws from RandomStream(seed, stream, 2); the first turns' own draws are untouched. The first-turn process must
// have no request limit of its own (limits apply to all turns here).
std::unique_ptr<ArrivalProcess> make_conversations(std::unique_ptr<ArrivalProcess> first_turns, ConversationSpec spec,
                                                   uint64_t seed, uint64_t stream, ArrivalLimits limits = {});

}  // namespace aif::models
