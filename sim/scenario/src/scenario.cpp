// Scenario and catalog loading: YAML -> plain typed structs, with every check the
// simulator relies on. Each section has one short parser built on yaml_util's typed reader.
#include "aif/scenario/scenario.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>

#include "aif/analysis/results.hpp"
#include "aif/models/fabric.hpp"
#include "aif/inputs/calibration.hpp"
#include "aif/inputs/device_profile.hpp"
#include "aif/scenario/perf_factory.hpp"
#include "aif/inputs/yaml_util.hpp"
#include "engine_catalog.hpp"
#include "scenario_failures.hpp"
#include "scenario_jobs.hpp"
#include "scenario_power.hpp"

namespace aif::sim {

namespace fs = std::filesystem;
using yaml::Node;
using yaml::Range;
using yaml::Unit;

namespace {

constexpr double SECONDS_PER_YEAR = 365.0 * 86400.0;
constexpr double MAX_TOKENS = 1e7;  // longer prompts or outputs than this are typos, not workloads
const Range FRACTION{0, 1, true, false, "in (0, 1]"};

// ---- files ------------------------------------------------------------------------------------------------------

std::string read_text(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ScenarioError(path, 0, "", "cannot read the " + what + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Node parse_file_text(const std::string& text, const std::string& file, std::vector<std::string> override_paths = {}) {
  auto source = std::make_shared<yaml::Source>();
  source->file = file;
  source->override_paths = std::move(override_paths);
  return yaml::parse(text, source);
}

std::vector<std::string> keys_of(const std::map<std::string, models::DeviceSpec>& catalog) {
  std::vector<std::string> keys;
  for (const auto& [name, spec] : catalog) keys.push_back(name);
  return keys;
}

std::vector<std::string> keys_of(const std::map<std::string, models::ModelArch>& catalog) {
  std::vector<std::string> keys;
  for (const auto& [name, arch] : catalog) keys.push_back(name);
  return keys;
}

// ---- catalogs ---------------------------------------------------------------------------------------------------

const std::vector<std::string> DTYPES = {"fp32", "tf32", "bf16", "fp16", "fp8", "int8"};
const std::vector<std::string> DEVICE_FIELDS = {
    "peak_flops", "hbm",           "hbm_bandwidth", "nvlink_bandwidth",   "tdp",
    "idle_power", "prefill_power", "decode_power",  "compute_efficiency", "memory_efficiency",
    "power_model", "busy_power_floor", "pj_per_flop", "pj_per_byte"};

// Fields shared by a catalog entry and hardware.overrides; absent keys leave `spec` unchanged.
void read_device_fields(const Node& n, models::DeviceSpec& spec) {
  if (const Node flops = n.child("peak_flops"); flops.present()) {
    for (const auto& [dtype, value] : flops.entries()) {
      if (std::find(DTYPES.begin(), DTYPES.end(), dtype) == DTYPES.end()) {
        value.fail("unknown dtype '" + dtype + "' (valid dtypes: " + yaml::join_or(DTYPES) + ")");
      }
      spec.peak_flops[dtype] = value.as_quantity(Unit::FLOPS, yaml::positive());
    }
  }
  n.read_quantity("hbm", Unit::BYTES, spec.hbm_bytes, yaml::positive());
  n.read_quantity("hbm_bandwidth", Unit::BANDWIDTH, spec.hbm_bandwidth, yaml::positive());
  n.read_quantity("nvlink_bandwidth", Unit::BANDWIDTH, spec.nvlink_bandwidth, yaml::positive());
  n.read_quantity("tdp", Unit::POWER, spec.tdp_w, yaml::positive());
  n.read_quantity("idle_power", Unit::POWER, spec.idle_w, yaml::non_negative());
  n.read_quantity("prefill_power", Unit::POWER, spec.prefill_w, yaml::positive());
  n.read_quantity("decode_power", Unit::POWER, spec.decode_w, yaml::positive());
  n.read_number("compute_efficiency", spec.compute_efficiency, FRACTION);
  n.read_number("memory_efficiency", spec.memory_efficiency, FRACTION);
  // The fitted GPU power model (docs/power.md).
  if (const Node model = n.child("power_model"); model.present()) spec.power_model = model.as_enum({"fitted", "phase"});
  n.read_quantity("busy_power_floor", Unit::POWER, spec.power_fit.busy_floor_w, yaml::positive());
  // Energy per FLOP and per HBM byte, in picojoules.
  const Range PICOJOULES{0, 1e6, false, true, "> 0 and at most 1e6 pJ"};
  for (auto [key, joules] : {std::pair{"pj_per_flop", &spec.power_fit.joules_per_flop},
                             std::pair{"pj_per_byte", &spec.power_fit.joules_per_byte}}) {
    double pj = 0;
    if (n.child(key).present()) n.read_number(key, pj, PICOJOULES), *joules = pj * 1e-12;
  }
}

std::string watts(double w) {
  std::ostringstream text;
  text << w << " W";
  return text.str();
}

// Phase powers must be ordered idle <= decode, prefill <= TDP, or the power model would invent energy; a fit needs
// all three of its figures and idle <= busy floor <= TDP.
void check_device_powers(const Node& n, const models::DeviceSpec& spec) {
  const models::GpuPowerFit& fit = spec.power_fit;
  const bool any_fit = fit.busy_floor_w > 0 || fit.joules_per_flop > 0 || fit.joules_per_byte > 0;
  if (any_fit && !fit.present())
    n.fail("a fitted GPU power model needs busy_power_floor, pj_per_flop and pj_per_byte together");
  if (fit.present() && !(spec.idle_w <= fit.busy_floor_w && fit.busy_floor_w <= spec.decode_w))
    n.fail("busy_power_floor " + watts(fit.busy_floor_w) + " must lie between the idle power " + watts(spec.idle_w) +
           " and the decode power " + watts(spec.decode_w) + " (where the fitted model's memory term stops)");
  if (spec.power_model == "fitted" && !fit.present())
    n.fail("power_model fitted needs busy_power_floor, pj_per_flop and pj_per_byte");
  for (const auto& [phase, power] : {std::pair{"prefill", spec.prefill_w}, std::pair{"decode", spec.decode_w}}) {
    if (spec.idle_w > power) {
      n.fail(std::string("idle power ") + watts(spec.idle_w) + " exceeds the " + phase + " power " + watts(power));
    }
    if (power > spec.tdp_w) {
      n.fail(std::string("the ") + phase + " power " + watts(power) + " exceeds the TDP " + watts(spec.tdp_w) +
             "; a power cap lowers both");
    }
  }
}

std::map<std::string, models::DeviceSpec> parse_hardware_catalog(const Node& root) {
  std::map<std::string, models::DeviceSpec> catalog;
  for (const auto& [name, entry] : root.entries()) {
    std::vector<std::string> keys = DEVICE_FIELDS;
    keys.insert(keys.end(), {"description", "sources"});
    entry.check_keys(keys);
    models::DeviceSpec spec;
    spec.name = name;
    read_device_fields(entry, spec);
    for (const char* key : {"peak_flops", "hbm", "hbm_bandwidth", "nvlink_bandwidth", "tdp", "idle_power",
                            "prefill_power", "decode_power"}) {
      entry.required(key);
    }
    check_device_powers(entry, spec);
    if (const Node sources = entry.child("sources"); sources.present()) {
      for (const auto& [field, text] : sources.entries()) spec.sources[field] = text.as_string();
    }
    catalog[name] = spec;
  }
  return catalog;
}

std::map<std::string, models::ModelArch> parse_model_catalog(const Node& root) {
  std::map<std::string, models::ModelArch> catalog;
  for (const auto& [name, entry] : root.entries()) {
    entry.check_keys(
        {"layers", "hidden", "heads", "kv_heads", "head_dim", "ffn", "vocab", "max_context", "experts",
         "experts_per_token", "source", "description"});
    models::ModelArch arch;
    arch.name = name;
    const Range size = yaml::between(1, 1 << 20);
    arch.layers = static_cast<int>(entry.required("layers").as_int(size));
    arch.hidden = static_cast<int>(entry.required("hidden").as_int(size));
    const Node heads = entry.required("heads");
    arch.heads = static_cast<int>(heads.as_int(size));
    const Node kv_heads = entry.required("kv_heads");
    arch.kv_heads = static_cast<int>(kv_heads.as_int(size));
    if (arch.heads % arch.kv_heads != 0)
      kv_heads.fail("expected a divisor of heads (" + std::to_string(arch.heads) + ")");
    if (const Node head_dim = entry.child("head_dim"); head_dim.present()) {
      arch.head_dim = static_cast<int>(head_dim.as_int(size));
    } else if (arch.hidden % arch.heads != 0) {
      heads.fail("hidden is not a multiple of heads; give head_dim explicitly");
    } else {
      arch.head_dim = arch.hidden / arch.heads;
    }
    arch.ffn = static_cast<int>(entry.required("ffn").as_int(size));
    arch.vocab = static_cast<int>(entry.required("vocab").as_int(yaml::between(1, 1 << 24)));
    arch.max_context = static_cast<int>(entry.required("max_context").as_int(yaml::between(1, 1 << 24)));
    // A mixture of experts names both its expert count and its router's top-k.
    const Node experts = entry.child("experts"), top_k = entry.child("experts_per_token");
    if (experts.present() != top_k.present())
      (experts.present() ? experts : top_k)
          .fail("a mixture-of-experts model gives both experts and experts_per_token (its router's top-k)");
    if (experts.present()) {
      arch.experts = static_cast<int>(experts.as_int(yaml::between(2, 1 << 16)));
      arch.experts_per_token = static_cast<int>(top_k.as_int(yaml::between(1, 1 << 16)));
      if (arch.experts_per_token > arch.experts)
        top_k.fail("expected at most experts (" + std::to_string(arch.experts) + "): a token cannot take " +
                   std::to_string(arch.experts_per_token) + " distinct experts out of " + std::to_string(arch.experts));
    }
    entry.read("source", arch.source);
    catalog[name] = arch;
  }
  return catalog;
}

// ---- scenario sections ----------------------------------------------------------------------------------------

// Everything a section parser may need besides its own node.
struct Context {
  fs::path base_dir;  // folder of the scenario file: relative paths start here
  std::map<std::string, models::DeviceSpec> hardware;
  std::map<std::string, models::ModelArch> models;
  std::map<std::string, EngineCatalogEntry> engines;
};

SimulationConfig parse_simulation(const Node& n) {
  SimulationConfig sim;
  if (!n.present()) return sim;
  n.check_keys({"duration", "seed", "sample_interval", "fidelity", "drain"});
  n.read_quantity("duration", Unit::DURATION, sim.duration_s,
                  Range{0, SECONDS_PER_YEAR, true, false, "> 0 and at most one year (365d)"});
  n.read("seed", sim.seed);
  if (const Node interval = n.child("sample_interval"); interval.present()) {
    sim.sample_interval_s = interval.as_quantity(Unit::DURATION, yaml::positive());
    if (sim.sample_interval_s > sim.duration_s) interval.fail("expected at most the simulation duration");
  }
  if (const Node fidelity = n.child("fidelity"); fidelity.present()) {
    sim.fidelity = fidelity.as_enum({"fast", "iteration"}) == "fast" ? Fidelity::FAST : Fidelity::ITERATION;
  }
  n.read("drain", sim.drain);
  return sim;
}

// hardware: gpu (catalog key), catalog (optional path), overrides (device fields with units).
void parse_hardware(const Node& n, Context& ctx, Scenario& scenario) {
  if (n.present()) n.check_keys({"gpu", "catalog", "overrides"});
  const Node catalog = n.child("catalog");
  if (catalog.present()) {
    const fs::path path = ctx.base_dir / catalog.as_string();
    if (!yaml::is_file(path)) catalog.fail("file not found: " + path.string());
    ctx.hardware = load_hardware_catalog(path.string());
  } else {
    ctx.hardware = load_hardware_catalog(data_dir() + "/hardware.yaml");
  }
  const Node gpu = n.child("gpu");
  if (gpu.present()) scenario.gpu = gpu.as_string();
  const auto it = ctx.hardware.find(scenario.gpu);
  if (it == ctx.hardware.end()) {
    (gpu.present() ? gpu : n)
        .fail("unknown GPU '" + scenario.gpu + "' (valid GPUs: " + yaml::join_or(keys_of(ctx.hardware)) + ")");
  }
  scenario.device = it->second;
  if (const Node overrides = n.child("overrides"); overrides.present()) {
    overrides.check_keys(DEVICE_FIELDS);
    read_device_fields(overrides, scenario.device);
    check_device_powers(overrides, scenario.device);
    // The prefill figure only drives a phase model: overriding it on a fitted device would change nothing.
    const bool fitted = scenario.device.power_fit.present() && scenario.device.power_model != "phase";
    if (const Node prefill = overrides.child("prefill_power"); fitted && prefill.present())
      prefill.fail("prefill_power drives the phase power model, but " + scenario.device.name +
                   " uses the fitted one (busy_power_floor, pj_per_flop, pj_per_byte, decode_power, tdp); override "
                   "those, or set power_model: phase");
  }
}

FacilityConfig parse_facility(const Node& n) {
  FacilityConfig facility;
  if (n.present())
    n.check_keys({"racks", "servers_per_rack", "gpus_per_server", "server_overhead", "server_power", "pue", "power"});
  n.read("racks", facility.racks, yaml::between(1, 100000));
  n.read("servers_per_rack", facility.servers_per_rack, yaml::between(1, 1000));
  // 72: the largest NVLink domain sold as one unit (GB200 NVL72).
  n.read("gpus_per_server", facility.gpus_per_server, yaml::between(1, 72));
  // The defaults describe an 8-GPU server; another size scales its non-GPU parts and supplies with its GPUs.
  const double scale = facility.gpus_per_server / 8.0;
  facility.server_power.idle_w *= scale;
  facility.server_power.full_w *= scale;
  facility.server_power.psu.rated_w *= scale;
  const Node constant = n.child("server_overhead"), model = n.child("server_power");
  if (constant.present() && model.present())
    model.fail("give either server_overhead (a constant per server) or server_power (idle, load and supplies), not both");
  if (constant.present()) {
    facility.server_power_constant = true;
    facility.server_overhead_w = constant.as_quantity(Unit::POWER, Range{0, 1e6, false, false, ">= 0 and at most 1MW"});
    facility.server_power = models::ServerPowerParams::constant(facility.server_overhead_w);
  }
  if (model.present()) {
    model.check_keys({"idle", "full_load", "psu_capacity", "psu"});
    const Range watts{0, 1e6, false, false, ">= 0 and at most 1MW"};
    model.read_quantity("idle", Unit::POWER, facility.server_power.idle_w, watts);
    model.read_quantity("full_load", Unit::POWER, facility.server_power.full_w, watts);
    model.read_quantity("psu_capacity", Unit::POWER, facility.server_power.psu.rated_w, yaml::positive());
    if (facility.server_power.full_w < facility.server_power.idle_w)
      model.child(model.child("full_load").present() ? "full_load" : "idle")
          .fail("full_load " + std::to_string(facility.server_power.full_w) + " W is below idle " +
                std::to_string(facility.server_power.idle_w) + " W");
    if (const Node psu = model.child("psu"); psu.present() && psu.as_enum({"titanium", "lossless"}) == "lossless")
      facility.server_power.psu.efficiency_curve = {{1.0, 1.0}};
  }
  n.read_number("pue", facility.pue,
                Range{1, 5, false, false, ">= 1 (facility power includes IT power) and at most 5"});
  const double gpus = double(facility.racks) * facility.servers_per_rack * facility.gpus_per_server;
  if (gpus > 1e6)
    n.fail("the facility has " + std::to_string(int64_t(gpus)) + " GPUs; at most 1,000,000 are supported");
  return facility;
}

// The FabricParams field an invalid_argument from models::check_fabric_params starts with, as a fabric key (the
// "_s" of latencies dropped); "" for fields that come from elsewhere (facility: servers, gpus_per_server).
std::string fabric_key_of(const std::string& message) {
  std::string field = message.substr(0, message.find(':'));
  if (field == "servers" || field == "gpus_per_server") return "";
  if (field.size() > 2 && field.compare(field.size() - 2, 2, "_s") == 0) field.resize(field.size() - 2);
  return field;
}

// fabric: the kind and its parameters (docs/fabric.md). Keys that the kind does not use are errors, and the
// combination is checked here with the facility, as models::build_fabric would, so a run never starts on a fabric
// that cannot be built.
FabricConfig parse_fabric(const Node& n, const Scenario& scenario) {
  FabricConfig fabric;
  const std::vector<std::string> common = {
      "kind",         "nic_bandwidth",  "nvlink_bandwidth", "nvlink_domain_gpus",     "servers_per_leaf",
      "link_latency", "nvlink_latency", "storage_nodes",    "storage_nodes_per_leaf", "storage_bandwidth"};
  const std::vector<std::string> tree = {"spines", "oversubscription"};
  const std::vector<std::string> three_tier = {"tiers", "leaves_per_pod", "cores", "core_oversubscription"};
  const std::vector<std::string> dragonfly = {"routers_per_group", "global_links_per_router", "local_bandwidth",
                                              "global_bandwidth"};
  if (n.present()) {
    std::vector<std::string> all = common;
    for (const auto* keys : {&tree, &three_tier, &dragonfly}) all.insert(all.end(), keys->begin(), keys->end());
    n.check_keys(all);
    // Scenario spelling is hyphenated; '_' is accepted for '-' (leaf_spine, fat_tree, rail_optimized).
    const std::vector<std::string> kinds = {"leaf-spine", "fat-tree", "rail-optimized", "dragonfly"};
    if (const Node kind = n.child("kind"); kind.present()) {
      const std::string given = kind.as_string();
      std::string text = given;
      std::replace(text.begin(), text.end(), '_', '-');
      const auto it = std::find(kinds.begin(), kinds.end(), text);
      if (it == kinds.end())
        kind.fail("expected one of " + yaml::join_or(kinds) + " ('_' for '-' is accepted too), found '" + given + "'");
      fabric.kind = static_cast<FabricKind>(it - kinds.begin());
    }
    std::vector<std::string> used = common;
    if (fabric.kind != FabricKind::DRAGONFLY) used.insert(used.end(), tree.begin(), tree.end());
    if (fabric.kind == FabricKind::FAT_TREE) used.insert(used.end(), three_tier.begin(), three_tier.end());
    if (fabric.kind == FabricKind::DRAGONFLY) used.insert(used.end(), dragonfly.begin(), dragonfly.end());
    for (const auto& [key, value] : n.entries()) {
      if (std::find(used.begin(), used.end(), key) != used.end()) continue;
      std::string owners = "leaf-spine, fat-tree and rail-optimized";
      if (std::find(dragonfly.begin(), dragonfly.end(), key) != dragonfly.end()) owners = "dragonfly";
      if (std::find(three_tier.begin(), three_tier.end(), key) != three_tier.end()) owners = "fat-tree";
      value.fail("not used by kind " + kinds[static_cast<size_t>(fabric.kind)] + " (only by " + owners + ")");
    }

    n.read_quantity("nic_bandwidth", Unit::BANDWIDTH, fabric.nic_bandwidth, yaml::positive());
    n.read_quantity("nvlink_bandwidth", Unit::BANDWIDTH, fabric.nvlink_bandwidth, yaml::positive());
    n.read("nvlink_domain_gpus", fabric.nvlink_domain_gpus, yaml::between(1, 100000));
    n.read("servers_per_leaf", fabric.servers_per_leaf, yaml::between(1, 100000));
    n.read("tiers", fabric.tiers, yaml::between(2, 3));
    n.read("spines", fabric.spines, yaml::between(1, 4096));
    n.read("leaves_per_pod", fabric.leaves_per_pod, yaml::between(1, 100000));
    n.read("cores", fabric.cores, yaml::between(1, 4096));
    n.read_number("oversubscription", fabric.oversubscription, yaml::between(1, 64));
    n.read_number("core_oversubscription", fabric.core_oversubscription, yaml::between(1, 64));
    n.read("routers_per_group", fabric.routers_per_group, yaml::between(1, 1024));
    n.read("global_links_per_router", fabric.global_links_per_router, yaml::between(0, 1024));
    n.read_quantity("local_bandwidth", Unit::BANDWIDTH, fabric.local_bandwidth, yaml::positive());
    n.read_quantity("global_bandwidth", Unit::BANDWIDTH, fabric.global_bandwidth, yaml::positive());
    n.read("storage_nodes", fabric.storage_nodes, yaml::between(0, 1000000));
    n.read("storage_nodes_per_leaf", fabric.storage_nodes_per_leaf, yaml::between(1, 4096));
    n.read_quantity("storage_bandwidth", Unit::BANDWIDTH, fabric.storage_bandwidth, yaml::positive());
    const Range latency{0, 1, false, false, ">= 0 and at most 1s"};
    n.read_quantity("link_latency", Unit::DURATION, fabric.link_latency_s, latency);
    n.read_quantity("nvlink_latency", Unit::DURATION, fabric.nvlink_latency_s, latency);
  }

  // The combination, with the facility: the error names the key (its line when given, else the section's).
  Scenario probe;
  probe.facility = scenario.facility;
  probe.device = scenario.device;
  probe.fabric = fabric;
  try {
    models::check_fabric_params(fabric_params(probe));
  } catch (const std::invalid_argument& e) {
    const std::string message = e.what();
    const std::string key = fabric_key_of(message);
    const size_t colon = message.find(": ");
    const std::string detail = colon == std::string::npos ? message : message.substr(colon + 2);
    if (key.empty()) n.fail(message);
    n.child(key).fail(detail);
  }
  return fabric;
}

SchedulerConfig parse_scheduler(const Node& n) {
  SchedulerConfig scheduler;
  if (!n.present()) return scheduler;
  n.check_keys({"max_num_seqs", "max_num_batched_tokens", "block_size", "chunked_prefill", "kv_memory_fraction",
                "num_blocks", "prefix_caching", "max_model_len"});
  n.read("max_num_seqs", scheduler.max_num_seqs, yaml::between(1, 1 << 20));
  n.read("max_num_batched_tokens", scheduler.max_num_batched_tokens, yaml::between(1, 1 << 26));
  if (const Node block = n.child("block_size"); block.present()) {
    const int64_t size = block.as_int(yaml::between(1, 4096));
    if ((size & (size - 1)) != 0)
      block.fail("expected a power of two (1, 2, 4, ..., 4096), found " + std::to_string(size));
    scheduler.block_size = static_cast<int>(size);
  }
  n.read("chunked_prefill", scheduler.chunked_prefill);
  n.read("prefix_caching", scheduler.prefix_caching);
  n.read("max_model_len", scheduler.max_model_len, yaml::between(1, MAX_TOKENS));
  n.read_number("kv_memory_fraction", scheduler.kv_memory_fraction, FRACTION);
  // An explicit cache size (e.g. the reference engine's --kv-gib in blocks) overrides kv_memory_fraction.
  n.read("num_blocks", scheduler.num_blocks, yaml::between(1, 2e9));
  return scheduler;
}

// Whether a measured table is a GPU device profile (else a kbench table of this CPU): its title line says so.
bool is_device_profile(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t\r") != std::string::npos) return line.find("device profile") != std::string::npos;
  return false;
}

// The scenario's device profile (data/calibration/<device>.csv), read once, as the perf config's table.
void use_device_profile(PerfConfig& perf, const std::string& path, Scenario& scenario) {
  perf.kind = PerfConfig::Kind::CALIBRATED;
  perf.table = PerfConfig::Table::DEVICE_PROFILE;
  perf.table_key = path;
  if (!scenario.device_profiles.count(path)) scenario.device_profiles[path] = cached_device_profile(path);
}

// perf: absent (calibrated from the device's profile when it has one, else roofline) | roofline | calibrated
//     | {kind: roofline, iteration_overhead: 1ms, clock_fraction: 0.8}
//     | {kind: constant, iteration_time: 20ms}
//     | {kind: calibrated, table: data/calibration/<device>.csv, clock_fraction}   (a GPU device profile)
//     | {kind: calibrated, table: data/calibration/cpu-x.csv, iteration_overhead, overhead_per_seq,
//        overhead_per_token, overhead_per_key, overhead_per_prefill_pair, clock_fraction}   (a kbench table)
// Tables are read and validated here, once per resolved path.
PerfConfig parse_perf(const Node& n, const Context& ctx, Scenario& scenario, const std::string& dtype) {
  PerfConfig perf;
  const std::string profile = device_profile_path(scenario.gpu);
  if (!n.present()) {
    if (profile.empty()) {
      perf.note = "no measured device profile for " + scenario.gpu;
      return perf;
    }
    // fp16 uses the bf16 GEMMs (the same tensor-core rate); a dtype the profile did not measure stays on the roofline.
    const auto& gemm = cached_device_profile(profile)->gemm;
    if (!gemm.count(dtype) && !(dtype == "fp16" && gemm.count("bf16"))) {
      perf.note = "no " + dtype + " GEMMs in the measured profile of " + scenario.gpu;
      return perf;
    }
    use_device_profile(perf, profile, scenario);
    return perf;
  }
  perf.chosen = true;
  if (n.is_scalar()) {
    const std::string kind = n.as_enum({"roofline", "calibrated"});
    if (kind == "calibrated") {
      if (profile.empty())
        n.fail("no measured device profile for " + scenario.gpu + " (data/calibration/" + scenario.gpu +
               ".csv); use perf: roofline");
      use_device_profile(perf, profile, scenario);
    }
    return perf;
  }
  if (!n.is_map()) n.fail("expected 'roofline', 'calibrated' or a map with a kind, found " + n.describe());
  const Range overhead{0, 10, false, false, ">= 0 and at most 10s"};
  const std::string kind = n.required("kind").as_enum({"roofline", "constant", "calibrated"});
  if (kind == "roofline") {
    n.check_keys({"kind", "iteration_overhead", "clock_fraction"});
    n.read_quantity("iteration_overhead", Unit::DURATION, perf.iteration_overhead_s, overhead);
    n.read_number("clock_fraction", perf.clock_fraction, FRACTION);
    return perf;
  }
  if (kind == "constant") {
    n.check_keys({"kind", "iteration_time"});
    perf.kind = PerfConfig::Kind::CONSTANT;
    perf.constant_iteration_s =
        n.required("iteration_time").as_quantity(Unit::DURATION, Range{0, 10, true, false, "> 0 and at most 10s"});
    return perf;
  }
  const Node table = n.child("table");
  const std::string path = table.present() ? resolve_data_path(table, ctx.base_dir) : profile;
  if (path.empty())
    n.fail("no measured device profile for " + scenario.gpu + " (data/calibration/" + scenario.gpu +
           ".csv): give table: or use kind: roofline");
  if (is_device_profile(path)) {
    n.check_keys({"kind", "table", "clock_fraction"});
    use_device_profile(perf, path, scenario);
    const std::string& measured = scenario.device_profiles.at(path)->device;
    if (measured != scenario.gpu)
      (table.present() ? table : n).fail(path + " was measured on " + measured + ", not on this scenario's " +
                                         scenario.gpu);
    n.read_number("clock_fraction", perf.clock_fraction, FRACTION);
    return perf;
  }
  n.check_keys({"kind", "table", "iteration_overhead", "overhead_per_seq", "overhead_per_token", "overhead_per_key",
                "overhead_per_prefill_pair", "clock_fraction"});
  perf.kind = PerfConfig::Kind::CALIBRATED;
  perf.table = PerfConfig::Table::KBENCH;
  n.read_number("clock_fraction", perf.clock_fraction, FRACTION);
  perf.table_key = path;
  auto t = scenario.calibration_tables.find(perf.table_key);
  if (t == scenario.calibration_tables.end()) {
    t = scenario.calibration_tables.emplace(perf.table_key, read_calibration_csv(perf.table_key)).first;
  }
  // `aifsim calibrate` writes the fitted step overheads into the table's header; the scenario's values win.
  perf.iteration_overhead_s = calibration_header_number(t->second, "iteration_overhead_s", 0);
  perf.overhead_per_seq_s = calibration_header_number(t->second, "overhead_per_seq_s", 0);
  perf.overhead_per_token_s = calibration_header_number(t->second, "overhead_per_token_s", 0);
  perf.overhead_per_key_s = calibration_header_number(t->second, "overhead_per_key_s", 0);
  perf.overhead_per_prefill_pair_s = calibration_header_number(t->second, "overhead_per_prefill_pair_s", 0);
  n.read_quantity("iteration_overhead", Unit::DURATION, perf.iteration_overhead_s, overhead);
  n.read_quantity("overhead_per_seq", Unit::DURATION, perf.overhead_per_seq_s, overhead);
  n.read_quantity("overhead_per_token", Unit::DURATION, perf.overhead_per_token_s, overhead);
  n.read_quantity("overhead_per_key", Unit::DURATION, perf.overhead_per_key_s, overhead);
  n.read_quantity("overhead_per_prefill_pair", Unit::DURATION, perf.overhead_per_prefill_pair_s, overhead);
  return perf;
}

SloConfig parse_slo(const Node& n) {
  SloConfig slo;
  if (!n.present()) return slo;
  n.check_keys({"ttft", "tpot", "e2e"});
  n.read_quantity("ttft", Unit::DURATION, slo.ttft_s, yaml::positive());
  n.read_quantity("tpot", Unit::DURATION, slo.tpot_s, yaml::positive());
  n.read_quantity("e2e", Unit::DURATION, slo.e2e_s, yaml::positive());
  return slo;
}

}  // namespace

double replica_weight_bytes(const ServiceConfig& service, const std::map<std::string, models::ModelArch>& models) {
  const models::ModelArch& model = models.at(service.model);
  const double all = model.parameters();
  double params = all + (service.dp - 1) * (all - model.expert_parameters());
  if (service.speculative.method == ServiceConfig::Speculative::Method::DRAFT)
    params += models.at(service.speculative.draft_model).parameters();
  return params * models::dtype_bytes(service.dtype);
}

namespace {

ServiceConfig parse_service(const Node& n, const Context& ctx, Scenario& scenario) {
  n.check_keys({"name", "model", "dtype", "kv_cache_dtype", "tp", "pp", "expert_parallel", "data_parallel", "replicas",
                "disaggregation", "load_weights", "scheduler", "router", "engine", "perf", "slo", "priority",
                "gpu_power_limit", "kv_host", "kv_disk", "speculative"});
  ServiceConfig service;
  service.name = n.required("name").as_string();
  const Node model = n.required("model");
  service.model = model.as_string();
  const auto arch = ctx.models.find(service.model);
  if (arch == ctx.models.end()) {
    model.fail("unknown model '" + service.model + "' (valid models: " + yaml::join_or(keys_of(ctx.models)) + ")");
  }
  if (const Node dtype = n.child("dtype"); dtype.present()) {
    std::vector<std::string> supported;
    for (const auto& [name, flops] : scenario.device.peak_flops) supported.push_back(name);
    service.dtype = dtype.as_enum(supported);
  } else if (scenario.device.peak_flops.count(service.dtype) == 0) {
    n.fail(scenario.gpu + " has no " + service.dtype + " peak in the catalog; set dtype");
  }
  const int per_server = scenario.facility.gpus_per_server;
  if (const Node tp = n.child("tp"); tp.present()) {
    service.tp = static_cast<int>(tp.as_int(yaml::between(1, per_server)));
    if (per_server % service.tp != 0) {
      tp.fail("expected a divisor of facility.gpus_per_server (" + std::to_string(per_server) +
              "): a replica's tensor-parallel group lives on one server");
    }
  }
  // A replica's GPUs divide a server or fill whole servers.
  auto check_replica_fits = [&](const Node& at, const std::string& layout) {
    const int gpus = service.gpus_per_replica();
    if (gpus <= per_server ? per_server % gpus != 0 : gpus % per_server != 0)
      at.fail("a replica's " + layout + " = " + std::to_string(gpus) + " GPUs must divide facility.gpus_per_server (" +
              std::to_string(per_server) + ") or fill whole servers");
  };
  if (const Node pp = n.child("pp"); pp.present()) {
    service.pp = static_cast<int>(pp.as_int(yaml::between(1, arch->second.layers)));
    check_replica_fits(pp, "tp x pp");
  }
  if (const Node kv = n.child("kv_cache_dtype"); kv.present()) service.kv_cache_dtype = kv.as_enum({"auto", "bf16", "fp8"});
  const models::ModelArch& m = arch->second;
  if (const Node ep = n.child("expert_parallel"); ep.present()) {
    n.read("expert_parallel", service.expert_parallel);
    if (service.expert_parallel && !m.is_moe())
      ep.fail(service.model + " is dense: expert parallelism needs a mixture of experts (a catalog model with experts)");
  }
  if (const Node dp = n.child("data_parallel"); dp.present()) {
    service.dp = static_cast<int>(dp.as_int(yaml::between(1, 1024)));
    if (service.dp > 1 && !m.is_moe())
      dp.fail(service.model + " is dense: attention data parallelism is for mixtures of experts (serve more replicas "
              "instead)");
    if (service.dp > 1 && !service.expert_parallel)
      dp.fail("data-parallel attention ranks share their experts through expert parallelism: set expert_parallel: true");
    check_replica_fits(dp, "data_parallel x tp x pp");
  }
  if (service.expert_parallel && m.experts % (service.tp * service.dp) != 0)
    n.child("expert_parallel")
        .fail("the " + std::to_string(m.experts) + " experts of " + service.model + " do not divide over tp x data_parallel = " +
              std::to_string(service.tp * service.dp) + " GPUs");
  service.engine = parse_service_engine(n.child("engine"), ctx.engines, service.gpus_per_replica());
  n.read("replicas", service.replicas, yaml::between(1, 1e6));
  if (const Node dis = n.child("disaggregation"); dis.present()) {
    dis.check_keys({"prefill_replicas", "decode_replicas"});
    if (n.child("replicas").present())
      n.child("replicas").fail("give either replicas or disaggregation.{prefill_replicas, decode_replicas}, not both");
    dis.required("prefill_replicas");
    dis.required("decode_replicas");
    dis.read("prefill_replicas", service.prefill_replicas, yaml::between(1, 1e6));
    dis.read("decode_replicas", service.decode_replicas, yaml::between(1, 1e6));
  }
  if (const Node lw = n.child("load_weights"); lw.present()) {
    bool on = false;
    n.read("load_weights", on);
    service.load_weights = on ? ServiceConfig::WeightLoading::ON : ServiceConfig::WeightLoading::OFF;
    if (on && scenario.fabric.storage_nodes == 0)
      lw.fail("loading weights needs storage nodes to read them from: set fabric.storage_nodes");
  }
  service.scheduler = parse_scheduler(n.child("scheduler"));
  if (service.engine.policy == models::StepPolicy::PREFILL_FIRST) {
    const Node scheduler = n.child("scheduler");
    const Node chunked = scheduler.present() ? scheduler.child("chunked_prefill") : scheduler;
    if (chunked.present() && service.scheduler.chunked_prefill)
      chunked.fail("engine " + service.engine.name + " prefills prompts whole, in steps of their own: no chunked prefill");
    service.scheduler.chunked_prefill = false;
  }
  if (const Node router = n.child("router"); router.present()) {
    const std::string policy = router.as_enum({"round-robin", "least-outstanding-tokens", "cache-aware"});
    service.router = policy == "round-robin"                ? RouterPolicy::ROUND_ROBIN
                     : policy == "least-outstanding-tokens" ? RouterPolicy::LEAST_OUTSTANDING_TOKENS
                                                            : RouterPolicy::CACHE_AWARE;
  }
  service.perf = parse_perf(n.child("perf"), ctx, scenario, service.dtype);
  service.slo = parse_slo(n.child("slo"));
  read_priority(n, service.priority);
  // A GPU power limit (nvidia-smi -pl): between the busy floor (or idle) and the TDP; each step runs at the highest
  // clock that keeps its GPUs under it.
  if (const Node limit = n.child("gpu_power_limit"); limit.present()) {
    const models::DeviceSpec& d = scenario.device;
    const double lowest = d.power_fit.present() ? d.power_fit.busy_floor_w : d.idle_w;
    service.gpu_power_limit_w = limit.as_quantity(Unit::POWER, yaml::positive());
    if (!(service.gpu_power_limit_w > lowest && service.gpu_power_limit_w <= d.tdp_w))
      limit.fail("expected a power above " + watts(lowest) + " (" + (d.power_fit.present() ? "the busy floor" : "idle") +
                 " of " + scenario.gpu + ") and at most its TDP " + watts(d.tdp_w));
  }

  // A KV tier under the prefix cache: its capacity (bytes of KV per replica) and the bandwidth a reload comes over.
  auto read_tier = [&](const Node& tier, const char* what, const char* bandwidth_example, double& bytes,
                       double& bandwidth) {
    tier.check_keys({"capacity", "bandwidth"});
    if (!tier.child("capacity").present())
      tier.fail(std::string("a ") + what + " tier needs its capacity (bytes of KV per replica)");
    if (!tier.child("bandwidth").present())
      tier.fail(std::string("a ") + what + " tier needs its bandwidth (" + bandwidth_example + ")");
    tier.read_quantity("capacity", Unit::BYTES, bytes, yaml::positive());
    tier.read_quantity("bandwidth", Unit::BANDWIDTH, bandwidth, yaml::positive());
  };
  if (const Node host = n.child("kv_host"); host.present()) {
    read_tier(host, "host", "bytes/s of each GPU's host link, e.g. 64GB/s for PCIe 5 x16", service.kv_host_bytes,
              service.kv_host_bandwidth);
    if (!service.scheduler.prefix_caching)
      host.fail("a host tier holds the prefix cache's evicted blocks: it needs scheduler.prefix_caching");
  }
  if (const Node disk = n.child("kv_disk"); disk.present()) {
    read_tier(disk, "disk", "bytes/s the replica's drives read, e.g. 7GB/s for one PCIe 4 NVMe", service.kv_disk_bytes,
              service.kv_disk_bandwidth);
    if (service.kv_host_bytes <= 0)
      disk.fail("a disk tier takes what host memory pushes out: it needs kv_host above it");
  }

  if (const Node spec = n.child("speculative"); spec.present()) {
    ServiceConfig::Speculative& sp = service.speculative;
    const bool draft = spec.required("method").as_enum({"draft", "ngram"}) == "draft";
    spec.check_keys(draft ? std::vector<std::string>{"method", "tokens", "acceptance", "draft_model"}
                          : std::vector<std::string>{"method", "tokens", "acceptance"});
    sp.method = draft ? ServiceConfig::Speculative::Method::DRAFT : ServiceConfig::Speculative::Method::NGRAM;
    spec.required("tokens");
    spec.read("tokens", sp.tokens, yaml::between(1, 16));
    spec.required("acceptance");
    spec.read_number("acceptance", sp.acceptance, Range{0, 1, false, false, "between 0 and 1"});
    if (draft) {
      const Node dm = spec.required("draft_model");
      sp.draft_model = dm.as_string();
      const auto d = ctx.models.find(sp.draft_model);
      if (d == ctx.models.end())
        dm.fail("unknown model '" + sp.draft_model + "' (valid models: " + yaml::join_or(keys_of(ctx.models)) + ")");
      if (d->second.vocab != arch->second.vocab)
        dm.fail("a draft model proposes tokens of the target's vocabulary: " + sp.draft_model + " has " +
                std::to_string(d->second.vocab) + " tokens, " + service.model + " " + std::to_string(arch->second.vocab));
      if (d->second.heads % service.tp != 0)
        dm.fail("the draft runs on the target's tp " + std::to_string(service.tp) + " GPUs, and its " +
                std::to_string(d->second.heads) + " heads do not split over them");
      if (d->second.is_moe()) dm.fail("a mixture of experts as draft model is not supported");
    }
  }

  const double weight_bytes = replica_weight_bytes(service, ctx.models);
  const double per_gpu = weight_bytes / service.gpus_per_replica();
  if (per_gpu >= scenario.device.hbm_bytes) {
    std::ostringstream msg;
    msg.precision(4);
    msg << service.model
        << (service.speculative.draft_model.empty() ? "" : " with draft model " + service.speculative.draft_model)
        << " in " << service.dtype << " has " << weight_bytes / 1e9 << " GB of weights, "
        << per_gpu / 1e9 << " GB per GPU at tp " << service.tp << (service.pp > 1 ? " x pp " + std::to_string(service.pp) : "")
        << ", which does not fit in the "
        << scenario.device.hbm_bytes / 1e9 << " GB of HBM of one " << scenario.gpu
        << "; raise tp, use a smaller dtype or a larger GPU";
    model.fail(msg.str());
  }
  return service;
}

LengthDist parse_lengths(const Node& n) {
  LengthDist dist;
  const Range tokens = yaml::between(1, MAX_TOKENS);
  if (n.present() && n.is_scalar()) {
    dist.value = static_cast<double>(n.as_int(tokens));
    return dist;
  }
  if (!n.present() || !n.is_map()) {
    n.fail("expected a token count or a map {dist: uniform|lognormal, ...}, found " + n.describe());
  }
  if (n.required("dist").as_enum({"uniform", "lognormal"}) == "uniform") {
    n.check_keys({"dist", "min", "max"});
    dist.kind = LengthDist::Kind::UNIFORM;
    dist.min = static_cast<double>(n.required("min").as_int(tokens));
    dist.max = static_cast<double>(n.required("max").as_int(yaml::between(dist.min, MAX_TOKENS)));
    return dist;
  }
  n.check_keys({"dist", "median", "sigma", "min", "max"});
  dist.kind = LengthDist::Kind::LOGNORMAL;
  dist.median = n.required("median").as_number(Range{0, MAX_TOKENS, true, false, ""});
  dist.sigma = n.required("sigma").as_number(Range{0, 10, true, false, "> 0 and at most 10"});
  dist.min = 1;
  if (const Node min = n.child("min"); min.present()) dist.min = static_cast<double>(min.as_int(tokens));
  if (const Node max = n.child("max"); max.present()) {
    dist.max = static_cast<double>(max.as_int(yaml::between(dist.min, MAX_TOKENS)));
  }
  return dist;
}

ArrivalConfig parse_arrival(const Node& n, const Context& ctx) {
  ArrivalConfig arrival;
  if (!n.is_map()) n.fail("expected a map with a kind (poisson, gamma, diurnal or trace), found " + n.describe());
  const std::string kind = n.required("kind").as_enum({"poisson", "gamma", "diurnal", "trace"});
  const Range max_requests = yaml::between(1, 1e12);
  if (kind == "trace") {
    n.check_keys({"kind", "format", "path", "rate_scale", "max_requests"});
    arrival.kind = ArrivalConfig::Kind::TRACE;
    const std::string format = n.required("format").as_enum({"azure-csv", "mooncake-jsonl", "results-h5", "csv"});
    arrival.trace_format = format == "azure-csv"        ? ArrivalConfig::TraceFormat::AZURE_CSV
                           : format == "mooncake-jsonl" ? ArrivalConfig::TraceFormat::MOONCAKE_JSONL
                           : format == "csv"            ? ArrivalConfig::TraceFormat::CSV
                                                        : ArrivalConfig::TraceFormat::RESULTS_H5;
    const Node path = n.required("path");
    arrival.trace_path = resolve_data_path(path, ctx.base_dir);
    if (arrival.trace_format == ArrivalConfig::TraceFormat::RESULTS_H5) {
      // Opening checks that it is an aifsim results file; its rows are read once the workloads are parsed.
      try {
        const analysis::ResultsReader reader(arrival.trace_path);
        if (reader.request_count() == 0) path.fail(arrival.trace_path + " has no /requests rows to replay");
      } catch (const analysis::ResultsError& e) {
        path.fail(std::string("not a readable aifsim results file: ") + e.what());
      }
    }
    n.read_number("rate_scale", arrival.rate_scale, Range{0, 1e6, true, false, "> 0"});
    n.read("max_requests", arrival.max_requests, max_requests);
    return arrival;
  }
  std::vector<std::string> keys = {"kind", "rate", "prompt_tokens", "output_tokens", "max_requests"};
  if (kind == "gamma") keys.push_back("cv");
  if (kind == "diurnal") keys.insert(keys.end(), {"curve", "period"});
  n.check_keys(keys);
  arrival.rate_per_s = n.required("rate").as_quantity(Unit::RATE, Range{0, 1e7, true, false, "> 0 and at most 1e7/s"});
  arrival.prompt_tokens = parse_lengths(n.required("prompt_tokens"));
  arrival.output_tokens = parse_lengths(n.required("output_tokens"));
  n.read("max_requests", arrival.max_requests, max_requests);
  if (kind == "gamma") {
    arrival.kind = ArrivalConfig::Kind::GAMMA;
    arrival.cv = n.required("cv").as_number(Range{0, 100, true, false, "> 0 and at most 100"});
  } else if (kind == "diurnal") {
    arrival.kind = ArrivalConfig::Kind::DIURNAL;
    const Node curve = n.required("curve");
    double peak = 0;
    for (const Node& point : curve.items()) {
      arrival.diurnal_curve.push_back(point.as_number(yaml::non_negative()));
      peak = std::max(peak, arrival.diurnal_curve.back());
    }
    if (peak <= 0) curve.fail("expected a non-empty list of relative rates with at least one above 0");
    n.read_quantity("period", Unit::DURATION, arrival.diurnal_period_s, yaml::positive());
  }
  return arrival;
}

WorkloadConfig parse_workload(const Node& n, const Context& ctx, const Scenario& scenario) {
  n.check_keys({"name", "service", "arrival", "deferrable", "shared_prefix_tokens", "conversation"});
  WorkloadConfig workload;
  workload.name = n.required("name").as_string();
  const Node service = n.required("service");
  workload.service = service.as_string();
  std::vector<std::string> names;
  for (const auto& s : scenario.services) names.push_back(s.name);
  if (std::find(names.begin(), names.end(), workload.service) == names.end()) {
    service.fail("unknown service '" + workload.service + "' (services: " + yaml::join_or(names) + ")");
  }
  workload.arrival = parse_arrival(n.required("arrival"), ctx);
  n.read("shared_prefix_tokens", workload.shared_prefix_tokens, yaml::between(0, MAX_TOKENS));
  if (const Node c = n.child("conversation"); c.present()) {
    c.check_keys({"turns", "think_time", "system_prompt_tokens", "system_prompts"});
    if (workload.arrival.kind == ArrivalConfig::Kind::TRACE)
      c.fail("a trace states its own requests: conversations are for the synthetic arrivals (poisson, gamma, "
             "diurnal), whose rate is then new conversations per second");
    if (workload.shared_prefix_tokens > 0)
      c.fail("give either shared_prefix_tokens or conversation.system_prompt_tokens (a conversation's system prompt "
             "is its shared prefix)");
    WorkloadConfig::Conversation& conv = workload.conversation;
    conv.turns = parse_lengths(c.required("turns"));
    const Node think = c.required("think_time");
    if (think.is_map()) {
      const bool fixed = think.required("dist").as_enum({"fixed", "exponential"}) == "fixed";
      think.check_keys({"dist", fixed ? "value" : "mean"});
      conv.think_time_exponential = !fixed;
      think.read_quantity(fixed ? "value" : "mean", Unit::DURATION, conv.think_time_s, yaml::positive());
      if (!think.child(fixed ? "value" : "mean").present())
        think.fail(std::string("expected the think time's ") + (fixed ? "value" : "mean"));
    } else {
      conv.think_time_s = think.as_quantity(Unit::DURATION, yaml::positive());  // the mean of an exponential gap
    }
    c.read("system_prompt_tokens", conv.system_prompt_tokens, yaml::between(0, MAX_TOKENS));
    c.read("system_prompts", conv.system_prompts, yaml::between(1, 1e6));
  }
  read_deferrable(n, workload.deferrable, workload.deadline_s);
  return workload;
}

// Replicas are packed onto servers: tp divides gpus_per_server, so fitting the GPU count is enough.
void check_gpu_budget(const std::vector<Node>& nodes, const Scenario& scenario) {
  const FacilityConfig& f = scenario.facility;
  const int64_t available = int64_t(f.racks) * f.servers_per_rack * f.gpus_per_server;
  int64_t used = 0;
  std::string breakdown;
  for (size_t i = 0; i < scenario.services.size(); ++i) {
    const ServiceConfig& s = scenario.services[i];
    used += int64_t(s.total_replicas()) * s.gpus_per_replica();
    breakdown += (breakdown.empty() ? "" : ", ") + s.name + ": " + std::to_string(s.total_replicas()) + " x tp " +
                 std::to_string(s.tp) + (s.pp > 1 ? " x pp " + std::to_string(s.pp) : "");
    if (used > available) {
      nodes[i]
          .child(s.disaggregated() ? "disaggregation" : "replicas")
          .fail("the services need at least " + std::to_string(used) + " GPUs (" + breakdown +
                ") but the facility has " + std::to_string(available) + " (" + std::to_string(f.racks) + " rack(s) x " +
                std::to_string(f.servers_per_rack) + " servers x " + std::to_string(f.gpus_per_server) + " GPUs)");
    }
  }
}

Scenario parse_scenario(const Node& root, const fs::path& base_dir) {
  if (!root.is_map()) root.fail("expected a scenario: a map with sections simulation, hardware, services, ...");
  root.check_keys({"description", "simulation", "hardware", "facility", "fabric", "services", "workloads", "jobs",
                   "grid", "policies", "failures", "ops"});
  if (const Node description = root.child("description"); description.present()) description.as_string();

  Scenario scenario;
  Context ctx;
  ctx.base_dir = base_dir;
  ctx.models = load_model_catalog(data_dir() + "/models.yaml");
  ctx.engines = load_engine_catalog(data_dir() + "/engines.yaml");
  scenario.simulation = parse_simulation(root.child("simulation"));
  parse_hardware(root.child("hardware"), ctx, scenario);
  scenario.facility = parse_facility(root.child("facility"));
  scenario.facility_power = parse_facility_power(root.child("facility"), base_dir, scenario);
  scenario.grid = parse_grid(root.child("grid"), base_dir, scenario);
  scenario.fabric = parse_fabric(root.child("fabric"), scenario);

  // A site serves, trains, or both: services may be left out (or empty) when there are jobs.
  const Node services = root.child("services");
  const std::vector<Node> service_nodes = services.present() ? services.items() : std::vector<Node>{};
  if (service_nodes.empty() && !root.child("jobs").present()) {
    if (!services.present()) root.required("services");  // "required key 'services' is missing"
    services.fail("expected at least one service (or a jobs section)");
  }
  for (const Node& node : service_nodes) {
    ServiceConfig service = parse_service(node, ctx, scenario);
    for (size_t j = 0; j < scenario.services.size(); ++j) {
      if (scenario.services[j].name == service.name) {
        node.child("name").fail("duplicate service name '" + service.name + "' (also services[" + std::to_string(j) +
                                "])");
      }
    }
    scenario.models[service.model] = ctx.models.at(service.model);
    if (!service.speculative.draft_model.empty())
      scenario.models[service.speculative.draft_model] = ctx.models.at(service.speculative.draft_model);
    scenario.services.push_back(std::move(service));
    // The measured tables must cover every step the service can schedule: refused here, not in the middle of a run.
    const Node perf = node.child("perf").present() ? node.child("perf") : node;
    check_service_perf(scenario, scenario.services.size() - 1, perf.source().file, perf.line());
  }
  check_gpu_budget(service_nodes, scenario);

  if (const Node workloads = root.child("workloads"); workloads.present()) {
    std::set<std::string> names;
    for (const Node& node : workloads.items()) {
      WorkloadConfig workload = parse_workload(node, ctx, scenario);
      if (!names.insert(workload.name).second)
        node.child("name").fail("duplicate workload name '" + workload.name + "'");
      scenario.workloads.push_back(std::move(workload));
    }
  }
  for (const WorkloadConfig& w : scenario.workloads) {
    const ArrivalConfig& a = w.arrival;
    if (a.kind != ArrivalConfig::Kind::TRACE || scenario.traces.count(a.trace_path)) continue;
    std::vector<TraceRecord> rows;
    switch (a.trace_format) {
      case ArrivalConfig::TraceFormat::AZURE_CSV: rows = read_azure_csv(a.trace_path); break;
      case ArrivalConfig::TraceFormat::MOONCAKE_JSONL: rows = read_mooncake_jsonl(a.trace_path); break;
      case ArrivalConfig::TraceFormat::RESULTS_H5: rows = read_results_requests(a.trace_path); break;
      case ArrivalConfig::TraceFormat::CSV: rows = read_csv_trace(a.trace_path); break;
    }
    scenario.traces[a.trace_path] = std::make_shared<const std::vector<TraceRecord>>(std::move(rows));
  }
  if (const Node jobs = root.child("jobs"); jobs.present()) parse_jobs(jobs, ctx.models, scenario);
  scenario.policies = parse_policies(root.child("policies"), scenario);
  scenario.failures = parse_failures(root.child("failures"), scenario);
  scenario.ops = parse_ops(root.child("ops"), scenario);
  return scenario;
}

Scenario load_impl(const std::string& text, const std::string& file_name, const std::vector<std::string>& overrides) {
  const fs::path base_dir = fs::absolute(fs::path(file_name)).parent_path();
  if (overrides.empty()) {
    Scenario scenario = parse_scenario(parse_file_text(text, file_name), base_dir);
    scenario.source_text = text;
    return scenario;
  }
  // Apply --set to the tree, then re-read it with the overridden paths marked so errors there cite "<--set>".
  YAML::Node tree = parse_file_text(text, file_name).raw();
  std::vector<std::string> override_paths;
  std::string header = "# aifsim: scenario " + file_name + " with --set";
  for (const std::string& assignment : overrides) {
    override_paths.push_back(yaml::apply_override(tree, assignment));
    header += " " + assignment;
  }
  auto source = std::make_shared<yaml::Source>();
  source->file = file_name;
  source->override_paths = override_paths;
  Scenario scenario = parse_scenario(yaml::parse_tree(tree, source), base_dir);
  scenario.source_text = header + "\n" + YAML::Dump(tree) + "\n";
  return scenario;
}

}  // namespace

std::vector<std::string> scenario_warnings(const Scenario& scenario) {
  std::vector<std::string> out;
  const std::string where = scenario.source_path.empty() ? std::string("scenario") : scenario.source_path;
  for (size_t i = 0; i < scenario.services.size(); ++i) {
    const std::string& name = scenario.services[i].name;
    const bool targeted = std::any_of(scenario.workloads.begin(), scenario.workloads.end(),
                                      [&](const WorkloadConfig& w) { return w.service == name; });
    if (targeted) continue;
    out.push_back(where + ": services[" + std::to_string(i) + "]: no workload sends requests to service '" + name +
                  "'" + (scenario.workloads.empty() ? " (the scenario has no workloads section)" : "") +
                  ": its replicas stay idle and its latencies are empty (NaN); add a workload with service: " + name);
  }
  return out;
}

Scenario load_scenario(const std::string& path, const std::vector<std::string>& overrides) {
  Scenario scenario = load_impl(read_text(path, "scenario file"), path, overrides);
  scenario.source_path = path;
  return scenario;
}

Scenario load_scenario_text(const std::string& text, const std::string& file_name,
                            const std::vector<std::string>& overrides) {
  return load_impl(text, file_name, overrides);
}

namespace {

// A plan, a sweep, the GUI and the fuzzers load many scenarios against the same catalogs, and parsing them was most
// of a scenario's load time: each catalog is parsed once per path and content, so a file edited between two loads
// is parsed again and a bad one fails every time.
template <typename Catalog>
Catalog cached_catalog(const std::string& path, const std::string& what, Catalog (*parse)(const Node&)) {
  static std::mutex lock;
  static std::map<std::string, std::pair<std::string, Catalog>> cache;
  std::string text = read_text(path, what);
  {
    const std::lock_guard<std::mutex> guard(lock);
    const auto it = cache.find(path);
    if (it != cache.end() && it->second.first == text) return it->second.second;
  }
  Catalog catalog = parse(parse_file_text(text, path));
  const std::lock_guard<std::mutex> guard(lock);
  cache[path] = {std::move(text), catalog};
  return catalog;
}

}  // namespace

std::map<std::string, models::DeviceSpec> load_hardware_catalog(const std::string& path) {
  return cached_catalog(path, "hardware catalog", &parse_hardware_catalog);
}

std::map<std::string, models::ModelArch> load_model_catalog(const std::string& path) {
  return cached_catalog(path, "model catalog", &parse_model_catalog);
}

std::map<std::string, EngineCatalogEntry> load_engine_catalog(const std::string& path) {
  return cached_catalog(path, "engine catalog", &parse_engine_catalog);
}

}  // namespace aif::sim
