// The scenario: plain typed structs filled from YAML by load_scenario().
// All quantities are SI doubles (seconds, watts, bytes, bytes/s, FLOP/s);
// the YAML file carries explicit units ("700W", "400Gbps", "2h") and the loader converts them.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "aif/models/calibration.hpp"
#include "aif/models/facility_power.hpp"
#include "aif/models/hardware.hpp"
#include "aif/models/server_power.hpp"
#include "aif/models/kernel_tables.hpp"
#include "aif/models/step_model.hpp"
#include "aif/models/training.hpp"
#include "aif/inputs/trace.hpp"
#include "aif/inputs/input_error.hpp"
#include "aif/scenario/failures_config.hpp"
#include "aif/scenario/jobs_config.hpp"
#include "aif/scenario/power_config.hpp"

namespace aif::models {
struct FabricParams;  // aif/models/fabric.hpp (Boost.Graph): include it where fabric_params() is called
}  // namespace aif::models

namespace aif::sim {

enum class Fidelity { FAST, ITERATION };  // FAST: event per change; ITERATION: event per iteration

struct SimulationConfig {
  double duration_s = 3600;         // simulated time horizon
  uint64_t seed = 1;
  double sample_interval_s = 10;    // time-series sampling period
  Fidelity fidelity = Fidelity::FAST;
  // After duration: let in-flight requests finish (true) or cut them off and record them as unfinished.
  bool drain = true;
};

struct FacilityConfig {
  int racks = 2;
  int servers_per_rack = 4;
  int gpus_per_server = 8;
  // One server beyond its GPUs (docs/power.md, "Server power beyond the GPUs"): `server_overhead` gives a constant
  // (server_power_constant, server_overhead_w; PSU losses inside it), else `server_power` or the defaults of an 8-GPU
  // HGX H100-class server scaled by gpus_per_server / 8: CPUs, memory, NICs, NVSwitch and fans at idle plus a part
  // linear in the GPUs' load, through power supplies whose efficiency depends on their load.
  bool server_power_constant = false;
  double server_overhead_w = 0;
  models::ServerPowerParams server_power;
  double pue = 1.3;                 // facility power / IT power (constant for now)
};

// LEAF_SPINE is FAT_TREE with 2 tiers (the name older scenarios use). docs/fabric.md explains every kind and key.
enum class FabricKind { LEAF_SPINE, FAT_TREE, RAIL_OPTIMIZED, DRAGONFLY };

// The `fabric` section; fabric_params() turns it into models::FabricParams. 0 in a count or bandwidth below means
// "derived" where the comment says so.
struct FabricConfig {
  FabricKind kind = FabricKind::LEAF_SPINE;
  double nic_bandwidth = 50e9;        // bytes/s per GPU NIC (400 Gb/s)
  double nvlink_bandwidth = 0;        // bytes/s per GPU; 0 = take it from the device catalog
  int nvlink_domain_gpus = 0;         // GPUs per NVLink domain; 0 = one server (72 with 4-GPU servers: NVL72)
  int servers_per_leaf = 0;           // servers per leaf / scalable unit / dragonfly router; 0 = servers_per_rack
  int tiers = 2;                      // fat-tree: 2 or 3
  int spines = 2;                     // in total (2 tiers, rail-optimized) or per pod (3 tiers)
  int leaves_per_pod = 0;             // 3 tiers
  int cores = 0;                      // 3 tiers
  double oversubscription = 1.0;      // leaf downlink capacity / uplink capacity (>= 1)
  double core_oversubscription = 1.0; // 3 tiers: spine downlink capacity / uplink capacity (>= 1)
  int routers_per_group = 4;          // dragonfly
  int global_links_per_router = 2;    // dragonfly
  double local_bandwidth = 0;         // dragonfly, bytes/s per local link; 0 = a router's NICs / 2
  double global_bandwidth = 0;        // dragonfly, bytes/s per global link; 0 = one server's NICs
  int storage_nodes = 0;
  int storage_nodes_per_leaf = 8;
  double storage_bandwidth = 50e9;    // bytes/s per storage node NIC
  double link_latency_s = 1e-6;       // per hop
  double nvlink_latency_s = 0.5e-6;
};

// How long request lengths are drawn for synthetic arrivals.
struct LengthDist {
  enum class Kind { FIXED, UNIFORM, LOGNORMAL } kind = Kind::FIXED;
  double value = 0;       // FIXED
  double min = 0, max = 0;  // UNIFORM (inclusive integers); LOGNORMAL clamps to [min, max] when max > 0
  double median = 0, sigma = 0;  // LOGNORMAL
};

struct ArrivalConfig {
  enum class Kind { POISSON, GAMMA, DIURNAL, TRACE } kind = Kind::POISSON;
  double rate_per_s = 1;           // mean rate (POISSON, GAMMA); peak scale for DIURNAL
  double cv = 1;                   // GAMMA: coefficient of variation of inter-arrival times
  std::vector<double> diurnal_curve;  // DIURNAL: relative rate per equal slice of diurnal_period_s, repeated
  double diurnal_period_s = 86400;
  LengthDist prompt_tokens, output_tokens;  // synthetic kinds
  // TRACE
  // RESULTS_H5: the /requests of an aifsim results file (arrival, prompt and output length of every row).
  // CSV: arrival_s, prompt_tokens, output_tokens (trace.hpp: read_csv_trace).
  enum class TraceFormat { AZURE_CSV, MOONCAKE_JSONL, RESULTS_H5, CSV } trace_format = TraceFormat::AZURE_CSV;
  std::string trace_path;          // resolved absolute path
  double rate_scale = 1;           // >1 compresses inter-arrival gaps (more load)
  int64_t max_requests = -1;       // stop after this many (any kind); -1 = no limit
};

struct WorkloadConfig {
  std::string name;
  std::string service;             // name of the service it sends to
  ArrivalConfig arrival;
  // deferrable: {deadline}: batch work whose requests the power policies (demand response, carbon-aware) may
  // hold, each for at most deadline_s after it arrives.
  bool deferrable = false;
  double deadline_s = 0;
  // Every request begins with the same this many tokens (a system prompt, a shared document): a replica with
  // prefix caching computes them once and keeps their full KV blocks (models::SchedulerLimits::prefix_caching).
  int shared_prefix_tokens = 0;
  // Multi-turn conversations (models::make_conversations): each arrival opens one; its later turns carry the
  // conversation so far, named by content for the prefix cache. turns.value == 0: single requests.
  struct Conversation {
    LengthDist turns;                 // FIXED value 0: no conversations
    double think_time_s = 0;
    bool think_time_exponential = true;
    int system_prompt_tokens = 0;
    int system_prompts = 1;
    bool present() const { return turns.kind != LengthDist::Kind::FIXED || turns.value > 0; }
  } conversation;
};

struct SchedulerConfig {
  int max_num_seqs = 256;
  int max_num_batched_tokens = 8192;
  int block_size = 16;             // tokens per KV block
  bool chunked_prefill = true;
  double kv_memory_fraction = 0.9; // share of HBM left after weights that goes to the KV cache
  int num_blocks = 0;              // KV cache size in blocks; 0 = derive it from memory (kv_memory_fraction)
  // Keep the KV of a workload's shared prefix (shared_prefix_tokens) for its later requests, as vLLM's prefix cache
  // (on by default in vLLM's V1 engine).
  bool prefix_caching = true;
  int max_model_len = 0;           // longest prompt + output a request may have; 0 = the model's max_context
};

// CACHE_AWARE: least outstanding tokens after what the replica's prefix cache would spare of the request's prompt
// (a KV-cache-aware router, as llm-d's prefix-cache scorer or NVIDIA Dynamo's KV router weigh cache overlap against
// load); without content hashes or prefix caching it is LEAST_OUTSTANDING_TOKENS.
enum class RouterPolicy { ROUND_ROBIN, LEAST_OUTSTANDING_TOKENS, CACHE_AWARE };

// How a service's step times are computed. Without a `perf` key: CALIBRATED from the device's measured profile
// (data/calibration/<device>.csv) where the catalog device has one, else ROOFLINE (and the run says why).
struct PerfConfig {
  enum class Kind { ROOFLINE, CONSTANT, CALIBRATED } kind = Kind::ROOFLINE;
  // CALIBRATED: a GPU device profile (Scenario::device_profiles) or a kbench table of this CPU
  // (Scenario::calibration_tables), both keyed by table_key.
  enum class Table { DEVICE_PROFILE, KBENCH } table = Table::DEVICE_PROFILE;
  bool chosen = false;              // the scenario named the kind (false: the default for the device)
  std::string note;                 // why the default is the roofline (no profile for the device or the dtype)
  double constant_iteration_s = 0;  // CONSTANT
  double iteration_overhead_s = 0;  // ROOFLINE, KBENCH: fixed CPU cost added to every iteration
  // CALIBRATED: key of the table (its resolved absolute path); KBENCH: the CPU cost per sequence and per token of a
  // step. Defaults: the table header's values written by `aifsim calibrate`, else 0.
  std::string table_key;
  double overhead_per_seq_s = 0;
  double overhead_per_token_s = 0;
  double overhead_per_key_s = 0;   // per key read by a decode token (context-dependent cost)
  double overhead_per_prefill_pair_s = 0;  // per query-key pair of a prefill chunk
  // ROOFLINE, CALIBRATED: the clock the GPUs run at as a fraction of their maximum (power cap, lower DVFS state).
  double clock_fraction = 1;
};

struct SloConfig {
  double ttft_s = 0;   // 0 = no target
  double tpot_s = 0;
  double e2e_s = 0;
};

struct ServiceConfig {
  std::string name;
  std::string model;               // key in the model catalog
  std::string dtype = "bf16";
  int tp = 1;                      // tensor-parallel degree: GPUs of one pipeline stage, on one server
  int pp = 1;                      // pipeline stages: a replica has tp x pp GPUs (whole servers when > one server)
  // Mixtures of experts: experts split over the replica's GPUs (vLLM --enable-expert-parallel) instead of each
  // expert over the tp GPUs; dp attention ranks of tp x pp GPUs each (vLLM --data-parallel-size), stepping together,
  // their tokens meeting in the MoE layers through all-to-alls. A replica then has dp x tp x pp GPUs.
  bool expert_parallel = false;
  int dp = 1;
  // KV cache dtype (vLLM --kv-cache-dtype): "auto" keeps the activations' (bf16 with fp8 weights), or bf16, fp8.
  std::string kv_cache_dtype = "auto";
  // Speculative decoding (models::SchedulerLimits::spec_tokens): drafts per step and the chance each is accepted;
  // DRAFT proposes them with a smaller catalog model on the same GPUs (its steps and memory count), NGRAM by looking
  // up the context (no GPU work).
  struct Speculative {
    enum class Method { NONE, DRAFT, NGRAM } method = Method::NONE;
    int tokens = 0;
    double acceptance = 0;
    std::string draft_model;
  } speculative;
  int replicas = 1;
  // The serving engine (data/engines.yaml, with the service's overrides): its CPU work per step, CUDA graphs and
  // scheduling policy.
  models::EngineProfile engine;
  SchedulerConfig scheduler;
  RouterPolicy router = RouterPolicy::ROUND_ROBIN;
  PerfConfig perf;
  SloConfig slo;
  // Prefill/decode disaggregation (both > 0) or not (both 0): prefill replicas compute prompts and first tokens,
  // then each request's KV cache crosses the fabric to a decode replica. Each replica has tp GPUs.
  int prefill_replicas = 0;
  int decode_replicas = 0;
  // Model weights read from the fabric's storage nodes when a replica starts; it serves once they are in.
  // AUTO: when the fabric has storage nodes.
  enum class WeightLoading { AUTO, ON, OFF } load_weights = WeightLoading::AUTO;
  int priority = 0;                // higher = more latency-critical: capped last (policies.power_capping)
  double gpu_power_limit_w = 0;    // per GPU, as nvidia-smi -pl sets it; 0 = the TDP only
  // Host memory under the prefix cache (KV offloading): per replica, the bytes of KV it holds, and the bandwidth of
  // each GPU's host link (PCIe) over which a reload comes back (each GPU reloads its share of the heads and layers).
  double kv_host_bytes = 0;        // 0: no host tier
  double kv_host_bandwidth = 0;    // bytes/s per GPU
  // A local disk under host memory (NVMe): per replica, the bytes of KV it holds and the read bandwidth of its drives,
  // over which a reload from it comes back.
  double kv_disk_bytes = 0;        // 0: no disk tier
  double kv_disk_bandwidth = 0;    // bytes/s per replica
  bool disaggregated() const { return prefill_replicas > 0; }
  int total_replicas() const { return disaggregated() ? prefill_replicas + decode_replicas : replicas; }
  int gpus_per_replica() const { return dp * tp * pp; }
  // The KV cache's dtype once "auto" is resolved.
  std::string kv_dtype() const { return kv_cache_dtype != "auto" ? kv_cache_dtype : dtype == "fp8" ? "bf16" : dtype; }
};

// Bytes of weights a replica holds: each attention rank its own copy of everything but the experts, which the
// replica's GPUs share, plus a speculative draft model's weights (one copy per replica).
// `models` must hold the service's model and its draft model.
double replica_weight_bytes(const ServiceConfig& service, const std::map<std::string, models::ModelArch>& models);

struct Scenario {
  std::string source_path;         // file it came from ("" when built in code)
  std::string source_text;         // the YAML as given, after --set overrides (for /meta)
  SimulationConfig simulation;
  std::string gpu = "H100-SXM";    // hardware.gpu: device type of every server
  models::DeviceSpec device;       // resolved from the catalog (+ overrides)
  FacilityConfig facility;
  FabricConfig fabric;
  std::vector<ServiceConfig> services;
  std::map<std::string, models::ModelArch> models;  // resolved architectures used by services and jobs
  std::vector<WorkloadConfig> workloads;
  std::vector<JobConfig> jobs;      // training and fine-tuning jobs (jobs_config.hpp)
  FacilityPowerConfig facility_power;  // facility.power (power_config.hpp)
  GridConfig grid;
  PoliciesConfig policies;
  FailuresConfig failures;  // failures (failures_config.hpp)
  OpsConfig ops;            // ops
  // Calibration tables read by services with perf kind calibrated, keyed by resolved path (PerfConfig::table_key):
  // kbench tables of this CPU, and GPU device profiles.
  std::map<std::string, models::CalibrationTable> calibration_tables;
  std::map<std::string, std::shared_ptr<const models::KernelTables>> device_profiles;
  // Trace rows by resolved path, read and checked when the scenario loads (so `validate` finds a bad row, and a run
  // fails before it writes anything).
  std::map<std::string, std::shared_ptr<const std::vector<TraceRecord>>> traces;
};

// Parse, validate and resolve a scenario. `overrides` are "key.path=value" strings applied
// to the YAML tree before validation (value parsed as YAML). Throws ScenarioError.
Scenario load_scenario(const std::string& path, const std::vector<std::string>& overrides = {});
// Same, from text (file name used in messages); catalogs from the given paths or the bundled ones.
Scenario load_scenario_text(const std::string& text, const std::string& file_name,
                            const std::vector<std::string>& overrides = {});

// What a valid scenario may not mean to do, one line each: a service that no workload sends requests to (its
// latencies will be empty). `aifsim validate` and `aifsim run` print them; they never stop a run (an idle service is
// a fair question for power or failures).
std::vector<std::string> scenario_warnings(const Scenario& scenario);

// Catalogs (data/hardware.yaml, data/models.yaml). Throw ScenarioError naming the catalog file.
std::map<std::string, models::DeviceSpec> load_hardware_catalog(const std::string& path);
std::map<std::string, models::ModelArch> load_model_catalog(const std::string& path);
// The serving-engine catalog (data/engines.yaml): each engine's profile, and the per-step CPU cost added when a
// replica has more than one GPU worker.
struct EngineCatalogEntry {
  models::EngineProfile profile;
  double tp_step_s = 0;
  std::string description;
  std::map<std::string, std::string> sources;
};
std::map<std::string, EngineCatalogEntry> load_engine_catalog(const std::string& path);

// The fabric a scenario describes: facility.racks x servers_per_rack servers of gpus_per_server GPUs, the fabric
// section, and the device's NVLink bandwidth when fabric.nvlink_bandwidth is 0 (sim/scenario/src/fabric_params.cpp).
// load_scenario has already checked it with models::check_fabric_params, so build_fabric accepts it.
models::FabricParams fabric_params(const Scenario& sc);

// The step model of a job: the scenario's device and model, TP all-reduces over the fabric's NVLink (half the
// per-GPU both-ways bandwidth each way; a ring step crosses two NVLink hops).
models::TrainingParams training_params(const Scenario& scenario, const JobConfig& job,
                                       const models::FabricParams& fabric);
// The same before the scenario is complete (the loader checks each job with it).
models::TrainingParams training_params(const models::DeviceSpec& device, const models::ModelArch& model,
                                       const JobConfig& job, const models::FabricParams& fabric);

// The facility chain's parameters: model defaults where the scenario leaves them out; the design IT power is every GPU
// at its board limit plus every server's overhead. Throws std::invalid_argument when pue_free_cooling cannot be met
// (parse_facility_power turns that into a ScenarioError at the key).
// AC input of one server whose GPUs draw gpu_dc_w in total: facility.server_power at the GPUs' load, or gpu_dc_w plus
// the constant server_overhead.
double server_input_w(const FacilityConfig& facility, const models::DeviceSpec& device, double gpu_dc_w);

models::FacilityPowerParams facility_power_params(const FacilityConfig& facility, const models::DeviceSpec& device,
                                                  const FacilityPowerConfig& power);

}  // namespace aif::sim
