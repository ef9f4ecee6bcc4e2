#include "aif/models/server_power.hpp"

#include <cmath>
#include <cstddef>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>

#include "param_check.hpp"

namespace aif::models {

namespace {

using detail::INF;
using detail::number;
using detail::require;

void check_psu(const PsuParams& p) {
  require("PsuParams.rated_w", p.rated_w, 0, INF, true, true, "a finite power > 0 W");
  const auto& c = p.efficiency_curve;
  if (c.empty()) throw std::invalid_argument("PsuParams.efficiency_curve: expected at least one point, found none");
  for (std::size_t i = 0; i < c.size(); ++i) {
    const std::string at = "PsuParams.efficiency_curve[" + std::to_string(i) + "]";
    require(at + " load fraction", c[i].first, 0, INF, false, true, "a finite fraction >= 0");
    require(at + " efficiency", c[i].second, 0, 1, true, false, "an efficiency in (0, 1]");
    if (i > 0 && !(c[i].first > c[i - 1].first))
      throw std::invalid_argument(at + " load fraction: expected the curve increasing in load, found " +
                                  number(c[i].first) + " after " + number(c[i - 1].first));
  }
}

void check_server(const ServerPowerParams& p) {
  require("ServerPowerParams.idle_w", p.idle_w, 0, INF, false, true, "a finite power >= 0 W");
  require("ServerPowerParams.full_w", p.full_w, 0, INF, false, true, "a finite power >= 0 W");
  if (p.full_w < p.idle_w)
    throw std::invalid_argument("ServerPowerParams.full_w: expected >= idle_w (" + number(p.idle_w) + " W), found " +
                                number(p.full_w));
  check_psu(p.psu);
}

// The curve's efficiency at load fraction x (the curve already checked).
double interpolate(const std::vector<std::pair<double, double>>& c, double x) {
  if (x <= c.front().first) return c.front().second;
  if (x >= c.back().first) return c.back().second;
  std::size_t i = 1;
  while (c[i].first < x) ++i;  // c[i - 1].first < x <= c[i].first
  const auto& [x0, e0] = c[i - 1];
  const auto& [x1, e1] = c[i];
  return e0 + (e1 - e0) * (x - x0) / (x1 - x0);
}

}  // namespace

ServerPowerParams ServerPowerParams::constant(double overhead_w) {
  ServerPowerParams p;
  p.idle_w = overhead_w;
  p.full_w = overhead_w;
  p.psu.efficiency_curve = {{1.0, 1.0}};  // one point: efficiency 1 at every load
  check_server(p);
  return p;
}

double psu_efficiency(const PsuParams& p, double dc_load_w) {
  check_psu(p);
  require("psu_efficiency: dc_load_w", dc_load_w, 0, INF, false, true, "a finite power >= 0 W");
  return interpolate(p.efficiency_curve, dc_load_w / p.rated_w);
}

ServerPower server_power(const ServerPowerParams& p, double gpu_dc_w, double load_fraction) {
  check_server(p);
  require("server_power: gpu_dc_w", gpu_dc_w, 0, INF, false, true, "a finite power >= 0 W");
  require("server_power: load_fraction", load_fraction, 0, 1, false, false, "a fraction in [0, 1]");
  ServerPower s;
  s.gpus_w = gpu_dc_w;
  s.overhead_w = p.idle_w + load_fraction * (p.full_w - p.idle_w);
  const double dc = s.gpus_w + s.overhead_w;
  const double efficiency = interpolate(p.psu.efficiency_curve, dc / p.psu.rated_w);
  s.psu_loss_w = efficiency == 1.0 ? 0.0 : dc / efficiency - dc;
  return s;
}

double server_load_fraction(double gpu_dc_w, int gpus, double gpu_idle_w, double gpu_tdp_w) {
  if (gpus < 1) throw std::invalid_argument("server_load_fraction: gpus: expected >= 1, found " + std::to_string(gpus));
  require("server_load_fraction: gpu_idle_w", gpu_idle_w, 0, INF, false, true, "a finite power >= 0 W");
  require("server_load_fraction: gpu_tdp_w", gpu_tdp_w, gpu_idle_w, INF, true, true, "a finite power > gpu_idle_w");
  require("server_load_fraction: gpu_dc_w", gpu_dc_w, 0, INF, false, true, "a finite power >= 0 W");
  const double n = static_cast<double>(gpus);
  const double u = (gpu_dc_w - n * gpu_idle_w) / (n * (gpu_tdp_w - gpu_idle_w));
  return u < 0 ? 0.0 : (u > 1 ? 1.0 : u);
}

double server_input_w(const ServerPowerParams& p, double gpu_dc_w, int gpus, double gpu_idle_w, double gpu_tdp_w) {
  return server_power(p, gpu_dc_w, server_load_fraction(gpu_dc_w, gpus, gpu_idle_w, gpu_tdp_w)).total_w();
}

}  // namespace aif::models
