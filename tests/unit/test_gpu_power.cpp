// The GPU power model (models/include/aif/models/power.hpp, docs/power.md "GPU power"): every figure by hand, the
// phase model equal to the functions it replaced, the fit exact on data made from known figures, the work of a
// request against a step-by-step sum, the catalog against the fit table, and the fit table regenerated from the
// public measurements (skipped, visibly, where they are not beside the repository).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "../support/aifsim_process.hpp"
#include "../support/batch_shapes.hpp"
#include "../support/fitted_gpu.hpp"
#include "aif/models/facility_power.hpp"
#include "aif/models/perf.hpp"
#include "aif/models/power.hpp"
#include "aif/models/step_work.hpp"
#include "aif/scenario/scenario.hpp"

namespace fs = std::filesystem;
using namespace aif::models;
using namespace aif::testing;

namespace {

DeviceSpec fitted_device() {
  DeviceSpec d;
  d.name = "gpu";
  return with_round_h100_power(d);
}

IterationCost lasting(double seconds) {
  IterationCost c;
  c.seconds = seconds;
  return c;
}

StepWork work(double flops, double bytes) {
  StepWork w;
  w.linear_flops = flops;
  w.linear_bytes = bytes;
  return w;
}

ModelArch llama_8b() { return aif::sim::load_model_catalog(source_path("data/models.yaml")).at("Llama-3.1-8B"); }

// A data line of an annotated table: '#' lines and the header skipped; fields split at commas outside quotes.
std::map<std::string, std::vector<std::string>> rows_by_first_field(const std::string& path) {
  std::ifstream in(path);
  std::map<std::string, std::vector<std::string>> rows;
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (header) {
      header = false;
      continue;
    }
    std::vector<std::string> f(1);
    bool quoted = false;
    for (char c : line) {
      if (c == '"') quoted = !quoted;
      else if (c == ',' && !quoted) f.emplace_back();
      else f.back() += c;
    }
    rows[f[0]] = f;
  }
  return rows;
}

}  // namespace

TEST(GpuPowerModel, FittedStepPowerByHand) {
  const GpuPowerModel m(fitted_device());
  ASSERT_EQ(m.kind(), GpuPowerModel::Kind::FITTED);
  // 50 ms doing 1e12 FLOPs and 1e10 bytes: 145 + 1.2e-12 x 2e13 + 220e-12 x 2e11 = 145 + 24 + 44 = 213 W.
  EXPECT_NEAR(m.step_w(work(1e12, 1e10), lasting(0.05), 1.0), 213.0, 1e-9);
  // No work (a constant step time has none to count): the busy floor.
  EXPECT_DOUBLE_EQ(m.step_w(StepWork{}, lasting(0.05), 1.0), 145.0);
  // HBM at 2 TB/s: the byte term 440 W stops at decode - floor = 235 W: 145 + 235 = 380 W, the decode figure.
  EXPECT_NEAR(m.step_w(work(0, 2e12 * 0.01), lasting(0.01), 1.0), 380.0, 1e-9);
  // 800 TFLOP/s: 145 + 960 W is above the board's limit: the TDP.
  EXPECT_DOUBLE_EQ(m.step_w(work(8e14 * 0.01, 0), lasting(0.01), 1.0), 700.0);
}

TEST(GpuPowerModel, FittedStepPowerAtALowerClockByHand) {
  const GpuPowerModel m(fitted_device());
  // At f = 0.5 (alpha 2.5), the same work over the same 50 ms:
  //   75 + (145 - 75) x 0.5^2.5 + 0.5^1.5 x (24 + 44) = 75 + 12.374 + 24.042 = 111.416 W.
  const double f = 0.5, expected = 75 + 70 * std::pow(f, 2.5) + std::pow(f, 1.5) * 68;
  EXPECT_NEAR(expected, 111.416, 1e-3);
  EXPECT_NEAR(m.step_w(work(1e12, 1e10), lasting(0.05), f), expected, 1e-9);
  // The compute-bound worst case: idle + (TDP - idle) f^alpha.
  EXPECT_DOUBLE_EQ(m.compute_bound_w(1.0), 700.0);
  EXPECT_NEAR(m.compute_bound_w(0.5), 75 + 625 * std::pow(0.5, 2.5), 1e-9);
  EXPECT_THROW(m.step_w(work(1, 1), lasting(1), 0.0), std::invalid_argument);
  EXPECT_THROW(m.step_w(work(1, 1), lasting(1), 1.5), std::invalid_argument);
}

TEST(GpuPowerModel, PhaseModelIsTheFunctionsItReplaced) {
  DeviceSpec d = fitted_device();
  d.power_model = "phase";
  const GpuPowerModel m(d);
  ASSERT_EQ(m.kind(), GpuPowerModel::Kind::PHASE);
  const GpuPowerParams p = GpuPowerParams::from_device(d);
  for (double share : {0.0, 0.3, 1.0}) {
    IterationCost c = lasting(0.02);
    c.compute_seconds = share * 0.02;
    EXPECT_EQ(m.step_w(work(1e12, 1e10), c, 1.0), gpu_busy_power(p, share)) << share;
    EXPECT_EQ(m.step_w(work(1e12, 1e10), c, 0.7), gpu_power_at_clock(p, share, 0.7)) << share;
  }
  // A device without a fit is a phase model, whatever power_model says short of "fitted".
  DeviceSpec none = fitted_device();
  none.power_fit = {};
  EXPECT_EQ(GpuPowerModel(none).kind(), GpuPowerModel::Kind::PHASE);
  none.power_model = "fitted";
  EXPECT_THROW(GpuPowerModel{none}, std::invalid_argument);
}

TEST(GpuPowerModel, HighestClockWithinACap) {
  // power(f) = 100 + 600 f^2: a 400 W cap gives f = sqrt(0.5) = 0.70711 (bisection to 1e-4).
  auto power = [](double f) { return 100 + 600 * f * f; };
  EXPECT_NEAR(highest_clock_within(400, 0.3, power), std::sqrt(0.5), 1e-4);
  EXPECT_LE(power(highest_clock_within(400, 0.3, power)), 400);
  EXPECT_DOUBLE_EQ(highest_clock_within(800, 0.3, power), 1.0);  // full clock fits
  EXPECT_DOUBLE_EQ(highest_clock_within(110, 0.3, power), 0.3);  // 154 W at the lowest clock: nothing fits
}

TEST(GpuPowerModel, CapStretchesAPrefillStepMoreThanADecodeStep) {
  // H100-like roofline steps of Llama-3.1-8B: a 4,096-token prefill (compute-bound) and a decode of 64 sequences at
  // 1,000 keys (memory-bound), each under a 300 W cap with the fitted model.
  DeviceSpec d = fitted_device();
  d.peak_flops["bf16"] = 989e12;
  d.hbm_bandwidth = 3.35e12;
  d.nvlink_bandwidth = 900e9;
  d.compute_efficiency = 0.7;
  d.memory_efficiency = 0.8;
  const RooflinePerfModel perf({d, llama_8b()});
  const StepWorkModel works(llama_8b(), 2.0, 1, 1);
  const GpuPowerModel power(d);
  const BatchShape prefill = prefill_shape(4096), decode = decode_shape(64, 1000);
  for (const BatchShape* s : {&prefill, &decode}) {
    const StepWork w = works.work(*s);
    auto at = [&](double f) { return power.step_w(w, perf.iteration_at_clock(*s, f), f); };
    const double f = highest_clock_within(300, 0.3, at);
    EXPECT_LE(at(f), 300 + 1e-9) << "the cap holds during the step";
    EXPECT_GT(at(std::min(1.0, f + 2e-4)), 300) << "and the clock is the highest that keeps it";
  }
  auto stretch = [&](const BatchShape& s) {
    const StepWork w = works.work(s);
    auto at = [&](double f) { return power.step_w(w, perf.iteration_at_clock(s, f), f); };
    return perf.iteration_at_clock(s, highest_clock_within(300, 0.3, at)).seconds / perf.iteration(s).seconds;
  };
  const double prefill_stretch = stretch(prefill), decode_stretch = stretch(decode);
  std::printf("under a 300 W cap: prefill step x%.3f, decode step x%.3f\n", prefill_stretch, decode_stretch);
  EXPECT_GT(prefill_stretch, 1.2) << "the compute-bound step slows by about 1 / clock";
  EXPECT_LT(decode_stretch, 1.01) << "the memory-bound step barely does";
}

TEST(GpuPowerModel, FitRecoversTheFiguresItWasMadeFrom) {
  // Samples made exactly from floor 150 W, 1.5 pJ/FLOP, 200 pJ/byte: the fit returns them and zero errors.
  std::vector<GpuPowerSample> samples;
  for (const auto& [f, b] : std::vector<std::pair<double, double>>{{2e13, 3e11}, {5e13, 2e11}, {1e14, 6e11}, {3e13, 5e11}})
    samples.push_back({150 + 1.5e-12 * f + 200e-12 * b, f, b});
  const GpuPowerFitResult r = fit_gpu_power(samples);
  EXPECT_NEAR(r.fit.busy_floor_w, 150, 1e-6);
  EXPECT_NEAR(r.fit.joules_per_flop, 1.5e-12, 1e-20);
  EXPECT_NEAR(r.fit.joules_per_byte, 200e-12, 1e-18);
  for (double e : r.relative_errors) EXPECT_NEAR(e, 0, 1e-9);
  EXPECT_THROW(fit_gpu_power({samples[0], samples[1]}), std::invalid_argument);
  EXPECT_THROW(fit_gpu_power({samples[0], samples[0], samples[0]}), std::invalid_argument);  // cannot separate
}

TEST(StepWork, ARequestsWorkIsTheSumOfItsSteps) {
  // The closed form of request_work against the steps one by one: a 100-token prompt, then 49 decode steps.
  const StepWorkModel m(llama_8b(), 2.0, 2, 1);
  const double p = 100, o = 50;
  StepWork sum = m.work(prefill_shape(100));
  for (int j = 1; j < o; ++j) {
    const StepWork w = m.work(decode_shape(1, p + j));  // the keys before it and its own
    sum.linear_flops += w.linear_flops, sum.attention_flops += w.attention_flops;
    sum.attention_bytes += w.attention_bytes;
  }
  const StepWork closed = m.request_work(p, o);
  EXPECT_NEAR(closed.linear_flops, sum.linear_flops, 1e-9 * sum.linear_flops);
  EXPECT_NEAR(closed.attention_flops, sum.attention_flops, 1e-9 * sum.attention_flops);
  EXPECT_NEAR(closed.attention_bytes, sum.attention_bytes, 1e-9 * sum.attention_bytes);
  EXPECT_EQ(closed.linear_bytes, 0) << "weights are read per step, not per request";
  // Weights per GPU per step: (parameters - embedding - final norm) x 2 bytes / tp.
  const ModelArch a = llama_8b();
  EXPECT_NEAR(m.weight_bytes_per_step(), (a.parameters() - double(a.vocab) * a.hidden - a.hidden) * 2 / 2, 1);
}

TEST(GpuPowerFit, CatalogHoldsTheFitTablesFigures) {
  const auto table = rows_by_first_field(source_path("data/power/gpu_power_fit.csv"));
  const auto hardware = aif::sim::load_hardware_catalog(source_path("data/hardware.yaml"));
  ASSERT_FALSE(table.empty());
  for (const auto& [device, row] : table) {
    SCOPED_TRACE(device);
    ASSERT_EQ(row.size(), 10u);
    const DeviceSpec& d = hardware.at(device);
    EXPECT_EQ(d.power_model, "fitted");
    EXPECT_DOUBLE_EQ(d.power_fit.busy_floor_w, std::stod(row[4]));
    EXPECT_DOUBLE_EQ(d.power_fit.joules_per_flop, std::stod(row[5]) * 1e-12);
    EXPECT_DOUBLE_EQ(d.power_fit.joules_per_byte, std::stod(row[6]) * 1e-12);
    for (const char* field : {"busy_power_floor", "pj_per_flop", "pj_per_byte"})
      EXPECT_EQ(d.sources.count(field), 1u) << field << " has no source";
  }
}

TEST(GpuPowerFit, RegeneratedFromThePublicMeasurementsUnchanged) {
  const std::string flat = source_path("../shared/data/gpu/mlenergy-v2/llm_v2_flat.csv");
  if (!fs::is_regular_file(flat))
    GTEST_SKIP() << "ML.ENERGY's measurements are not beside the repository at " << flat << ": nothing to refit";
  const std::string dir = scratch_dir("gpu_power_fit");
  const auto r = run_aifsim("fit-power --mlenergy-flat " + flat + " -o " + dir + "/gpu_power_fit.csv");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* file : {"gpu_power_fit.csv", "gpu_power_fit_runs.csv"})
    EXPECT_TRUE(read_bytes(dir + "/" + file) == read_bytes(source_path(std::string("data/power/") + file)))
        << file << " is stale: aifsim fit-power --mlenergy-flat <llm_v2_flat.csv>";
}

TEST(GpuPowerFit, BadInputFailsWithTheFileAndLine) {
  const std::string dir = scratch_dir("gpu_power_fit_bad");
  auto r = run_aifsim("fit-power --mlenergy-flat " + dir + "/missing.csv -o " + dir + "/out.csv");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("missing.csv"), std::string::npos) << r.output;
  {
    std::ofstream(dir + "/bad.csv") << "task,GPU,Model,TP,PP,Max BS (reqs),Avg BS (reqs),Avg Output Tokens,Avg TPOT (s),"
                                       "Token tput (tok/s),Energy/req (J),file\n"
                                       "chat,NVIDIA H100 80GB HBM3,mistralai/Mistral-7B-Instruct-v0.3,1,1,64,63,400,"
                                       "fast,1000,100,x.json\n";
  }
  r = run_aifsim("fit-power --mlenergy-flat " + dir + "/bad.csv -o " + dir + "/out.csv");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("bad.csv:2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Avg TPOT (s)"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/out.csv")) << "nothing written before the error";
}

// A mixture of experts' step work by hand. One layer, hidden 2, one head of 2 dims, ffn 3, vocabulary 5, 4 experts of
// which 2 per token. Per layer: attention 2x2 + 2x2x2 + 2x2 = 16, norms 2 x 2 = 4, router 2 x 4 = 8 (28 shared) and
// 4 experts of 3 x 2 x 3 = 18; embedding and LM head 5 x 2 each, final norm 2: 28 + 72 + 20 + 2 = 122 parameters.
TEST(StepWork, MixtureOfExpertsCountsTheExpertsItsTokensReach) {
  ModelArch m;
  m.name = "toy-moe";
  m.layers = 1, m.hidden = 2, m.heads = 1, m.kv_heads = 1, m.head_dim = 2, m.ffn = 3, m.vocab = 5;
  m.experts = 4, m.experts_per_token = 2;
  EXPECT_EQ(m.parameters(), 122);
  EXPECT_EQ(m.active_parameters(), 122 - 2 * 18);
  EXPECT_EQ(m.expert_parameters(), 72);
  const StepWorkModel w(m, 2.0, 1, 1);
  BatchShape one;  // one decode token
  one.num_seqs = 1, one.num_tokens = 1, one.decode_seqs = 1, one.sampled_seqs = 1;
  // FLOPs 2 x (28 shared + 2 experts x 18 + LM head 10) = 148. Weights read: shared 28 and LM head 10, and the
  // experts one token reaches: 4 (1 - (1 - 2/4)^1) = 2 of them, 36: 74 parameters x 2 bytes = 148.
  EXPECT_DOUBLE_EQ(w.work(one).linear_flops, 148);
  EXPECT_DOUBLE_EQ(w.work(one).linear_bytes, 148);
  // Two tokens reach 4 (1 - (1/2)^2) = 3 experts on average: (38 + 54) x 2 = 184 bytes; FLOPs 2 x (64 x 2 + 10 x 2).
  BatchShape two = one;
  two.num_seqs = 2, two.num_tokens = 2, two.decode_seqs = 2, two.sampled_seqs = 2;
  EXPECT_DOUBLE_EQ(w.work(two).linear_bytes, 184);
  EXPECT_DOUBLE_EQ(w.work(two).linear_flops, 296);
  // Two attention ranks of one GPU each: each GPU computes its rank's token through the shared layers (28 + 10) and
  // half of both tokens' expert work (2 x 2 x 18 / 2), and holds half the experts the two tokens reach (54 / 2).
  const StepWorkModel ranks(m, 2.0, 1, 1, 0, 2);
  EXPECT_DOUBLE_EQ(ranks.work(two).linear_flops, 2.0 * (38 + 36));
  EXPECT_DOUBLE_EQ(ranks.work(two).linear_bytes, (38 + 27) * 2.0);
  EXPECT_THROW(StepWorkModel(llama_8b(), 2.0, 1, 1, 0, 2), std::invalid_argument);  // dense: no attention ranks
}
