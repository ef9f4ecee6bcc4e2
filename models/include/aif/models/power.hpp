// GPU power while it works. Between events a GPU's power is constant, so energy is the exact sum of power x duration
// over the piecewise-constant intervals (docs/power.md, "GPU power").
#pragma once

#include <vector>

#include "aif/models/hardware.hpp"
#include "aif/models/step_work.hpp"

namespace aif::models {

struct IterationCost;

// The three phase figures of splitwise-sim (idle, memory-bound decode, compute-bound prefill): the "phase" power
// model, for devices without a fit (GpuPowerModel says which a device uses).
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

// Dynamic power P = C V^2 f; over the DVFS range the voltage falls with the clock, so dynamic power falls faster than
// linearly: ~f^3 where V tracks f, nearer f^2 where part of the busy power (HBM, static leakage) does not scale with
// the SM clock. Patel et al. ("Characterizing Power Management Opportunities for LLMs in the Cloud", ASPLOS 2024;
// "POLCA", arXiv 2308.12908) measured A100/H100 LLM power under frequency locks and power caps: large power savings
// for a small loss, most for memory-bound phases. The exponent is the middle of 2..3.
struct DvfsParams {
  double exponent = 2.5;            // alpha: power above idle at clock f is f^alpha of its full-clock value
  double min_clock_fraction = 0.3;  // lowest clock a cap may set, as a fraction of the boost clock
};

// The power of one GPU from what it does in each step (docs/power.md, "GPU power").
//
// FITTED (devices with a GpuPowerFit, data/power/gpu_power_fit.csv): over a step of t seconds that does F FLOPs and
// moves B bytes through HBM on this GPU (step_work.hpp), at full clock:
//   P1 = min(TDP, floor + e_flop F / t + min(e_byte B / t, decode - floor))
// floor: a busy GPU doing neither; e_flop, e_byte: the energy of a FLOP and of an HBM byte with the on-chip work around
// them, fitted on measured serving runs; batch size and the compute- and memory-bound shares of the step enter through
// F / t and B / t. The memory term stops at the phase model's decode figure: the fit's runs moved at most ~30 % of the
// HBM bandwidth, and Patel et al. (Splitwise) measured a memory-bound decode well below the TDP (the `decode_power`
// of the catalog), so the line is not extended past it. At clock fraction f (t from the perf model at f):
//   P = min(TDP, idle + (floor - idle) f^alpha + f^(alpha - 1) (e_flop F / t + min(e_byte B / t, decode - floor)))
// dynamic power C V^2 f: the floor falls as f^alpha and every FLOP and byte costs f^(alpha - 1) of its energy, while
// the rates themselves fall as the perf model stretches the step. At the TDP the GPU's own power limit holds it (the
// kernel timings the calibrated perf models use were measured under that limit).
//
// PHASE (the three figures): P = idle + (busy(s) - idle) f^alpha, busy(s) = gpu_busy_power(s), s the step's
// compute-bound share of time; busy(s) exactly at f = 1.
class GpuPowerModel {
 public:
  enum class Kind { FITTED, PHASE };
  // FITTED when the device has a power fit and its power_model is not "phase"; PHASE otherwise.
  explicit GpuPowerModel(const DeviceSpec& device, DvfsParams dvfs = {});
  // A PHASE model from its three figures, the TDP at the prefill figure (tests, teaching).
  GpuPowerModel(const GpuPowerParams& phase, DvfsParams dvfs = {});  // NOLINT: implicit, a phase model
  Kind kind() const { return kind_; }
  double idle_w() const { return phase_.idle_w; }
  const DvfsParams& dvfs() const { return dvfs_; }
  // One GPU running a step that does `work` (per GPU) and lasts cost.seconds at clock fraction `clock` in (0, 1]
  // (cost from the perf model at that clock).
  double step_w(const StepWork& work, const IterationCost& cost, double clock) const;
  // A GPU whose work is compute-bound throughout, at clock fraction `clock`: training's compute phases, and the worst
  // case a power manager must leave room for. FITTED: the TDP (a compute-bound step runs at the power limit); PHASE:
  // the prefill figure; idle + (that - idle) f^alpha.
  double compute_bound_w(double clock) const;

 private:
  double at_clock(double full_clock_w, double clock) const;
  Kind kind_ = Kind::PHASE;
  GpuPowerParams phase_;
  GpuPowerFit fit_;
  double tdp_w_ = 0;
  DvfsParams dvfs_;
};

// One measured run for the fit: its average power per GPU and the FLOP and HBM-byte rates per GPU over its duration.
struct GpuPowerSample {
  double measured_w = 0;
  double flops_per_s = 0;
  double bytes_per_s = 0;
};
struct GpuPowerFitResult {
  GpuPowerFit fit;
  std::vector<double> relative_errors;  // (floor + e_flop F/t + e_byte B/t - measured) / measured, per sample
};
// Fits busy_floor_w, joules_per_flop and joules_per_byte of P = floor + e_flop F/t + e_byte B/t to the samples: least
// squares on relative residuals (weights 1 / measured^2), exactly, through the 3 x 3 normal equations. Throws
// std::invalid_argument with fewer than three samples or when they cannot separate the three figures.
GpuPowerFitResult fit_gpu_power(const std::vector<GpuPowerSample>& samples);

// The highest clock fraction in [min_clock, 1] at which power_at(f) <= cap_w, for power_at increasing in f (a step's
// power at clock f, its time from the perf model at f): 1 when full clock fits, min_clock when nothing does (the GPU
// then draws more than the cap). Bisection to 1e-4 of the clock.
template <class PowerAt>
double highest_clock_within(double cap_w, double min_clock, PowerAt power_at) {
  if (power_at(1.0) <= cap_w) return 1.0;
  if (power_at(min_clock) > cap_w) return min_clock;
  double lo = min_clock, hi = 1.0;  // power_at(lo) <= cap < power_at(hi)
  while (hi - lo > 1e-4) {
    const double mid = 0.5 * (lo + hi);
    (power_at(mid) <= cap_w ? lo : hi) = mid;
  }
  return lo;
}

}  // namespace aif::models
