#include "aif/kernels/profile.hpp"

#include <algorithm>
#include <stdexcept>

namespace aif::kernels {

std::vector<ProfilePhase> default_profile_phases(int max_context) {
  const int cap = max_context > 0 ? max_context : 4096;
  auto prompt = [&](int p, int output) { return std::max(1, std::min(p, cap - output)); };
  std::vector<ProfilePhase> ph;
  // Pure decode over batch size at short context; the prefill of the larger batches is a multi-sequence step.
  for (int b : {1, 2, 4, 8, 16, 32, 64}) ph.push_back({"decode-b" + std::to_string(b), b, prompt(48, 12), 12, 2048, 0});
  // Decode at long context (batch x context ~ 2000-4000 keys); their prefills are chunks with a cached prefix.
  ph.push_back({"long-b1", 1, prompt(2000, 12), 12, 512, 0});     // chunks of 512 at prefix 0, 512, 1024, 1536
  ph.push_back({"long-b4", 4, prompt(768, 10), 10, 1024, 0});     // 1024-token steps over several sequences
  ph.push_back({"long-b16", 16, prompt(256, 10), 10, 2048, 0});
  // One prefill chunk without prefix per size, 16 .. 2048 tokens.
  for (int p : {16, 64, 256, 1024, 2048}) ph.push_back({"prefill-" + std::to_string(p), 1, prompt(p, 2), 2, 2048, 0});
  // Several prompts prefilled in one step (the engine's step runs their attention one after the other, between the
  // same GEMMs): 3 x 512 and 6 x 256 tokens at once.
  ph.push_back({"prefill-3x512", 3, prompt(512, 2), 2, 2048, 0});
  ph.push_back({"prefill-6x256", 6, prompt(256, 2), 2, 2048, 0});
  // Small chunks over a growing prefix.
  ph.push_back({"chunks-64", 1, prompt(640, 2), 2, 64, 0});
  // Mixed steps: prompts arriving while earlier requests decode, under a 256-token budget.
  ph.push_back({"mixed", 12, prompt(300, 16), 16, 256, 0.15});
  return ph;
}

ReplayResult run_profile(Model& model, const EngineConfig& base, const std::vector<ProfilePhase>& phases,
                         uint64_t prompt_seed) {
  ReplayResult all;
  double offset = 0;
  for (size_t p = 0; p < phases.size(); ++p) {
    const ProfilePhase& ph = phases[p];
    if (ph.requests < 1 || ph.prompt < 1 || ph.output < 1 || ph.max_batched_tokens < 1 || ph.arrival_gap_s < 0)
      throw std::invalid_argument("profile phase '" + ph.name + "': requests, prompt, output and budget must be positive");
    EngineConfig cfg = base;
    cfg.limits.max_num_seqs = std::max(cfg.limits.max_num_seqs, ph.requests);
    cfg.limits.max_num_batched_tokens = ph.max_batched_tokens;
    cfg.limits.chunked_prefill = true;
    Engine engine(model, cfg);
    std::vector<TraceRequest> trace;
    for (int i = 0; i < ph.requests; ++i)
      trace.push_back({int64_t(p) * 1000000 + i, i * ph.arrival_gap_s, ph.prompt, ph.output});
    ReplayOptions opt;
    opt.real_time = false;
    opt.prompt_seed = prompt_seed;
    ReplayResult r = replay(engine, trace, opt);
    double end = offset;
    for (ReplayIteration it : r.iterations) {
      it.start_s += offset;
      end = std::max(end, it.start_s + it.duration_s);
      all.iterations.push_back(it);
    }
    for (ReplayRequest q : r.requests) {
      q.arrival_s += offset;
      q.first_token_s += offset;
      q.finish_s += offset;
      all.requests.push_back(q);
    }
    all.wall_s += r.wall_s;
    all.kv_blocks = r.kv_blocks;
    all.kv_blocks_free_at_end = r.kv_blocks_free_at_end;
    offset = end;
  }
  return all;
}

}  // namespace aif::kernels
