// Jobs in and out: the scenario's `jobs` section read into JobConfig (values and defaults), and the results file's
// /jobs/steps table and /jobs@names written and read back field by field, in several chunks.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "aif/analysis/results.hpp"
#include "aif/scenario/scenario.hpp"

namespace fs = std::filesystem;
using aif::analysis::JobStepRecord;

namespace {

const char* const SCENARIO = R"(facility:
  racks: 2
  servers_per_rack: 4
  gpus_per_server: 8
services:
  - name: chat
    model: Llama-3.1-8B
    tp: 2
    replicas: 2
jobs:
  - name: pretrain
    model: Llama-3.1-70B
    parallelism: {dp: 2, tp: 8, pp: 2}
    global_batch: 64
    micro_batch: 2
    seq_len: 4096
    steps: 100
  - name: tune
    kind: fine_tuning
    model: Llama-3.1-8B
    dtype: fp8
    parallelism: {dp: 2, tp: 2}
    global_batch: 8
    seq_len: 2048
    steps: 5
    start: 10min
    placement: packed
    allreduce: ring
    overlap: false
    efficiency: 0.35
)";

}  // namespace

TEST(ScenarioJobs, ValuesAndDefaults) {
  const auto sc = aif::sim::load_scenario_text(SCENARIO, "jobs.yaml");
  ASSERT_EQ(sc.jobs.size(), 2u);
  const auto& a = sc.jobs[0];
  EXPECT_EQ(a.name, "pretrain");
  EXPECT_EQ(a.kind, aif::sim::JobKind::TRAINING);
  EXPECT_EQ(a.model, "Llama-3.1-70B");
  EXPECT_EQ(a.dtype, "bf16");
  EXPECT_EQ(a.dp, 2);
  EXPECT_EQ(a.tp, 8);
  EXPECT_EQ(a.pp, 2);
  EXPECT_EQ(a.gpus(), 32);
  EXPECT_EQ(a.global_batch, 64);
  EXPECT_EQ(a.micro_batch, 2);
  EXPECT_EQ(a.seq_len, 4096);
  EXPECT_EQ(a.steps, 100);
  EXPECT_EQ(a.start_s, 0.0);
  EXPECT_EQ(a.placement, aif::sim::JobPlacement::TOPOLOGY_AWARE);
  EXPECT_EQ(a.allreduce, aif::sim::JobAllreduce::HIERARCHICAL);
  EXPECT_TRUE(a.overlap);
  EXPECT_EQ(a.efficiency, 0.5);
  EXPECT_EQ(a.checkpoint.every_steps, 0);
  const auto& b = sc.jobs[1];
  EXPECT_EQ(b.kind, aif::sim::JobKind::FINE_TUNING);
  EXPECT_EQ(b.dtype, "fp8");
  EXPECT_EQ(b.pp, 1);
  EXPECT_EQ(b.micro_batch, 1);
  EXPECT_EQ(b.start_s, 600.0);
  EXPECT_EQ(b.placement, aif::sim::JobPlacement::PACKED);
  EXPECT_EQ(b.allreduce, aif::sim::JobAllreduce::RING);
  EXPECT_FALSE(b.overlap);
  EXPECT_EQ(b.efficiency, 0.35);
  // The jobs' models are resolved next to the services'.
  EXPECT_EQ(sc.models.count("Llama-3.1-70B"), 1u);
  EXPECT_EQ(sc.models.at("Llama-3.1-70B").layers, 80);
}

TEST(ScenarioJobs, CheckpointsNeedStorageNodes) {
  const std::vector<std::string> checkpoint = {"jobs[0].checkpoint={every_steps: 50}"};
  try {
    aif::sim::load_scenario_text(SCENARIO, "jobs.yaml", checkpoint);
    FAIL() << "a checkpoint without storage nodes accepted";
  } catch (const aif::sim::ScenarioError& e) {
    EXPECT_EQ(e.key_path(), "jobs[0].checkpoint");
  }
  std::vector<std::string> with_storage = checkpoint;
  with_storage.push_back("fabric={storage_nodes: 4}");
  const auto sc = aif::sim::load_scenario_text(SCENARIO, "jobs.yaml", with_storage);
  EXPECT_EQ(sc.jobs[0].checkpoint.every_steps, 50);
  EXPECT_EQ(sc.jobs[0].checkpoint.to, "storage");
}

TEST(ScenarioJobs, BudgetCountsServicesAndEarlierJobs) {
  // 64 GPUs: the services take 4, pretrain 32, tune 4. Tune at dp 16 (32 GPUs) overflows by 4: the error names it.
  try {
    aif::sim::load_scenario_text(SCENARIO, "jobs.yaml", {"jobs[1].parallelism.dp=16", "jobs[1].global_batch=16"});
    FAIL() << "68 GPUs fitted in a 64-GPU facility";
  } catch (const aif::sim::ScenarioError& e) {
    EXPECT_EQ(e.key_path(), "jobs[1].parallelism");
    EXPECT_NE(std::string(e.what()).find("the job needs dp x tp x pp = 16 x 2 x 1 = 32 GPUs"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("68 GPUs are needed but the facility has 64"), std::string::npos) << e.what();
  }
  // dp 14 (28 GPUs) is exactly full.
  EXPECT_NO_THROW(
      aif::sim::load_scenario_text(SCENARIO, "jobs.yaml", {"jobs[1].parallelism.dp=14", "jobs[1].global_batch=14"}));
}

TEST(ScenarioJobs, DuplicateNameAndStartAfterTheEnd) {
  try {
    aif::sim::load_scenario_text(SCENARIO, "jobs.yaml", {"jobs[1].name=pretrain"});
    FAIL() << "duplicate job name accepted";
  } catch (const aif::sim::ScenarioError& e) {
    EXPECT_EQ(e.key_path(), "jobs[1].name");
  }
  try {
    aif::sim::load_scenario_text(SCENARIO, "jobs.yaml", {"jobs[1].start=2h"});  // default duration 1h
    FAIL() << "a job starting after the end accepted";
  } catch (const aif::sim::ScenarioError& e) {
    EXPECT_EQ(e.key_path(), "jobs[1].start");
  }
}

TEST(ResultsJobs, StepsAndNamesRoundTrip) {
  const fs::path dir = fs::temp_directory_path() / ("aif_test_jobs_io_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "jobs.h5").string();
  std::vector<JobStepRecord> written;
  {
    aif::analysis::ResultsWriter writer(path, /*chunk_rows=*/7);
    writer.define_jobs({"pretrain", "tune"});
    EXPECT_THROW(writer.define_jobs({"again"}), std::logic_error);
    for (int i = 0; i < 50; ++i) {
      JobStepRecord r;
      r.job = i % 2;
      r.step = i / 2;
      r.start_s = 1.5 * i;
      r.compute_s = 1.0 + 1e-3 * i;
      r.exposed_comm_s = 0.25;
      r.comm_s = 0.5 + 1e-6 * i;
      r.checkpoint_s = i % 10 == 9 ? 3.0 : 0.0;
      r.end_s = r.start_s + r.compute_s + r.exposed_comm_s + r.checkpoint_s;
      writer.add_job_step(r);
      written.push_back(r);
      EXPECT_LE(writer.buffered_rows(), 7u);
    }
    writer.finish({});
  }
  const aif::analysis::ResultsReader reader(path);
  EXPECT_EQ(reader.job_names(), (std::vector<std::string>{"pretrain", "tune"}));
  EXPECT_EQ(reader.job_step_count(), 50u);
  const auto read = reader.job_steps();
  ASSERT_EQ(read.size(), written.size());
  for (size_t i = 0; i < read.size(); ++i) {
    EXPECT_EQ(read[i].job, written[i].job);
    EXPECT_EQ(read[i].step, written[i].step);
    EXPECT_EQ(read[i].start_s, written[i].start_s);
    EXPECT_EQ(read[i].end_s, written[i].end_s);
    EXPECT_EQ(read[i].compute_s, written[i].compute_s);
    EXPECT_EQ(read[i].comm_s, written[i].comm_s);
    EXPECT_EQ(read[i].exposed_comm_s, written[i].exposed_comm_s);
    EXPECT_EQ(read[i].checkpoint_s, written[i].checkpoint_s);
  }
  size_t chunks = 0;
  reader.for_each_job_step_chunk(
      [&](const std::vector<JobStepRecord>& chunk) {
        EXPECT_LE(chunk.size(), 16u);
        ++chunks;
      },
      16);
  EXPECT_EQ(chunks, 4u);
  fs::remove_all(dir);
}

TEST(ResultsJobs, FileWithoutJobsReadsEmpty) {
  const fs::path dir = fs::temp_directory_path() / ("aif_test_jobs_io_empty_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "none.h5").string();
  {
    aif::analysis::ResultsWriter writer(path);
    writer.finish({});
  }
  const aif::analysis::ResultsReader reader(path);
  EXPECT_TRUE(reader.job_names().empty());
  EXPECT_EQ(reader.job_step_count(), 0u);
  EXPECT_TRUE(reader.job_steps().empty());
  fs::remove_all(dir);
}
