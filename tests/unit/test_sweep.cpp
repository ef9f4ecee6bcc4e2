// Sweep files: expansion into points (grid, ranges, latin hypercube, seeds), their errors, and the confidence
// interval of the sweep tables.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "aif/analysis/stats.hpp"
#include "aif/scenario/scenario.hpp"
#include "aif/studies/sweep.hpp"

namespace fs = std::filesystem;

namespace {

std::string write_sweep(const std::string& name, const std::string& body) {
  const fs::path dir = fs::temp_directory_path() / "aif_sweep_test";
  fs::create_directories(dir);
  const fs::path path = dir / name;
  std::ofstream(path) << "base: " << AIF_SOURCE_DIR << "/scenarios/examples/poisson.yaml\n" << body;
  return path.string();
}

}  // namespace

TEST(Sweep, GridTimesSeedsInOrder) {
  const auto c = aif::sim::load_sweep(write_sweep("grid.yaml", R"(axes:
  - key: "services[0].replicas"
    values: [1, 2]
  - key: "workloads[0].arrival.rate"
    range: {from: 2/s, to: 6/s, steps: 3}
seeds: 3
seed: 10
)"));
  const auto points = aif::sim::expand_sweep(c);
  ASSERT_EQ(points.size(), 2u * 3 * 3);
  EXPECT_EQ(points[0].id, "p0000-s0");
  EXPECT_EQ(points[2].id, "p0000-s2");
  EXPECT_EQ(points[2].seed, 12u);
  EXPECT_EQ(points[3].id, "p0001-s0");
  EXPECT_EQ(points[3].values[0].second, "1");
  EXPECT_EQ(points[3].values[1].second, "4/s");
  EXPECT_EQ(points[17].values[0].second, "2");
  EXPECT_EQ(points[17].values[1].second, "6/s");
  EXPECT_EQ(points[17].overrides().back(), "simulation.seed=12");
}

TEST(Sweep, LogRangeIsGeometric) {
  const auto c = aif::sim::load_sweep(write_sweep("log.yaml", R"(axes:
  - key: "workloads[0].arrival.rate"
    log_range: {from: 1/s, to: 16/s, steps: 5}
)"));
  const auto points = aif::sim::expand_sweep(c);
  ASSERT_EQ(points.size(), 5u);
  const char* by_hand[] = {"1/s", "2/s", "4/s", "8/s", "16/s"};
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(points[i].values[0].second, by_hand[i]);
}

// Latin hypercube: each of the N strata of a range is used exactly once.
TEST(Sweep, LatinHypercubeUsesEveryStratumOnce) {
  const auto c = aif::sim::load_sweep(write_sweep("lhs.yaml", R"(axes:
  - key: "workloads[0].arrival.rate"
    range: {from: 1/s, to: 11/s}
sample: {latin_hypercube: 5}
)"));
  const auto points = aif::sim::expand_sweep(c);
  ASSERT_EQ(points.size(), 5u);
  std::set<int> strata;
  for (const auto& p : points) {
    const double v = std::stod(p.values[0].second);
    ASSERT_GE(v, 1);
    ASSERT_LT(v, 11);
    strata.insert(static_cast<int>((v - 1) / 2));
  }
  EXPECT_EQ(strata.size(), 5u);
}

TEST(Sweep, BadSweepFilesNameTheLineAndKey) {
  auto error_of = [](const std::string& name, const std::string& body) {
    try {
      aif::sim::expand_sweep(aif::sim::load_sweep(write_sweep(name, body)));
    } catch (const aif::sim::ScenarioError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of("b1.yaml", "axes: []\nsamples: 3\n").find("unknown key 'samples'"), std::string::npos);
  EXPECT_NE(error_of("b2.yaml", "axes:\n  - key: x\n    values: [1]\n    range: {from: 1, to: 2, steps: 2}\n")
                .find("exactly one of values, range or log_range"),
            std::string::npos);
  EXPECT_NE(error_of("b3.yaml", "axes:\n  - key: x\n    range: {from: 1kW, to: 2/s, steps: 2}\n").find(":4: axes[0].range.to"),
            std::string::npos);
  // A grid needs the steps of a range (a sampled sweep draws in [from, to] without them).
  EXPECT_NE(error_of("b5.yaml", "axes:\n  - key: x\n    range: {from: 1/s, to: 2/s}\n").find(":4: axes[0].range.steps"),
            std::string::npos)
      << error_of("b5.yaml", "axes:\n  - key: x\n    range: {from: 1/s, to: 2/s}\n");
  // A point whose scenario is invalid: named before anything runs.
  const std::string bad = error_of("b4.yaml", "axes:\n  - key: \"services[0].replicas\"\n    values: [1, 1000]\n");
  EXPECT_NE(bad.find("point p0001"), std::string::npos) << bad;
  EXPECT_NE(bad.find("services[0].replicas=1000"), std::string::npos) << bad;
}

// Student's t: values 1, 2, 3 have mean 2, standard deviation 1, and half-width t(0.975, 2) x 1 / sqrt(3), where
// t(0.975, 2) = 2 (p - 1/2) sqrt(2 / (1 - (2 p - 1)^2)) = 0.95 sqrt(2 / 0.0975) = 4.30265... (df = 2 in closed form).
TEST(Sweep, MeanConfidenceIntervalByHand) {
  const auto ci = aif::analysis::mean_ci95({1, 2, 3});
  EXPECT_DOUBLE_EQ(ci.mean, 2);
  EXPECT_NEAR(ci.half_width, 0.95 * std::sqrt(2 / 0.0975) / std::sqrt(3.0), 1e-12);
  EXPECT_TRUE(std::isnan(aif::analysis::mean_ci95({5}).half_width));
  EXPECT_EQ(aif::analysis::mean_ci95({1, std::nan(""), 3}).n, 2u);
}
