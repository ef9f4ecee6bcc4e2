// The floor under every serving figure: a bare SimGrid timer loop, no model. The simulator's fast mode posts kernel
// timers (simgrid::kernel::timer::Timer::set) and runs the engine; each replica is a chain of timers (a step ends, the
// next is posted a step time later), many replicas at once. This program does exactly that and nothing else: CHAINS
// chains of timers, each firing EVENTS / CHAINS times at a step drawn from a fixed cycle, and prints the events per
// wall-second. bench/run.sh prints the simulator's figures as ratios to it, measured in the same run, so that the
// figures compare across machines.
//
//   bench_timer_loop [EVENTS=4000000] [CHAINS=1000]
#include <simgrid/kernel/Timer.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/NetZone.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

namespace {

struct Chain {
  long left = 0;
  size_t phase = 0;
};

// Step times like a replica's: 10 to 60 ms, varied so that chains interleave and the heap keeps reordering.
constexpr double STEPS_S[] = {0.0137, 0.0213, 0.0481, 0.0102, 0.0329, 0.0598, 0.0175};
constexpr size_t STEP_COUNT = sizeof STEPS_S / sizeof STEPS_S[0];

std::vector<Chain> chains;
long fired = 0;

void fire(size_t c) {
  ++fired;
  Chain& chain = chains[c];
  if (--chain.left <= 0) return;
  chain.phase = (chain.phase + 1) % STEP_COUNT;
  const double next = simgrid::s4u::Engine::get_clock() + STEPS_S[chain.phase];
  simgrid::kernel::timer::Timer::set(next, [c] { fire(c); });
}

}  // namespace

int main(int argc, char** argv) {
  const long events = argc > 1 ? std::atol(argv[1]) : 4000000;
  const long n = argc > 2 ? std::atol(argv[2]) : 1000;
  if (events <= 0 || n <= 0) {
    std::fprintf(stderr, "usage: bench_timer_loop [EVENTS > 0] [CHAINS > 0]\n");
    return 2;
  }
  int sg_argc = 1;
  char* sg_argv[] = {argv[0], nullptr};
  simgrid::s4u::Engine engine(&sg_argc, sg_argv);
  // One host, as a platform must have (timers need no actor and no host).
  simgrid::s4u::NetZone* zone = simgrid::s4u::create_full_zone("bench");
  zone->create_host("host", 1e9)->seal();
  zone->seal();
  chains.assign(static_cast<size_t>(n), Chain{events / n, 0});
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t c = 0; c < chains.size(); ++c) {
    chains[c].phase = c % STEP_COUNT;
    simgrid::kernel::timer::Timer::set(STEPS_S[chains[c].phase] * (1 + 0.001 * static_cast<double>(c)),
                                       [c] { fire(c); });
  }
  engine.run();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("timer loop   %ld events in %ld chains: %.3f s wall, %.0f events/s (simulated %.1f s)\n", fired, n, wall,
              static_cast<double>(fired) / wall, simgrid::s4u::Engine::get_clock());
  return 0;
}
