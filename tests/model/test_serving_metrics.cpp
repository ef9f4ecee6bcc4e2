// Serving figures defined as published measurements define them (serving_metrics.hpp): numpy's default percentiles,
// ML.ENERGY's saturated-run figures (average TPOT over decode steps, steady-state throughput until the last request's
// first token, average batch) and output tokens per second in bins, on hand-made records whose figures are derived
// in the comments.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "aif/analysis/serving_metrics.hpp"

using namespace aif::analysis;

namespace {

// One engine step: [start, start + duration), num_seqs sequences, `decode` of them decoding, `sampled` producing a
// token (a prefill step: decode 0; its sequences' first tokens are sampled at its end).
IterationRecord step(double start, double duration, int num_seqs, int decode, int sampled, int prefill_tokens = 0) {
  IterationRecord r;
  r.replica = 0;
  r.start_s = start;
  r.duration_s = duration;
  r.num_seqs = num_seqs;
  r.decode_tokens = decode;
  r.sampled_seqs = sampled;
  r.prefill_tokens = prefill_tokens;
  r.prefill_seqs = num_seqs - decode;
  return r;
}

RequestRecord request(int64_t id, double first_token, Outcome outcome = Outcome::FINISHED) {
  RequestRecord r;
  r.id = id;
  r.arrival_s = 0;
  r.first_token_s = first_token;
  r.outcome = outcome;
  return r;
}

}  // namespace

// ------------------------------------------------------------------------------------------------ percentiles

TEST(SummarizeLatencies, NumpyLinearPercentiles) {
  // Sorted 1, 2, 3, 4, 10 (n = 5): mean 20 / 5 = 4. numpy.percentile(..., q) (method 'linear') reads position
  // q / 100 x (n - 1): p50 at 2 -> 3; p90 at 3.6 -> 4 + 0.6 x (10 - 4) = 7.6.
  const LatencySummary s = summarize_latencies({4, 1, 3, 10, 2});
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.mean, 4);
  EXPECT_DOUBLE_EQ(s.p50, 3);
  EXPECT_DOUBLE_EQ(s.p90, 7.6);
  // An even count, 1, 2, 3, 4: mean 2.5; p50 at 1.5 -> 2 + 0.5 = 2.5; p90 at 2.7 -> 3 + 0.7 x 1 = 3.7.
  const LatencySummary e = summarize_latencies({3, 1, 4, 2});
  EXPECT_DOUBLE_EQ(e.mean, 2.5);
  EXPECT_DOUBLE_EQ(e.p50, 2.5);
  EXPECT_DOUBLE_EQ(e.p90, 3.7);
  // One value is every percentile.
  const LatencySummary one = summarize_latencies({0.25});
  EXPECT_EQ(one.count, 1u);
  EXPECT_EQ(one.mean, 0.25);
  EXPECT_EQ(one.p50, 0.25);
  EXPECT_EQ(one.p90, 0.25);
  // None: count 0, NaN figures (nothing to report, not zero).
  const LatencySummary none = summarize_latencies({});
  EXPECT_EQ(none.count, 0u);
  EXPECT_TRUE(std::isnan(none.mean) && std::isnan(none.p50) && std::isnan(none.p90));
}

// ------------------------------------------------------------------------------------------------ saturated runs

TEST(SaturatedRunFigures, PrefillStepsCountIntoTheNextDecodeStep) {
  // Requests 1 and 2 are prefilled together, decode twice, request 3 is prefilled alone, then all three decode:
  //   a  prefill  [0, 1)     2 sequences, 2 first tokens at 1.0
  //   b  decode   [1, 1.5)   2 sequences
  //   c  decode   [1.5, 2)   2 sequences
  //   d  prefill  [2, 3)     1 sequence, request 3's first token at 3.0
  //   e  decode   [3, 3.5)   3 sequences
  // Inter-token latencies of each decode step, and their mean over the step's sequences:
  //   b: 1 and 2 since their first token (end of a, 1.0): 0.5 each                    -> 0.5
  //   c: since b's end (1.5): 0.5 each                                               -> 0.5
  //   e: 3 since its first token (3.0): 0.5; 1 and 2 since c's end (2.0), the prefill
  //      step in between included: 1.5 each. (0.5 + 2 x 1.5) / 3 = 3.5 / 3            -> 7/6
  // Average TPOT: (0.5 + 0.5 + 7/6) / 3 = (13/6) / 3 = 13/18 s over 3 decode steps.
  // The steady state lasts until the last request's first token (3.0): steps ending by then, a to d, produced
  // 2 + 2 + 2 + 1 = 7 tokens: 7 / 3 tokens/s. Its decode steps, b and c, ran 2 sequences each: average batch 2.
  // The records come in another order than their start times.
  const std::vector<IterationRecord> steps = {step(3, 0.5, 3, 3, 3), step(1, 0.5, 2, 2, 2),
                                             step(0, 1, 2, 0, 2, 200), step(2, 1, 1, 0, 1, 100),
                                             step(1.5, 0.5, 2, 2, 2)};
  // An unfinished request's first token (at 10 s) does not extend the steady state.
  const std::vector<RequestRecord> requests = {request(1, 1.0), request(2, 1.0), request(3, 3.0),
                                               request(4, 10.0, Outcome::UNFINISHED)};
  const SaturatedRunFigures f = saturated_run_figures(steps, requests);
  EXPECT_EQ(f.decode_steps, 3u);
  EXPECT_DOUBLE_EQ(f.avg_tpot_s, 13.0 / 18.0);
  EXPECT_DOUBLE_EQ(f.steady_end_s, 3.0);
  EXPECT_DOUBLE_EQ(f.throughput_tokens_per_s, 7.0 / 3.0);
  EXPECT_DOUBLE_EQ(f.avg_batch, 2.0);
}

TEST(SaturatedRunFigures, SequencesFinishedAtTheirFirstTokenAreNotWaitedFor) {
  // A prefill step [0, 2) of 2 sequences, one of which wanted a single token (done at 2.0), then decode steps of the
  // other: [2, 3) and [3, 4).
  //   first decode step: 2 first tokens since 2.0 but 1 decoding sequence: the waits (2 x 1 s) are scaled to that one,
  //                      1 x 1 s over 1 sequence -> 1
  //   second:            1 sequence since 3.0 -> 1
  // Average TPOT 1 s. Steady state until 2.0 (both first tokens): 2 tokens in 2 s, 1 token/s; no decode step ended by
  // then, so no average batch (NaN).
  const std::vector<IterationRecord> steps = {step(0, 2, 2, 0, 2, 64), step(2, 1, 1, 1, 1), step(3, 1, 1, 1, 1)};
  const SaturatedRunFigures f = saturated_run_figures(steps, {request(1, 2.0), request(2, 2.0)});
  EXPECT_EQ(f.decode_steps, 2u);
  EXPECT_DOUBLE_EQ(f.avg_tpot_s, 1.0);
  EXPECT_DOUBLE_EQ(f.throughput_tokens_per_s, 1.0);
  EXPECT_TRUE(std::isnan(f.avg_batch));
}

TEST(SaturatedRunFigures, AMixedStepIsADecodeStep) {
  // A chunked-prefill engine: request 1 prefilled alone [0, 1); then a mixed step [1, 2) decoding request 1 beside
  // request 2's prompt (2 sampled: 1's second token, 2's first); then both decode [2, 2.5).
  //   mixed step: 1 since its first token (1.0): 1 s                                  -> 1
  //   last step:  both since the mixed step's end (2.0), 2's first token included: 0.5 -> 0.5
  // Average TPOT (1 + 0.5) / 2 = 0.75 s. Steady state until 2.0 (2's first token): 1 + 2 = 3 tokens, 1.5 tokens/s;
  // its decode steps: the mixed one, 2 sequences: average batch 2.
  const std::vector<IterationRecord> steps = {step(0, 1, 1, 0, 1, 32), step(1, 1, 2, 1, 2, 32), step(2, 0.5, 2, 2, 2)};
  const SaturatedRunFigures f = saturated_run_figures(steps, {request(1, 1.0), request(2, 2.0)});
  EXPECT_EQ(f.decode_steps, 2u);
  EXPECT_DOUBLE_EQ(f.avg_tpot_s, 0.75);
  EXPECT_DOUBLE_EQ(f.throughput_tokens_per_s, 1.5);
  EXPECT_DOUBLE_EQ(f.avg_batch, 2.0);
}

TEST(SaturatedRunFigures, NothingToMeasure) {
  // No decode step: no TPOT; no finished request: no steady state, no throughput.
  const SaturatedRunFigures f = saturated_run_figures({step(0, 1, 1, 0, 1, 10)}, {request(1, 1.0, Outcome::DROPPED)});
  EXPECT_EQ(f.decode_steps, 0u);
  EXPECT_TRUE(std::isnan(f.avg_tpot_s));
  EXPECT_EQ(f.steady_end_s, 0);
  EXPECT_TRUE(std::isnan(f.throughput_tokens_per_s));
  EXPECT_TRUE(std::isnan(f.avg_batch));
}

// ------------------------------------------------------------------------------------------------ tokens per second

TEST(OutputTokensPerSecond, BinsByTheStepsEnd) {
  // Bins of 0.5 s from t = 0, 4 of them: [0, 0.5), [0.5, 1), [1, 1.5), [1.5, 2). A step's tokens count at its end.
  const std::vector<IterationRecord> steps = {
      step(0, 0, 1, 1, 1),        // ends at 0: bin 0, 1 token
      step(0.25, 0.25, 3, 3, 3),  // ends at 0.5 exactly: the next bin (1), 3 tokens
      step(0.5, 0.25, 2, 2, 2),   // ends at 0.75: bin 1, 2 tokens
      step(1.5, 0.25, 4, 4, 4),   // ends at 1.75: bin 3, 4 tokens
      step(1.75, 0.25, 5, 5, 5),  // ends at 2.0: past the last bin, left out
      step(-1, 0.5, 6, 6, 6),     // ends at -0.5, before t = 0: left out
      // Ends far beyond the bins: left out. (Bug fixed on this branch: the bin index was converted to size_t before the
      // comparison, undefined beyond 2^64 bins, and these 7 and 8 tokens landed in bin 0.)
      step(0, 1e300, 7, 7, 7),
      step(0, std::numeric_limits<double>::infinity(), 8, 8, 8),
  };
  // Tokens per second: bin 0 1 / 0.5 = 2; bin 1 (3 + 2) / 0.5 = 10; bin 2 nothing; bin 3 4 / 0.5 = 8.
  EXPECT_EQ(output_tokens_per_second(steps, 0.5, 4), (std::vector<double>{2, 10, 0, 8}));
  // No bins, no figures.
  EXPECT_TRUE(output_tokens_per_second(steps, 0.5, 0).empty());
  // One bin of 2 s takes the steps ending in [0, 2): 1 + 3 + 2 + 4 = 10 tokens, 5 tokens/s.
  EXPECT_EQ(output_tokens_per_second(steps, 2, 1), (std::vector<double>{5}));
}
