// Collective communications (NCCL-style) as SimGrid communications over the platform's fabric, so that collectives
// of different jobs, KV-cache moves and checkpoint traffic share links and slow each other by max-min fair sharing.
//
// Every collective blocks the calling actor (call it from inside one) until the simulated collective is over, and
// returns its simulated time. Ranks are global GPU ids; the order of `gpus` is the ring order (rank i sends to rank
// i + 1). Transfers are host-to-host SimGrid communications (Comm::sendto_async), no receiver actor needed.
//
// Model: the pipelined steady state, with a bounded number of flows.
// NCCL splits a collective into chunks and pipelines them through 2(n-1) ring steps (all-reduce) or n-1 (reduce-
// scatter, all-gather). Simulating every step would start n flows per step, 2(n-1) times. Instead one phase starts,
// concurrently, one flow per ring edge carrying everything that edge carries over the whole collective:
//   all-reduce      rank i -> i+1: 2(n-1)/n * S bytes         2(n-1) steps
//   reduce-scatter  rank i -> i+1:  (n-1)/n * S bytes           n-1  steps
//   all-gather      rank i -> i+1:  (n-1)/n * S bytes           n-1  steps
//   broadcast       rank i -> i+1 (i < n-1), S bytes            n-1  steps (a pipelined chain from gpus[0])
// SimGrid shares links among these flows and any other traffic and charges each flow its route latency once. The
// latency terms of the other steps are then added as a sleep:
//   time = phase + steps * (alpha + step_overhead) - alpha,   alpha = the largest route latency among the flows
// so on an idle fabric, with every ring edge at bottleneck bandwidth B and latency alpha:
//   all-reduce ring      t = 2(n-1)/n * S / B + 2(n-1) * (alpha + o)
//   reduce-scatter ring  t =  (n-1)/n * S / B +  (n-1) * (alpha + o)        (all-gather: the same)
//   broadcast chain      t =            S / B +  (n-1) * (alpha + o)
//   send                 t =            S / B +           alpha + o
// Tree all-reduce: NCCL's double binary tree. Tree A is the in-order binary tree of ranks 0..n-1 (rank 0 the root
// with one child, the highest power of two below n; odd ranks are leaves); tree B is tree A with every rank shifted
// by one, so most ranks are a leaf in one of the trees. Each tree reduces half the buffer up and broadcasts it down,
// pipelined: one phase in which every tree edge carries a flow of S/2 up and one of S/2 down, and 2 * depth steps.
// (Flows of equal size make max-min sharing end them all by the time the busiest link needs for its bytes, as a
// chunk-paced pipeline does; flows merged per pair would be unequal and leave links idle at the end.)
// Idle fabric, every rank behind its own link of bandwidth B per direction:
//   t = L(n) * S / B + 2 d(n) * (alpha + o),  L = the largest bytes a rank sends (= receives) / S, d = tree depth
// (L = 2 and d = floor(log2(n-1)) + 1 for n = 8; L = 1 for n = 2).
// Hierarchical all-reduce over g GPUs in each of m NVLink domains: reduce-scatter inside each domain, all-reduce
// across domains among GPUs of equal local rank (g rings of m ranks, S/g bytes each), all-gather inside the domain.
//   pipelined (default; NCCL overlaps the stages chunk by chunk): one phase with the NVLink ring flows (RS + AG:
//     2(g-1)/g * S each) and the cross-domain ring flows (2(m-1)/m * S/g each) together, then the latency of all
//     2(g-1) + 2(m-1) steps: t = max(a_i + 2(g-1)/g S/B_i, a_e + 2(m-1)/m S/(g B_e)) - max(a_i, a_e)
//                                 + 2(g-1)(a_i + o) + 2(m-1)(a_e + o)
//   sequential (three separate collectives): t = 2(g-1)/g S/B_i + 2(m-1)/m S/(g B_e) + 2(g-1)(a_i + o)
//                                              + 2(m-1)(a_e + o)
// All-to-all: every rank sends S/n to every other rank, all flows at once (n(n-1) flows; above
// max_concurrent_flows, in successive batches of whole shift rounds "rank i -> i + k"), one step per batch.
// Idle fabric, every rank behind its own link of bandwidth B: t = (n-1)/n * S / B + alpha + o.
//
// Flows started at once: ring n, broadcast n-1, tree <= 4(n-1), hierarchical <= 2n, all-to-all
// min(n(n-1), max_concurrent_flows). SimGrid's max-min solve stays fast below a few thousand concurrent flows
// (shared/simgrid-3.32/README.md: 4,000 in 0.1 s, 20,000 in minutes).
//
// Not modelled: the chunk-level pipeline fill beyond the per-step latency, NVLink SHARP / in-network reduction,
// reduction compute, protocol (LL/LL128/Simple) choice. A link failing during a collective makes it throw
// simgrid::NetworkFailureException (SimGrid fails the flows crossing the link).
//
// Sizes follow nccl-tests: S is the per-rank buffer of all-reduce and broadcast, the full (n-chunk) buffer of
// reduce-scatter, all-gather and all-to-all. algbw = S / t. busbw (nccl-tests' bus bandwidth) = algbw times
// 2(n-1)/n for all-reduce, (n-1)/n for reduce-scatter, all-gather and all-to-all, 1 for broadcast and send: the
// bandwidth the busiest link of an ideal ring sees, comparable to the hardware's link bandwidth.
//
// Units: bytes, seconds, bytes/s.
#pragma once
#include <string>
#include <vector>

#include <simgrid/s4u/Host.hpp>

#include "aif/world/platform.hpp"

namespace aif::sim {

enum class CollectiveOp { ALL_REDUCE, REDUCE_SCATTER, ALL_GATHER, ALL_TO_ALL, BROADCAST, SEND };
const char* to_string(CollectiveOp op);

struct CollectiveOptions {
  double step_overhead_s = 0;       // o: added per algorithm step (kernel launch, synchronisation), >= 0
  int max_concurrent_flows = 4000;  // all-to-all: most flows started at once, >= 1
  bool pipelined = true;            // hierarchical all-reduce: overlap the three stages (see above)
};

struct CollectiveResult {
  CollectiveOp op = CollectiveOp::ALL_REDUCE;
  int ranks = 0;
  double bytes = 0;   // S
  double time_s = 0;  // simulated
  double algbw = 0;   // S / time_s; 0 when nothing moved (one rank or zero time)
  double busbw = 0;   // algbw * bus_factor(op, ranks)
  int max_flows = 0;  // most flows started at once
};

// nccl-tests' bus bandwidth factor: 2(n-1)/n for ALL_REDUCE, (n-1)/n for REDUCE_SCATTER, ALL_GATHER and ALL_TO_ALL,
// 1 for BROADCAST and SEND (0 for n <= 1).
double bus_factor(CollectiveOp op, int ranks);

// Collectives. Throw std::invalid_argument for an empty group, a GPU id twice or not on the platform, bytes < 0 or
// not finite, bad options; std::logic_error when not called from an actor. One rank: no transfer, time 0.
CollectiveResult all_reduce_ring(const Platform& platform, const std::vector<int>& gpus, double bytes,
                                 const CollectiveOptions& options = {});
CollectiveResult all_reduce_tree(const Platform& platform, const std::vector<int>& gpus, double bytes,
                                 const CollectiveOptions& options = {});
// Also throws std::invalid_argument when the group's NVLink domains hold different numbers of its GPUs. Local rank
// = order of appearance in `gpus` within the domain; domains are ordered by their first GPU in `gpus`.
CollectiveResult all_reduce_hierarchical(const Platform& platform, const std::vector<int>& gpus, double bytes,
                                         const CollectiveOptions& options = {});
CollectiveResult reduce_scatter_ring(const Platform& platform, const std::vector<int>& gpus, double bytes,
                                     const CollectiveOptions& options = {});
CollectiveResult all_gather_ring(const Platform& platform, const std::vector<int>& gpus, double bytes,
                                 const CollectiveOptions& options = {});
CollectiveResult all_to_all(const Platform& platform, const std::vector<int>& gpus, double bytes,
                            const CollectiveOptions& options = {});
// Root: gpus[0].
CollectiveResult broadcast_ring(const Platform& platform, const std::vector<int>& gpus, double bytes,
                                const CollectiveOptions& options = {});
CollectiveResult send(const Platform& platform, int src_gpu, int dst_gpu, double bytes,
                      const CollectiveOptions& options = {});
// Any two hosts (e.g. a storage node and a GPU); src != dst.
CollectiveResult send(simgrid::s4u::Host* src, simgrid::s4u::Host* dst, double bytes,
                      const CollectiveOptions& options = {});

// Idle-fabric closed forms of the models above (pure functions; tests hold the simulation to them). `bandwidth` B is
// the bottleneck bandwidth of one flow with no other traffic, `latency_s` alpha its route latency; step_overhead_s o.
struct PathCost {
  double bandwidth = 0;
  double latency_s = 0;
};
namespace predict {
// ALL_REDUCE, REDUCE_SCATTER, ALL_GATHER and BROADCAST over a ring (chain), or SEND (n = 2).
double ring_time(CollectiveOp op, int ranks, double bytes, PathCost path, double step_overhead_s = 0);
// Every rank behind its own link of `path.bandwidth` per direction (e.g. each rank on its own NIC under one leaf).
double tree_all_reduce_time(int ranks, double bytes, PathCost path, double step_overhead_s = 0);
// m = domains, g = gpus_per_domain; intra = NVLink ring edge, inter = cross-domain ring edge.
double hierarchical_all_reduce_time(int domains, int gpus_per_domain, double bytes, PathCost intra, PathCost inter,
                                    bool pipelined = true, double step_overhead_s = 0);
// Every rank behind its own link of `path.bandwidth` per direction; batches as max_concurrent_flows makes them.
double all_to_all_time(int ranks, double bytes, PathCost path, double step_overhead_s = 0,
                       int max_concurrent_flows = 4000);
// The double binary tree's L(n) (largest bytes through one rank in one direction / S) and depth d(n).
double tree_max_load(int ranks);
int tree_depth(int ranks);
}  // namespace predict

}  // namespace aif::sim
