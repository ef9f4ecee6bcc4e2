// Power of one GPU server beyond its GPUs: the non-GPU parts (CPUs, memory, NICs, NVSwitch, fans, storage) as an
// idle part plus a part linear in the server's load, and the power supplies' conversion loss as a function of their
// load. Pure functions; docs/power.md ("Server power beyond the GPUs") has the equations, the defaults' sources and a
// worked example. Units: W, fractions in [0, 1].
// Invalid parameters throw std::invalid_argument naming the parameter and the value found.
//
// Defaults describe an 8-GPU HGX/DGX H100-class server (8 x H100 SXM at 700 W TDP, 75 W idle):
//  - NVIDIA DGX H100/H200 User Guide, "Power Specifications": six power supplies, each 3.3 kW at 200-240 V, with
//    balanced distribution of the load, 4+2 redundancy; system power 10.2 kW max (also the DGX H100 datasheet).
//  - Latif et al., "Empirical Measurements of AI Training Power Demand on a GPU-Accelerated Node", arXiv:2412.08602
//    (IEEE Access 13, 2025): on an 8-GPU H100 HGX node "the maximum observed power draw was approximately 8.4 kW,
//    18% lower than the manufacturer-rated 10.2 kW, even with GPUs near full utilization".
//  - 80 PLUS "230 V internal redundant" Titanium levels: 90 / 94 / 96 / 91 % efficiency at 10 / 20 / 50 / 100 % of
//    rated load.
#pragma once
#include <utility>
#include <vector>

namespace aif::models {

// Power supplies: AC input = DC load / efficiency(DC load / rated_w), the efficiency piecewise-linear in the load
// fraction through efficiency_curve and constant at the end values outside it.
// rated_w: the DGX H100's six 3.3 kW supplies share the load evenly ("balanced distribution of the power load"; 4+2
// means four carry the maximum load, two are spare), so all six count: 6 x 3.3 kW = 19.8 kW, and a supply's load
// fraction is the server's DC load / 19.8 kW. (Active-standby spares would give 4 x 3.3 kW = 13.2 kW instead.)
// efficiency_curve: 80 PLUS Titanium, 230 V internal redundant (the points listed above). ASSUMPTION: that the
// server's supplies meet Titanium; NVIDIA's user guide gives no efficiency. Below 10 % load the curve stays at 90 %
// (the certification says nothing there; real supplies fall further).
struct PsuParams {
  double rated_w = 6 * 3300.0;  // DC capacity of the PSUs sharing the load, W
  std::vector<std::pair<double, double>> efficiency_curve = {
      {0.10, 0.90}, {0.20, 0.94}, {0.50, 0.96}, {1.00, 0.91}};  // (load fraction, efficiency), increasing load
};

// Non-GPU DC power of one server at load fraction u in [0, 1]: overhead(u) = idle_w + u (full_w - idle_w).
// full_w = 2,400 W, derived (rounded to 100 W) from Latif et al.'s 8.4 kW peak at the node's input, taking the
// eight GPUs at their 700 W TDP (ASSUMPTION: the paper says "near full utilization", not their power): with the
// PSU model above the 8.4 kW input carries 8,011 W DC, of which 5,600 W are GPUs: 2,411 W for the rest. An upper
// bound is NVIDIA's 10.2 kW maximum, which carries 9,788 W DC under the same PSU model: 4,188 W besides the GPUs.
// idle_w = 1,200 W is an ASSUMPTION (half of full_w): no published idle measurement of an H100 node's non-GPU parts
// was found; replace it with one (e.g. the node's input power with idle GPUs, times the PSU efficiency, minus
// 8 x 75 W).
struct ServerPowerParams {
  double idle_w = 1200;  // non-GPU DC power with the GPUs idle, W
  double full_w = 2400;  // non-GPU DC power with every GPU at full load, W
  PsuParams psu;
  // Legacy: overhead_w whatever the load, PSU efficiency 1 (what a scenario's explicit `server_overhead` means today).
  static ServerPowerParams constant(double overhead_w);
};

// Efficiency of the supplies carrying dc_load_w in total: linear between the curve's points in the load fraction
// dc_load_w / rated_w, the end values outside them. Throws on bad parameters or a negative or non-finite load.
double psu_efficiency(const PsuParams& p, double dc_load_w);

// One server's power, split: the GPUs (DC), the rest of the server (DC) and the supplies' loss (AC - DC).
struct ServerPower {
  double gpus_w = 0;
  double overhead_w = 0;
  double psu_loss_w = 0;
  double total_w() const { return gpus_w + overhead_w + psu_loss_w; }  // AC input of the server
};

// AC power of one server whose GPUs draw gpu_dc_w in total, with load fraction u in [0, 1]:
//   total = (gpu_dc_w + overhead(u)) / psu_efficiency(gpu_dc_w + overhead(u)).
// Throws on bad parameters, a negative or non-finite gpu_dc_w, or u outside [0, 1].
ServerPower server_power(const ServerPowerParams& p, double gpu_dc_w, double load_fraction);

// The load fraction u of a server whose `gpus` GPUs draw gpu_dc_w in total: the mean over its GPUs of
// (P - idle) / (TDP - idle) = (gpu_dc_w - gpus x idle) / (gpus x (TDP - idle)), clamped to [0, 1] (a GPU at a
// capped clock stays at or above idle; rounding may land a hair outside). Throws unless gpus >= 1 and
// 0 <= gpu_idle_w < gpu_tdp_w, or on a negative or non-finite gpu_dc_w.
double server_load_fraction(double gpu_dc_w, int gpus, double gpu_idle_w, double gpu_tdp_w);

// AC input of one server whose `gpus` GPUs draw gpu_dc_w in total: server_power at server_load_fraction's load.
double server_input_w(const ServerPowerParams& p, double gpu_dc_w, int gpus, double gpu_idle_w, double gpu_tdp_w);

}  // namespace aif::models
