// A serving replica's GPUs fail and come back (Replica::fail / restore, what failover builds on): the requests it
// held come back with the tokens they had produced, the energy stops at the failure, no stale timer fires, fast mode
// and iteration-level stepping lose the same work, and a restored replica serves like a fresh one.
//
// Every number is by hand from a constant step time of 0.125 s (a power of two: step boundaries are exact sums, so a
// failure can land exactly on one) and decode power (ConstantPerfModel counts every step memory-bound): 2 GPUs x 400
// W busy, 2 x 100 W idle.
//
// White-box test of a class private to sim/ (hence the relative include). Each run is a SimGrid engine with kernel
// timers only, in a forked child (tests/support/sim_child.hpp: one engine per process).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <simgrid/kernel/Timer.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/NetZone.hpp>
#include <stdexcept>
#include <vector>

#include "../../sim/world/src/replica.hpp"
#include "../support/sim_child.hpp"
#include "aif/models/facility_power.hpp"
#include "aif/models/perf.hpp"
#include "aif/models/power.hpp"

using aif::analysis::Outcome;
using aif::analysis::RequestRecord;
using aif::models::ConstantPerfModel;
using aif::models::GpuPowerParams;
using aif::models::SchedulerLimits;
using aif::sim::IncomingRequest;
using aif::sim::LostRequest;
using aif::sim::Replica;
using aif::sim::ReplicaRole;
using simgrid::kernel::timer::Timer;

namespace {

constexpr double DT = 0.125;  // s per step
constexpr int GPUS = 2;
const GpuPowerParams POWER{100, 400, 700};  // idle, decode, prefill, W per GPU
constexpr double BUSY_W = 400.0 * GPUS, IDLE_W = 100.0 * GPUS;

SchedulerLimits limits(int max_num_seqs = 256) {
  SchedulerLimits l;
  l.max_num_seqs = max_num_seqs;
  l.num_blocks = 10000;
  return l;
}

struct Arrival {
  double t;
  int64_t id;
  int32_t prompt, output;
};

// What a run hands back from its child process.
struct RunResult {
  std::vector<RequestRecord> records;  // by id
  std::vector<LostRequest> lost;       // as fail() returned them
  double energy_j = 0, steps = 0, busy_s = 0, events = 0, end_clock = 0;
  double events_at_fail = 0, records_at_fail = 0;
  std::vector<double> extra;  // per test: samples, flags
};

// The test's script, run inside the engine: set timers on the replica; `extra` collects numbers to return.
struct Ctx {
  Replica& replica;
  std::vector<RequestRecord>& done;
  uint64_t& events;
  std::vector<LostRequest>& lost;
  std::vector<double>& extra;
  double& events_at_fail;
  double& records_at_fail;
  // fail() at t, remembering what came back and the counts at that instant; then `after` (same instant).
  void fail_at(double t, std::function<void()> after = {}) {
    Timer::set(t, [this, t, after] {
      std::vector<LostRequest> l = replica.fail(t);
      lost.insert(lost.end(), l.begin(), l.end());
      events_at_fail = static_cast<double>(events);
      records_at_fail = static_cast<double>(done.size());
      if (after) after();
    });
  }
  // Requests of one instant delivered together, then the replica started (as sim/simulation does).
  void arrive_at(double t, std::vector<Arrival> batch) {
    Timer::set(t, [this, batch] {
      for (const Arrival& a : batch) replica.arrive(IncomingRequest{a.id, 0, a.t, a.prompt, a.output});
      replica.start_if_idle();
    });
  }
};

RunResult run(bool fast, const SchedulerLimits& lim, const std::function<void(Ctx&)>& script,
              ReplicaRole role = ReplicaRole::COMBINED) {
  const std::vector<double> out = aif::testing::run_simulation_in_child([&] {
    simgrid::s4u::create_full_zone("replica-failure-test")->create_host("host", 1e9)->seal();
    const ConstantPerfModel perf(DT);
    std::vector<RequestRecord> done;
    uint64_t events = 0;
    aif::sim::ReplicaSinks sinks;
    sinks.request_done = [&done](const RequestRecord& r) { done.push_back(r); };
    sinks.event = [](const aif::analysis::EventRecord&) {};
    sinks.timer_events = &events;
    Replica replica(3, 1, "r3", lim, perf, POWER, GPUS, fast, sinks, role);
    std::vector<LostRequest> lost;
    std::vector<double> extra;
    double events_at_fail = -1, records_at_fail = -1;
    Ctx ctx{replica, done, events, lost, extra, events_at_fail, records_at_fail};
    script(ctx);
    simgrid::s4u::Engine::get_instance()->run();
    const double end = simgrid::s4u::Engine::get_clock();
    replica.finalize(end);
    std::sort(done.begin(), done.end(), [](const RequestRecord& a, const RequestRecord& b) { return a.id < b.id; });
    std::vector<double> v{replica.gpu_energy_j(),
                          static_cast<double>(replica.steps()),
                          replica.busy_s(),
                          static_cast<double>(events),
                          end,
                          events_at_fail,
                          records_at_fail,
                          static_cast<double>(done.size()),
                          static_cast<double>(lost.size()),
                          static_cast<double>(extra.size())};
    for (const RequestRecord& r : done)
      v.insert(v.end(),
               {static_cast<double>(r.id), r.first_token_s, r.finish_s, static_cast<double>(r.generated_tokens),
                static_cast<double>(r.outcome), static_cast<double>(r.replica)});
    for (const LostRequest& l : lost)
      v.insert(v.end(),
               {static_cast<double>(l.request.id), static_cast<double>(l.request.workload), l.request.arrival_s,
                static_cast<double>(l.request.prompt_tokens), static_cast<double>(l.request.output_tokens),
                l.first_token_s, static_cast<double>(l.generated_tokens), static_cast<double>(l.preemptions)});
    v.insert(v.end(), extra.begin(), extra.end());
    return v;
  });
  RunResult r;
  size_t k = 0;
  auto next = [&] { return out.at(k++); };
  r.energy_j = next();
  r.steps = next();
  r.busy_s = next();
  r.events = next();
  r.end_clock = next();
  r.events_at_fail = next();
  r.records_at_fail = next();
  const auto n_done = static_cast<size_t>(next()), n_lost = static_cast<size_t>(next()),
             n_extra = static_cast<size_t>(next());
  for (size_t i = 0; i < n_done; ++i) {
    RequestRecord rec;
    rec.id = static_cast<int64_t>(next());
    rec.first_token_s = next();
    rec.finish_s = next();
    rec.generated_tokens = static_cast<int32_t>(next());
    rec.outcome = static_cast<Outcome>(static_cast<int>(next()));
    rec.replica = static_cast<int32_t>(next());
    r.records.push_back(rec);
  }
  for (size_t i = 0; i < n_lost; ++i) {
    LostRequest l{};
    l.request.id = static_cast<int64_t>(next());
    l.request.workload = static_cast<int32_t>(next());
    l.request.arrival_s = next();
    l.request.prompt_tokens = static_cast<int32_t>(next());
    l.request.output_tokens = static_cast<int32_t>(next());
    l.first_token_s = next();
    l.generated_tokens = static_cast<int32_t>(next());
    l.preemptions = static_cast<int32_t>(next());
    r.lost.push_back(l);
  }
  for (size_t i = 0; i < n_extra; ++i) r.extra.push_back(next());
  return r;
}

// NaN equals NaN here (a first token that never came).
bool same_time(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void expect_same_lost(const std::vector<LostRequest>& a, const std::vector<LostRequest>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].request.id, b[i].request.id);
    EXPECT_EQ(a[i].request.arrival_s, b[i].request.arrival_s);
    EXPECT_EQ(a[i].request.output_tokens, b[i].request.output_tokens);
    EXPECT_TRUE(same_time(a[i].first_token_s, b[i].first_token_s)) << "request " << a[i].request.id;
    EXPECT_EQ(a[i].generated_tokens, b[i].generated_tokens) << "request " << a[i].request.id;
    EXPECT_EQ(a[i].preemptions, b[i].preemptions);
  }
}

const char* mode_name(bool fast) { return fast ? "fast" : "iteration-level"; }

}  // namespace

// Three requests decode together (max_num_seqs 3) and a fourth waits for a seat; the replica fails 3.5 steps in.
// By hand: step 1 (0 to 0.125 s) prefills the three prompts and gives their first token at 0.125 s, steps 2 and 3
// decode one token each, step 4 is cut at 0.4375 s: 3 tokens each, the fourth request none. Energy: busy from 0 to
// the failure, 800 W x 0.4375 s = 350 J; busy time 0.4375 s (3 whole steps and the half that was lost).
TEST(ReplicaFailure, FailMidDecodeReturnsEveryRequestItHeld) {
  const double t_fail = 3.5 * DT;
  for (bool fast : {false, true}) {
    const RunResult r = run(fast, limits(3), [&](Ctx& c) {
      c.arrive_at(0, {{0, 0, 16, 20}, {0, 1, 16, 30}, {0, 2, 16, 40}, {0, 3, 16, 10}});
      // Just after the failure: what the replica says about itself, and arrivals refused.
      c.fail_at(t_fail, [&c, t_fail] {
        Replica& rep = c.replica;
        c.extra.push_back(rep.down());
        c.extra.push_back(rep.gpu_power_w(t_fail));
        c.extra.push_back(rep.running() + rep.waiting());
        c.extra.push_back(static_cast<double>(rep.outstanding_tokens(t_fail)));
        c.extra.push_back(rep.accepting());
        int threw = 0;
        try {
          rep.arrive(IncomingRequest{9, 0, t_fail, 16, 4});
        } catch (const std::logic_error&) {
          ++threw;
        }
        try {
          rep.arrive_prefilled(IncomingRequest{9, 0, t_fail, 16, 4}, t_fail);
        } catch (const std::logic_error&) {
          ++threw;
        }
        rep.start_if_idle();  // no effect on a down replica
        c.extra.push_back(threw);
      });
    });
    std::printf("[%s] failed at %.4f s: %zu requests back; generated", mode_name(fast), t_fail, r.lost.size());
    for (const LostRequest& l : r.lost) std::printf(" %d", l.generated_tokens);
    std::printf(" (by hand 3 3 3 0); first tokens %.4f %.4f %.4f %g (by hand 0.125 x3, nan)\n", r.lost[0].first_token_s,
                r.lost[1].first_token_s, r.lost[2].first_token_s, r.lost[3].first_token_s);
    std::printf(
        "[%s] energy %.6f J (by hand %.6f J), busy %.6f s (%.6f s), steps %.0f (3), timer events %.0f at the "
        "failure and %.0f at the end, engine stopped at %.4f s\n",
        mode_name(fast), r.energy_j, BUSY_W * t_fail, r.busy_s, t_fail, r.steps, r.events_at_fail, r.events,
        r.end_clock);
    ASSERT_EQ(r.lost.size(), 4u);
    for (size_t i = 0; i < 4; ++i) {
      const LostRequest& l = r.lost[i];
      EXPECT_EQ(l.request.id, static_cast<int64_t>(i));  // id order
      EXPECT_EQ(l.request.arrival_s, 0.0);
      EXPECT_EQ(l.request.prompt_tokens, 16);
      EXPECT_EQ(l.preemptions, 0);
      if (i < 3) {
        EXPECT_EQ(l.generated_tokens, 3) << mode_name(fast) << " request " << i;
        EXPECT_EQ(l.first_token_s, DT);
      } else {
        EXPECT_EQ(l.generated_tokens, 0);
        EXPECT_TRUE(std::isnan(l.first_token_s));
      }
    }
    EXPECT_EQ(r.lost[1].request.output_tokens, 30);  // as first given
    EXPECT_TRUE(r.records.empty()) << "finalize records nothing for a down replica";
    EXPECT_NEAR(r.energy_j, BUSY_W * t_fail, 1e-9);
    EXPECT_NEAR(r.busy_s, t_fail, 1e-12);
    EXPECT_EQ(r.steps, 3);
    // No timer of the replica fired after the failure, and none was left: the engine stopped at the failure.
    EXPECT_EQ(r.events, r.events_at_fail);
    EXPECT_EQ(r.end_clock, t_fail);
    ASSERT_EQ(r.extra.size(), 6u);
    EXPECT_EQ(r.extra[0], 1);  // down()
    EXPECT_EQ(r.extra[1], 0);  // gpu_power_w
    EXPECT_EQ(r.extra[2], 0);  // running + waiting
    EXPECT_EQ(r.extra[3], 0);  // outstanding tokens
    EXPECT_EQ(r.extra[4], 0);  // accepting()
    EXPECT_EQ(r.extra[5], 2);  // arrive and arrive_prefilled threw
  }
}

// Outputs of 5, 10 and 40 tokens: request 0 finishes at step 5 (0.625 s), request 1 at step 10 (1.25 s); in fast
// mode steps 2-5, 6-10 and 11-40 are steady windows. Failures inside the long window (at 23.5 steps), exactly at its
// 23rd step boundary, and exactly when request 1 finishes (the end of a window, its timer due at that instant): the
// steps that ended by the failure are kept in both modes, the two finished requests recorded FINISHED at their
// iteration-level times, and request 2 comes back with one token per step done.
TEST(ReplicaFailure, FastModeKeepsTheWindowStepsBeforeTheFailure) {
  struct Case {
    double t_fail;
    int steps_done;
    int finished;
  };
  for (const Case& k : {Case{23.5 * DT, 23, 2}, Case{23 * DT, 23, 2}, Case{10 * DT, 10, 2}, Case{7.25 * DT, 7, 1}}) {
    RunResult res[2];
    for (bool fast : {false, true}) {
      res[fast] = run(fast, limits(), [&](Ctx& c) {
        c.arrive_at(0, {{0, 0, 16, 5}, {0, 1, 16, 10}, {0, 2, 16, 40}});
        c.fail_at(k.t_fail);
      });
      const RunResult& r = res[fast];
      std::printf("[%s] fail at %.4f s: finished", mode_name(fast), k.t_fail);
      for (const RequestRecord& rec : r.records)
        std::printf(" #%lld at %.4f s", static_cast<long long>(rec.id), rec.finish_s);
      std::printf("; lost");
      for (const LostRequest& l : r.lost)
        std::printf(" #%lld with %d tokens", static_cast<long long>(l.request.id), l.generated_tokens);
      std::printf(" (by hand %d); energy %.6f J (%.6f J); steps %.0f (%d); timer events %.0f\n", k.steps_done,
                  r.energy_j, BUSY_W * k.t_fail, r.steps, k.steps_done, r.events);
      ASSERT_EQ(r.records.size(), static_cast<size_t>(k.finished));
      const double finish[2] = {5 * DT, 10 * DT};
      for (size_t i = 0; i < r.records.size(); ++i) {
        EXPECT_EQ(r.records[i].outcome, Outcome::FINISHED);
        EXPECT_EQ(r.records[i].first_token_s, DT);
        EXPECT_EQ(r.records[i].finish_s, finish[i]);
        EXPECT_EQ(r.records[i].generated_tokens, i == 0 ? 5 : 10);
      }
      ASSERT_EQ(r.lost.size(), static_cast<size_t>(3 - k.finished));
      EXPECT_EQ(r.lost.back().request.id, 2);
      EXPECT_EQ(r.lost.back().generated_tokens, k.steps_done);
      EXPECT_EQ(r.lost.back().first_token_s, DT);
      EXPECT_NEAR(r.energy_j, BUSY_W * k.t_fail, 1e-9);
      EXPECT_NEAR(r.busy_s, k.t_fail, 1e-12);
      EXPECT_EQ(r.steps, k.steps_done);
      EXPECT_EQ(r.end_clock, k.t_fail);
      EXPECT_EQ(r.events, r.events_at_fail);
    }
    expect_same_lost(res[0].lost, res[1].lost);
    EXPECT_EQ(res[0].energy_j, res[1].energy_j);
    EXPECT_EQ(res[0].busy_s, res[1].busy_s);
  }
}

// Down from 0.4375 s to 0.625 s (the clock is set to 0.5 meanwhile), then a request of 16 + 4 tokens arrives at
// 0.75 s. By hand, as on a fresh replica: first token at 0.875 s, finish at 0.75 + 4 x 0.125 = 1.25 s. Energy: 350 J
// busy before the failure, nothing while down, 200 W idle x 0.125 s, then 4 steps at clock 0.5: per GPU
// 100 + (400 - 100) x 0.5^2.5 W, and idle again to the end of the run at 1.5 s.
TEST(ReplicaFailure, RestoredReplicaServesLikeAFreshOne) {
  const double t_fail = 3.5 * DT, t_restore = 5 * DT, t_arrive = 6 * DT, t_end = 12 * DT;
  const double busy_half_clock_w = GPUS * (100 + 300 * std::pow(0.5, 2.5));
  for (bool fast : {false, true}) {
    const RunResult r = run(fast, limits(), [&](Ctx& c) {
      c.arrive_at(0, {{0, 0, 16, 20}, {0, 1, 16, 30}, {0, 2, 16, 40}});
      c.fail_at(t_fail);
      Timer::set(4 * DT, [&c] { c.replica.set_clock_fraction(0.5); });
      Timer::set(4.5 * DT, [&c] { c.extra.push_back(c.replica.gpu_power_w(4.5 * DT)); });
      Timer::set(t_restore, [&c, t_restore] {
        c.replica.restore(t_restore);
        c.replica.start_if_idle();
        c.extra.push_back(c.replica.clock_fraction());
        c.extra.push_back(c.replica.down());
        c.extra.push_back(c.replica.accepting());
      });
      Timer::set(5.5 * DT, [&c] { c.extra.push_back(c.replica.gpu_power_w(5.5 * DT)); });
      c.arrive_at(t_arrive, {{t_arrive, 10, 16, 4}});
      Timer::set(t_end, [] {});  // the run ends here
    });
    const RunResult fresh = run(fast, limits(), [&](Ctx& c) {
      c.replica.set_clock_fraction(0.5);
      c.arrive_at(t_arrive, {{t_arrive, 10, 16, 4}});
      Timer::set(t_end, [] {});
    });
    const double energy = BUSY_W * t_fail + IDLE_W * (t_arrive - t_restore) + busy_half_clock_w * 4 * DT +
                          IDLE_W * (t_end - (t_arrive + 4 * DT));
    ASSERT_EQ(r.records.size(), 1u);
    ASSERT_EQ(fresh.records.size(), 1u);
    const RequestRecord& a = r.records[0];
    std::printf(
        "[%s] after restore: first token %.4f s, finish %.4f s (fresh replica %.4f s, %.4f s; by hand 0.875, "
        "1.25); energy %.6f J (by hand %.6f J); power while down %.1f W, idle after restore %.1f W\n",
        mode_name(fast), a.first_token_s, a.finish_s, fresh.records[0].first_token_s, fresh.records[0].finish_s,
        r.energy_j, energy, r.extra.at(0), r.extra.at(4));
    EXPECT_EQ(a.outcome, Outcome::FINISHED);
    EXPECT_EQ(a.replica, 3);
    EXPECT_EQ(a.first_token_s, t_arrive + DT);
    EXPECT_EQ(a.finish_s, t_arrive + 4 * DT);
    EXPECT_EQ(a.first_token_s, fresh.records[0].first_token_s);
    EXPECT_EQ(a.finish_s, fresh.records[0].finish_s);
    EXPECT_EQ(r.lost.size(), 3u);
    EXPECT_NEAR(r.energy_j, energy, 1e-9);
    EXPECT_EQ(r.steps, 3 + 4);
    EXPECT_NEAR(r.busy_s, t_fail + 4 * DT, 1e-12);
    ASSERT_EQ(r.extra.size(), 5u);
    EXPECT_EQ(r.extra[0], 0);    // down: no power
    EXPECT_EQ(r.extra[1], 0.5);  // the clock set while down
    EXPECT_EQ(r.extra[2], 0);    // down() after restore
    EXPECT_EQ(r.extra[3], 1);    // accepting()
    EXPECT_EQ(r.extra[4], IDLE_W);
  }
}

// A replica prefilled elsewhere (DECODE role) holds requests received with their first token: they come back with
// it, and with one more token per decode step done (2 steps before a failure at 2.5 steps: 1 + 2 tokens).
TEST(ReplicaFailure, DecodeReplicaReturnsReceivedRequests) {
  const double t_fail = 2.5 * DT;
  for (bool fast : {false, true}) {
    const RunResult r = run(
        fast, limits(),
        [&](Ctx& c) {
          Timer::set(0, [&c] {
            c.replica.arrive_prefilled(IncomingRequest{4, 0, -0.5, 16, 10}, -0.25);
            c.replica.arrive_prefilled(IncomingRequest{7, 0, -0.4, 16, 12}, -0.2);
            c.replica.start_if_idle();
          });
          c.fail_at(t_fail);
        },
        ReplicaRole::DECODE);
    std::printf("[%s] decode replica failed at %.4f s: generated %d and %d (by hand 3, 3), energy %.6f J (%.6f J)\n",
                mode_name(fast), t_fail, r.lost.at(0).generated_tokens, r.lost.at(1).generated_tokens, r.energy_j,
                BUSY_W * t_fail);
    ASSERT_EQ(r.lost.size(), 2u);
    EXPECT_EQ(r.lost[0].request.id, 4);
    EXPECT_EQ(r.lost[0].first_token_s, -0.25);
    EXPECT_EQ(r.lost[0].request.arrival_s, -0.5);
    EXPECT_EQ(r.lost[1].request.id, 7);
    EXPECT_EQ(r.lost[1].first_token_s, -0.2);
    for (const LostRequest& l : r.lost) EXPECT_EQ(l.generated_tokens, 3);
    EXPECT_NEAR(r.energy_j, BUSY_W * t_fail, 1e-9);
    EXPECT_TRUE(r.records.empty());
  }
}

// An idle replica fails with nothing to return (idle energy up to the failure, 200 W x 1 s); failing it again and
// restoring a live replica are errors; after a restore it can fail again (on its queued requests).
TEST(ReplicaFailure, IdleFailTwiceAndRestoreOfALiveReplica) {
  const RunResult r = run(false, limits(), [&](Ctx& c) {
    Timer::set(0.5, [&c] {
      int threw = 0;
      try {
        c.replica.restore(0.5);
      } catch (const std::logic_error&) {
        ++threw;
      }
      c.extra.push_back(threw);
    });
    c.fail_at(1.0, [&c] {
      int threw = 0;
      try {
        c.replica.fail(1.0);
      } catch (const std::logic_error&) {
        ++threw;
      }
      c.extra.push_back(threw);
      c.extra.push_back(static_cast<double>(c.lost.size()));
      c.replica.restore(1.0);       // back at once
      c.replica.set_loading(true);  // weights on their way: it queues but runs nothing
    });
    c.arrive_at(1.5, {{1.5, 0, 16, 4}});
    Timer::set(2.0, [&c] {
      const std::vector<LostRequest> l = c.replica.fail(2.0);
      c.extra.push_back(static_cast<double>(l.size()));
      c.extra.push_back(l.empty() ? -1 : l[0].generated_tokens);
    });
  });
  std::printf(
      "idle replica: %.0f returned at its failure; energy %.6f J (by hand 200 W x 1 s + 200 W x 1 s while "
      "loading = 400 J); restore of a live replica threw %.0f, fail twice threw %.0f; the queued request came "
      "back with %.0f tokens\n",
      r.extra.at(2), r.energy_j, r.extra.at(0), r.extra.at(1), r.extra.at(4));
  ASSERT_EQ(r.extra.size(), 5u);
  EXPECT_EQ(r.extra[0], 1);
  EXPECT_EQ(r.extra[1], 1);
  EXPECT_EQ(r.extra[2], 0);  // nothing held at the first failure
  EXPECT_EQ(r.extra[3], 1);  // the request queued while loading
  EXPECT_EQ(r.extra[4], 0);
  EXPECT_NEAR(r.energy_j, IDLE_W * 1.0 + IDLE_W * 1.0, 1e-9);
  EXPECT_EQ(r.steps, 0);
  EXPECT_TRUE(r.records.empty());
}

// The record a caller writes for a lost request it does not retry: DROPPED, this replica, the caller's service, the
// request's own fields and times; no finish time (it never finished).
TEST(ReplicaFailure, DroppedRecordFields) {
  const ConstantPerfModel perf(DT);
  aif::sim::ReplicaSinks sinks;
  const Replica replica(5, 1, "r5", limits(), perf, POWER, GPUS, true, sinks);
  const LostRequest lost{IncomingRequest{42, 2, 3.25, 100, 200}, 3.75, 17, 1};
  const RequestRecord rec = replica.dropped_record(lost, 4);
  std::printf(
      "dropped record: id %lld, workload %d, service %d, replica %d, arrival %.2f s, first token %.2f s, "
      "finish %g, tokens %d/%d of prompt %d, preemptions %d\n",
      static_cast<long long>(rec.id), rec.workload, rec.service, rec.replica, rec.arrival_s, rec.first_token_s,
      rec.finish_s, rec.generated_tokens, rec.output_tokens, rec.prompt_tokens, rec.preemptions);
  EXPECT_EQ(rec.outcome, Outcome::DROPPED);
  EXPECT_EQ(rec.id, 42);
  EXPECT_EQ(rec.workload, 2);
  EXPECT_EQ(rec.service, 4);
  EXPECT_EQ(rec.replica, 5);
  EXPECT_EQ(rec.arrival_s, 3.25);
  EXPECT_EQ(rec.first_token_s, 3.75);
  EXPECT_TRUE(std::isnan(rec.finish_s));
  EXPECT_EQ(rec.prompt_tokens, 100);
  EXPECT_EQ(rec.output_tokens, 200);
  EXPECT_EQ(rec.generated_tokens, 17);
  EXPECT_EQ(rec.preemptions, 1);
  const LostRequest never{IncomingRequest{43, 0, 1.0, 8, 8}, std::nan(""), 0, 0};
  EXPECT_TRUE(std::isnan(replica.dropped_record(never, 1).first_token_s));
}
