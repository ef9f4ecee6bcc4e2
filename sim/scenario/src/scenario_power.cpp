// facility.power, grid and policies: the power chain, the site's grid connection and resources, and the power
// policies, read into power_config.hpp's structs. Each key is checked alone here, then against the sections it
// depends on (a battery policy needs a battery, carbon-aware shifting needs a carbon series and deferrable work).
#include "scenario_power.hpp"

#include "aif/inputs/signals.hpp"
#include "aif/inputs/units.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace aif::sim {

namespace fs = std::filesystem;
using yaml::Node;
using yaml::Range;
using yaml::Unit;

std::string resolve_data_path(const Node& n, const fs::path& base_dir) {
  const std::string text = n.as_string();
  fs::path path(text);
  if (text.rfind("data/", 0) == 0) {
    path = fs::path(data_dir()) / text.substr(5);
  } else if (path.is_relative()) {
    path = base_dir / path;
  }
  if (!yaml::is_file(path)) {
    n.fail("file not found: " + path.string() + " (relative paths start at the scenario's folder, 'data/...' at " +
           data_dir() + ")");
  }
  return fs::absolute(path).lexically_normal().string();
}

namespace {

constexpr double SECONDS_PER_YEAR = 365.0 * 86400.0;
const Range LOSS_FRACTION{0, 0.5, false, false, ">= 0 and at most 0.5 (a share of the power that passes)"};
const Range EFFICIENCY{0, 1, true, false, "in (0, 1]"};
const Range UNIT_INTERVAL{0, 1, false, false, "between 0 and 1"};
const Range PUE{1, 5, false, false, ">= 1 (facility power includes IT power) and at most 5"};

std::string number_text(double value) {
  std::ostringstream text;
  text << value;
  return text.str();
}

std::string watts_text(double w) {
  std::ostringstream text;
  text.precision(4);
  if (w >= 1e6) {
    text << w / 1e6 << " MW";
  } else if (w >= 1e3) {
    text << w / 1e3 << " kW";
  } else {
    text << w << " W";
  }
  return text.str();
}

// ---- signals ----------------------------------------------------------------------------------------------------

// The value columns of a CSV signal file (the readers' own parsing, so the scenario check and the run agree).
std::vector<std::string> signal_columns(const Node& path_node, const std::string& path) {
  try {
    return read_signal_columns(path);
  } catch (const SignalError& e) {
    path_node.fail(e.what());
  }
}

// A signal given as a plain number in the unit its key names, or as a column of a CSV time series whose first
// column is the time (whatever its header says: the WattTime series calls it "oootime").
SignalConfig parse_signal(const Node& n, const fs::path& base_dir, const Range& constant_range,
                          const std::string& unit) {
  SignalConfig signal;
  signal.present = true;
  if (n.is_scalar()) {
    signal.constant = n.as_number(constant_range);
    return signal;
  }
  if (!n.is_map()) {
    n.fail("expected a number (" + unit + ") or a time series {path, column, scale, repeat}, found " + n.describe());
  }
  n.check_keys({"path", "column", "scale", "repeat"});
  const Node path = n.required("path");
  signal.path = resolve_data_path(path, base_dir);
  const std::vector<std::string> columns = signal_columns(path, signal.path);
  if (columns.empty()) path.fail(signal.path + " has no value column: expected a time column, then values");
  if (const Node column = n.child("column"); column.present()) {
    signal.column = column.as_string();
    if (std::find(columns.begin(), columns.end(), signal.column) == columns.end()) {
      column.fail("no column '" + signal.column + "' in " + signal.path + " (value columns: " +
                  yaml::join_or(columns) + ")");
    }
  } else if (columns.size() == 1) {
    signal.column = columns.front();
  } else {
    n.fail(signal.path + " has " + std::to_string(columns.size()) + " value columns; name one with column (" +
           yaml::join_or(columns) + ")");
  }
  n.read_number("scale", signal.scale, Range{0, 1e9, true, false, "> 0"});
  n.read("repeat", signal.repeat);
  // Every row, not only the header: a bad row is found by `validate`, not in the middle of a run.
  try {
    SignalCsvOptions options;
    options.scale = signal.scale;
    read_signal_csv(signal.path, signal.column, options);
  } catch (const SignalError& e) {
    path.fail(e.what());
  }
  return signal;
}

// {region: <name>}: the region's average grid intensity from the Azure GreenSKU table (data/grid).
double region_intensity(const Node& region) {
  try {
    return read_region_carbon(data_dir() + "/grid/azure_greensku_dc_region_carbon.csv", region.as_string());
  } catch (const SignalError& e) {
    region.fail(e.what());
  }
}

// ---- facility.power ---------------------------------------------------------------------------------------------

void parse_cooling(const Node& n, const fs::path& base_dir, FacilityPowerConfig& power) {
  n.check_keys({"pue_free_cooling", "free_cooling_below_c", "pue_per_degree", "outdoor_temperature_c"});
  n.read_number("pue_free_cooling", power.pue_free_cooling, PUE);
  n.read_number("free_cooling_below_c", power.free_cooling_below_c,
                Range{-50, 50, false, false, "between -50 and 50 (degrees Celsius)"});
  n.read_number("pue_per_degree", power.pue_per_degree,
                Range{0, 0.5, false, false, ">= 0 and at most 0.5 (PUE per degree Celsius)"});
  if (const Node temperature = n.child("outdoor_temperature_c"); temperature.present()) {
    power.outdoor_temperature_c = parse_signal(
        temperature, base_dir, Range{-90, 60, false, false, "between -90 and 60 (degrees Celsius)"}, "degrees Celsius");
  }
}

}  // namespace

FacilityPowerConfig parse_facility_power(const Node& facility, const fs::path& base_dir, const Scenario& scenario) {
  FacilityPowerConfig power;
  const Node n = facility.child("power");
  if (!n.present()) return power;
  n.check_keys({"rack_power_limit", "racks_per_hall", "ups", "pdu_loss_fraction", "cooling"});
  power.enabled = true;
  // The chain replaces the constant PUE: both given would leave one silently unused.
  if (const Node pue = facility.child("pue"); pue.present()) {
    pue.fail("the constant PUE does not apply when facility.power is given; describe the cooling in "
             "facility.power.cooling (pue_free_cooling, free_cooling_below_c, pue_per_degree) instead");
  }
  const FacilityConfig& f = scenario.facility;
  if (const Node limit = n.child("rack_power_limit"); limit.present()) {
    power.rack_power_limit_w = limit.as_quantity(Unit::POWER, yaml::positive());
    // Below the rack's idle draw, no clock cap can meet the limit.
    const double server_idle = server_input_w(f, scenario.device, f.gpus_per_server * scenario.device.idle_w);
    const double idle = f.servers_per_rack * server_idle;
    if (power.rack_power_limit_w < idle) {
      limit.fail("a rack draws " + watts_text(idle) + " at idle (" + std::to_string(f.servers_per_rack) +
                 " servers x " + watts_text(server_idle) + ": " + std::to_string(f.gpus_per_server) +
                 " GPUs x idle " + watts_text(scenario.device.idle_w) + " and the rest of the server), more than the "
                 "limit " + watts_text(power.rack_power_limit_w) + ": no power cap can meet it");
    }
  }
  n.read("racks_per_hall", power.racks_per_hall, yaml::between(1, 100000));
  if (const Node ups = n.child("ups"); ups.present()) {
    ups.check_keys({"rated", "no_load_fraction", "proportional_fraction"});
    ups.read_quantity("rated", Unit::POWER, power.ups_rated_w, yaml::positive());
    ups.read_number("no_load_fraction", power.ups_no_load_fraction, LOSS_FRACTION);
    ups.read_number("proportional_fraction", power.ups_proportional_fraction, LOSS_FRACTION);
  }
  n.read_number("pdu_loss_fraction", power.pdu_loss_fraction, LOSS_FRACTION);
  if (const Node cooling = n.child("cooling"); cooling.present()) {
    parse_cooling(cooling, base_dir, power);
    // The free-cooling PUE must leave room for the UPS and PDU losses at full load: checked here, with its line.
    try {
      facility_power_params(f, scenario.device, power);
    } catch (const std::invalid_argument& e) {
      std::string why = e.what();
      if (const std::string prefix = "free_cooling_for_pue: "; why.rfind(prefix, 0) == 0) why = why.substr(prefix.size());
      cooling.child("pue_free_cooling").fail(why);
    }
  }
  return power;
}

double server_input_w(const FacilityConfig& facility, const models::DeviceSpec& device, double gpu_dc_w) {
  // A constant overhead is added as it always was (the same sum, to the last bit).
  if (facility.server_power_constant) return facility.server_overhead_w + gpu_dc_w;
  return models::server_input_w(facility.server_power, gpu_dc_w, facility.gpus_per_server, device.idle_w, device.tdp_w);
}

models::FacilityPowerParams facility_power_params(const FacilityConfig& facility, const models::DeviceSpec& device,
                                                  const FacilityPowerConfig& power) {
  models::FacilityPowerParams p;
  const double servers = static_cast<double>(facility.racks) * facility.servers_per_rack;
  p.design_it_w = servers * server_input_w(facility, device, facility.gpus_per_server * device.tdp_w);
  if (power.pdu_loss_fraction >= 0) p.pdu_loss_fraction = power.pdu_loss_fraction;
  if (power.ups_rated_w > 0) p.ups.rated_w = power.ups_rated_w;
  if (power.ups_no_load_fraction >= 0) p.ups.no_load_fraction = power.ups_no_load_fraction;
  if (power.ups_proportional_fraction >= 0) p.ups.proportional_fraction = power.ups_proportional_fraction;
  if (power.free_cooling_below_c > -1000) p.cooling.free_cooling_below_c = power.free_cooling_below_c;
  if (power.pue_per_degree >= 0) p.cooling.w_per_it_w_per_degree = power.pue_per_degree;
  if (power.pue_free_cooling > 0) p.cooling.free_w_per_it_w = models::free_cooling_for_pue(p, power.pue_free_cooling);
  return p;
}

// ---- grid -------------------------------------------------------------------------------------------------------

namespace {

BatteryConfig parse_battery(const Node& n) {
  n.check_keys({"capacity", "max_charge", "max_discharge", "charge_efficiency", "discharge_efficiency", "soc_min",
                "soc_max", "initial_soc"});
  BatteryConfig battery;
  battery.present = true;
  battery.capacity_j = n.required("capacity").as_quantity(Unit::ENERGY, yaml::positive());
  battery.max_charge_w = n.required("max_charge").as_quantity(Unit::POWER, yaml::positive());
  battery.max_discharge_w = n.required("max_discharge").as_quantity(Unit::POWER, yaml::positive());
  n.read_number("charge_efficiency", battery.charge_efficiency, EFFICIENCY);
  n.read_number("discharge_efficiency", battery.discharge_efficiency, EFFICIENCY);
  n.read_number("soc_min", battery.soc_min, UNIT_INTERVAL);
  n.read_number("soc_max", battery.soc_max, UNIT_INTERVAL);
  n.read_number("initial_soc", battery.initial_soc, UNIT_INTERVAL);
  if (battery.soc_min >= battery.soc_max) {
    (n.child("soc_max").present() ? n.child("soc_max") : n.child("soc_min"))
        .fail("expected soc_min < soc_max, found soc_min " + number_text(battery.soc_min) + " and soc_max " +
              number_text(battery.soc_max));
  }
  if (battery.initial_soc < battery.soc_min || battery.initial_soc > battery.soc_max) {
    (n.child("initial_soc").present() ? n.child("initial_soc") : n)
        .fail("expected initial_soc between soc_min (" + number_text(battery.soc_min) + ") and soc_max (" +
              number_text(battery.soc_max) + "), found " + number_text(battery.initial_soc));
  }
  return battery;
}

SolarConfig parse_solar(const Node& n, const fs::path& base_dir) {
  n.check_keys({"installed", "profile"});
  SolarConfig solar;
  solar.present = true;
  solar.installed_w = n.required("installed").as_quantity(Unit::POWER, yaml::positive());
  solar.profile =
      parse_signal(n.required("profile"), base_dir, UNIT_INTERVAL, "a share of the installed power, 0 to 1");
  return solar;
}

}  // namespace

GridConfig parse_grid(const Node& n, const fs::path& base_dir, const Scenario& scenario) {
  (void)scenario;
  GridConfig grid;
  if (!n.present()) return grid;
  n.check_keys({"connection_limit", "carbon_intensity_g_per_kwh", "price_per_kwh", "currency", "solar", "battery"});
  grid.present = true;
  n.read_quantity("connection_limit", Unit::POWER, grid.connection_limit_w, yaml::positive());
  if (const Node carbon = n.child("carbon_intensity_g_per_kwh"); carbon.present()) {
    if (carbon.is_map() && carbon.child("region").present()) {
      carbon.check_keys({"region"});
      grid.carbon_region = carbon.child("region").as_string();
      grid.carbon_g_per_kwh.present = true;
      grid.carbon_g_per_kwh.constant = region_intensity(carbon.child("region"));
    } else {
      grid.carbon_g_per_kwh = parse_signal(carbon, base_dir, Range{0, 5000, false, false, "between 0 and 5000"},
                                           "gCO2/kWh, as the key's name says");
    }
  }
  // Prices can be negative (surplus renewables); beyond 10,000 per kWh they are typos.
  if (const Node price = n.child("price_per_kwh"); price.present()) {
    grid.price_per_kwh = parse_signal(price, base_dir, yaml::between(-1e4, 1e4), "currency units per kWh");
  }
  if (const Node currency = n.child("currency"); currency.present()) {
    grid.currency = currency.as_string();
    const bool iso = grid.currency.size() == 3 && std::all_of(grid.currency.begin(), grid.currency.end(),
                                                              [](char c) { return c >= 'A' && c <= 'Z'; });
    if (!iso) currency.fail("expected a three-letter currency code such as USD or EUR, found '" + grid.currency + "'");
    if (!grid.price_per_kwh.present) currency.fail("a currency without price_per_kwh has nothing to apply to");
  }
  if (const Node solar = n.child("solar"); solar.present()) grid.solar = parse_solar(solar, base_dir);
  if (const Node battery = n.child("battery"); battery.present()) grid.battery = parse_battery(battery);
  return grid;
}

// ---- policies ---------------------------------------------------------------------------------------------------

namespace {

PowerCappingConfig parse_power_capping(const Node& n, const Scenario& scenario) {
  n.check_keys({"order", "min_clock_fraction", "headroom_fraction"});
  PowerCappingConfig capping;
  capping.enabled = true;
  if (const Node order = n.child("order"); order.present()) {
    capping.order =
        order.as_enum({"training_first", "by_priority"}) == "training_first" ? CapOrder::TRAINING_FIRST
                                                                              : CapOrder::BY_PRIORITY;
  }
  n.read_number("min_clock_fraction", capping.min_clock_fraction, EFFICIENCY);
  n.read_number("headroom_fraction", capping.headroom_fraction,
                Range{0, 0.5, false, false, ">= 0 and at most 0.5"});
  if (scenario.grid.connection_limit_w <= 0 && scenario.facility_power.rack_power_limit_w <= 0) {
    n.fail("power capping needs a limit to stay under: set grid.connection_limit or facility.power.rack_power_limit");
  }
  return capping;
}

std::vector<DemandResponseEvent> parse_demand_response(const Node& n, const Scenario& scenario) {
  const std::vector<Node> nodes = n.items();
  std::vector<DemandResponseEvent> events;
  const double horizon = scenario.simulation.duration_s;
  for (const Node& e : nodes) {
    e.check_keys({"start", "duration", "shed", "methods"});
    DemandResponseEvent event;
    const Node start = e.required("start");
    event.start_s = start.as_quantity(Unit::DURATION, yaml::non_negative());
    if (event.start_s >= horizon)
      start.fail("expected a start before simulation.duration (" + units::seconds_text(horizon) + ")");
    const Node duration = e.required("duration");
    event.duration_s = duration.as_quantity(Unit::DURATION, yaml::positive());
    if (event.start_s + event.duration_s > horizon) {
      duration.fail("the event runs from " + units::seconds_text(event.start_s) + " to " +
                    units::seconds_text(event.start_s + event.duration_s) + ", past simulation.duration (" +
                    units::seconds_text(horizon) + ")");
    }
    event.shed_w = e.required("shed").as_quantity(Unit::POWER, yaml::positive());
    if (const Node methods = e.child("methods"); methods.present()) {
      event.methods.clear();
      for (const Node& m : methods.items()) {
        const std::string method = m.as_enum({"cap", "pause_training", "defer_batch"});
        if (std::find(event.methods.begin(), event.methods.end(), method) != event.methods.end())
          m.fail("method '" + method + "' is listed twice");
        event.methods.push_back(method);
      }
      if (event.methods.empty()) methods.fail("expected at least one of cap, pause_training or defer_batch");
    }
    for (size_t j = 0; j < events.size(); ++j) {
      const DemandResponseEvent& other = events[j];
      if (event.start_s < other.start_s + other.duration_s && other.start_s < event.start_s + event.duration_s) {
        start.fail("the event (" + units::seconds_text(event.start_s) + " to " +
                   units::seconds_text(event.start_s + event.duration_s) + ") overlaps " + n.path() + "[" +
                   std::to_string(j) + "] (" + units::seconds_text(other.start_s) + " to " +
                   units::seconds_text(other.start_s + other.duration_s) + ")");
      }
    }
    events.push_back(std::move(event));
  }
  return events;
}

bool has_deferrable_work(const Scenario& scenario) {
  for (const WorkloadConfig& w : scenario.workloads) {
    if (w.deferrable) return true;
  }
  for (const JobConfig& j : scenario.jobs) {
    if (j.deferrable) return true;
  }
  return false;
}

CarbonAwareConfig parse_carbon_aware(const Node& n, const Scenario& scenario) {
  n.check_keys({"signal", "threshold"});
  CarbonAwareConfig carbon;
  carbon.enabled = true;
  if (const Node signal = n.child("signal"); signal.present()) {
    carbon.signal = signal.as_enum({"carbon", "price"}) == "carbon" ? CarbonAwareConfig::Signal::CARBON
                                                                    : CarbonAwareConfig::Signal::PRICE;
  }
  const bool by_carbon = carbon.signal == CarbonAwareConfig::Signal::CARBON;
  const std::string key = by_carbon ? "grid.carbon_intensity_g_per_kwh" : "grid.price_per_kwh";
  const SignalConfig& series = by_carbon ? scenario.grid.carbon_g_per_kwh : scenario.grid.price_per_kwh;
  const Node at = n.child("signal").present() ? n.child("signal") : n;
  if (!series.present) at.fail("carbon-aware shifting by " + std::string(by_carbon ? "carbon" : "price") +
                               " needs " + key + " (a time series)");
  if (series.path.empty()) {
    at.fail(key + " is a constant: shifting work in time needs a time series {path, column}");
  }
  n.read_number("threshold", carbon.threshold,
                by_carbon ? Range{0, 5000, false, false, "between 0 and 5000 gCO2/kWh (0 = the series' median)"}
                          : yaml::between(-1e4, 1e4));
  if (!has_deferrable_work(scenario)) {
    n.fail("nothing to shift: mark a workload or a job deferrable ({deadline: ...})");
  }
  return carbon;
}

PeakShavingConfig parse_peak_shaving(const Node& n, const Scenario& scenario) {
  n.check_keys({"threshold", "recharge_below", "smooth_training_swings"});
  PeakShavingConfig shaving;
  shaving.enabled = true;
  if (!scenario.grid.battery.present) {
    n.fail(std::string("peak shaving discharges a battery: add grid.battery") +
           (scenario.grid.present ? "" : " (in a grid section)"));
  }
  shaving.threshold_w = n.required("threshold").as_quantity(Unit::POWER, yaml::positive());
  if (const Node recharge = n.child("recharge_below"); recharge.present()) {
    shaving.recharge_below_w = recharge.as_quantity(Unit::POWER, yaml::non_negative());
    // Recharging above the threshold would push the draw over it again, and the battery would cycle.
    if (shaving.recharge_below_w > shaving.threshold_w) {
      recharge.fail("expected at most threshold (" + watts_text(shaving.threshold_w) + "), found " +
                    watts_text(shaving.recharge_below_w));
    }
  }
  n.read("smooth_training_swings", shaving.smooth_training_swings);
  return shaving;
}

}  // namespace

PoliciesConfig parse_policies(const Node& n, const Scenario& scenario) {
  PoliciesConfig policies;
  if (!n.present()) return policies;
  n.check_keys({"control_interval", "power_capping", "demand_response", "carbon_aware", "peak_shaving"});
  if (const Node interval = n.child("control_interval"); interval.present()) {
    policies.control_interval_s = interval.as_quantity(Unit::DURATION, yaml::positive());
    if (policies.control_interval_s > scenario.simulation.duration_s) {
      interval.fail("expected at most the simulation duration (" + units::seconds_text(scenario.simulation.duration_s) +
                    ")");
    }
  }
  if (const Node c = n.child("power_capping"); c.present()) policies.power_capping = parse_power_capping(c, scenario);
  if (const Node d = n.child("demand_response"); d.present()) {
    policies.demand_response = parse_demand_response(d, scenario);
  }
  if (const Node c = n.child("carbon_aware"); c.present()) policies.carbon_aware = parse_carbon_aware(c, scenario);
  if (const Node p = n.child("peak_shaving"); p.present()) policies.peak_shaving = parse_peak_shaving(p, scenario);
  return policies;
}

// ---- per-entry keys ---------------------------------------------------------------------------------------------

void read_priority(const Node& entry, int& out) { entry.read("priority", out, yaml::between(-1000000, 1000000)); }

void read_deferrable(const Node& entry, bool& deferrable, double& deadline_s) {
  const Node n = entry.child("deferrable");
  if (!n.present()) return;
  if (!n.is_map()) n.fail("expected a map {deadline: <duration>}, found " + n.describe());
  n.check_keys({"deadline"});
  deadline_s = n.required("deadline").as_quantity(
      Unit::DURATION, Range{0, SECONDS_PER_YEAR, true, false, "> 0 and at most one year (365d)"});
  deferrable = true;
}

}  // namespace aif::sim
