// The small training world of tests/model/test_training_job.cpp and test_training_failures.cpp: 8 servers x 4 GPUs,
// 2 servers per leaf (4 leaves), one spine, 2:1 oversubscription, 2 storage nodes; a 4-layer Llama-shaped model.
// Per direction: NVLink 900/2 = 450 GB/s (0.5 us), NIC 50 GB/s (1 us), leaf uplink 2 x 4 x 50 / 2 = 200 GB/s,
// storage node 10 GB/s, storage leaf uplink 2 x 10 = 20 GB/s.
#pragma once
#include <simgrid/s4u.hpp>
#include <string>
#include <vector>

#include "aif/analysis/results.hpp"
#include "aif/models/fabric.hpp"
#include "aif/models/training.hpp"
#include "aif/world/platform.hpp"
#include "aif/world/training_job.hpp"

namespace aif::testing::toy {

constexpr double NVLINK_BW = 450e9, NVLINK_LAT = 0.5e-6;
constexpr double NIC_BW = 50e9, LINK_LAT = 1e-6;
constexpr double STORAGE_BW = 10e9;

inline aif::models::FabricParams fabric_params() {
  aif::models::FabricParams p;
  p.kind = aif::models::FabricKind::FAT_TREE;
  p.servers = 8;
  p.gpus_per_server = 4;
  p.servers_per_leaf = 2;
  p.spines = 1;
  p.oversubscription = 2;
  p.nvlink_bandwidth = 2 * NVLINK_BW;
  p.nvlink_latency_s = NVLINK_LAT;
  p.nic_bandwidth = NIC_BW;
  p.link_latency_s = LINK_LAT;
  p.storage_nodes = 2;
  p.storage_bandwidth = STORAGE_BW;
  return p;
}

// The fabric and its SimGrid platform, built once per process (SimGrid allows one platform); `engine` first.
struct World {
  aif::models::Fabric fabric = aif::models::build_fabric(fabric_params());
  aif::sim::Platform platform;
};

template <class MakeEngine>
World& world(MakeEngine&& engine) {
  static World* w = [&] {
    engine();
    auto* x = new World;
    x->platform = aif::sim::build_platform(x->fabric);
    return x;
  }();
  return *w;
}

// A 4-layer model of Llama shape: hidden 1024, 8 heads of 128, ffn 4096, vocab 32000 (133 M parameters), 4
// micro-batches per replica.
inline aif::models::TrainingParams params(int dp, int tp, int pp) {
  aif::models::TrainingParams p;
  p.model.name = "toy-133m";
  p.model.layers = 4;
  p.model.hidden = 1024;
  p.model.heads = 8;
  p.model.kv_heads = 8;
  p.model.head_dim = 128;
  p.model.ffn = 4096;
  p.model.vocab = 32000;
  p.model.max_context = 4096;
  p.device.name = "toy-gpu";
  p.device.peak_flops["bf16"] = 989e12;
  p.device.hbm_bytes = 80e9;
  p.device.hbm_bandwidth = 3.35e12;
  p.device.nvlink_bandwidth = 2 * NVLINK_BW;
  p.dtype = "bf16";
  p.dp = dp;
  p.tp = tp;
  p.pp = pp;
  p.micro_batch = 1;
  p.global_batch = 4 * dp;
  p.seq_len = 1024;
  p.efficiency = 0.5;
  p.tp_bandwidth = NVLINK_BW;
  p.tp_step_latency_s = 2 * NVLINK_LAT;
  return p;
}

// A job of these parameters: ring all-reduces, starting one simulated second from now (the tests share the clock).
inline aif::sim::JobConfig config(const std::string& name, const aif::models::TrainingParams& p, int64_t steps) {
  aif::sim::JobConfig c;
  c.name = name;
  c.model = p.model.name;
  c.dp = p.dp;
  c.tp = p.tp;
  c.pp = p.pp;
  c.global_batch = p.global_batch;
  c.micro_batch = p.micro_batch;
  c.seq_len = p.seq_len;
  c.steps = steps;
  c.allreduce = aif::sim::JobAllreduce::RING;
  c.start_s = simgrid::s4u::Engine::get_clock() + 1;
  return c;
}

// What a job reports, kept for the test to read.
struct Recorded {
  std::vector<aif::analysis::JobStepRecord> steps;
  std::vector<aif::analysis::EventRecord> events;
  std::vector<const aif::analysis::EventRecord*> of(const std::string& kind) const {
    std::vector<const aif::analysis::EventRecord*> out;
    for (const auto& e : events)
      if (e.kind == kind) out.push_back(&e);
    return out;
  }
};

inline aif::sim::TrainingJobSinks sinks(Recorded& r) {
  aif::sim::TrainingJobSinks s;
  s.step = [&r](const aif::analysis::JobStepRecord& x) { r.steps.push_back(x); };
  s.event = [&r](const aif::analysis::EventRecord& e) { r.events.push_back(e); };
  return s;
}

}  // namespace aif::testing::toy
