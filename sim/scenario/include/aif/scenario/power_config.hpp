// The scenario's power sections as plain typed structs (SI units: W, J, s, gCO2/kWh, currency/kWh):
// facility power chain (`facility.power`), the grid connection and site resources (`grid`), and the power
// policies (`policies`). Parsed by sim/scenario/src/scenario_power.cpp; run by sim/power_manager.
#pragma once
#include <string>
#include <vector>

namespace aif::sim {

// A signal given either as a constant or as a CSV time series (models::TimeSeries once read).
struct SignalConfig {
  bool present = false;     // false: not given (the default applies)
  double constant = 0;      // when path is empty
  std::string path;         // resolved absolute path of a CSV file
  std::string column;       // value column name in the CSV
  double scale = 1;         // multiply values (e.g. unit conversion)
  bool repeat = true;       // repeat the series over longer runs (else hold the last value)
};

// facility.power: the chain from IT power to the facility meter.
struct FacilityPowerConfig {
  double rack_power_limit_w = 0;      // per rack; 0 = none. Exceeding it caps that rack's GPUs
  int racks_per_hall = 0;             // 0 = one hall
  double ups_rated_w = 0;             // 0 = sized to the IT peak (every GPU at TDP plus server overhead)
  double ups_no_load_fraction = -1;   // < 0: the model's default
  double ups_proportional_fraction = -1;
  double pdu_loss_fraction = -1;
  // Cooling: PUE as a function of IT load and outdoor temperature (docs/power.md). < 0: the model's default.
  double pue_free_cooling = -1;       // PUE at full load with free cooling
  double free_cooling_below_c = -1000;  // outdoor temperature below which free cooling suffices
  double pue_per_degree = -1;         // PUE increase per degree above the threshold
  SignalConfig outdoor_temperature_c; // constant or series (degrees Celsius)
  // When false, the legacy constant facility.pue applies to everything (the chain is off).
  bool enabled = false;
};

struct BatteryConfig {
  bool present = false;
  double capacity_j = 0;
  double max_charge_w = 0;
  double max_discharge_w = 0;
  double charge_efficiency = 0.95;
  double discharge_efficiency = 0.95;
  double soc_min = 0.1;               // fractions of capacity
  double soc_max = 0.9;
  double initial_soc = 0.5;
};

struct SolarConfig {
  bool present = false;
  double installed_w = 0;             // peak (nameplate) power
  SignalConfig profile;               // normalised 0..1
};

struct GridConfig {
  bool present = false;
  double connection_limit_w = 0;      // 0 = unlimited
  SignalConfig carbon_g_per_kwh;      // carbon intensity
  std::string carbon_region;          // when given as {region}: the Azure region (its grid intensity is the constant)
  SignalConfig price_per_kwh;         // electricity price (currency units per kWh)
  std::string currency = "USD";
  SolarConfig solar;
  BatteryConfig battery;
};

// Which GPUs are capped first when power must come down.
enum class CapOrder {
  TRAINING_FIRST,   // training and fine-tuning jobs, then services from the lowest priority up
  BY_PRIORITY,      // strictly by priority (services[].priority, jobs[].priority), lowest first
};

struct PowerCappingConfig {
  bool enabled = false;
  CapOrder order = CapOrder::TRAINING_FIRST;
  double min_clock_fraction = 0.3;    // never cap a GPU below this clock
  double headroom_fraction = 0.02;    // aim this far below the limit
};

struct DemandResponseEvent {
  double start_s = 0;
  double duration_s = 0;
  double shed_w = 0;                  // grid draw to remove, against the draw just before the event
  // How, in order of preference: "cap" (GPU clocks), "pause_training" (checkpoint, then pause jobs),
  // "defer_batch" (hold deferrable workloads' arrivals until the event ends).
  std::vector<std::string> methods = {"pause_training", "defer_batch", "cap"};
};

struct CarbonAwareConfig {
  bool enabled = false;
  // Deferrable work (workloads[].deferrable, jobs[].deferrable) starts or runs when the signal is below this
  // threshold, or at the latest so that it meets its deadline.
  enum class Signal { CARBON, PRICE } signal = Signal::CARBON;
  double threshold = 0;               // in the signal's unit; 0 = below the series' median
};

struct PeakShavingConfig {
  bool enabled = false;
  double threshold_w = 0;             // discharge the battery to keep grid draw at or below this
  double recharge_below_w = 0;        // recharge when grid draw is below this (0 = threshold)
  bool smooth_training_swings = false;  // also absorb training power swings with the battery
};

struct PoliciesConfig {
  double control_interval_s = 1;  // how often the power manager looks at the power and its policies act
  PowerCappingConfig power_capping;
  std::vector<DemandResponseEvent> demand_response;
  CarbonAwareConfig carbon_aware;
  PeakShavingConfig peak_shaving;
};

}  // namespace aif::sim
