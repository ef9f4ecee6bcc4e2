#include "aif/kernels/sampling.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "aif/kernels/rng.hpp"

namespace aif::kernels {

int32_t sample_greedy(const float* logits, int vocab) {
  int32_t best = 0;
  for (int32_t i = 1; i < vocab; ++i)
    if (logits[i] > logits[best]) best = i;
  return best;
}

int32_t sample_seeded(const float* logits, int vocab, double temperature, int top_k, uint64_t seed, uint64_t request,
                      uint64_t position) {
  if (temperature <= 0) return sample_greedy(logits, vocab);
  std::vector<int32_t> order(static_cast<size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  // Largest first, ties by index: a total order, so the draw is reproducible.
  auto before = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  const int keep = (top_k > 0 && top_k < vocab) ? top_k : vocab;
  std::partial_sort(order.begin(), order.begin() + keep, order.end(), before);
  std::vector<double> p(static_cast<size_t>(keep));
  const double top = logits[order[0]];
  double sum = 0;
  for (int i = 0; i < keep; ++i) sum += (p[size_t(i)] = std::exp((logits[order[size_t(i)]] - top) / temperature));
  // Stream 0x5a4d ("SM"): keeps sampling draws apart from weight and prompt streams with the same seed.
  const double u = counter_uniform(seed ^ 0x5a4dULL, request, position) * sum;
  double c = 0;
  for (int i = 0; i < keep; ++i) {
    c += p[size_t(i)];
    if (u < c) return order[size_t(i)];
  }
  return order[size_t(keep - 1)];
}

}  // namespace aif::kernels
