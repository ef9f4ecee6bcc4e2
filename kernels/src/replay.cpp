#include "aif/kernels/replay.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <unordered_map>

namespace aif::kernels {

ReplayResult replay(Engine& engine, const std::vector<TraceRequest>& trace, const ReplayOptions& opt) {
  if (!(opt.rate_scale > 0)) throw std::invalid_argument("rate scale must be positive");
  ReplayResult res;
  res.kv_blocks = engine.scheduler().blocks().num_blocks();
  std::vector<size_t> order(trace.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return trace[a].arrival_s < trace[b].arrival_s; });
  std::unordered_map<int64_t, size_t> index;
  for (const TraceRequest& t : trace) {
    ReplayRequest r;
    r.id = t.id;
    r.arrival_s = t.arrival_s / opt.rate_scale;
    r.prompt_tokens = opt.max_prompt_tokens > 0 ? std::min(t.prompt_tokens, opt.max_prompt_tokens) : t.prompt_tokens;
    r.output_tokens = opt.max_output_tokens > 0 ? std::min(t.output_tokens, opt.max_output_tokens) : t.output_tokens;
    r.prompt_tokens = std::max(1, r.prompt_tokens);
    r.output_tokens = std::max(1, r.output_tokens);
    if (!index.emplace(t.id, res.requests.size()).second)
      throw std::invalid_argument("trace has request id " + std::to_string(t.id) + " twice");
    res.requests.push_back(r);
  }

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  double virtual_now = 0;  // the clock when !real_time
  auto now = [&] { return opt.real_time ? std::chrono::duration<double>(Clock::now() - start).count() : virtual_now; };
  size_t next = 0;
  while (true) {
    double t = now();
    if (t > opt.time_limit_s) break;
    while (next < order.size() && res.requests[order[next]].arrival_s <= t) {
      ReplayRequest& r = res.requests[order[next++]];
      // The engine checks tokens against its model; synthetic_prompt needs the vocabulary size.
      const TraceRequest& named = trace[order[next - 1]];
      const bool ok = engine.add_request(r.id,
                                         content_prompt(opt.prompt_seed, r.id, named.block_ids, named.block_tokens,
                                                        r.prompt_tokens, engine.model().shape().vocab),
                                         r.output_tokens);
      r.rejected = !ok;
    }
    if (engine.idle()) {
      if (next == order.size()) break;
      const double wake = res.requests[order[next]].arrival_s;
      if (opt.real_time)
        std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wake)));
      else
        virtual_now = std::max(virtual_now, wake);
      continue;
    }
    const double begin = now();
    const auto t0 = Clock::now();
    const StepReport rep = engine.step();
    const double dur = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!opt.real_time) virtual_now += dur;
    const double end = opt.real_time ? now() : virtual_now;
    if (!rep.plan.empty()) {
      ReplayIteration it;
      it.start_s = begin;
      it.duration_s = dur;
      it.num_seqs = static_cast<int>(rep.plan.chunks.size());
      it.prefill_tokens = rep.prefill_tokens;
      it.decode_tokens = rep.decode_tokens;
      it.context_tokens = rep.context_tokens;
      it.prefill_seqs = rep.plan.shape.prefill_seqs;
      it.sampled_seqs = rep.plan.shape.sampled_seqs;
      it.attended_pairs = rep.plan.shape.attended_pairs;
      it.prefill_attended_pairs = rep.plan.shape.prefill_attended_pairs;
      it.forward_s = rep.forward_s;
      res.iterations.push_back(it);
    }
    for (const models::SeqOutcome& o : rep.outcomes) {
      ReplayRequest& r = res.requests[index.at(o.id)];
      r.generated_tokens = o.generated;
      r.preemptions = o.preemptions;
      r.cached_tokens = o.cached_tokens;
      if (o.first_token) r.first_token_s = end;
      if (o.finished) {
        r.finish_s = end;
        engine.release(o.id);
      }
    }
  }
  res.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  res.kv_blocks_free_at_end = engine.scheduler().blocks().num_free();
  return res;
}

}  // namespace aif::kernels
