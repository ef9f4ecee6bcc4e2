#include "aif/world/collectives.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <utility>

#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Comm.hpp>
#include <simgrid/s4u/Engine.hpp>

namespace aif::sim {

namespace sg4 = simgrid::s4u;

const char* to_string(CollectiveOp op) {
  switch (op) {
    case CollectiveOp::ALL_REDUCE: return "all_reduce";
    case CollectiveOp::REDUCE_SCATTER: return "reduce_scatter";
    case CollectiveOp::ALL_GATHER: return "all_gather";
    case CollectiveOp::ALL_TO_ALL: return "all_to_all";
    case CollectiveOp::BROADCAST: return "broadcast";
    case CollectiveOp::SEND: return "send";
  }
  return "?";
}

double bus_factor(CollectiveOp op, int ranks) {
  if (ranks <= 1) return 0;
  const double n = ranks;
  switch (op) {
    case CollectiveOp::ALL_REDUCE: return 2 * (n - 1) / n;
    case CollectiveOp::REDUCE_SCATTER:
    case CollectiveOp::ALL_GATHER:
    case CollectiveOp::ALL_TO_ALL: return (n - 1) / n;
    case CollectiveOp::BROADCAST:
    case CollectiveOp::SEND: return 1;
  }
  return 0;
}

namespace {

// The double binary tree of `n` ranks as parent indices (-1 for the root). Tree A: rank 0 is the root, its only child
// is the highest power of two below n; a rank r > 0 whose lowest set bit is 2^b has children r - 2^(b-1) and the
// first of r + 2^(b-1), r + 2^(b-2), ... below n, so odd ranks are leaves. Tree B: tree A with ranks shifted by one.
std::pair<std::vector<int>, std::vector<int>> double_binary_tree(int n) {
  std::vector<int> a(static_cast<size_t>(n), -1);
  if (n > 1) {
    int top = 1;
    while (top * 2 < n) top *= 2;
    a[static_cast<size_t>(top)] = 0;
    for (int r = 1; r < n; r++) {
      const int low = r & -r;
      for (int off = low / 2; off >= 1; off /= 2)
        if (r + off < n) {
          a[static_cast<size_t>(r + off)] = r;
          break;
        }
      if (low >= 2) a[static_cast<size_t>(r - low / 2)] = r;
    }
  }
  std::vector<int> b(static_cast<size_t>(n), -1);
  for (int r = 0; r < n; r++) {
    const int parent = a[static_cast<size_t>(r)];
    b[static_cast<size_t>((r + 1) % n)] = parent < 0 ? -1 : (parent + 1) % n;
  }
  return {a, b};
}

int depth_of(const std::vector<int>& parent) {
  int deepest = 0;
  for (int r = 0; r < static_cast<int>(parent.size()); r++) {
    int d = 0;
    for (int p = parent[static_cast<size_t>(r)]; p >= 0; p = parent[static_cast<size_t>(p)]) d++;
    deepest = std::max(deepest, d);
  }
  return deepest;
}

void check_bytes(const char* what, double bytes) {
  if (!(bytes >= 0) || !std::isfinite(bytes))
    throw std::invalid_argument(std::string(what) + ": bytes must be finite and >= 0, got " + std::to_string(bytes));
}

void check_options(const char* what, const CollectiveOptions& o) {
  if (!(o.step_overhead_s >= 0) || !std::isfinite(o.step_overhead_s))
    throw std::invalid_argument(std::string(what) + ": step_overhead_s must be finite and >= 0, got " +
                                std::to_string(o.step_overhead_s));
  if (o.max_concurrent_flows < 1)
    throw std::invalid_argument(std::string(what) + ": max_concurrent_flows must be >= 1, got " +
                                std::to_string(o.max_concurrent_flows));
}

void check_group(const char* what, const Platform& platform, const std::vector<int>& gpus, double bytes,
                 const CollectiveOptions& options) {
  if (gpus.empty()) throw std::invalid_argument(std::string(what) + ": the group of GPUs is empty");
  std::unordered_set<int> seen;
  for (int g : gpus) {
    if (g < 0 || g >= platform.num_gpus())
      throw std::invalid_argument(std::string(what) + ": GPU " + std::to_string(g) + " is not on the platform (" +
                                  std::to_string(platform.num_gpus()) + " GPUs)");
    if (!seen.insert(g).second)
      throw std::invalid_argument(std::string(what) + ": GPU " + std::to_string(g) + " appears twice in the group");
  }
  check_bytes(what, bytes);
  check_options(what, options);
}

void check_in_actor(const char* what) {
  if (sg4::Actor::self() == nullptr)
    throw std::logic_error(std::string(what) + ": must be called from inside a SimGrid actor");
}

void sleep_if_positive(double s) {
  if (s > 0) sg4::this_actor::sleep_for(s);
}

struct Flow {
  sg4::Host* src;
  sg4::Host* dst;
  double bytes;
};

// The largest route latency among the flows: what SimGrid charges a phase for latency (every flow of a paced phase
// ends at its own latency + the phase's transfer time).
double max_latency(const std::vector<Flow>& flows) {
  double alpha = 0;
  std::vector<sg4::Link*> links;
  for (const Flow& f : flows) {
    double latency = 0;
    links.clear();
    f.src->route_to(f.dst, links, &latency);
    alpha = std::max(alpha, latency);
  }
  return alpha;
}

// Starts every flow at once and waits for all of them.
void run_flows(const std::vector<Flow>& flows) {
  std::vector<sg4::CommPtr> comms;
  comms.reserve(flows.size());
  for (const Flow& f : flows)
    comms.push_back(sg4::Comm::sendto_async(f.src, f.dst, static_cast<uint64_t>(std::llround(f.bytes))));
  sg4::Comm::wait_all(comms);
}

// One pipelined phase of `steps` steps: the flows, then the latency of the steps SimGrid did not charge. A phase with
// no bytes to move is latency only.
void run_phase(const std::vector<Flow>& flows, int steps, double step_overhead_s) {
  if (flows.empty()) return;
  const double alpha = max_latency(flows);
  const bool empty = std::all_of(flows.begin(), flows.end(), [](const Flow& f) { return f.bytes <= 0; });
  if (empty) {
    sleep_if_positive(steps * (alpha + step_overhead_s));
    return;
  }
  run_flows(flows);
  sleep_if_positive(steps * (alpha + step_overhead_s) - alpha);
}

// The ring flows of a group: rank i -> i + 1, `bytes` each (a chain without the closing edge when !closed).
std::vector<Flow> ring_flows(const Platform& p, const std::vector<int>& gpus, double bytes, bool closed = true) {
  std::vector<Flow> flows;
  const size_t n = gpus.size();
  if (n < 2) return flows;
  const size_t edges = closed ? n : n - 1;
  for (size_t i = 0; i < edges; i++)
    flows.push_back({p.gpus[static_cast<size_t>(gpus[i])], p.gpus[static_cast<size_t>(gpus[(i + 1) % n])], bytes});
  return flows;
}

CollectiveResult finish(CollectiveOp op, int ranks, double bytes, double start, int max_flows) {
  CollectiveResult r;
  r.op = op;
  r.ranks = ranks;
  r.bytes = bytes;
  r.time_s = sg4::Engine::get_clock() - start;
  r.algbw = r.time_s > 0 && ranks > 1 ? bytes / r.time_s : 0;
  r.busbw = r.algbw * bus_factor(op, ranks);
  r.max_flows = max_flows;
  return r;
}

// One pipelined ring phase of `steps` steps, each edge carrying `per_edge` bytes.
CollectiveResult ring_collective(CollectiveOp op, const char* what, const Platform& p, const std::vector<int>& gpus,
                                 double bytes, const CollectiveOptions& o) {
  check_group(what, p, gpus, bytes, o);
  check_in_actor(what);
  const double start = sg4::Engine::get_clock();
  const int n = static_cast<int>(gpus.size());
  if (n == 1) return finish(op, n, bytes, start, 0);
  double per_edge = 0;
  int steps = 0;
  bool closed = true;
  switch (op) {
    case CollectiveOp::ALL_REDUCE:
      per_edge = 2.0 * (n - 1) / n * bytes;
      steps = 2 * (n - 1);
      break;
    case CollectiveOp::REDUCE_SCATTER:
    case CollectiveOp::ALL_GATHER:
      per_edge = static_cast<double>(n - 1) / n * bytes;
      steps = n - 1;
      break;
    case CollectiveOp::BROADCAST:
      per_edge = bytes;
      steps = n - 1;
      closed = false;
      break;
    default: throw std::logic_error("ring_collective: not a ring operation");
  }
  const std::vector<Flow> flows = ring_flows(p, gpus, per_edge, closed);
  run_phase(flows, steps, o.step_overhead_s);
  return finish(op, n, bytes, start, static_cast<int>(flows.size()));
}

}  // namespace

CollectiveResult all_reduce_ring(const Platform& platform, const std::vector<int>& gpus, double bytes,
                                 const CollectiveOptions& options) {
  return ring_collective(CollectiveOp::ALL_REDUCE, "all_reduce_ring", platform, gpus, bytes, options);
}

CollectiveResult reduce_scatter_ring(const Platform& platform, const std::vector<int>& gpus, double bytes,
                                     const CollectiveOptions& options) {
  return ring_collective(CollectiveOp::REDUCE_SCATTER, "reduce_scatter_ring", platform, gpus, bytes, options);
}

CollectiveResult all_gather_ring(const Platform& platform, const std::vector<int>& gpus, double bytes,
                                 const CollectiveOptions& options) {
  return ring_collective(CollectiveOp::ALL_GATHER, "all_gather_ring", platform, gpus, bytes, options);
}

CollectiveResult broadcast_ring(const Platform& platform, const std::vector<int>& gpus, double bytes,
                                const CollectiveOptions& options) {
  return ring_collective(CollectiveOp::BROADCAST, "broadcast_ring", platform, gpus, bytes, options);
}

CollectiveResult all_reduce_tree(const Platform& platform, const std::vector<int>& gpus, double bytes,
                                 const CollectiveOptions& options) {
  const char* what = "all_reduce_tree";
  check_group(what, platform, gpus, bytes, options);
  check_in_actor(what);
  const double start = sg4::Engine::get_clock();
  const int n = static_cast<int>(gpus.size());
  if (n == 1) return finish(CollectiveOp::ALL_REDUCE, n, bytes, start, 0);
  const auto [a, b] = double_binary_tree(n);
  // Each tree carries half the buffer up (reduce) and down (broadcast). The flows stay separate (an edge in both
  // trees carries two) so that all are S/2: max-min sharing then ends them all by the time the busiest link needs
  // for its bytes, as a chunk-paced pipeline would, where merged flows of unequal size would leave links idle.
  std::vector<Flow> flows;
  for (const std::vector<int>* tree : {&a, &b})
    for (int r = 0; r < n; r++) {
      const int parent = (*tree)[static_cast<size_t>(r)];
      if (parent < 0) continue;
      sg4::Host* child_host = platform.gpus[static_cast<size_t>(gpus[static_cast<size_t>(r)])];
      sg4::Host* parent_host = platform.gpus[static_cast<size_t>(gpus[static_cast<size_t>(parent)])];
      flows.push_back({child_host, parent_host, bytes / 2});
      flows.push_back({parent_host, child_host, bytes / 2});
    }
  run_phase(flows, 2 * std::max(depth_of(a), depth_of(b)), options.step_overhead_s);
  return finish(CollectiveOp::ALL_REDUCE, n, bytes, start, static_cast<int>(flows.size()));
}

CollectiveResult all_reduce_hierarchical(const Platform& platform, const std::vector<int>& gpus, double bytes,
                                         const CollectiveOptions& options) {
  const char* what = "all_reduce_hierarchical";
  check_group(what, platform, gpus, bytes, options);
  if (platform.fabric == nullptr) throw std::invalid_argument(std::string(what) + ": the platform has no fabric");
  // Domains in order of first appearance; members in order of appearance (= local rank).
  std::vector<std::vector<int>> domains;
  std::map<int, size_t> index_of;
  for (int g : gpus) {
    const int d = platform.fabric->nvlink_domain_of_gpu(g);
    auto [it, inserted] = index_of.try_emplace(d, domains.size());
    if (inserted) domains.emplace_back();
    domains[it->second].push_back(g);
  }
  const int m = static_cast<int>(domains.size());
  const int g = static_cast<int>(domains.front().size());
  for (const auto& dom : domains)
    if (static_cast<int>(dom.size()) != g)
      throw std::invalid_argument(std::string(what) + ": every NVLink domain must hold the same number of the " +
                                  "group's GPUs (domain of GPU " + std::to_string(dom.front()) + " holds " +
                                  std::to_string(dom.size()) + ", domain of GPU " +
                                  std::to_string(domains.front().front()) + " holds " + std::to_string(g) + ")");
  check_in_actor(what);
  const double start = sg4::Engine::get_clock();
  const int n = static_cast<int>(gpus.size());
  if (n == 1) return finish(CollectiveOp::ALL_REDUCE, n, bytes, start, 0);

  // Intra-domain rings (reduce-scatter, then all-gather: (g-1)/g * S per edge each) and the g cross-domain rings of
  // equal local rank (all-reduce of S/g: 2(m-1)/m * S/g per edge).
  auto intra = [&](double per_edge) {
    std::vector<Flow> flows;
    for (const auto& dom : domains)
      for (const Flow& f : ring_flows(platform, dom, per_edge)) flows.push_back(f);
    return flows;
  };
  std::vector<Flow> inter;
  for (int k = 0; k < g; k++) {
    std::vector<int> ring;
    for (const auto& dom : domains) ring.push_back(dom[static_cast<size_t>(k)]);
    for (const Flow& f : ring_flows(platform, ring, 2.0 * (m - 1) / m * bytes / g)) inter.push_back(f);
  }
  const double o = options.step_overhead_s;
  int max_flows = 0;
  if (options.pipelined) {
    // One phase: NVLink rings carry reduce-scatter and all-gather, cross-domain rings the all-reduce, overlapped.
    std::vector<Flow> flows = intra(2.0 * (g - 1) / g * bytes);
    const double alpha_intra = max_latency(flows);
    const double alpha_inter = max_latency(inter);
    flows.insert(flows.end(), inter.begin(), inter.end());
    max_flows = static_cast<int>(flows.size());
    const double charged = bytes > 0 ? std::max(alpha_intra, alpha_inter) : 0;
    if (bytes > 0) run_flows(flows);
    sleep_if_positive(2 * (g - 1) * (alpha_intra + o) + 2 * (m - 1) * (alpha_inter + o) - charged);
  } else {
    const std::vector<Flow> rs = intra(static_cast<double>(g - 1) / g * bytes);
    max_flows = static_cast<int>(std::max(rs.size(), inter.size()));
    run_phase(rs, g - 1, o);
    run_phase(inter, 2 * (m - 1), o);
    run_phase(rs, g - 1, o);  // all-gather: the same flows
  }
  return finish(CollectiveOp::ALL_REDUCE, n, bytes, start, max_flows);
}

CollectiveResult all_to_all(const Platform& platform, const std::vector<int>& gpus, double bytes,
                            const CollectiveOptions& options) {
  const char* what = "all_to_all";
  check_group(what, platform, gpus, bytes, options);
  check_in_actor(what);
  const double start = sg4::Engine::get_clock();
  const int n = static_cast<int>(gpus.size());
  // Shift rounds k = 1..n-1 (rank i -> i + k), as many whole rounds per batch as max_concurrent_flows allows.
  const int rounds_per_batch = std::max(1, options.max_concurrent_flows / std::max(n, 1));
  int max_flows = 0;
  for (int first = 1; first < n; first += rounds_per_batch) {
    std::vector<Flow> flows;
    for (int k = first; k < std::min(n, first + rounds_per_batch); k++)
      for (int i = 0; i < n; i++)
        flows.push_back({platform.gpus[static_cast<size_t>(gpus[static_cast<size_t>(i)])],
                         platform.gpus[static_cast<size_t>(gpus[static_cast<size_t>((i + k) % n)])], bytes / n});
    max_flows = std::max(max_flows, static_cast<int>(flows.size()));
    run_phase(flows, 1, options.step_overhead_s);
  }
  return finish(CollectiveOp::ALL_TO_ALL, n, bytes, start, max_flows);
}

CollectiveResult send(sg4::Host* src, sg4::Host* dst, double bytes, const CollectiveOptions& options) {
  const char* what = "send";
  if (src == nullptr || dst == nullptr) throw std::invalid_argument("send: null host");
  if (src == dst) throw std::invalid_argument("send: source and destination are the same host " + src->get_name());
  check_bytes(what, bytes);
  check_options(what, options);
  check_in_actor(what);
  const double start = sg4::Engine::get_clock();
  run_phase({{src, dst, bytes}}, 1, options.step_overhead_s);
  return finish(CollectiveOp::SEND, 2, bytes, start, 1);
}

CollectiveResult send(const Platform& platform, int src_gpu, int dst_gpu, double bytes,
                      const CollectiveOptions& options) {
  check_group("send", platform, {src_gpu, dst_gpu}, bytes, options);
  return send(platform.gpus[static_cast<size_t>(src_gpu)], platform.gpus[static_cast<size_t>(dst_gpu)], bytes, options);
}

namespace predict {

namespace {
void check_path(const char* what, PathCost path) {
  if (!(path.bandwidth > 0) || !(path.latency_s >= 0))
    throw std::invalid_argument(std::string(what) + ": bandwidth must be > 0 and latency >= 0");
}
}  // namespace

double ring_time(CollectiveOp op, int ranks, double bytes, PathCost path, double step_overhead_s) {
  check_path("predict::ring_time", path);
  if (ranks <= 1) return 0;
  const double n = ranks, step = path.latency_s + step_overhead_s, b = path.bandwidth;
  switch (op) {
    case CollectiveOp::ALL_REDUCE: return 2 * (n - 1) / n * bytes / b + 2 * (n - 1) * step;
    case CollectiveOp::REDUCE_SCATTER:
    case CollectiveOp::ALL_GATHER: return (n - 1) / n * bytes / b + (n - 1) * step;
    case CollectiveOp::BROADCAST: return bytes / b + (n - 1) * step;
    case CollectiveOp::SEND: return bytes / b + step;
    case CollectiveOp::ALL_TO_ALL: break;
  }
  throw std::invalid_argument("predict::ring_time: all-to-all is not a ring; use predict::all_to_all_time");
}

double tree_max_load(int ranks) {
  if (ranks <= 1) return 0;
  const auto [a, b] = double_binary_tree(ranks);
  std::vector<int> degree(static_cast<size_t>(ranks), 0);
  for (const std::vector<int>* tree : {&a, &b})
    for (int r = 0; r < ranks; r++)
      if (const int parent = (*tree)[static_cast<size_t>(r)]; parent >= 0) {
        degree[static_cast<size_t>(r)]++;
        degree[static_cast<size_t>(parent)]++;
      }
  return 0.5 * *std::max_element(degree.begin(), degree.end());
}

int tree_depth(int ranks) {
  if (ranks <= 1) return 0;
  const auto [a, b] = double_binary_tree(ranks);
  return std::max(depth_of(a), depth_of(b));
}

double tree_all_reduce_time(int ranks, double bytes, PathCost path, double step_overhead_s) {
  check_path("predict::tree_all_reduce_time", path);
  if (ranks <= 1) return 0;
  return tree_max_load(ranks) * bytes / path.bandwidth + 2 * tree_depth(ranks) * (path.latency_s + step_overhead_s);
}

double hierarchical_all_reduce_time(int domains, int gpus_per_domain, double bytes, PathCost intra, PathCost inter,
                                    bool pipelined, double step_overhead_s) {
  const int m = domains, g = gpus_per_domain;
  if (m < 1 || g < 1) throw std::invalid_argument("predict::hierarchical_all_reduce_time: domains and gpus >= 1");
  if (m * g == 1) return 0;
  const double o = step_overhead_s;
  const double ai = g > 1 ? intra.latency_s : 0, ae = m > 1 ? inter.latency_s : 0;
  if (g > 1) check_path("predict::hierarchical_all_reduce_time (intra)", intra);
  if (m > 1) check_path("predict::hierarchical_all_reduce_time (inter)", inter);
  const double intra_bytes = g > 1 ? 2.0 * (g - 1) / g * bytes / intra.bandwidth : 0;
  const double inter_bytes = m > 1 ? 2.0 * (m - 1) / m * bytes / g / inter.bandwidth : 0;
  const double latency = 2 * (g - 1) * (ai + o) + 2 * (m - 1) * (ae + o);
  if (!pipelined) return intra_bytes + inter_bytes + latency;
  // SimGrid charged the phase the latency of its slowest flow; the sleep then adds every step's but the farthest.
  const double ti = g > 1 ? ai + intra_bytes : 0, te = m > 1 ? ae + inter_bytes : 0;
  return std::max(ti, te) - std::max(ai, ae) + latency;
}

double all_to_all_time(int ranks, double bytes, PathCost path, double step_overhead_s, int max_concurrent_flows) {
  check_path("predict::all_to_all_time", path);
  if (ranks <= 1) return 0;
  const int rounds_per_batch = std::max(1, max_concurrent_flows / ranks);
  const int batches = (ranks - 1 + rounds_per_batch - 1) / rounds_per_batch;
  const double n = ranks;
  return (n - 1) / n * bytes / path.bandwidth + batches * (path.latency_s + step_overhead_s);
}

}  // namespace predict

}  // namespace aif::sim
