// Link utilization over a run (private to sim/world): SimGrid's link_load plugin integrates the bytes each link half
// carried; at every sample the monitor turns them into per-tier utilization (mean over the tier's links and the
// busiest link of the tier) and keeps, for links of the shared tiers (uplinks, core, dragonfly, storage), a sparse
// per-sample series so that the busiest links' series can be written at the end without knowing them in advance.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "aif/analysis/results.hpp"
#include "aif/models/fabric.hpp"
#include "aif/world/platform.hpp"

namespace aif::sim {

// "nvlink", "nic", "uplink", ...: the tier's name in series and summary entries.
std::string tier_name(models::LinkTier tier);

// Call before the platform is built (the plugin hooks link creation).
void init_link_load_plugin();

class LinkMonitor {
 public:
  explicit LinkMonitor(const Platform& platform);

  // Series names and units to add to /timeseries: per tier present in the fabric "link_util_<tier>" (mean) and
  // "link_util_<tier>_max" (busiest link of the tier), both as a fraction of capacity.
  std::vector<analysis::SeriesSpec> series() const;
  // Close the interval that ends now (it began at the previous sample, or at 0): values in series() order.
  std::vector<double> sample(double now);

  struct LinkTotal {
    int link;            // FabricLink::id
    bool up;             // which half
    double bytes;        // carried over the run
    double peak_util;    // highest interval utilization
  };
  // The `count` link halves that carried the most bytes (ties by id), with their per-sample utilization
  // (one value per sample taken; 0 where idle). Only links of shared tiers have series; others get none.
  std::vector<LinkTotal> busiest(size_t count) const;
  std::vector<double> series_of(int link, bool up) const;
  // Over the whole run, per tier: bytes carried and mean utilization (bytes / (run time x capacity)).
  struct TierTotal {
    models::LinkTier tier;
    int links;
    double bytes;
    double mean_util;
  };
  std::vector<TierTotal> tier_totals(double end) const;
  int samples() const { return samples_; }

 private:
  struct Half {
    simgrid::s4u::Link* link = nullptr;
    int id = -1;
    bool up = true;
    double bandwidth = 0;
    double bytes = 0;
    double peak_util = 0;
    bool keep_series = false;
    std::vector<std::pair<int32_t, float>> series;  // (sample index, utilization), non-zero only
  };
  std::vector<Half> halves_;
  std::vector<models::LinkTier> tiers_;  // tiers present, in enum order
  std::vector<int> tier_of_half_;        // index into tiers_
  double last_ = 0;
  int samples_ = 0;
};

}  // namespace aif::sim
