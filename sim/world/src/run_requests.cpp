// Requests: arrivals, routing to a replica, the prefill-to-decode handoff, and what a finished request adds up.
#include "run.hpp"

#include <cstdio>

namespace aif::sim {

void Run::start_workload(size_t index) {
  for (size_t s = 0; s < sc_.services.size(); ++s)
    if (sc_.services[s].name == sc_.workloads[index].service) workload_service_.push_back(s);
  arrivals_.push_back(make_arrivals(sc_, sc_.workloads[index], index));
  pending_.emplace_back();
  ++active_workloads_;
  schedule_next_arrival(index);
}

void Run::schedule_next_arrival(size_t index) {
  pending_[index] = arrivals_[index]->next();
  schedule_pending_arrival(index);
}

void Run::schedule_pending_arrival(size_t index) {
  if (!pending_[index]) {
    --active_workloads_;
    return;
  }
  Timer::set(pending_[index]->time_s, [this, index] {
    ++events_;
    // Deliver every arrival of this instant before any idle replica starts its first step.
    const double now = pending_[index]->time_s;
    std::vector<Replica*> touched;
    const bool hold = sc_.workloads[index].deferrable && power_ && power_->hold_deferrable(now);
    while (pending_[index] && pending_[index]->time_s == now) {
      if (hold) {
        held_[index].push_back(*pending_[index]);  // released by release_held(), its arrival time kept
        ++held_count_;
        check_backlog(index, now);
      } else {
        deliver(index, *pending_[index], touched);
      }
      pending_[index] = arrivals_[index]->next();
    }
    for (Replica* r : touched) r->start_if_idle();
    schedule_pending_arrival(index);
  });
}

void Run::check_backlog(size_t workload, double now) {
  if (opt_.max_requests_held <= 0 || in_flight_ + held_count_ <= opt_.max_requests_held || !backlog_.empty()) return;
  char what[320];
  std::snprintf(what, sizeof what,
                "%lld requests arrived and not done at t = %.1f s, above the bound of %lld (the last was for service "
                "'%s')", static_cast<long long>(in_flight_ + held_count_), now,
                static_cast<long long>(opt_.max_requests_held), sc_.workloads[workload].service.c_str());
  backlog_ = what;
}

void Run::deliver(size_t index, const models::Arrival& a, std::vector<Replica*>& touched) {
  Service& svc = services_[workload_service_[index]];
  ++svc.arrived;
  ++arrived_;
  ++in_flight_;
  check_backlog(index, a.time_s);
  IncomingRequest request{next_request_id_++, static_cast<int32_t>(index), a.time_s, a.prompt_tokens,
                          a.output_tokens};
  request.prefix_chain = a.prefix_chain;
  request.chain_block_tokens = a.chain_block_tokens;
  if (const int prefix = sc_.workloads[index].shared_prefix_tokens; prefix > 0) {
    request.prefix_group = static_cast<int32_t>(index);  // one shared prefix per workload
    request.prefix_tokens = std::min(prefix, a.prompt_tokens);
  }
  if (!any_live(svc.entry)) {
    svc.orphans.push_back(request);  // the whole service is down: it waits for the first replica back
    return;
  }
  Replica& replica = route(svc, simgrid::s4u::Engine::get_clock(), request);
  replica.arrive(request);
  touched.push_back(&replica);
}

// Held deferrable arrivals go once the policies let them, or when their deadline (arrival + deadline) has come.
void Run::release_held(double now) {
  if (held_count_ == 0) return;
  const bool hold = power_->hold_deferrable(now);
  std::vector<Replica*> touched;
  for (size_t w = 0; w < held_.size(); ++w) {
    const double deadline = sc_.workloads[w].deadline_s;
    while (!held_[w].empty() && (!hold || held_[w].front().time_s + deadline <= now)) {
      deliver(w, held_[w].front(), touched);
      held_[w].pop_front();
      --held_count_;
    }
  }
  for (Replica* r : touched) r->start_if_idle();
}

Replica& Run::route(Service& svc, double now, const IncomingRequest& r) {
  if (svc.config->router == RouterPolicy::CACHE_AWARE && r.prefix_chain && svc.config->scheduler.prefix_caching) {
    // The replicas of a service share one block size: the prompt's block hashes are computed once.
    const auto hashes = models::prompt_block_hashes(*r.prefix_chain, r.chain_block_tokens,
                                                    svc.config->scheduler.block_size, r.prompt_tokens);
    return pick(svc.entry, svc.next_rr, svc.config->router, now, &hashes);
  }
  return pick(svc.entry, svc.next_rr, svc.config->router, now);
}

bool Run::any_live(const std::vector<Replica*>& replicas) {
  return std::any_of(replicas.begin(), replicas.end(), [](const Replica* r) { return r->accepting(); });
}

// Down replicas are skipped (the caller checks any_live first).
Replica& Run::pick(std::vector<Replica*>& replicas, size_t& next_rr, RouterPolicy policy, double now,
                   const std::vector<uint64_t>* prompt_blocks) {
  if (policy == RouterPolicy::ROUND_ROBIN) {
    for (size_t tries = 0; tries < replicas.size(); ++tries) {
      Replica& r = *replicas[next_rr];
      next_rr = (next_rr + 1) % replicas.size();
      if (r.accepting()) return r;
    }
    throw std::logic_error("Run::pick: every replica is down");
  }
  // Least outstanding tokens (less the cached prompt tokens, given the prompt's blocks); ties go to the lowest index
  // (deterministic).
  Replica* best = nullptr;
  int64_t best_tokens = 0;
  for (Replica* r : replicas) {
    if (!r->accepting()) continue;
    const int64_t t = r->outstanding_tokens(now) - (prompt_blocks ? r->cached_prefix_tokens(*prompt_blocks) : 0);
    if (!best || t < best_tokens) best = r, best_tokens = t;
  }
  if (!best) throw std::logic_error("Run::pick: every replica is down");
  return *best;
}

// The prompt's KV cache moves from the prefill replica to a decode replica over the fabric: GPU i of one tensor-
// parallel group to GPU i of the other, each carrying its 1/tp share of the heads. The request joins the decode
// replica's queue once the last byte is in.
// A prefilled request whose KV has nowhere to go (no live decode replica, or it failed): retried from scratch or
// dropped, by ops.inference.on_failure.
void Run::restart_prefilled(Service& svc, const IncomingRequest& r, double first_token_s, int replica) {
  analysis::RequestRecord dropped;
  dropped.id = r.id;
  dropped.workload = r.workload;
  dropped.service = static_cast<int32_t>(&svc - services_.data());
  dropped.replica = replica;
  dropped.arrival_s = r.arrival_s;
  dropped.first_token_s = first_token_s;
  dropped.prompt_tokens = r.prompt_tokens;
  dropped.output_tokens = r.output_tokens;
  dropped.generated_tokens = 1;
  dropped.outcome = analysis::Outcome::DROPPED;
  dropped.cached_tokens = r.cached_tokens;
  IncomingRequest again = r;
  again.cached_tokens = 0;  // a retry's prefill finds what the cache holds then
  std::vector<Replica*> touched;
  retry_or_drop(svc, again, dropped, touched);
  for (Replica* t : touched) t->start_if_idle();
}

void Run::on_prefill_done(const IncomingRequest& r, double first_token_s, int replica) {
  ++events_;
  const double now = simgrid::s4u::Engine::get_clock();
  Service& svc = services_[workload_service_[static_cast<size_t>(r.workload)]];
  if (!any_live(svc.decode)) {
    // No decode replica to take the KV: the request starts over when one is back (or is dropped).
    restart_prefilled(svc, r, first_token_s, replica);
    return;
  }
  Replica& dst = pick(svc.decode, svc.next_rr_decode, svc.config->router, now);
  const int tp = svc.config->gpus_per_replica();  // each GPU holds its heads (and its stage's layers) of the KV
  const double bytes = r.prompt_tokens * svc.kv_bytes_per_token;
  std::vector<Flow> flows;
  for (int i = 0; i < tp; ++i)
    flows.push_back({platform_.gpus[static_cast<size_t>(replica_first_gpu_[static_cast<size_t>(replica)] + i)],
                     platform_.gpus[static_cast<size_t>(replica_first_gpu_[static_cast<size_t>(dst.index())] + i)],
                     bytes / tp});
  start_transfer("kv-" + std::to_string(r.id), std::move(flows),
                 [this, &svc, &dst, r, first_token_s, bytes](double start, double end) {
                   ++events_;
                   ++svc.kv_transfers;
                   svc.kv_transfer_bytes += bytes;
                   svc.kv_transfer_s.add(end - start);
                   if (dst.down()) {  // failed while the KV was on its way: start over elsewhere
                     restart_prefilled(svc, r, first_token_s, dst.index());
                     return;
                   }
                   dst.arrive_prefilled(r, first_token_s);
                   dst.start_if_idle();
                 });
}

// Each GPU of the replica reads its 1/(tp pp) share of the weights from a storage node (spread over the nodes by GPU);
// the replica serves once every share is in.
void Run::on_request_done(const analysis::RequestRecord& r) {
  writer_.add_request(r);
  --in_flight_;
  Service& svc = services_[static_cast<size_t>(r.service)];
  if (r.outcome == analysis::Outcome::REJECTED) ++rejected_;
  if (r.outcome == analysis::Outcome::UNFINISHED) ++unfinished_;
  if (r.outcome == analysis::Outcome::DROPPED) ++dropped_;
  if (r.outcome != analysis::Outcome::FINISHED) return;
  ++finished_;
  ++svc.finished;
  input_tokens_ += r.prompt_tokens;
  output_tokens_ += r.generated_tokens;
  svc.output_tokens += r.generated_tokens;
  svc.prompt_tokens += r.prompt_tokens;
  svc.cached_tokens += r.cached_tokens;
  last_finish_ = std::max(last_finish_, r.finish_s);
  const double ttft = r.first_token_s - r.arrival_s, e2e = r.finish_s - r.arrival_s;
  if (opt_.progress_json) slice_ttft_.push_back(ttft);
  svc.ttft.add(ttft);
  svc.e2e.add(e2e);
  double tpot = 0;
  if (r.generated_tokens > 1) {
    tpot = (r.finish_s - r.first_token_s) / (r.generated_tokens - 1);
    svc.tpot.add(tpot);
  }
  const SloConfig& slo = svc.config->slo;
  const bool met = (slo.ttft_s <= 0 || ttft <= slo.ttft_s) && (slo.e2e_s <= 0 || e2e <= slo.e2e_s) &&
                   (slo.tpot_s <= 0 || r.generated_tokens <= 1 || tpot <= slo.tpot_s);
  if (met) ++svc.slo_met;
}

bool Run::work_left() const { return active_workloads_ > 0 || in_flight_ > 0 || held_count_ > 0; }

// Every replica and training job becomes a consumer the power manager can measure and slow down; what no consumer
// accounts for (server overhead, spare GPUs at idle) is static power per rack.

}  // namespace aif::sim
