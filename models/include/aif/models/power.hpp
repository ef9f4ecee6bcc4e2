// GPU power by phase. Between events a GPU's power is constant, so energy is the exact
// sum of power x duration over the piecewise-constant intervals.
#pragma once

#include "aif/models/hardware.hpp"

namespace aif::models {

struct GpuPowerParams {
  double idle_w = 0;
  double decode_w = 0;   // running a memory-bound step (splitwise-sim's "decode" figure)
  double prefill_w = 0;  // running a compute-bound step (splitwise-sim's "prefill" figure)
  static GpuPowerParams from_device(const DeviceSpec& d) { return {d.idle_w, d.decode_w, d.prefill_w}; }
};

// Power of one GPU while it runs a step whose compute-bound share is `compute_share` in [0, 1]:
// a linear blend from the memory-bound (decode) to the compute-bound (prefill) figure.
// Patel et al. (Splitwise, ISCA 2024) measured prefill near TDP and decode well below it; the
// blend makes a mixed batch land in between in proportion to the time its arithmetic dominates.
inline double gpu_busy_power(const GpuPowerParams& p, double compute_share) {
  const double s = compute_share < 0 ? 0 : (compute_share > 1 ? 1 : compute_share);
  return p.decode_w + s * (p.prefill_w - p.decode_w);
}

}  // namespace aif::models
