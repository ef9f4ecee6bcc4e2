// Serving-engine profiles (data/engines.yaml) and how a scenario chooses its perf model, engine and pipeline stages:
// the catalog's checks, a service's overrides, calibrated as the default where the device has a measured profile.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "../support/aifsim_process.hpp"
#include "aif/inputs/device_profile.hpp"
#include "aif/scenario/perf_factory.hpp"
#include "aif/scenario/scenario.hpp"

namespace fs = std::filesystem;
using aif::sim::ScenarioError;
using aif::sim::PerfConfig;
using namespace aif::testing;

namespace {

std::string write_catalog(const std::string& name, const std::string& text) {
  const std::string dir = scratch_dir("engine_profiles_" + name);
  std::ofstream(dir + "/engines.yaml") << text;
  return dir + "/engines.yaml";
}

ScenarioError catalog_error(const std::string& name, const std::string& text) {
  const std::string path = write_catalog(name, text);
  try {
    aif::sim::load_engine_catalog(path);
    ADD_FAILURE() << "catalog loaded without error:\n" << text;
  } catch (const ScenarioError& e) {
    EXPECT_EQ(e.file(), path);
    return e;
  }
  return ScenarioError("", -1, "", "no error");
}

const char* const ENGINE = R"(test-engine:
  scheduling: unified
  layer_ops: {rms_norm: 2, rope: 1}
  final_ops: {embedding: 1}
  step_overhead: 1ms
  tp_step_overhead: 2ms
  seq_overhead: 10us
  token_overhead: 3us
  cuda_graphs: {max_batch: 64, prefill: true}
  kernel_launch: 4us
)";

aif::sim::Scenario scenario(const std::string& services, const std::string& head = "") {
  return aif::sim::load_scenario_text(head + "facility: {racks: 1, servers_per_rack: 2, gpus_per_server: 8}\n" + services,
                                      "inline.yaml");
}

}  // namespace

TEST(EngineCatalog, ReadsEveryField) {
  const auto c = aif::sim::load_engine_catalog(write_catalog("fields", ENGINE));
  ASSERT_EQ(c.size(), 1u);
  const auto& e = c.at("test-engine");
  EXPECT_EQ(e.profile.name, "test-engine");
  EXPECT_EQ(e.profile.policy, aif::models::StepPolicy::UNIFIED);
  ASSERT_EQ(e.profile.layer_ops.size(), 2u);  // map order: rms_norm then rope, as written
  EXPECT_EQ(e.profile.layer_ops[0].op, aif::models::ElementwiseOp::RMS_NORM);
  EXPECT_EQ(e.profile.layer_ops[0].calls, 2);
  EXPECT_EQ(e.profile.layer_ops[1].op, aif::models::ElementwiseOp::ROPE);
  EXPECT_DOUBLE_EQ(e.profile.step_s, 1e-3);
  EXPECT_DOUBLE_EQ(e.tp_step_s, 2e-3);
  EXPECT_DOUBLE_EQ(e.profile.per_seq_s, 10e-6);
  EXPECT_DOUBLE_EQ(e.profile.per_token_s, 3e-6);
  EXPECT_EQ(e.profile.cuda_graph_max_seqs, 64);
  EXPECT_TRUE(e.profile.graphs_for_prefill);
  EXPECT_DOUBLE_EQ(e.profile.launch_s, 4e-6);
}

TEST(EngineCatalog, EveryMistakeNamesItsLineAndKey) {
  auto with = [](const std::string& from, const std::string& to) {
    std::string t = ENGINE;
    t.replace(t.find(from), from.size(), to);
    return t;
  };
  struct Case {
    std::string name, text;
    int line;
    std::string key, message;
  };
  const Case cases[] = {
      {"op", with("rope: 1", "swizzle: 1"), 3, "test-engine.layer_ops.swizzle", "unknown operator 'swizzle'"},
      {"policy", with("unified", "fifo"), 2, "test-engine.scheduling", "expected one of unified or prefill-first, found 'fifo'"},
      {"graphs", with("{max_batch: 64, prefill: true}", "true"), 9, "test-engine.cuda_graphs",
       "expected false (eager) or a map"},
      {"negative", with("step_overhead: 1ms", "step_overhead: -1ms"), 5, "test-engine.step_overhead", ">= 0"},
      {"missing", with("  seq_overhead: 10us\n", ""), 1, "test-engine.seq_overhead", "missing"},
      {"unknown key", with("  kernel_launch: 4us\n", "  kernel_launch: 4us\n  launch_gap: 1us\n"), 11,
       "test-engine.launch_gap", "unknown key 'launch_gap'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const ScenarioError e = catalog_error(c.name, c.text);
    EXPECT_EQ(e.line(), c.line) << e.what();
    EXPECT_EQ(e.key_path(), c.key) << e.what();
    EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
  }
}

// The bundled catalog: every figure of every engine says where it comes from.
TEST(EngineCatalog, BundledEnginesCiteTheirFigures) {
  const auto c = aif::sim::load_engine_catalog(source_path("data/engines.yaml"));
  ASSERT_TRUE(c.count("vllm-0.11"));
  ASSERT_TRUE(c.count("vllm-0.5"));
  EXPECT_EQ(c.at("vllm-0.5").profile.policy, aif::models::StepPolicy::PREFILL_FIRST);
  for (const auto& [name, e] : c)
    for (const char* field : {"step_overhead", "seq_overhead", "cuda_graphs", "kernel_launch"})
      EXPECT_TRUE(e.sources.count(field)) << name << " has no source for " << field;
}

TEST(ServiceEngine, NameOrMapOverridingTheCatalog) {
  const auto c = aif::sim::load_engine_catalog(source_path("data/engines.yaml"));
  const auto& base = c.at("vllm-0.11");
  const auto plain = scenario("services:\n  - {name: a, model: Llama-3.1-8B}\n");
  EXPECT_EQ(plain.services[0].engine.name, "vllm-0.11");  // the default
  EXPECT_DOUBLE_EQ(plain.services[0].engine.step_s, base.profile.step_s);
  const auto over = scenario(
      "services:\n  - {name: a, model: Llama-3.1-8B, engine: {name: vllm-0.11, step_overhead: 7ms, cuda_graphs: false}}\n");
  EXPECT_DOUBLE_EQ(over.services[0].engine.step_s, 7e-3);
  EXPECT_DOUBLE_EQ(over.services[0].engine.per_seq_s, base.profile.per_seq_s);  // not overridden: the catalog's
  EXPECT_EQ(over.services[0].engine.cuda_graph_max_seqs, 0);                     // eager
  // More than one GPU per replica adds the engine's tp_step_overhead (vllm-0.5: inputs sent to the other workers).
  const auto& v05 = c.at("vllm-0.5");
  const auto tp2 = scenario("services:\n  - {name: a, model: Llama-3.1-8B, tp: 2, engine: vllm-0.5}\n");
  EXPECT_DOUBLE_EQ(tp2.services[0].engine.step_s, v05.profile.step_s + v05.tp_step_s);
  // A prefill-first engine runs without chunked prefill.
  EXPECT_FALSE(tp2.services[0].scheduler.chunked_prefill);
}

TEST(ServicePerf, CalibratedByDefaultWhereTheDeviceHasAProfile) {
  const auto h100 = scenario("services:\n  - {name: a, model: Llama-3.1-8B}\n", "hardware: {gpu: H100-SXM}\n");
  const PerfConfig& p = h100.services[0].perf;
  EXPECT_EQ(p.kind, PerfConfig::Kind::CALIBRATED);
  EXPECT_EQ(p.table, PerfConfig::Table::DEVICE_PROFILE);
  EXPECT_FALSE(p.chosen);
  EXPECT_EQ(p.table_key, aif::sim::device_profile_path("H100-SXM"));
  EXPECT_EQ(h100.device_profiles.count(p.table_key), 1u);
  EXPECT_EQ(aif::sim::perf_provenance(h100, h100.services[0]),
            "calibrated: H100-SXM kernel tables measured in vLLM, engine vllm-0.11");
  // B200 has no profile: the roofline, and the run says why.
  const auto b200 = scenario("services:\n  - {name: a, model: Llama-3.1-8B}\n", "hardware: {gpu: B200}\n");
  EXPECT_EQ(b200.services[0].perf.kind, PerfConfig::Kind::ROOFLINE);
  EXPECT_EQ(aif::sim::perf_provenance(b200, b200.services[0]),
            "roofline from published figures (no measured device profile for B200)");
  // A dtype the profile did not measure stays on the roofline too; fp16 uses the bf16 GEMMs.
  const auto fp32 = scenario("services:\n  - {name: a, model: Llama-3.1-8B, dtype: fp32}\n");
  EXPECT_EQ(fp32.services[0].perf.kind, PerfConfig::Kind::ROOFLINE);
  EXPECT_EQ(fp32.services[0].perf.note, "no fp32 GEMMs in the measured profile of H100-SXM");
  const auto fp16 = scenario("services:\n  - {name: a, model: Llama-3.1-8B, dtype: fp16}\n");
  EXPECT_EQ(fp16.services[0].perf.kind, PerfConfig::Kind::CALIBRATED);
  // Chosen explicitly: the roofline says so.
  const auto chosen = scenario("services:\n  - {name: a, model: Llama-3.1-8B, perf: roofline}\n");
  EXPECT_EQ(aif::sim::perf_provenance(chosen, chosen.services[0]), "roofline from published figures (chosen)");
}

TEST(ServicePerf, PipelineStagesTakeWholeServersAndSplitTheWeights) {
  // Llama-3.1-405B in bf16 is 812 GB: 8 H100s cannot hold it, two servers of 8 (tp 8 x pp 2) can.
  const auto sc = scenario("services:\n  - {name: a, model: Llama-3.1-405B, tp: 8, pp: 2}\n");
  EXPECT_EQ(sc.services[0].pp, 2);
  EXPECT_EQ(sc.services[0].gpus_per_replica(), 16);
  const ScenarioError e = [] {
    try {
      scenario("services:\n  - {name: a, model: Llama-3.1-405B, tp: 8}\n");
    } catch (const ScenarioError& err) {
      return err;
    }
    return ScenarioError("", -1, "", "no error");
  }();
  EXPECT_NE(std::string(e.what()).find("does not fit in the 80 GB of HBM of one H100-SXM"), std::string::npos)
      << e.what();
}
