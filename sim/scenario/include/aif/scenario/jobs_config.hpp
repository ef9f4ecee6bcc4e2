// The scenario's `jobs` section: training and fine-tuning jobs, as plain typed structs (SI units).
// Parsed by sim/scenario/src/scenario_jobs.cpp; run by sim/training_job.
#pragma once
#include <cstdint>
#include <string>

namespace aif::sim {

enum class JobKind {
  TRAINING,     // pre-training
  FINE_TUNING,  // full-parameter fine-tuning: the same step model, labelled apart in the results
};

// How a job's GPUs are chosen among those the services left free.
enum class JobPlacement {
  PACKED,          // consecutive free GPUs, server after server
  SPREAD,          // servers taken round-robin over the leaves (racks), one TP group at a time
  TOPOLOGY_AWARE,  // TP inside a server; each pipeline stage's DP group on as few leaves as possible
};

// Algorithm of the data-parallel gradient all-reduce.
enum class JobAllreduce { RING, TREE, HIERARCHICAL };

struct JobCheckpointConfig {
  int64_t every_steps = 0;  // every N steps (0: see every_s)
  double every_s = 0;       // or after the step that brings the progress since the last one to this (0: none)
  double write_time_s = 0;  // > 0: a checkpoint takes this long instead of flows to storage
  bool enabled() const { return every_steps > 0 || every_s > 0; }
  // Where checkpoints go; "storage" (the fabric's storage nodes) is the only target so far.
  std::string to = "storage";
};

struct JobConfig {
  std::string name;
  JobKind kind = JobKind::TRAINING;
  std::string model;  // key in the model catalog
  std::string dtype = "bf16";
  int dp = 1;            // parallelism.dp: data-parallel replicas
  int tp = 1;            // parallelism.tp: tensor-parallel ranks, inside one NVLink domain
  int pp = 1;            // parallelism.pp: pipeline stages
  int global_batch = 1;  // sequences per optimizer step
  int micro_batch = 1;   // sequences per micro-batch of one replica
  int seq_len = 2048;    // tokens per sequence
  int64_t steps = 1;     // optimizer steps to run
  double start_s = 0;    // when the job starts
  JobPlacement placement = JobPlacement::TOPOLOGY_AWARE;
  JobAllreduce allreduce = JobAllreduce::HIERARCHICAL;
  enum class Network { FLOWS, ANALYTIC } network = Network::FLOWS;  // analytic: idle-fabric closed forms, no flows
  bool overlap = true;      // DP all-reduce overlapped with the last micro-batch's backward pass
  double efficiency = 0.5;  // (0, 1]: share of the dtype's dense peak FLOP/s the compute reaches
  JobCheckpointConfig checkpoint;
  int priority = 0;  // higher = more latency-critical: capped later (policies.power_capping, order by_priority)
  // deferrable: {deadline}: the power policies may pause the job (before its start or between steps) as long as it
  // can still finish by start_s + deadline_s at its mean step time so far.
  bool deferrable = false;
  double deadline_s = 0;

  int gpus() const { return dp * tp * pp; }
};

const char* to_string(JobKind kind);            // "training", "fine_tuning"
const char* to_string(JobPlacement placement);  // "packed", "spread", "topology_aware"
const char* to_string(JobAllreduce allreduce);  // "ring", "tree", "hierarchical"

}  // namespace aif::sim
