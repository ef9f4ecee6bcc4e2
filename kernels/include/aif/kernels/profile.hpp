// Closed-loop profiling of the engine: synthetic request batches chosen so that the recorded steps cover
// pure decode over batch size and context, prefill chunks with and without a cached prefix, and mixed steps.
// `aifsim-engine profile` writes the iterations; `aifsim calibrate` fits the per-step overhead on them.
#pragma once
#include <string>
#include <vector>

#include "aif/kernels/replay.hpp"

namespace aif::kernels {

// One closed batch: `requests` requests of `prompt` tokens generating `output` tokens each, the i-th arriving
// at i * arrival_gap_s on the run's virtual clock (0: all at once), served by a fresh engine whose step token
// budget is max_batched_tokens (chunked prefill on).
struct ProfilePhase {
  std::string name;
  int requests = 1;
  int prompt = 1;
  int output = 1;
  int max_batched_tokens = 2048;
  double arrival_gap_s = 0;
};

// The default plan for a model whose context holds max_context tokens (prompts are clamped to fit).
std::vector<ProfilePhase> default_profile_phases(int max_context);

// Runs the phases one after the other (no real-time waiting: idle gaps are skipped) and concatenates their
// records on one clock: phase i starts when phase i-1's last step ended. Request ids are phase * 1,000,000 + i.
// base: the engine configuration (limits.num_blocks must be set); max_num_seqs is raised to a phase's requests.
ReplayResult run_profile(Model& model, const EngineConfig& base, const std::vector<ProfilePhase>& phases,
                         uint64_t prompt_seed = 1);

}  // namespace aif::kernels
