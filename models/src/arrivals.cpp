#include "aif/models/arrivals.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>

#include "aif/models/mix64.hpp"

namespace aif::models {

namespace {

constexpr double TWO_POW_MINUS_53 = 1.0 / 9007199254740992.0;

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

}  // namespace

ArrivalProcess::~ArrivalProcess() = default;

// ---------------------------------------------------------------------------------------------------------------------
// RandomStream

RandomStream::RandomStream(uint64_t seed, uint64_t stream, uint64_t substream)
    : engine_(mix64(mix64(mix64(seed) ^ stream) ^ substream)) {}

double RandomStream::uniform() { return static_cast<double>(engine_() >> 11) * TWO_POW_MINUS_53; }

double RandomStream::uniform_positive() { return static_cast<double>((engine_() >> 11) + 1) * TWO_POW_MINUS_53; }

int64_t RandomStream::uniform_int(int64_t lo, int64_t hi) {
  if (hi < lo) throw std::invalid_argument("uniform_int: hi < lo");
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;  // 0 means all 2^64 values
  if (span == 0) return static_cast<int64_t>(engine_());
  // Accept x only in the top part of [0, 2^64) whose size is a multiple of span, so x % span is exactly uniform.
  const uint64_t reject_below = (0 - span) % span;  // 2^64 mod span
  uint64_t x = engine_();
  while (x < reject_below) x = engine_();
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + x % span);
}

double RandomStream::exponential(double rate) { return -std::log(uniform_positive()) / rate; }

double RandomStream::standard_normal() {
  // Marsaglia polar method; of each pair only the first value is used (no hidden state besides the engine).
  for (;;) {
    const double u = 2 * uniform() - 1, v = 2 * uniform() - 1;
    const double s = u * u + v * v;
    if (s > 0 && s < 1) return u * std::sqrt(-2 * std::log(s) / s);
  }
}

double RandomStream::gamma(double shape, double scale) {
  if (!(shape > 0) || !(scale > 0)) throw std::invalid_argument("gamma: shape and scale must be > 0");
  if (shape < 1) {
    // Gamma(k) = Gamma(k + 1) * U^(1/k) (Marsaglia & Tsang, section 6); U in (0, 1].
    const double boost = std::pow(uniform_positive(), 1 / shape);
    return gamma(shape + 1, scale) * boost;
  }
  // Marsaglia & Tsang (2000), "A simple method for generating gamma variables", ACM TOMS 26(3).
  const double d = shape - 1.0 / 3, c = 1 / std::sqrt(9 * d);
  for (;;) {
    double x, v;
    do {
      x = standard_normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const double u = uniform_positive();
    const double x2 = x * x;
    if (u < 1 - 0.0331 * x2 * x2) return d * v * scale;  // quick acceptance, skips the logs
    if (std::log(u) < 0.5 * x2 + d * (1 - v + std::log(v))) return d * v * scale;
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// LengthDistribution

LengthDistribution LengthDistribution::fixed(int32_t tokens) {
  require(tokens >= 1, "fixed length: expected at least 1 token, got " + std::to_string(tokens));
  LengthDistribution d;
  d.kind_ = Kind::FIXED;
  d.min_ = d.max_ = tokens;
  return d;
}

LengthDistribution LengthDistribution::uniform(int32_t min, int32_t max) {
  require(min >= 1 && max >= min,
          "uniform lengths: expected 1 <= min <= max, got [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  LengthDistribution d;
  d.kind_ = Kind::UNIFORM;
  d.min_ = min;
  d.max_ = max;
  return d;
}

LengthDistribution LengthDistribution::lognormal(double median, double sigma, int32_t min, int32_t max) {
  require(median > 0 && std::isfinite(median), "lognormal lengths: expected median > 0");
  require(sigma >= 0 && std::isfinite(sigma), "lognormal lengths: expected sigma >= 0");
  LengthDistribution d;
  d.kind_ = Kind::LOGNORMAL;
  d.min_ = std::max<int32_t>(1, min);
  d.max_ = max > 0 ? max : std::numeric_limits<int32_t>::max();
  require(d.max_ >= d.min_, "lognormal lengths: expected min <= max");
  d.log_median_ = std::log(median);
  d.sigma_ = sigma;
  return d;
}

int32_t LengthDistribution::sample(RandomStream& rng) const {
  switch (kind_) {
    case Kind::FIXED:
      return min_;
    case Kind::UNIFORM:
      return static_cast<int32_t>(rng.uniform_int(min_, max_));
    case Kind::LOGNORMAL: {
      // Clamp in double before converting: exp() can exceed the int32 range (or be inf) far in the tail.
      const double v = std::round(std::exp(log_median_ + sigma_ * rng.standard_normal()));
      return static_cast<int32_t>(std::clamp(v, static_cast<double>(min_), static_cast<double>(max_)));
    }
  }
  return min_;
}

// ---------------------------------------------------------------------------------------------------------------------
// Processes

namespace {

// Applies the stop conditions and draws lengths; subclasses only say when the next arrival comes.
class SyntheticProcess : public ArrivalProcess {
 public:
  SyntheticProcess(LengthDistribution prompt, LengthDistribution output, uint64_t seed, uint64_t stream,
                   ArrivalLimits limits)
      : prompt_(prompt), output_(output), times_(seed, stream, 0), lengths_(seed, stream, 1), limits_(limits) {}

  std::optional<Arrival> next() final {
    if (done_) return std::nullopt;
    if (limits_.max_requests >= 0 && count_ >= limits_.max_requests) {
      done_ = true;
      return std::nullopt;
    }
    const double t = next_time(times_);
    if (!(t <= limits_.horizon_s)) {
      done_ = true;
      return std::nullopt;
    }
    ++count_;
    const int32_t prompt = prompt_.sample(lengths_);  // prompt first, then output: the order is part of the stream
    return Arrival{t, prompt, output_.sample(lengths_)};
  }

 protected:
  virtual double next_time(RandomStream& rng) = 0;

 private:
  LengthDistribution prompt_, output_;
  RandomStream times_, lengths_;
  ArrivalLimits limits_;
  int64_t count_ = 0;
  bool done_ = false;
};

void check_rate(double rate) {
  require(rate > 0 && std::isfinite(rate), "arrival rate: expected a finite rate > 0 per second");
}

class PoissonProcess final : public SyntheticProcess {
 public:
  PoissonProcess(double rate, LengthDistribution p, LengthDistribution o, uint64_t seed, uint64_t stream,
                 ArrivalLimits limits)
      : SyntheticProcess(p, o, seed, stream, limits), rate_(rate) {
    check_rate(rate);
  }

 protected:
  double next_time(RandomStream& rng) override { return t_ += rng.exponential(rate_); }

 private:
  double rate_;
  double t_ = 0;
};

class GammaProcess final : public SyntheticProcess {
 public:
  GammaProcess(double rate, double cv, LengthDistribution p, LengthDistribution o, uint64_t seed, uint64_t stream,
               ArrivalLimits limits)
      : SyntheticProcess(p, o, seed, stream, limits), shape_(1 / (cv * cv)), scale_(1 / (rate * shape_)) {
    check_rate(rate);
    require(cv > 0 && std::isfinite(cv), "gamma arrivals: expected a coefficient of variation cv > 0");
  }

 protected:
  double next_time(RandomStream& rng) override { return t_ += rng.gamma(shape_, scale_); }

 private:
  double shape_, scale_;  // k = 1/cv^2, theta = 1/(rate k): mean k theta = 1/rate, variance k theta^2 = cv^2/rate^2
  double t_ = 0;
};

// Inversion of the integrated rate. Position = period_ * period_len_ + slice_ * slice_len_ + offset_; kept as three
// parts (not recomputed from a time) so that rounding never puts the position in the wrong slice.
class DiurnalProcess final : public SyntheticProcess {
 public:
  DiurnalProcess(double peak_rate, std::vector<double> curve, double period_s, LengthDistribution p,
                 LengthDistribution o, uint64_t seed, uint64_t stream, ArrivalLimits limits)
      : SyntheticProcess(p, o, seed, stream, limits), period_len_(period_s) {
    check_rate(peak_rate);
    require(period_s > 0 && std::isfinite(period_s), "diurnal arrivals: expected a period > 0");
    require(!curve.empty(), "diurnal arrivals: the curve is empty");
    double peak = 0;
    for (double c : curve) {
      require(c >= 0 && std::isfinite(c), "diurnal arrivals: curve values must be finite and >= 0");
      peak = std::max(peak, c);
    }
    require(peak > 0, "diurnal arrivals: at least one curve value must be above 0");
    rates_.reserve(curve.size());
    for (double c : curve) rates_.push_back(peak_rate * c);
    slice_len_ = period_s / static_cast<double>(rates_.size());
    for (size_t i = 0; i < rates_.size(); ++i) period_integral_ += 0.5 * (rates_[i] + rate_after(i)) * slice_len_;
  }

 protected:
  double next_time(RandomStream& rng) override {
    double e = rng.exponential(1.0);  // the integrated rate to cover
    for (;;) {
      if (slice_ == 0 && offset_ == 0 && e > period_integral_) {  // skip whole periods at once
        const double whole = std::floor(e / period_integral_);
        period_ += static_cast<int64_t>(whole);
        e -= whole * period_integral_;
        if (e > period_integral_) e = period_integral_;  // rounding
      }
      const double a = rates_[slice_], b = rate_after(slice_);
      const double slope = (b - a) / slice_len_;
      const double r0 = a + slope * offset_;  // rate at the current position
      const double left = slice_len_ - offset_;
      const double remaining = 0.5 * (r0 + b) * left;  // integral to the end of the slice
      if (e <= remaining && remaining > 0) {
        // Solve r0 x + slope x^2 / 2 = e for the smallest x >= 0, in the form without cancellation;
        // r0^2 + 2 slope e >= b^2 >= 0 because e <= remaining.
        double x = 0;
        if (e > 0) x = 2 * e / (r0 + std::sqrt(std::max(0.0, r0 * r0 + 2 * slope * e)));
        offset_ = std::min(offset_ + x, slice_len_);
        return time();
      }
      e -= remaining;
      offset_ = 0;
      if (++slice_ == rates_.size()) {
        slice_ = 0;
        ++period_;
      }
    }
  }

 private:
  double rate_after(size_t i) const { return rates_[(i + 1) % rates_.size()]; }
  double time() const {
    return static_cast<double>(period_) * period_len_ + static_cast<double>(slice_) * slice_len_ + offset_;
  }

  std::vector<double> rates_;  // rate at the start of each slice, 1/s
  double period_len_, slice_len_ = 0, period_integral_ = 0;
  int64_t period_ = 0;
  size_t slice_ = 0;
  double offset_ = 0;
};

class TraceReplay final : public ArrivalProcess {
 public:
  TraceReplay(std::vector<Arrival> records, double rate_scale, ArrivalLimits limits)
      : records_(std::move(records)), scale_(rate_scale), limits_(limits) {
    require(rate_scale > 0 && std::isfinite(rate_scale), "trace replay: expected rate_scale > 0");
    for (size_t i = 0; i < records_.size(); ++i) {
      const Arrival& r = records_[i];
      const std::string where = "trace replay: record " + std::to_string(i) + ": ";
      require(std::isfinite(r.time_s), where + "time is not finite");
      require(i == 0 || r.time_s >= records_[i - 1].time_s, where + "time goes backwards (records must be sorted)");
      require(r.prompt_tokens >= 1, where + "expected at least 1 prompt token");
      require(r.output_tokens >= 1, where + "expected at least 1 output token");
    }
  }

  std::optional<Arrival> next() override {
    if (next_ >= records_.size()) return std::nullopt;
    if (limits_.max_requests >= 0 && static_cast<int64_t>(next_) >= limits_.max_requests) return std::nullopt;
    Arrival a = records_[next_];
    a.time_s = (a.time_s - records_.front().time_s) / scale_;
    if (!(a.time_s <= limits_.horizon_s)) {
      next_ = records_.size();
      return std::nullopt;
    }
    ++next_;
    return a;
  }

 private:
  std::vector<Arrival> records_;
  double scale_;
  ArrivalLimits limits_;
  size_t next_ = 0;
};

}  // namespace

std::unique_ptr<ArrivalProcess> make_poisson(double rate_per_s, LengthDistribution prompt, LengthDistribution output,
                                             uint64_t seed, uint64_t stream, ArrivalLimits limits) {
  return std::make_unique<PoissonProcess>(rate_per_s, prompt, output, seed, stream, limits);
}

std::unique_ptr<ArrivalProcess> make_gamma(double rate_per_s, double cv, LengthDistribution prompt,
                                           LengthDistribution output, uint64_t seed, uint64_t stream,
                                           ArrivalLimits limits) {
  return std::make_unique<GammaProcess>(rate_per_s, cv, prompt, output, seed, stream, limits);
}

std::unique_ptr<ArrivalProcess> make_diurnal(double peak_rate_per_s, std::vector<double> curve, double period_s,
                                             LengthDistribution prompt, LengthDistribution output, uint64_t seed,
                                             uint64_t stream, ArrivalLimits limits) {
  return std::make_unique<DiurnalProcess>(peak_rate_per_s, std::move(curve), period_s, prompt, output, seed, stream,
                                          limits);
}

std::unique_ptr<ArrivalProcess> make_trace_replay(std::vector<Arrival> records, double rate_scale,
                                                  ArrivalLimits limits) {
  return std::make_unique<TraceReplay>(std::move(records), rate_scale, limits);
}

// ---------------------------------------------------------------------------------------------------------------------
// Conversations

namespace {

class Conversations final : public ArrivalProcess {
 public:
  Conversations(std::unique_ptr<ArrivalProcess> first, ConversationSpec spec, uint64_t seed, uint64_t stream,
                ArrivalLimits limits)
      : first_(std::move(first)), spec_(std::move(spec)), rng_(seed, stream, 2), limits_(limits) {
    require(first_ != nullptr, "conversations: no process of first turns");
    require(spec_.turns.min() >= 1, "conversations: expected at least 1 turn");
    require(spec_.think_time_s > 0 && std::isfinite(spec_.think_time_s), "conversations: expected think_time > 0");
    require(spec_.system_prompt_tokens >= 0, "conversations: expected system_prompt_tokens >= 0");
    require(spec_.system_prompts >= 1, "conversations: expected at least 1 system prompt");
    require(spec_.chain_block_tokens >= 1, "conversations: expected chain_block_tokens >= 1");
    pending_first_ = first_->next();
  }

  std::optional<Arrival> next() override {
    if (limits_.max_requests >= 0 && made_ >= limits_.max_requests) return std::nullopt;
    // The earlier of the next first turn and the next later turn; a first turn goes first at equal times.
    const bool later = !turns_.empty() && (!pending_first_ || turns_.top().time_s < pending_first_->time_s);
    if (!later && !pending_first_) return std::nullopt;
    Arrival a;
    if (later) {
      const Due due = turns_.top();
      turns_.pop();
      if (!(due.time_s <= limits_.horizon_s)) {  // this and every later turn fall after the run
        turns_ = {};
        live_.clear();
        return next();
      }
      Conversation& c = live_.at(due.conversation);
      a = turn(c, due.time_s, spec_.messages.sample(rng_), spec_.answers.sample(rng_));
      if (--c.turns_left > 0) schedule(due.conversation, due.time_s);
      else live_.erase(due.conversation);
    } else {
      const Arrival opening = *pending_first_;
      pending_first_ = first_->next();
      const uint64_t id = next_id_++;
      Conversation c;
      c.system = static_cast<uint64_t>(rng_.uniform_int(0, spec_.system_prompts - 1));
      c.turns_left = spec_.turns.sample(rng_) - 1;
      c.id = id;
      a = turn(c, opening.time_s, opening.prompt_tokens, opening.output_tokens);
      if (c.turns_left > 0) {
        live_.emplace(id, std::move(c));
        schedule(id, opening.time_s);
      }
    }
    ++made_;
    return a;
  }

 private:
  struct Conversation {
    uint64_t id = 0, system = 0;
    int32_t turns_left = 0;
    int64_t tokens = 0;            // the conversation so far: system prompt, messages and answers
    std::vector<uint64_t> chain;   // ids of its whole blocks so far
  };
  struct Due {
    double time_s;
    uint64_t order;  // ties in time: the turn scheduled first comes first
    uint64_t conversation;
    bool operator>(const Due& o) const { return time_s != o.time_s ? time_s > o.time_s : order > o.order; }
  };

  void schedule(uint64_t conversation, double after_s) {
    const double gap = spec_.think_time_exponential ? rng_.exponential(1 / spec_.think_time_s) : spec_.think_time_s;
    turns_.push({after_s + gap, order_++, conversation});
  }

  // The next turn of c: its prompt (all so far and the new message) named block by block; the answer joins c after.
  Arrival turn(Conversation& c, double time_s, int32_t message, int32_t answer) {
    const int64_t prompt = (c.tokens == 0 ? spec_.system_prompt_tokens : c.tokens) + message;
    require(prompt <= std::numeric_limits<int32_t>::max(), "conversations: a prompt outgrew 2^31 tokens");
    const int64_t b = spec_.chain_block_tokens;
    for (int64_t j = static_cast<int64_t>(c.chain.size()); (j + 1) * b <= prompt; ++j) {
      // A block wholly inside the system prompt is the system prompt's; any later one is this conversation's.
      const bool system = (j + 1) * b <= spec_.system_prompt_tokens;
      const uint64_t owner = system ? mix64(0x53595354454dULL ^ c.system) : mix64(0x434f4e56ULL ^ c.id);
      const uint64_t before = j == 0 ? 0x9e3779b97f4a7c15ULL : c.chain.back();
      c.chain.push_back(mix64(before ^ mix64(owner + static_cast<uint64_t>(j))));
    }
    c.tokens = prompt + answer;
    Arrival a{time_s, static_cast<int32_t>(prompt), answer};
    a.prefix_chain = std::make_shared<const std::vector<uint64_t>>(
        c.chain.begin(), c.chain.begin() + static_cast<std::ptrdiff_t>(prompt / b));
    a.chain_block_tokens = spec_.chain_block_tokens;
    return a;
  }

  std::unique_ptr<ArrivalProcess> first_;
  ConversationSpec spec_;
  RandomStream rng_;
  ArrivalLimits limits_;
  std::optional<Arrival> pending_first_;
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> turns_;
  std::map<uint64_t, Conversation> live_;
  uint64_t next_id_ = 0, order_ = 0;
  int64_t made_ = 0;
};

}  // namespace

std::unique_ptr<ArrivalProcess> make_conversations(std::unique_ptr<ArrivalProcess> first_turns, ConversationSpec spec,
                                                   uint64_t seed, uint64_t stream, ArrivalLimits limits) {
  return std::make_unique<Conversations>(std::move(first_turns), std::move(spec), seed, stream, limits);
}

}  // namespace aif::models
