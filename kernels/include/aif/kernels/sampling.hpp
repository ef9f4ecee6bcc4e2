// Token selection on the host, from one row of logits.
#pragma once
#include <cstdint>

namespace aif::kernels {

// Index of the largest logit; the lowest index wins a tie.
int32_t sample_greedy(const float* logits, int vocab);

// Draw from softmax(logits / temperature), restricted to the top_k largest (top_k <= 0: all), with the
// uniform taken from the counter RNG at (seed, request, position): the draw depends on nothing else, so a
// request samples the same tokens whatever shares its batch. temperature <= 0 falls back to greedy.
int32_t sample_seeded(const float* logits, int vocab, double temperature, int top_k, uint64_t seed, uint64_t request,
                      uint64_t position);

}  // namespace aif::kernels
