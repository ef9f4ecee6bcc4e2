// GPU device profiles (docs/calibration-format.md): every malformed file in tests/data/bad_device_profiles gives one
// ScenarioError at the expected line and column; the committed profiles read back, cover the catalog's models at the
// default batch limits, and are what `aifsim calibrate --from aiconfigurator` writes from the public measurements
// (regenerated when those are present beside the repository).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "../support/aifsim_process.hpp"
#include "aif/models/kernel_tables.hpp"
#include "aif/inputs/device_profile.hpp"
#include "aif/scenario/scenario.hpp"
#include "../support/input_error.hpp"

namespace fs = std::filesystem;
using aif::sim::ScenarioError;
using namespace aif::testing;

namespace {

const std::string BAD_DIR = source_path("tests/data/bad_device_profiles/");
const std::vector<std::string> DEVICES = {"A100-80GB", "H100-SXM", "H200-SXM"};

ScenarioError error_of(const std::string& path) {
  return aif::testing::error_of_reading(path, [](const std::string& p) { aif::sim::read_device_profile(p); });
}

struct BadProfile {
  std::string file;
  int line;
  std::string column;
  std::string message;  // a substring of what()
};

// Each file is a valid three-row profile (header on lines 1-3, rows on 4-6) with one mistake, on line 7 unless said.
const std::vector<BadProfile> BAD_PROFILES = {
    {"no_device.csv", 1, "device", "the header has no '# device: <catalog key>' line"},
    {"format_version_2.csv", 1, "format_version", "format_version 2 is not supported; this aifsim reads version 1"},
    {"negative_seconds.csv", 7, "seconds", "expected a number > 0, found -1e-05"},
    {"duplicate_point.csv", 7, "op", "duplicate point: gemm bf16 m=1 n=1024 k=1024 is already on line 4"},
    {"unknown_dtype.csv", 7, "dtype", "expected bf16 or fp8, found 'int4'"},
    {"unknown_op.csv", 7, "op", "unknown operator 'matmul' (valid operators: activation, add, allreduce"},
    {"gemm_without_k.csv", 7, "k", "a gemm row needs a value here"},
    {"long_row.csv", 7, "", "expected 15 comma-separated fields as in the header (line 3), found 16"},
    {"allreduce_one_gpu.csv", 7, "gpus", "an all-reduce needs at least 2 GPUs, found 1"},
    {"elementwise_with_bytes.csv", 7, "bytes", "a rms_norm row leaves this field empty (it uses elements)"},
    {"heads_not_multiple.csv", 7, "kv_heads", "query heads (6) must be a multiple of the KV heads"},
    {"moe_topk_above_experts.csv", 7, "kv_heads", "experts per token (kv_heads 9) cannot exceed its experts (heads 8)"},
    {"moe_experts_not_divided.csv", 7, "gpus", "expert parallelism over 3 GPUs does not divide the 8 experts"},
    {"alltoall_one_gpu.csv", 7, "gpus", "an all-to-all needs at least 2 GPUs, found 1"},
    {"no_gemm.csv", 3, "op", "the profile has no gemm rows"},  // the column header's line
};

// The value of a '# key: value' header line of a file ("" when absent).
std::string header_value(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line) && line.rfind("#", 0) == 0;)
    if (line.rfind("# " + key + ": ", 0) == 0) return line.substr(key.size() + 4);
  return "";
}

}  // namespace

TEST(DeviceProfile, EveryBadFileGivesItsError) {
  for (const BadProfile& b : BAD_PROFILES) {
    SCOPED_TRACE(b.file);
    const ScenarioError e = error_of(BAD_DIR + b.file);
    EXPECT_EQ(e.file(), BAD_DIR + b.file);
    EXPECT_EQ(e.line(), b.line);
    EXPECT_EQ(e.key_path(), b.column);
    EXPECT_NE(std::string(e.what()).find(b.message), std::string::npos) << e.what();
  }
  // And every file of the folder is in the list above.
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(BAD_DIR)) files += entry.path().extension() == ".csv";
  EXPECT_EQ(files, BAD_PROFILES.size());
}

TEST(DeviceProfile, CommittedProfilesCoverTheCatalogAtDefaultLimits) {
  const auto models = aif::sim::load_model_catalog(source_path("data/models.yaml"));
  const auto devices = aif::sim::load_hardware_catalog(source_path("data/hardware.yaml"));
  for (const std::string& device : DEVICES) {
    SCOPED_TRACE(device);
    const std::string path = source_path("data/calibration/" + device + ".csv");
    const auto t = aif::sim::read_device_profile(path);
    EXPECT_EQ(t->device, device);
    // The rows as a naive count of the file's lines by operator.
    std::map<std::string, size_t> lines;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);)
      if (!line.empty() && line[0] != '#' && line.rfind("op,", 0) != 0) ++lines[line.substr(0, line.find(','))];
    size_t gemm = 0;
    for (const auto& [dtype, shapes] : t->gemm)
      for (const auto& [nk, c] : shapes) gemm += c.x.size();
    EXPECT_EQ(gemm, lines["gemm"]);
    // Every catalog model the profile serves (its header lists them) builds at each tp that splits its heads where
    // its bf16 weights fit, and its tables cover a step of 8192 tokens, 256 sequences and the model's whole context
    // (the scheduler defaults), with at most the keys a KV cache of 90 % of the HBM left by the weights holds (as
    // sim/scenario/src/perf_factory.cpp sizes it).
    const std::string served = header_value(path, "models");
    for (const auto& [name, arch] : models) {
      if (served.find(name + ",") == std::string::npos && served.find(name + " (") == std::string::npos) continue;
      for (int tp : {1, 2, 4, 8}) {
        const double free = devices.at(device).hbm_bytes * tp - arch.parameters() * 2;
        if (arch.heads % tp != 0 || free <= 0) continue;
        SCOPED_TRACE(name + " tp " + std::to_string(tp));
        aif::models::StepLimits l;
        l.max_tokens = 8192;
        l.max_seqs = 256;
        l.max_context = arch.max_context;
        l.max_kv_tokens = static_cast<int64_t>(0.9 * free / arch.kv_bytes_per_token(2));
        // A mixture of experts builds with its experts split over the tp GPUs, each expert split over them, or both,
        // as measured (AIConfigurator timed Qwen3-30B-A3B's experts split over at most 4 GPUs, spread over up to 128).
        int built = 0;
        for (bool ep : arch.is_moe() ? std::vector<bool>{false, true} : std::vector<bool>{false}) {
          aif::models::KernelTableOptions o;
          o.expert_parallel = ep;
          try {
            const aif::models::KernelTableOperators ops(t, devices.at(device), arch, tp, o);
            ++built;
            EXPECT_NO_THROW(ops.check_coverage(l)) << (ep ? "expert parallel" : "");
          } catch (const std::invalid_argument& e) {
            if (!arch.is_moe()) ADD_FAILURE() << e.what();
          }
        }
        EXPECT_GE(built, 1);
      }
    }
  }
}

// The committed profiles are exactly what the converter writes from the public measurements: regenerated here when
// the measurements sit beside the repository (../shared/data/gpu), skipped otherwise.
TEST(DeviceProfile, RegeneratedFromThePublicMeasurementsUnchanged) {
  const std::string gpu_data = source_path("../shared/data/gpu");
  if (!fs::is_directory(gpu_data + "/aiconfigurator") || !fs::is_directory(gpu_data + "/vidur"))
    GTEST_SKIP() << "the public measurements (AIConfigurator's and Vidur's tables) are not beside the repository at "
                 << gpu_data << ": nothing to regenerate from";
  const std::string dir = scratch_dir("device_profile_regenerate");
  for (const std::string& device : DEVICES) {
    SCOPED_TRACE(device);
    const std::string committed = source_path("data/calibration/" + device + ".csv");
    // The sources' commits are part of the provenance the file records.
    std::smatch m;
    const std::string command = header_value(committed, "command");
    ASSERT_TRUE(std::regex_search(command, m, std::regex("--aiconfigurator-ref (\\S+) --vidur-ref (\\S+)"))) << command;
    const std::string out = dir + "/" + device + ".csv";
    const auto r = run_aifsim("calibrate --from aiconfigurator " + gpu_data + "/aiconfigurator --vidur " + gpu_data +
                              "/vidur --device " + device + " --aiconfigurator-ref " + m[1].str() + " --vidur-ref " +
                              m[2].str() + " -o " + out);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(read_bytes(out) == read_bytes(committed)) << "regenerate: aifsim calibrate --from aiconfigurator ...";
  }
}

TEST(DeviceProfile, ConverterRefusesAnUnknownDeviceAndAMissingFolder) {
  const auto unknown = run_aifsim("calibrate --from aiconfigurator /nonexistent --vidur /nonexistent --device B200");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
  EXPECT_NE(unknown.output.find("no public kernel tables for 'B200'"), std::string::npos) << unknown.output;
  const auto missing = run_aifsim("calibrate --from aiconfigurator /nonexistent --vidur /nonexistent --device H100-SXM");
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(missing.output.find("/nonexistent/h100_sxm"), std::string::npos) << missing.output;
  const auto no_vidur = run_aifsim("calibrate --from aiconfigurator /nonexistent --device H100-SXM");
  EXPECT_EQ(no_vidur.exit_code, 2) << no_vidur.output;
}

// A larger batch never makes attention cheaper, inside the measured grid (up to the measurements' own noise) and
// beyond it, where the continuation in proportion to the work must not jump down where a row of the triangular grid
// stops short (a 17-sequence prefill of 8,192 tokens once cost twice a 16-sequence one, a 129-sequence one less than
// a 128-sequence one).
TEST(DeviceProfile, AttentionNeverGetsCheaperWithALargerBatch) {
  const auto models = aif::sim::load_model_catalog(source_path("data/models.yaml"));
  const auto devices = aif::sim::load_hardware_catalog(source_path("data/hardware.yaml"));
  double worst = 0;
  std::string where;
  for (const std::string& device : DEVICES) {
    const auto t = aif::sim::read_device_profile(source_path("data/calibration/" + device + ".csv"));
    for (const std::string name : {"Llama-3.1-8B", "Llama-3.1-70B", "Llama-3.1-405B", "CodeLlama-34B"}) {
      const auto& arch = models.at(name);
      for (int tp : {1, 8}) {
        const aif::models::KernelTableOperators ops(t, devices.at(device), arch, tp, {});
        for (const bool prefill : {false, true}) {
          for (const double len : prefill ? std::vector<double>{512, 1024, 4096, 8192} : std::vector<double>{512, 2048, 8192, 32768}) {
            double last = 0;
            for (int b = 1; b <= (prefill ? 64 : 512); ++b) {
              double s = 0;
              try {
                s = prefill ? ops.prefill_attention(b, len, 0).seconds : ops.decode_attention(b, len).seconds;
              } catch (const aif::models::TableRangeError&) {
                break;  // beyond what the table allows: refused, not cheaper
              }
              if (last > 0 && last / s - 1 > worst) {
                worst = last / s - 1;
                where = device + " " + name + " tp " + std::to_string(tp) + (prefill ? " prefill " : " decode ") +
                        std::to_string(b) + " x " + std::to_string(static_cast<int>(len));
              }
              last = s;
            }
          }
        }
      }
    }
  }
  std::printf("largest drop from batch b - 1 to b: %.1f %% (%s)\n", 100 * worst, where.c_str());
  EXPECT_LT(worst, 0.10) << where;
}
