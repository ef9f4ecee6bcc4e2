// Scenario loading: every malformed file in tests/data/bad_scenarios gives the one error its header
// announces; the bundled scenarios and catalogs load with the values written in them, converted by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "aif/analysis/results.hpp"
#include "aif/inputs/device_profile.hpp"
#include "aif/scenario/perf_factory.hpp"
#include "aif/scenario/scenario.hpp"
#include "aif/inputs/trace.hpp"

namespace fs = std::filesystem;
using aif::sim::ScenarioError;

namespace {

const std::string SOURCE_DIR = AIF_SOURCE_DIR;

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(' ');
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(' ') - first + 1);
}

// Header of a bad scenario: "# expect: <key.path> | <message substring>" then optionally "# expect-line: N".
struct Expectation {
  std::string key_path;
  std::string message;
  int line = -1;
};

Expectation read_expectation(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  Expectation e;
  std::getline(in, line);
  const std::string tag = "# expect:";
  const auto bar = line.find(" | ");
  if (line.rfind(tag, 0) != 0 || bar == std::string::npos) {
    ADD_FAILURE() << path << ": first line must be '# expect: <key.path> | <message>'";
    return e;
  }
  e.key_path = trim(line.substr(tag.size(), bar - tag.size()));
  e.message = trim(line.substr(bar + 3));
  while (std::getline(in, line) && line.rfind("#", 0) == 0) {
    const std::string line_tag = "# expect-line:";
    if (line.rfind(line_tag, 0) == 0) e.line = std::stoi(line.substr(line_tag.size()));
  }
  return e;
}

std::vector<std::string> bad_scenarios() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(SOURCE_DIR + "/tests/data/bad_scenarios")) {
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The ScenarioError that loading throws; fails the test when the load succeeds or throws something else.
ScenarioError error_of(const std::string& path, const std::vector<std::string>& overrides = {}) {
  try {
    aif::sim::load_scenario(path, overrides);
    ADD_FAILURE() << path << " loaded without error";
  } catch (const ScenarioError& e) {
    return e;
  }
  return ScenarioError("", -1, "", "no error");
}

ScenarioError text_error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    aif::sim::load_scenario_text(text, "inline.yaml", overrides);
    ADD_FAILURE() << "text loaded without error:\n" << text;
  } catch (const ScenarioError& e) {
    return e;
  }
  return ScenarioError("", -1, "", "no error");
}

const char* const MINIMAL = R"(services:
  - name: chat
    model: Llama-3.1-8B
)";

}  // namespace

// ---- bad input ---------------------------------------------------------------------------------------------------

class BadScenario : public ::testing::TestWithParam<std::string> {};

TEST_P(BadScenario, GivesOneErrorAtTheAnnouncedKeyAndLine) {
  const std::string path = SOURCE_DIR + "/tests/data/bad_scenarios/" + GetParam();
  const Expectation expected = read_expectation(path);
  const ScenarioError e = error_of(path);
  const std::string what = e.what();
  EXPECT_EQ(e.key_path(), expected.key_path) << what;
  EXPECT_EQ(e.file(), path);
  if (expected.line >= 0) {
    EXPECT_EQ(e.line(), expected.line) << what;
  }
  const std::string prefix =
      path + ":" + std::to_string(e.line()) + ": " + (expected.key_path.empty() ? "" : expected.key_path + ": ");
  EXPECT_EQ(what.rfind(prefix, 0), 0u) << "expected prefix '" << prefix << "' in: " << what;
  EXPECT_NE(what.find(expected.message), std::string::npos) << "expected '" << expected.message << "' in: " << what;
}

// Test names from the file names: "01_unknown_top_key.yaml" -> "f01_unknown_top_key".
std::string test_name(const ::testing::TestParamInfo<std::string>& param) {
  std::string name = fs::path(param.param).stem().string();
  std::replace(name.begin(), name.end(), '-', '_');
  return "f" + name;
}

INSTANTIATE_TEST_SUITE_P(Files, BadScenario, ::testing::ValuesIn(bad_scenarios()), test_name);

TEST(BadScenarios, AtLeastTwentyTwoFiles) { EXPECT_GE(bad_scenarios().size(), 22u); }

TEST(ScenarioErrorFormat, WhatReadsFileLineKeyMessage) {
  const ScenarioError e("a.yaml", 7, "services[0].tp", "expected a divisor of 8");
  EXPECT_STREQ(e.what(), "a.yaml:7: services[0].tp: expected a divisor of 8");
  EXPECT_EQ(e.file(), "a.yaml");
  EXPECT_EQ(e.line(), 7);
  EXPECT_EQ(e.key_path(), "services[0].tp");
  EXPECT_STREQ(ScenarioError("a.yaml", 3, "", "YAML syntax error: x").what(), "a.yaml:3: YAML syntax error: x");
}

TEST(ScenarioErrors, MissingFileIsAScenarioError) {
  const ScenarioError e = error_of(SOURCE_DIR + "/scenarios/no_such_file.yaml");
  EXPECT_NE(std::string(e.what()).find("cannot read the scenario file"), std::string::npos) << e.what();
}

TEST(ScenarioErrors, EmptyDocumentAsksForAMap) {
  const ScenarioError e = text_error_of("");
  EXPECT_EQ(e.key_path(), "");
  EXPECT_NE(std::string(e.what()).find("expected a scenario"), std::string::npos) << e.what();
}

TEST(ScenarioErrors, BrokenCustomCatalogNamesTheCatalogFile) {
  const fs::path dir = fs::path(::testing::TempDir()) / "aif_catalog_test";
  fs::create_directories(dir);
  std::ofstream(dir / "hw.yaml") << "X1:\n  peak_flops: {bf16: 1PFLOPS}\n  hbm: 80\n";
  std::ofstream(dir / "s.yaml") << "hardware:\n  gpu: X1\n  catalog: hw.yaml\n" << MINIMAL;
  const ScenarioError e = error_of((dir / "s.yaml").string());
  EXPECT_EQ(e.file(), (dir / "hw.yaml").string());
  EXPECT_EQ(e.line(), 3);
  EXPECT_EQ(e.key_path(), "X1.hbm");
  EXPECT_NE(std::string(e.what()).find("expected a size with a unit"), std::string::npos) << e.what();
}

// ---- --set overrides -----------------------------------------------------------------------------------------------

TEST(Overrides, ReplaceValuesAndCreateSections) {
  const auto s =
      aif::sim::load_scenario_text(MINIMAL, "inline.yaml",
                                   {"services[0].replicas=4", "simulation.duration=90s", "fabric.nic_bandwidth=200Gbps",
                                    "facility.pue=1.5", "services[0].slo={ttft: 2s, tpot: 40ms}"});
  ASSERT_EQ(s.services.size(), 1u);
  EXPECT_EQ(s.services[0].replicas, 4);
  EXPECT_DOUBLE_EQ(s.simulation.duration_s, 90.0);
  EXPECT_DOUBLE_EQ(s.fabric.nic_bandwidth, 25e9);  // 200e9 bits / 8
  EXPECT_DOUBLE_EQ(s.facility.pue, 1.5);
  EXPECT_DOUBLE_EQ(s.services[0].slo.ttft_s, 2.0);
  EXPECT_DOUBLE_EQ(s.services[0].slo.tpot_s, 0.040);
  // The recorded text is the scenario after overrides: loading it again gives the same values.
  const auto again = aif::sim::load_scenario_text(s.source_text, "again.yaml");
  EXPECT_EQ(again.services[0].replicas, 4);
  EXPECT_DOUBLE_EQ(again.simulation.duration_s, 90.0);
  EXPECT_DOUBLE_EQ(again.facility.pue, 1.5);
}

TEST(Overrides, PathNotInTheSchemaIsAnErrorNamingIt) {
  const ScenarioError e = text_error_of(MINIMAL, {"simulation.durration=5s"});
  EXPECT_EQ(e.file(), "<--set>");
  EXPECT_EQ(e.line(), 0);
  EXPECT_EQ(e.key_path(), "simulation.durration");
  EXPECT_NE(std::string(e.what()).find("unknown key 'durration' (valid keys: duration, seed"), std::string::npos)
      << e.what();
}

TEST(Overrides, BadValueIsReportedAtTheOverride) {
  const ScenarioError e = text_error_of(MINIMAL, {"services[0].tp=3"});
  EXPECT_EQ(e.file(), "<--set>");
  EXPECT_EQ(e.line(), 0);
  EXPECT_EQ(e.key_path(), "services[0].tp");
}

TEST(Overrides, IndexOutOfRange) {
  const ScenarioError e = text_error_of(MINIMAL, {"services[3].replicas=2"});
  EXPECT_EQ(e.file(), "<--set>");
  EXPECT_EQ(e.key_path(), "services[3]");
  EXPECT_NE(std::string(e.what()).find("index out of range (the list has 1 entries; index 1 appends one)"), std::string::npos) << e.what();
}

// Index == size appends: a second service, or the first incident of a scenario that has no failures section.
TEST(Overrides, IndexAtTheEndAppends) {
  const aif::sim::Scenario sc = aif::sim::load_scenario_text(MINIMAL, "inline.yaml", {"services[1]={name: two, model: Llama-3.1-8B}",
                                          "failures.incidents[0]={at: 1s, duration: 2s, kind: failure, target: rack/0}",
                                          "failures.incidents[1].at=3s", "failures.incidents[1].duration=1s",
                                          "failures.incidents[1].target=rack/0"});
  ASSERT_EQ(sc.services.size(), 2u);
  EXPECT_EQ(sc.services[1].name, "two");
  ASSERT_EQ(sc.failures.incidents.size(), 2u);
  EXPECT_EQ(sc.failures.incidents[0].at_s, 1.0);
  EXPECT_EQ(sc.failures.incidents[1].at_s, 3.0);
  EXPECT_EQ(sc.failures.incidents[1].duration_s, 1.0);
}

TEST(Overrides, MalformedAssignments) {
  for (const char* bad : {"novalue", "=5", "a..b=1", "services[x].tp=1", "services[0.tp=1", "a.=1"}) {
    const ScenarioError e = text_error_of(MINIMAL, {bad});
    EXPECT_EQ(e.file(), "<--set>") << bad;
    EXPECT_NE(std::string(e.what()).find("malformed override"), std::string::npos) << bad << ": " << e.what();
  }
}

TEST(Overrides, ErrorsOutsideTheOverrideStillCiteTheFile) {
  const std::string text = std::string(MINIMAL) + "    tp: 3\n";
  const ScenarioError e = text_error_of(text, {"services[0].replicas=2"});
  EXPECT_EQ(e.file(), "inline.yaml");
  EXPECT_EQ(e.line(), 4);
  EXPECT_EQ(e.key_path(), "services[0].tp");
}

// ---- good path -----------------------------------------------------------------------------------------------------

TEST(DefaultScenario, FieldsEqualTheYamlConvertedByHand) {
  const std::string path = SOURCE_DIR + "/scenarios/default.yaml";
  const auto s = aif::sim::load_scenario(path);
  EXPECT_EQ(s.source_path, path);
  EXPECT_EQ(s.source_text, read_file(path));
  EXPECT_DOUBLE_EQ(s.simulation.duration_s, 3600.0);  // 1h
  EXPECT_EQ(s.simulation.seed, 42u);
  EXPECT_DOUBLE_EQ(s.simulation.sample_interval_s, 10.0);
  EXPECT_EQ(s.simulation.fidelity, aif::sim::Fidelity::FAST);
  EXPECT_TRUE(s.simulation.drain);

  EXPECT_EQ(s.gpu, "H100-SXM");
  EXPECT_EQ(s.device.name, "H100-SXM");
  EXPECT_DOUBLE_EQ(s.device.hbm_bytes, 80e9);

  EXPECT_EQ(s.facility.racks, 2);
  EXPECT_EQ(s.facility.servers_per_rack, 4);
  EXPECT_EQ(s.facility.gpus_per_server, 8);
  EXPECT_FALSE(s.facility.server_power_constant);  // the server model's defaults for 8 GPUs per server
  EXPECT_DOUBLE_EQ(s.facility.server_power.idle_w, 1200.0);
  EXPECT_DOUBLE_EQ(s.facility.server_power.full_w, 2400.0);
  EXPECT_DOUBLE_EQ(s.facility.pue, 1.3);

  EXPECT_EQ(s.fabric.kind, aif::sim::FabricKind::LEAF_SPINE);
  EXPECT_DOUBLE_EQ(s.fabric.nic_bandwidth, 50e9);    // 400Gbps / 8
  EXPECT_DOUBLE_EQ(s.fabric.nvlink_bandwidth, 0.0);  // not given: from the catalog
  EXPECT_EQ(s.fabric.spines, 2);
  EXPECT_DOUBLE_EQ(s.fabric.oversubscription, 1.0);
  EXPECT_DOUBLE_EQ(s.fabric.link_latency_s, 1e-6);
  EXPECT_DOUBLE_EQ(s.fabric.nvlink_latency_s, 0.5e-6);

  ASSERT_EQ(s.services.size(), 2u);
  const auto& chat = s.services[0];
  EXPECT_EQ(chat.name, "chat");
  EXPECT_EQ(chat.model, "Llama-3.1-70B");
  EXPECT_EQ(chat.dtype, "bf16");
  EXPECT_EQ(chat.tp, 8);
  EXPECT_EQ(chat.replicas, 2);
  EXPECT_EQ(chat.scheduler.max_num_seqs, 256);
  EXPECT_EQ(chat.scheduler.max_num_batched_tokens, 8192);
  EXPECT_EQ(chat.scheduler.block_size, 16);
  EXPECT_TRUE(chat.scheduler.chunked_prefill);
  EXPECT_DOUBLE_EQ(chat.scheduler.kv_memory_fraction, 0.9);
  EXPECT_EQ(chat.router, aif::sim::RouterPolicy::LEAST_OUTSTANDING_TOKENS);
  // No perf key: the H100 has a device profile and bf16 is measured, so the default is calibrated, from the bundled
  // profile, with the default engine.
  EXPECT_EQ(chat.perf.kind, aif::sim::PerfConfig::Kind::CALIBRATED);
  EXPECT_EQ(chat.perf.table, aif::sim::PerfConfig::Table::DEVICE_PROFILE);
  EXPECT_FALSE(chat.perf.chosen);
  EXPECT_EQ(chat.perf.table_key, aif::sim::device_profile_path("H100-SXM"));
  EXPECT_EQ(chat.engine.name, "vllm-0.11");
  EXPECT_DOUBLE_EQ(chat.slo.ttft_s, 1.0);
  EXPECT_DOUBLE_EQ(chat.slo.tpot_s, 0.1);
  EXPECT_DOUBLE_EQ(chat.slo.e2e_s, 60.0);
  const auto& assist = s.services[1];
  EXPECT_EQ(assist.model, "Llama-3.1-8B");
  EXPECT_EQ(assist.tp, 1);
  EXPECT_EQ(assist.replicas, 8);
  EXPECT_EQ(assist.router, aif::sim::RouterPolicy::ROUND_ROBIN);
  EXPECT_EQ(assist.perf.kind, aif::sim::PerfConfig::Kind::CALIBRATED);
  EXPECT_EQ(assist.engine.name, "vllm-0.11");
  EXPECT_DOUBLE_EQ(assist.slo.ttft_s, 0.5);
  EXPECT_DOUBLE_EQ(assist.slo.tpot_s, 0.05);
  EXPECT_DOUBLE_EQ(assist.slo.e2e_s, 30.0);
  EXPECT_EQ(s.models.size(), 2u);
  EXPECT_EQ(s.models.at("Llama-3.1-70B").layers, 80);
  EXPECT_EQ(s.models.at("Llama-3.1-8B").kv_heads, 8);

  ASSERT_EQ(s.workloads.size(), 2u);
  const auto& trace = s.workloads[0];
  EXPECT_EQ(trace.service, "chat");
  EXPECT_EQ(trace.arrival.kind, aif::sim::ArrivalConfig::Kind::TRACE);
  EXPECT_EQ(trace.arrival.trace_format, aif::sim::ArrivalConfig::TraceFormat::AZURE_CSV);
  EXPECT_TRUE(fs::path(trace.arrival.trace_path).is_absolute()) << trace.arrival.trace_path;
  EXPECT_EQ(fs::path(trace.arrival.trace_path).filename(), "azure2023_conv.csv");
  EXPECT_TRUE(fs::is_regular_file(trace.arrival.trace_path));
  EXPECT_DOUBLE_EQ(trace.arrival.rate_scale, 1.0);
  EXPECT_EQ(trace.arrival.max_requests, -1);
  const auto& bursty = s.workloads[1].arrival;
  EXPECT_EQ(bursty.kind, aif::sim::ArrivalConfig::Kind::GAMMA);
  EXPECT_DOUBLE_EQ(bursty.rate_per_s, 40.0);
  EXPECT_DOUBLE_EQ(bursty.cv, 2.0);
  EXPECT_EQ(bursty.prompt_tokens.kind, aif::sim::LengthDist::Kind::LOGNORMAL);
  EXPECT_DOUBLE_EQ(bursty.prompt_tokens.median, 1020.0);
  EXPECT_DOUBLE_EQ(bursty.prompt_tokens.sigma, 0.8);
  EXPECT_DOUBLE_EQ(bursty.prompt_tokens.min, 16.0);
  EXPECT_DOUBLE_EQ(bursty.prompt_tokens.max, 8192.0);
  EXPECT_DOUBLE_EQ(bursty.output_tokens.median, 129.0);
}

TEST(Scenario, DefaultsWhenSectionsAreOmitted) {
  const auto s = aif::sim::load_scenario_text(MINIMAL, "inline.yaml");
  const aif::sim::SimulationConfig sim_defaults;
  EXPECT_DOUBLE_EQ(s.simulation.duration_s, sim_defaults.duration_s);
  EXPECT_EQ(s.gpu, "H100-SXM");
  EXPECT_EQ(s.facility.gpus_per_server, 8);
  EXPECT_EQ(s.services[0].tp, 1);
  EXPECT_EQ(s.services[0].replicas, 1);
  EXPECT_EQ(s.services[0].dtype, "bf16");
  EXPECT_TRUE(s.workloads.empty());
}

TEST(Scenario, ExamplesUseEveryArrivalKind) {
  const auto diurnal = aif::sim::load_scenario(SOURCE_DIR + "/scenarios/examples/diurnal.yaml");
  const auto& a = diurnal.workloads.at(0).arrival;
  EXPECT_EQ(a.kind, aif::sim::ArrivalConfig::Kind::DIURNAL);
  EXPECT_EQ(a.diurnal_curve.size(), 24u);
  EXPECT_DOUBLE_EQ(a.diurnal_period_s, 86400.0);
  EXPECT_DOUBLE_EQ(a.rate_per_s, 20.0);
  EXPECT_DOUBLE_EQ(diurnal.simulation.sample_interval_s, 60.0);

  const auto gamma = aif::sim::load_scenario(SOURCE_DIR + "/scenarios/examples/bursty_gamma.yaml");
  EXPECT_DOUBLE_EQ(gamma.workloads.at(0).arrival.rate_per_s, 5.0);  // 300/min
  EXPECT_EQ(gamma.workloads.at(0).arrival.output_tokens.kind, aif::sim::LengthDist::Kind::UNIFORM);
  EXPECT_EQ(gamma.workloads.at(0).arrival.max_requests, 20000);
  EXPECT_EQ(gamma.services.at(0).scheduler.block_size, 32);

  const auto lot = aif::sim::load_scenario(SOURCE_DIR + "/scenarios/examples/least_outstanding_tokens.yaml");
  EXPECT_DOUBLE_EQ(lot.services.at(0).gpu_power_limit_w, 500.0);  // nvidia-smi -pl 500
  EXPECT_DOUBLE_EQ(lot.device.tdp_w, 700.0);     // from the catalog
  EXPECT_DOUBLE_EQ(lot.device.decode_w, 380.0);  // from the catalog
  EXPECT_DOUBLE_EQ(lot.device.compute_efficiency, 0.6);
  EXPECT_DOUBLE_EQ(lot.fabric.nvlink_bandwidth, 900e9);
  EXPECT_EQ(lot.simulation.fidelity, aif::sim::Fidelity::ITERATION);
  EXPECT_FALSE(lot.simulation.drain);
  EXPECT_EQ(lot.services.at(1).perf.kind, aif::sim::PerfConfig::Kind::CONSTANT);
  EXPECT_DOUBLE_EQ(lot.services.at(1).perf.constant_iteration_s, 0.020);
}

// ---- calibrated perf model, clocks, explicit KV size, results replay ---------------------------------------------

TEST(Calibrated, ValidationScenarioMatchesTheEngineDefaults) {
  const auto s = aif::sim::load_scenario(SOURCE_DIR + "/scenarios/validation/cpu-small-llama.yaml");
  EXPECT_EQ(s.gpu, "cpu-local");
  ASSERT_EQ(s.services.size(), 1u);
  const auto& svc = s.services[0];
  EXPECT_EQ(svc.model, "small-llama");
  EXPECT_EQ(svc.dtype, "fp32");
  EXPECT_EQ(svc.tp, 1);
  EXPECT_EQ(svc.replicas, 1);
  // aifsim-engine defaults: --kv-gib 1, --block-size 16, --max-num-seqs 64, --max-batched-tokens 2048.
  // One block of small-llama in fp32: 2 (K, V) x 4 B x 8 layers x 16 tokens x 4 kv_heads x 64 head_dim.
  const double block_bytes = 2.0 * 4 * 8 * 16 * 4 * 64;
  EXPECT_EQ(svc.scheduler.num_blocks, static_cast<int>(1073741824.0 / block_bytes));
  EXPECT_EQ(svc.scheduler.num_blocks, 4096);
  EXPECT_EQ(svc.scheduler.block_size, 16);
  EXPECT_EQ(svc.scheduler.max_num_seqs, 64);
  EXPECT_EQ(svc.scheduler.max_num_batched_tokens, 2048);
  EXPECT_TRUE(svc.scheduler.chunked_prefill);
  EXPECT_EQ(svc.perf.kind, aif::sim::PerfConfig::Kind::CALIBRATED);
  ASSERT_EQ(s.calibration_tables.count(svc.perf.table_key), 1u) << svc.perf.table_key;
  EXPECT_TRUE(fs::path(svc.perf.table_key).is_absolute());
  EXPECT_EQ(fs::path(svc.perf.table_key).parent_path(), fs::path(SOURCE_DIR + "/data/calibration"));
  EXPECT_FALSE(s.calibration_tables.at(svc.perf.table_key).rows.empty());
  EXPECT_DOUBLE_EQ(svc.perf.clock_fraction, 1.0);
  EXPECT_EQ(s.simulation.fidelity, aif::sim::Fidelity::ITERATION);
  EXPECT_TRUE(s.simulation.drain);
  const auto& a = s.workloads.at(0).arrival;
  EXPECT_EQ(a.kind, aif::sim::ArrivalConfig::Kind::TRACE);
  EXPECT_EQ(a.trace_format, aif::sim::ArrivalConfig::TraceFormat::AZURE_CSV);
  EXPECT_EQ(fs::path(a.trace_path).filename(), "azure2023_conv.csv");
}

// Batch limits within the committed small-llama table's grid (as scenarios/validation/cpu-small-llama.yaml).
constexpr const char* SMALL_LIMITS = "{max_num_seqs: 64, max_num_batched_tokens: 2048}";

// The column header and rows of the committed small-llama table: a complete grid under a header of the test's own
// (a scenario's table must cover every step its service can schedule).
std::string committed_small_llama_rows() {
  std::ifstream in(SOURCE_DIR + "/data/calibration/cpu-small-llama.csv");
  std::string line, rows;
  bool body = false;
  while (std::getline(in, line)) {
    body = body || (!line.empty() && line[0] != '#');
    if (body) rows += line + "\n";
  }
  return rows;
}

TEST(Calibrated, ExplicitValuesWinOverTheTableHeader) {
  // A table whose header carries fitted overheads, as `aifsim calibrate` writes them.
  const fs::path dir = fs::path(::testing::TempDir()) / "aif_calibrated_test";
  fs::create_directories(dir);
  std::ofstream(dir / "t.csv") << "# format_version: 1\n# peak_flop_per_s: 2e11\n# peak_bytes_per_s: 3e10\n"
                               << "# iteration_overhead_s: 0.002\n# overhead_per_seq_s: 3e-05\n"
                               << "# overhead_per_token_s: 4e-07\n"
                               << committed_small_llama_rows();
  const std::string table = (dir / "t.csv").string();
  std::ofstream(dir / "s.yaml") << "hardware: {gpu: cpu-local}\nfacility: {racks: 1, servers_per_rack: 1, "
                                << "gpus_per_server: 2}\nservices:\n"
                                << "  - {name: a, model: small-llama, dtype: fp32, scheduler: " << SMALL_LIMITS
                                << ", perf: {kind: calibrated, table: t.csv}}\n"
                                << "  - {name: b, model: small-llama, dtype: fp32, scheduler: " << SMALL_LIMITS
                                << ", perf: {kind: calibrated, table: "
                                << table << ", iteration_overhead: 1ms, overhead_per_seq: 20us, "
                                << "overhead_per_token: 1us, clock_fraction: 0.75}}\n";
  const auto s = aif::sim::load_scenario((dir / "s.yaml").string());
  // Both services name the same file (relative and absolute): one table, one key.
  ASSERT_EQ(s.calibration_tables.size(), 1u);
  EXPECT_EQ(s.services[0].perf.table_key, s.services[1].perf.table_key);
  EXPECT_EQ(s.services[0].perf.table_key, fs::absolute(table).lexically_normal().string());
  const auto& header = s.services[0].perf;  // from the table's header
  EXPECT_DOUBLE_EQ(header.iteration_overhead_s, 0.002);
  EXPECT_DOUBLE_EQ(header.overhead_per_seq_s, 3e-5);
  EXPECT_DOUBLE_EQ(header.overhead_per_token_s, 4e-7);
  EXPECT_DOUBLE_EQ(header.clock_fraction, 1.0);
  const auto& given = s.services[1].perf;  // written in the scenario
  EXPECT_DOUBLE_EQ(given.iteration_overhead_s, 1e-3);
  EXPECT_DOUBLE_EQ(given.overhead_per_seq_s, 20e-6);
  EXPECT_DOUBLE_EQ(given.overhead_per_token_s, 1e-6);
  EXPECT_DOUBLE_EQ(given.clock_fraction, 0.75);
}

TEST(Calibrated, OverheadsDefaultToZeroWithoutHeaderKeys) {
  const fs::path table = fs::path(::testing::TempDir()) / "aif_calibrated_no_overheads.csv";
  std::ofstream(table) << "# format_version: 1\n# peak_flop_per_s: 1.91249e+11\n# peak_bytes_per_s: 3e10\n"
                       << committed_small_llama_rows();
  const auto s = aif::sim::load_scenario_text(
      "hardware: {gpu: cpu-local}\nfacility: {racks: 1, servers_per_rack: 1, gpus_per_server: 1}\n"
      "services:\n  - {name: a, model: small-llama, dtype: fp32, scheduler: " + std::string(SMALL_LIMITS) +
          ", perf: {kind: calibrated, table: " + table.string() + "}}\n",
      "inline.yaml");
  const auto& perf = s.services[0].perf;
  EXPECT_DOUBLE_EQ(perf.iteration_overhead_s, 0);
  EXPECT_DOUBLE_EQ(perf.overhead_per_seq_s, 0);
  EXPECT_DOUBLE_EQ(perf.overhead_per_token_s, 0);
  EXPECT_DOUBLE_EQ(s.calibration_tables.at(perf.table_key).peak_flop_per_s, 1.91249e11);
}

TEST(Calibrated, BrokenTableIsReportedInTheTableFile) {
  const std::string bad = SOURCE_DIR + "/tests/data/bad_calibration/zero_median.csv";
  const ScenarioError e = text_error_of(std::string(MINIMAL) + "    perf: {kind: calibrated, table: " + bad + "}\n");
  EXPECT_EQ(e.file(), bad);
  EXPECT_EQ(e.line(), 6);
  EXPECT_EQ(e.key_path(), "median_s");
}

TEST(Roofline, ClockFractionAndExplicitKvBlocks) {
  const auto s = aif::sim::load_scenario_text(
      std::string(MINIMAL) + "    perf: {kind: roofline, clock_fraction: 0.6}\n    scheduler: {num_blocks: 1000}\n",
      "inline.yaml");
  EXPECT_EQ(s.services[0].perf.kind, aif::sim::PerfConfig::Kind::ROOFLINE);
  EXPECT_DOUBLE_EQ(s.services[0].perf.clock_fraction, 0.6);
  EXPECT_EQ(s.services[0].scheduler.num_blocks, 1000);
  const auto defaults = aif::sim::load_scenario_text(MINIMAL, "inline.yaml");
  EXPECT_DOUBLE_EQ(defaults.services[0].perf.clock_fraction, 1.0);
  EXPECT_EQ(defaults.services[0].scheduler.num_blocks, 0);  // derive from memory
  EXPECT_TRUE(defaults.calibration_tables.empty());
  // --set reaches the new keys like any other.
  const auto set = aif::sim::load_scenario_text(MINIMAL, "inline.yaml",
                                                {"services[0].scheduler.num_blocks=64",
                                                 "services[0].scheduler.chunked_prefill=false"});
  EXPECT_EQ(set.services[0].scheduler.num_blocks, 64);
  EXPECT_FALSE(set.services[0].scheduler.chunked_prefill);
}

TEST(ResultsReplay, RequestsOfAResultsFileInArrivalOrder) {
  const fs::path dir = fs::path(::testing::TempDir()) / "aif_results_replay_test";
  fs::create_directories(dir);
  const std::string h5 = (dir / "measured.h5").string();
  {
    aif::analysis::ResultsWriter w(h5);
    auto add = [&](int64_t id, double arrival, int32_t prompt, int32_t output, aif::analysis::Outcome outcome) {
      aif::analysis::RequestRecord r;
      r.id = id;
      r.arrival_s = arrival;
      r.prompt_tokens = prompt;
      r.output_tokens = output;
      r.generated_tokens = outcome == aif::analysis::Outcome::FINISHED ? output : 0;
      r.outcome = outcome;
      w.add_request(r);
    };
    // Written out of order (as several replicas would), with a rejected request and a tie at 2.5 s.
    add(0, 1.0, 100, 10, aif::analysis::Outcome::FINISHED);
    add(1, 2.5, 5000, 20, aif::analysis::Outcome::REJECTED);
    add(2, 0.5, 300, 30, aif::analysis::Outcome::FINISHED);
    add(3, 2.5, 400, 40, aif::analysis::Outcome::UNFINISHED);
    w.finish({});
  }
  const auto s = aif::sim::load_scenario_text(std::string(MINIMAL) + "workloads:\n  - name: replay\n    service: chat\n"
                                              "    arrival: {kind: trace, format: results-h5, path: " + h5 + "}\n",
                                              "inline.yaml");
  const auto& a = s.workloads.at(0).arrival;
  EXPECT_EQ(a.trace_format, aif::sim::ArrivalConfig::TraceFormat::RESULTS_H5);
  EXPECT_EQ(a.trace_path, h5);
  const std::vector<aif::sim::TraceRecord> rows = aif::sim::read_results_requests(a.trace_path);
  // Sorted by arrival (stable on ties), shifted so the first is at 0; the rejected one included.
  const std::vector<std::tuple<double, int32_t, int32_t>> expected = {
      {0.0, 300, 30}, {0.5, 100, 10}, {2.0, 5000, 20}, {2.0, 400, 40}};
  ASSERT_EQ(rows.size(), expected.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_DOUBLE_EQ(rows[i].time_s, std::get<0>(expected[i])) << i;
    EXPECT_EQ(rows[i].prompt_tokens, std::get<1>(expected[i])) << i;
    EXPECT_EQ(rows[i].output_tokens, std::get<2>(expected[i])) << i;
  }
  // A file that is not a results file: ResultsError becomes a ScenarioError naming the file.
  try {
    aif::sim::read_results_requests(SOURCE_DIR + "/data/traces/azure2023_conv.csv");
    ADD_FAILURE() << "a CSV file was read as a results file";
  } catch (const ScenarioError& e) {
    EXPECT_EQ(e.file(), SOURCE_DIR + "/data/traces/azure2023_conv.csv");
    EXPECT_EQ(e.line(), 0);
  }
}

// ---- catalogs ------------------------------------------------------------------------------------------------------

TEST(HardwareCatalog, DatasheetValuesParse) {
  const auto hw = aif::sim::load_hardware_catalog(SOURCE_DIR + "/data/hardware.yaml");
  for (const char* name : {"A100-80GB", "H100-SXM", "H200-SXM", "B200"}) ASSERT_EQ(hw.count(name), 1u) << name;
  const auto& h100 = hw.at("H100-SXM");
  EXPECT_DOUBLE_EQ(h100.peak_flops.at("bf16"), 989e12);
  EXPECT_DOUBLE_EQ(h100.peak_flops.at("fp8"), 1979e12);
  EXPECT_DOUBLE_EQ(h100.peak_flops.at("fp32"), 67e12);
  EXPECT_DOUBLE_EQ(h100.hbm_bytes, 80e9);
  EXPECT_DOUBLE_EQ(h100.hbm_bandwidth, 3.35e12);
  EXPECT_DOUBLE_EQ(h100.nvlink_bandwidth, 900e9);
  EXPECT_DOUBLE_EQ(h100.tdp_w, 700.0);
  EXPECT_DOUBLE_EQ(h100.idle_w, 75.0);
  EXPECT_DOUBLE_EQ(h100.prefill_w, 700.0);
  EXPECT_DOUBLE_EQ(h100.decode_w, 380.0);
  const auto& a100 = hw.at("A100-80GB");
  EXPECT_DOUBLE_EQ(a100.peak_flops.at("bf16"), 312e12);
  EXPECT_EQ(a100.peak_flops.count("fp8"), 0u);  // no FP8 tensor cores on Ampere
  EXPECT_DOUBLE_EQ(a100.hbm_bandwidth, 2039e9);
  EXPECT_DOUBLE_EQ(hw.at("H200-SXM").hbm_bytes, 141e9);
  EXPECT_DOUBLE_EQ(hw.at("B200").peak_flops.at("bf16"), 2.25e15);
  EXPECT_DOUBLE_EQ(hw.at("B200").nvlink_bandwidth, 1.8e12);
  // Every figure carries a citation.
  for (const auto& [name, spec] : hw) {
    for (const char* field : {"peak_flops", "hbm", "hbm_bandwidth", "nvlink_bandwidth", "tdp", "idle_power",
                              "prefill_power", "decode_power", "compute_efficiency", "memory_efficiency"}) {
      EXPECT_EQ(spec.sources.count(field), 1u) << name << " has no source for " << field;
    }
  }
}

// A mixture of experts names both its experts and its router's top-k, and cannot route a token to more experts than
// it has: each mistake is one error at its file, line and key.
TEST(ModelCatalog, MixtureOfExpertsShapesAreChecked) {
  const std::string dir = (std::filesystem::temp_directory_path() / "aif_moe_catalog").string();
  std::filesystem::create_directories(dir);
  const std::string base = "m:\n  layers: 2\n  hidden: 64\n  heads: 4\n  kv_heads: 2\n  ffn: 128\n  vocab: 100\n"
                           "  max_context: 512\n";
  struct Case {
    std::string tail, key, message;
    int line;
  };
  for (const Case& c : {Case{"  experts: 8\n  experts_per_token: 9\n", "m.experts_per_token", "expected at most experts (8)", 10},
                        Case{"  experts: 8\n", "m.experts", "gives both experts and experts_per_token", 9},
                        Case{"  experts_per_token: 2\n", "m.experts_per_token", "gives both experts", 9},
                        Case{"  experts: 1\n  experts_per_token: 1\n", "m.experts", "between 2", 9}}) {
    const std::string path = dir + "/models.yaml";
    std::ofstream(path) << base << c.tail;
    try {
      aif::sim::load_model_catalog(path);
      ADD_FAILURE() << "accepted: " << c.tail;
    } catch (const ScenarioError& e) {
      EXPECT_EQ(e.file(), path);
      EXPECT_EQ(e.line(), c.line) << e.what();
      EXPECT_NE(std::string(e.what()).find(c.key), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
    }
  }
}

TEST(ReplicaWeights, ADraftModelsWeightsAndKvShareTheReplicasHbm) {
  const char* const text = R"(facility: {racks: 1, servers_per_rack: 1, gpus_per_server: 8}
services:
  - name: chat
    model: Llama-3.1-70B
    tp: 4
)";
  const auto plain = aif::sim::load_scenario_text(text, "inline.yaml");
  const auto drafted = aif::sim::load_scenario_text(
      text, "inline.yaml", {"services[0].speculative={method: draft, draft_model: Llama-3.1-8B, tokens: 4, acceptance: 0.7}"});
  const auto& m70 = drafted.models.at("Llama-3.1-70B");
  const auto& m8 = drafted.models.at("Llama-3.1-8B");
  // bf16: 2 bytes per parameter, the target's and the draft's (one copy per replica, which it loads from storage).
  EXPECT_DOUBLE_EQ(aif::sim::replica_weight_bytes(plain.services[0], plain.models), m70.parameters() * 2);
  EXPECT_DOUBLE_EQ(aif::sim::replica_weight_bytes(drafted.services[0], drafted.models),
                   (m70.parameters() + m8.parameters()) * 2);
  // The KV cache gets what the weights leave of 4 x 80 GB, times kv_memory_fraction, in blocks of 16 tokens of both
  // models' KV (bf16: 2 x layers x kv_heads x head_dim x 2 B per token).
  const double fraction = drafted.services[0].scheduler.kv_memory_fraction;
  const double kv70 = 2.0 * 80 * 8 * 128 * 2, kv8 = 2.0 * 32 * 8 * 128 * 2;
  EXPECT_EQ(aif::sim::kv_blocks(plain, plain.services[0], 0),
            static_cast<int>(std::floor((320e9 - m70.parameters() * 2) * fraction / (kv70 * 16))));
  EXPECT_EQ(aif::sim::kv_blocks(drafted, drafted.services[0], 0),
            static_cast<int>(std::floor((320e9 - (m70.parameters() + m8.parameters()) * 2) * fraction /
                                        ((kv70 + kv8) * 16))));
}

TEST(ModelCatalog, ParameterCountsMatchPublishedSizes) {
  const auto models = aif::sim::load_model_catalog(SOURCE_DIR + "/data/models.yaml");
  struct Published {
    const char* name;
    double parameters;  // from the model cards / papers
  };
  for (const Published& p : {Published{"Llama-2-7B", 6.74e9}, Published{"Llama-3.1-8B", 8.03e9},
                             Published{"Llama-3.1-70B", 70.6e9}, Published{"Llama-3.1-405B", 405.9e9}}) {
    const double computed = models.at(p.name).parameters();
    EXPECT_NEAR(computed / p.parameters, 1.0, 0.01)
        << p.name << ": computed " << computed << ", published " << p.parameters;
  }
  // Mixtures of experts, total and active (per token) parameters as published: Mixtral 46.7e9 / 12.9e9 (Jiang et al.
  // 2024), Qwen3-30B-A3B 30.5e9 / 3.3e9 (its model card).
  for (const auto& [name, total, active] : {std::tuple{"Mixtral-8x7B", 46.7e9, 12.9e9},
                                            std::tuple{"Qwen3-30B-A3B", 30.5e9, 3.3e9}}) {
    const auto& m = models.at(name);
    EXPECT_NEAR(m.parameters() / total, 1.0, 0.01) << name << ": computed " << m.parameters();
    EXPECT_NEAR(m.active_parameters() / active, 1.0, 0.02) << name << ": computed " << m.active_parameters();
  }
  // Mixtral's experts: 32 layers x 8 experts x 3 (gate, up, down) x 4,096 x 14,336.
  EXPECT_DOUBLE_EQ(models.at("Mixtral-8x7B").expert_parameters(), 32.0 * 8 * 3 * 4096 * 14336);
  EXPECT_EQ(models.at("Llama-3.1-8B").expert_parameters(), 0);
  EXPECT_EQ(models.at("Llama-3.1-8B").active_parameters(), models.at("Llama-3.1-8B").parameters());
  // KV cache of Llama-3.1-8B in bf16: 2 (K, V) x 32 layers x 8 KV heads x 128 dims x 2 bytes = 131,072 B/token.
  EXPECT_DOUBLE_EQ(models.at("Llama-3.1-8B").kv_bytes_per_token(2), 131072.0);
  const auto& tiny = models.at("tiny-llama");
  EXPECT_EQ(tiny.layers, 4);
  EXPECT_EQ(tiny.hidden, 512);
  EXPECT_EQ(tiny.heads, 8);
  EXPECT_EQ(tiny.kv_heads, 4);
  EXPECT_EQ(tiny.head_dim, 64);
  EXPECT_EQ(tiny.ffn, 1408);
  EXPECT_EQ(tiny.vocab, 4096);
  const auto& small = models.at("small-llama");
  EXPECT_EQ(small.layers, 8);
  EXPECT_EQ(small.hidden, 1024);
  EXPECT_EQ(small.heads, 16);
  EXPECT_EQ(small.kv_heads, 4);
  EXPECT_EQ(small.ffn, 2816);
  EXPECT_EQ(small.vocab, 8192);
}

TEST(DataDir, EnvironmentOverridesTheBuiltInPath) {
  const char* saved = std::getenv("AIFSIM_DATA_DIR");
  const std::string restore = saved ? saved : "";
  setenv("AIFSIM_DATA_DIR", "/somewhere/else", 1);
  EXPECT_EQ(aif::sim::data_dir(), "/somewhere/else");
  unsetenv("AIFSIM_DATA_DIR");
  EXPECT_EQ(aif::sim::data_dir(), SOURCE_DIR + "/data");
  if (saved) setenv("AIFSIM_DATA_DIR", restore.c_str(), 1);
}
