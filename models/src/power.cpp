#include "aif/models/power.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "aif/models/perf.hpp"

namespace aif::models {

GpuPowerModel::GpuPowerModel(const DeviceSpec& device, DvfsParams dvfs)
    : phase_(GpuPowerParams::from_device(device)), fit_(device.power_fit), tdp_w_(device.tdp_w), dvfs_(dvfs) {
  if (!(dvfs_.exponent > 0)) throw std::invalid_argument("DVFS exponent must be > 0");
  if (device.power_model == "fitted" && !fit_.present())
    throw std::invalid_argument("device " + device.name + ": power_model fitted without a power fit");
  kind_ = fit_.present() && device.power_model != "phase" ? Kind::FITTED : Kind::PHASE;
  if (kind_ == Kind::FITTED &&
      !(phase_.idle_w <= fit_.busy_floor_w && fit_.busy_floor_w <= phase_.decode_w && phase_.decode_w <= tdp_w_))
    throw std::invalid_argument("device " + device.name + ": expected idle <= busy floor <= decode <= TDP");
}

GpuPowerModel::GpuPowerModel(const GpuPowerParams& phase, DvfsParams dvfs)
    : phase_(phase), tdp_w_(phase.prefill_w), dvfs_(dvfs) {
  if (!(dvfs_.exponent > 0)) throw std::invalid_argument("DVFS exponent must be > 0");
}

double GpuPowerModel::at_clock(double full_clock_w, double clock) const {
  if (!(clock > 0 && clock <= 1)) throw std::invalid_argument("clock fraction must be in (0, 1]");
  // At full clock exactly the figure (idle + (P - idle) x 1 may differ from P in the last bit).
  return clock >= 1 ? full_clock_w : phase_.idle_w + (full_clock_w - phase_.idle_w) * std::pow(clock, dvfs_.exponent);
}

double GpuPowerModel::step_w(const StepWork& work, const IterationCost& cost, double clock) const {
  if (kind_ == Kind::PHASE) return at_clock(gpu_busy_power(phase_, cost.compute_bound_share()), clock);
  if (!(clock > 0 && clock <= 1)) throw std::invalid_argument("clock fraction must be in (0, 1]");
  double dynamic = 0;  // above the floor, at full clock's energy per FLOP and per byte
  if (cost.seconds > 0)
    dynamic = fit_.joules_per_flop * work.flops() / cost.seconds +
              std::min(fit_.joules_per_byte * work.bytes() / cost.seconds, phase_.decode_w - fit_.busy_floor_w);
  if (clock >= 1) return std::min(tdp_w_, fit_.busy_floor_w + dynamic);
  const double a = dvfs_.exponent;
  return std::min(tdp_w_, phase_.idle_w + (fit_.busy_floor_w - phase_.idle_w) * std::pow(clock, a) +
                              std::pow(clock, a - 1) * dynamic);
}

double GpuPowerModel::compute_bound_w(double clock) const {
  return at_clock(kind_ == Kind::FITTED ? tdp_w_ : gpu_busy_power(phase_, 1.0), clock);
}

GpuPowerFitResult fit_gpu_power(const std::vector<GpuPowerSample>& samples) {
  if (samples.size() < 3) throw std::invalid_argument("the GPU power fit needs at least three runs");
  double a[3][4] = {};
  for (const GpuPowerSample& s : samples) {
    if (!(s.measured_w > 0)) throw std::invalid_argument("a run's measured power must be > 0 W");
    const double w = 1 / (s.measured_w * s.measured_w), x[3] = {1, s.flops_per_s, s.bytes_per_s};
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) a[i][j] += w * x[i] * x[j];
      a[i][3] += w * x[i] * s.measured_w;
    }
  }
  // Gauss-Jordan with partial pivoting; the columns differ by 1e12 in scale, so scale them first.
  double scale[3];
  for (int j = 0; j < 3; ++j) scale[j] = std::sqrt(a[j][j]) > 0 ? 1 / std::sqrt(a[j][j]) : 1;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) a[i][j] *= scale[i] * scale[j];
  for (int i = 0; i < 3; ++i) a[i][3] *= scale[i];
  for (int col = 0; col < 3; ++col) {
    int pivot = col;
    for (int r = col + 1; r < 3; ++r)
      if (std::fabs(a[r][col]) > std::fabs(a[pivot][col])) pivot = r;
    if (!(std::fabs(a[pivot][col]) > 1e-12))
      throw std::invalid_argument("the runs cannot separate the busy floor, the energy per FLOP and per byte");
    for (int j = 0; j < 4; ++j) std::swap(a[col][j], a[pivot][j]);
    for (int r = 0; r < 3; ++r) {
      if (r == col) continue;
      const double f = a[r][col] / a[col][col];
      for (int j = 0; j < 4; ++j) a[r][j] -= f * a[col][j];
    }
  }
  GpuPowerFitResult r;
  r.fit.busy_floor_w = a[0][3] / a[0][0] * scale[0];
  r.fit.joules_per_flop = a[1][3] / a[1][1] * scale[1];
  r.fit.joules_per_byte = a[2][3] / a[2][2] * scale[2];
  for (const GpuPowerSample& s : samples) {
    const double predicted =
        r.fit.busy_floor_w + r.fit.joules_per_flop * s.flops_per_s + r.fit.joules_per_byte * s.bytes_per_s;
    r.relative_errors.push_back((predicted - s.measured_w) / s.measured_w);
  }
  return r;
}

}  // namespace aif::models
