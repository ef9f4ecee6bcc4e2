// The power sections of a scenario (facility.power, grid, policies) and the per-entry keys the power policies read
// (priority, deferrable): values converted to SI by hand, the defaults of power_config.hpp when keys are left out,
// and the errors that need more than one bad file each (the one-file cases are tests/data/bad_scenarios/80-99).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "aif/scenario/scenario.hpp"

namespace fs = std::filesystem;
using aif::sim::ScenarioError;

namespace {

const std::string SOURCE_DIR = AIF_SOURCE_DIR;

// The default facility (2 racks x 4 servers x 8 H100) serving Llama-3.1-8B for 2 hours; tests append keys to the
// service or the sections they need.
const char* const SITE = R"(simulation: {duration: 2h}
services:
  - name: chat
    model: Llama-3.1-8B
    replicas: 2
)";

// A folder with a scenario file and the CSV series it names, so that relative paths resolve against it.
struct ScenarioDir {
  fs::path dir;
  explicit ScenarioDir(const std::string& name) : dir(fs::path(::testing::TempDir()) / name) {
    fs::create_directories(dir);
    std::ofstream(dir / "carbon.csv") << "oootime,North\n2023-06-08 00:00:00,425\n2023-06-08 00:05:00,432\n";
    std::ofstream(dir / "sites.csv") << "time,Berlin,Lagos\n0,0.0,0.1\n300,0.2,0.3\n";
  }
  aif::sim::Scenario load(const std::string& text) const {
    std::ofstream(dir / "s.yaml") << text;
    return aif::sim::load_scenario((dir / "s.yaml").string());
  }
  ScenarioError error(const std::string& text) const {
    std::ofstream(dir / "s.yaml") << text;
    try {
      aif::sim::load_scenario((dir / "s.yaml").string());
      ADD_FAILURE() << "loaded without error:\n" << text;
    } catch (const ScenarioError& e) {
      return e;
    }
    return ScenarioError("", -1, "", "no error");
  }
};

ScenarioError text_error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    aif::sim::load_scenario_text(text, "inline.yaml", overrides);
    ADD_FAILURE() << "text loaded without error:\n" << text;
  } catch (const ScenarioError& e) {
    return e;
  }
  return ScenarioError("", -1, "", "no error");
}

void expect_error(const std::string& text, const std::string& key_path, const std::string& message) {
  const ScenarioError e = text_error_of(text);
  EXPECT_EQ(e.key_path(), key_path) << e.what();
  EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << "expected '" << message << "' in: " << e.what();
}

}  // namespace

// ---- defaults ----------------------------------------------------------------------------------------------------

TEST(PowerConfig, SectionsLeftOutKeepTheChainAndPoliciesOff) {
  const auto s = aif::sim::load_scenario_text(SITE, "inline.yaml");
  EXPECT_FALSE(s.facility_power.enabled);
  EXPECT_DOUBLE_EQ(s.facility_power.rack_power_limit_w, 0.0);
  EXPECT_FALSE(s.facility_power.outdoor_temperature_c.present);
  EXPECT_FALSE(s.grid.present);
  EXPECT_DOUBLE_EQ(s.grid.connection_limit_w, 0.0);  // unlimited
  EXPECT_FALSE(s.grid.carbon_g_per_kwh.present);
  EXPECT_FALSE(s.grid.price_per_kwh.present);
  EXPECT_EQ(s.grid.currency, "USD");
  EXPECT_FALSE(s.grid.solar.present);
  EXPECT_FALSE(s.grid.battery.present);
  EXPECT_FALSE(s.policies.power_capping.enabled);
  EXPECT_TRUE(s.policies.demand_response.empty());
  EXPECT_FALSE(s.policies.carbon_aware.enabled);
  EXPECT_FALSE(s.policies.peak_shaving.enabled);
  EXPECT_EQ(s.services.at(0).priority, 0);
}

TEST(PowerConfig, EmptySectionsTakeTheHeaderDefaults) {
  const std::string text = std::string(SITE) + R"(  - {name: batch, model: Llama-3.1-8B, replicas: 1}
grid:
  connection_limit: 100kW
  battery: {capacity: 1MWh, max_charge: 500kW, max_discharge: 250kW}
policies:
  power_capping: {}
  demand_response:
    - {start: 1h, duration: 30min, shed: 10kW}
)";
  const auto s = aif::sim::load_scenario_text(text, "inline.yaml");
  const aif::sim::BatteryConfig battery_defaults;
  EXPECT_TRUE(s.grid.battery.present);
  EXPECT_DOUBLE_EQ(s.grid.battery.charge_efficiency, battery_defaults.charge_efficiency);
  EXPECT_DOUBLE_EQ(s.grid.battery.discharge_efficiency, 0.95);
  EXPECT_DOUBLE_EQ(s.grid.battery.soc_min, 0.1);
  EXPECT_DOUBLE_EQ(s.grid.battery.soc_max, 0.9);
  EXPECT_DOUBLE_EQ(s.grid.battery.initial_soc, 0.5);
  const auto& capping = s.policies.power_capping;
  EXPECT_TRUE(capping.enabled);
  EXPECT_EQ(capping.order, aif::sim::CapOrder::TRAINING_FIRST);
  EXPECT_DOUBLE_EQ(s.policies.control_interval_s, 1.0);
  EXPECT_DOUBLE_EQ(capping.min_clock_fraction, 0.3);
  EXPECT_DOUBLE_EQ(capping.headroom_fraction, 0.02);
  ASSERT_EQ(s.policies.demand_response.size(), 1u);
  const std::vector<std::string> methods = {"pause_training", "defer_batch", "cap"};
  EXPECT_EQ(s.policies.demand_response[0].methods, methods);
}

// ---- values --------------------------------------------------------------------------------------------------------

TEST(PowerConfig, EveryKeyConvertedByHand) {
  const ScenarioDir d("aif_power_config_all");
  const auto s = d.load(std::string(SITE) + R"(    priority: 10
  - {name: batch, model: Llama-3.1-8B, replicas: 1, priority: -1}
facility:
  power:
    rack_power_limit: 25kW
    racks_per_hall: 1
    ups: {rated: 120kW, no_load_fraction: 0.02, proportional_fraction: 0.03}
    pdu_loss_fraction: 0.015
    cooling:
      pue_free_cooling: 1.2
      free_cooling_below_c: 18
      pue_per_degree: 0.012
      outdoor_temperature_c: {path: sites.csv, column: Lagos, scale: 40, repeat: false}
grid:
  connection_limit: 0.15MW
  carbon_intensity_g_per_kwh: {path: carbon.csv}
  price_per_kwh: 0.085
  currency: EUR
  solar: {installed: 50kW, profile: {path: sites.csv, column: Berlin}}
  battery:
    capacity: 200kWh
    max_charge: 50kW
    max_discharge: 100kW
    charge_efficiency: 0.96
    discharge_efficiency: 0.97
    soc_min: 0.05
    soc_max: 0.95
    initial_soc: 0.95
workloads:
  - name: nightly
    service: batch
    arrival: {kind: poisson, rate: 1/s, prompt_tokens: 512, output_tokens: 128}
    deferrable: {deadline: 6h}
jobs:
  - name: tune
    kind: fine_tuning
    model: Llama-3.1-8B
    parallelism: {dp: 1, tp: 8, pp: 1}
    global_batch: 8
    seq_len: 2048
    steps: 10
    start: 10min
    priority: -5
    deferrable: {deadline: 90min}
policies:
  control_interval: 500ms
  power_capping: {order: by_priority, min_clock_fraction: 0.5, headroom_fraction: 0.05}
  demand_response:
    - {start: 30min, duration: 15min, shed: 20kW, methods: [defer_batch, cap]}
    - {start: 45min, duration: 1h, shed: 0.01MW}
  carbon_aware: {signal: carbon, threshold: 430}
  peak_shaving: {threshold: 120kW, recharge_below: 90kW, smooth_training_swings: true}
)");
  // facility.power
  const auto& p = s.facility_power;
  EXPECT_TRUE(p.enabled);
  EXPECT_DOUBLE_EQ(p.rack_power_limit_w, 25e3);
  EXPECT_EQ(p.racks_per_hall, 1);
  EXPECT_DOUBLE_EQ(p.ups_rated_w, 120e3);
  EXPECT_DOUBLE_EQ(p.ups_no_load_fraction, 0.02);
  EXPECT_DOUBLE_EQ(p.ups_proportional_fraction, 0.03);
  EXPECT_DOUBLE_EQ(p.pdu_loss_fraction, 0.015);
  EXPECT_DOUBLE_EQ(p.pue_free_cooling, 1.2);
  EXPECT_DOUBLE_EQ(p.free_cooling_below_c, 18.0);
  EXPECT_DOUBLE_EQ(p.pue_per_degree, 0.012);
  EXPECT_TRUE(p.outdoor_temperature_c.present);
  EXPECT_EQ(p.outdoor_temperature_c.path, (d.dir / "sites.csv").lexically_normal().string());
  EXPECT_EQ(p.outdoor_temperature_c.column, "Lagos");
  EXPECT_DOUBLE_EQ(p.outdoor_temperature_c.scale, 40.0);
  EXPECT_FALSE(p.outdoor_temperature_c.repeat);
  // grid
  const auto& g = s.grid;
  EXPECT_TRUE(g.present);
  EXPECT_DOUBLE_EQ(g.connection_limit_w, 150e3);
  EXPECT_TRUE(g.carbon_g_per_kwh.present);
  EXPECT_TRUE(fs::path(g.carbon_g_per_kwh.path).is_absolute());
  EXPECT_EQ(g.carbon_g_per_kwh.column, "North");  // the only value column, after a malformed time header
  EXPECT_DOUBLE_EQ(g.carbon_g_per_kwh.scale, 1.0);
  EXPECT_TRUE(g.carbon_g_per_kwh.repeat);
  EXPECT_TRUE(g.price_per_kwh.present);
  EXPECT_TRUE(g.price_per_kwh.path.empty());
  EXPECT_DOUBLE_EQ(g.price_per_kwh.constant, 0.085);
  EXPECT_EQ(g.currency, "EUR");
  EXPECT_TRUE(g.solar.present);
  EXPECT_DOUBLE_EQ(g.solar.installed_w, 50e3);
  EXPECT_EQ(g.solar.profile.column, "Berlin");
  EXPECT_TRUE(g.battery.present);
  EXPECT_DOUBLE_EQ(g.battery.capacity_j, 200 * 3.6e6);  // 200 kWh
  EXPECT_DOUBLE_EQ(g.battery.max_charge_w, 50e3);
  EXPECT_DOUBLE_EQ(g.battery.max_discharge_w, 100e3);
  EXPECT_DOUBLE_EQ(g.battery.charge_efficiency, 0.96);
  EXPECT_DOUBLE_EQ(g.battery.discharge_efficiency, 0.97);
  EXPECT_DOUBLE_EQ(g.battery.soc_min, 0.05);
  EXPECT_DOUBLE_EQ(g.battery.soc_max, 0.95);
  EXPECT_DOUBLE_EQ(g.battery.initial_soc, 0.95);  // starting full is allowed
  // priorities and deferrable work
  EXPECT_EQ(s.services.at(0).priority, 10);
  EXPECT_EQ(s.services.at(1).priority, -1);
  EXPECT_TRUE(s.workloads.at(0).deferrable);
  EXPECT_DOUBLE_EQ(s.workloads.at(0).deadline_s, 6 * 3600.0);
  EXPECT_EQ(s.jobs.at(0).priority, -5);
  EXPECT_TRUE(s.jobs.at(0).deferrable);
  EXPECT_DOUBLE_EQ(s.jobs.at(0).deadline_s, 5400.0);
  // policies
  const auto& c = s.policies.power_capping;
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.order, aif::sim::CapOrder::BY_PRIORITY);
  EXPECT_DOUBLE_EQ(s.policies.control_interval_s, 0.5);
  EXPECT_DOUBLE_EQ(c.min_clock_fraction, 0.5);
  EXPECT_DOUBLE_EQ(c.headroom_fraction, 0.05);
  ASSERT_EQ(s.policies.demand_response.size(), 2u);
  const auto& e0 = s.policies.demand_response[0];
  EXPECT_DOUBLE_EQ(e0.start_s, 1800.0);
  EXPECT_DOUBLE_EQ(e0.duration_s, 900.0);
  EXPECT_DOUBLE_EQ(e0.shed_w, 20e3);
  EXPECT_EQ(e0.methods, (std::vector<std::string>{"defer_batch", "cap"}));
  // Back to back (the first ends at 45 min) is not an overlap.
  EXPECT_DOUBLE_EQ(s.policies.demand_response[1].start_s, 2700.0);
  EXPECT_DOUBLE_EQ(s.policies.demand_response[1].shed_w, 10e3);
  EXPECT_TRUE(s.policies.carbon_aware.enabled);
  EXPECT_EQ(s.policies.carbon_aware.signal, aif::sim::CarbonAwareConfig::Signal::CARBON);
  EXPECT_DOUBLE_EQ(s.policies.carbon_aware.threshold, 430.0);
  const auto& ps = s.policies.peak_shaving;
  EXPECT_TRUE(ps.enabled);
  EXPECT_DOUBLE_EQ(ps.threshold_w, 120e3);
  EXPECT_DOUBLE_EQ(ps.recharge_below_w, 90e3);
  EXPECT_TRUE(ps.smooth_training_swings);
}

TEST(PowerConfig, PlainNumbersAreInTheUnitTheKeyNames) {
  const std::string text = std::string(SITE) + R"(facility:
  power:
    cooling: {outdoor_temperature_c: -12.5}
grid:
  carbon_intensity_g_per_kwh: 391.5
  price_per_kwh: -0.02
  solar: {installed: 1MW, profile: 0.25}
)";
  const auto s = aif::sim::load_scenario_text(text, "inline.yaml");
  EXPECT_TRUE(s.facility_power.enabled);
  EXPECT_DOUBLE_EQ(s.facility_power.outdoor_temperature_c.constant, -12.5);
  EXPECT_TRUE(s.facility_power.outdoor_temperature_c.path.empty());
  EXPECT_DOUBLE_EQ(s.grid.carbon_g_per_kwh.constant, 391.5);
  EXPECT_DOUBLE_EQ(s.grid.price_per_kwh.constant, -0.02);  // surplus hours have negative prices
  EXPECT_DOUBLE_EQ(s.grid.solar.profile.constant, 0.25);
  EXPECT_DOUBLE_EQ(s.grid.solar.installed_w, 1e6);
}

TEST(PowerConfig, RegionTakesItsGridIntensityFromTheAzureTable) {
  const std::string table = aif::sim::data_dir() + "/grid/azure_greensku_dc_region_carbon.csv";
  // The table ships with the repository (data/grid/): missing is a failure, not a reason to skip.
  ASSERT_TRUE(fs::is_regular_file(table)) << "no " << table;
  const auto s = aif::sim::load_scenario_text(
      std::string(SITE) + "grid:\n  carbon_intensity_g_per_kwh: {region: europewest}\n", "inline.yaml");
  EXPECT_EQ(s.grid.carbon_region, "europewest");
  EXPECT_TRUE(s.grid.carbon_g_per_kwh.present);
  EXPECT_DOUBLE_EQ(s.grid.carbon_g_per_kwh.constant, 291.0);  // "Avg Grid Intensity" of europewest
  expect_error(std::string(SITE) + "grid:\n  carbon_intensity_g_per_kwh: {region: marsnorth}\n",
               "grid.carbon_intensity_g_per_kwh.region", "no region 'marsnorth' in the table; regions: europewest");
}

TEST(PowerConfig, OverridesReachThePowerSections) {
  const std::string text = std::string(SITE) +
                           "grid:\n  connection_limit: 100kW\n"
                           "  battery: {capacity: 1MWh, max_charge: 1MW, max_discharge: 1MW}\n";
  const auto s = aif::sim::load_scenario_text(
      text, "inline.yaml", {"grid.connection_limit=2MW", "policies.power_capping={order: by_priority}"});
  EXPECT_DOUBLE_EQ(s.grid.connection_limit_w, 2e6);
  EXPECT_EQ(s.policies.power_capping.order, aif::sim::CapOrder::BY_PRIORITY);
  const ScenarioError e = text_error_of(text, {"grid.battery.soc_max=1.5"});
  EXPECT_EQ(e.file(), "<--set>");
  EXPECT_EQ(e.key_path(), "grid.battery.soc_max");
}

// ---- errors beyond the bad scenario files --------------------------------------------------------------------------

TEST(PowerConfigErrors, SignalsNameTheColumnAndTheFile) {
  const ScenarioDir d("aif_power_config_signals");
  const std::string grid = std::string(SITE) + "grid:\n";
  ScenarioError e = d.error(grid + "  carbon_intensity_g_per_kwh: {path: sites.csv}\n");
  EXPECT_EQ(e.key_path(), "grid.carbon_intensity_g_per_kwh");
  EXPECT_NE(std::string(e.what()).find("has 2 value columns; name one with column (Berlin or Lagos)"),
            std::string::npos)
      << e.what();
  e = d.error(grid + "  solar: {installed: 1MW, profile: {path: sites.csv, column: Paris}}\n");
  EXPECT_EQ(e.key_path(), "grid.solar.profile.column");
  EXPECT_NE(std::string(e.what()).find("no column 'Paris'"), std::string::npos) << e.what();
  e = d.error(grid + "  price_per_kwh: {path: carbon.csv, scale: 0}\n");
  EXPECT_EQ(e.key_path(), "grid.price_per_kwh.scale");
  e = d.error(grid + "  price_per_kwh: {path: carbon.csv, unit: EUR}\n");
  EXPECT_EQ(e.key_path(), "grid.price_per_kwh.unit");
  EXPECT_NE(std::string(e.what()).find("unknown key 'unit'"), std::string::npos) << e.what();
}

TEST(PowerConfigErrors, ValuesOutOfTheirRanges) {
  const std::string grid = std::string(SITE) + "grid:\n";
  const std::string battery = grid + "  battery: {capacity: 1MWh, max_charge: 1MW, max_discharge: 1MW, ";
  expect_error(grid + "  carbon_intensity_g_per_kwh: 400g\n", "grid.carbon_intensity_g_per_kwh",
               "expected a plain number");
  expect_error(grid + "  carbon_intensity_g_per_kwh: [400]\n", "grid.carbon_intensity_g_per_kwh",
               "expected a number (gCO2/kWh, as the key's name says) or a time series");
  expect_error(grid + "  solar: {installed: 1MW, profile: 1.5}\n", "grid.solar.profile", "between 0 and 1");
  expect_error(grid + "  solar: {profile: 0.5}\n", "grid.solar.installed", "required key 'installed' is missing");
  expect_error(grid + "  currency: EUR\n", "grid.currency", "without price_per_kwh");
  expect_error(grid + "  price_per_kwh: 0.1\n  currency: euro\n", "grid.currency", "three-letter currency code");
  expect_error(battery + "soc_min: 0.6, soc_max: 0.4}\n", "grid.battery.soc_max", "expected soc_min < soc_max");
  expect_error(grid + "  battery: {capacity: 0kWh, max_charge: 1MW, max_discharge: 1MW}\n", "grid.battery.capacity",
               "expected an energy > 0");
  expect_error(battery + "discharge_efficiency: 0}\n", "grid.battery.discharge_efficiency", "in (0, 1]");
  expect_error(battery + "initial_soc: 0.95}\n", "grid.battery.initial_soc", "between soc_min (0.1) and soc_max (0.9)");
  expect_error(std::string(SITE) + "facility: {power: {cooling: {outdoor_temperature_c: 20C}}}\n",
               "facility.power.cooling.outdoor_temperature_c", "expected a plain number");
  expect_error(std::string(SITE) + "facility: {power: {cooling: {pue_free_cooling: 0.9}}}\n",
               "facility.power.cooling.pue_free_cooling", ">= 1");
  expect_error(std::string(SITE) + "facility: {power: {rack_power_limit: 40}}\n", "facility.power.rack_power_limit",
               "with a unit");
  expect_error(std::string(SITE) + "facility: {power: {ups: {rated: 0W}}}\n", "facility.power.ups.rated", "> 0");
}

TEST(PowerConfigErrors, PoliciesCheckWhatTheyActOn) {
  const std::string site = std::string(SITE) + "grid:\n  connection_limit: 100kW\n";
  expect_error(site + "policies: {power_capping: {order: fastest_first}}\n", "policies.power_capping.order",
               "expected one of training_first or by_priority");
  expect_error(site + "policies: {control_interval: 3h}\n", "policies.control_interval",
               "at most the simulation duration");
  expect_error(site + "policies: {power_capping: {min_clock_fraction: 0}}\n",
               "policies.power_capping.min_clock_fraction", "in (0, 1]");
  expect_error(site + "policies: {demand_response: [{start: 10min, duration: 5min, shed: 1kW, methods: [cap, cap]}]}\n",
               "policies.demand_response[0].methods[1]", "listed twice");
  expect_error(site + "policies: {demand_response: [{start: 10min, duration: 5min, shed: 1kW, methods: []}]}\n",
               "policies.demand_response[0].methods", "at least one of");
  expect_error(site + "policies: {demand_response: [{start: 2h, duration: 5min, shed: 1kW}]}\n",
               "policies.demand_response[0].start", "before simulation.duration");
  expect_error(site + "policies: {demand_response: [{start: 10min, duration: 5min}]}\n",
               "policies.demand_response[0].shed", "required key 'shed' is missing");
  expect_error(site + "policies: {demand_response: {start: 10min}}\n", "policies.demand_response",
               "expected a list");
  expect_error(site + "policies: {peak_shaving: {threshold: 1MW}}\n", "policies.peak_shaving",
               "peak shaving discharges a battery: add grid.battery");
  expect_error(std::string(SITE) + "policies: {peak_shaving: {threshold: 1MW}}\n", "policies.peak_shaving",
               "add grid.battery (in a grid section)");
  const std::string battery = std::string(SITE) +
                              "grid:\n  battery: {capacity: 1MWh, max_charge: 1MW, max_discharge: 1MW}\n";
  expect_error(battery + "policies: {peak_shaving: {threshold: 100kW, recharge_below: 120kW}}\n",
               "policies.peak_shaving.recharge_below", "expected at most threshold (100 kW)");
  expect_error(battery + "policies: {peak_shaving: {recharge_below: 50kW}}\n", "policies.peak_shaving.threshold",
               "required key 'threshold' is missing");
  expect_error(site + "policies: {admission: {}}\n", "policies.admission", "unknown key 'admission'");
}

TEST(PowerConfigErrors, PriorityAndDeferrable) {
  expect_error(std::string(SITE) + "    priority: high\n", "services[0].priority", "expected an integer");
  expect_error(std::string(SITE) + "    priority: 1.5\n", "services[0].priority", "expected an integer");
  const std::string workload = std::string(SITE) +
                               "workloads:\n  - name: w\n    service: chat\n"
                               "    arrival: {kind: poisson, rate: 1/s, prompt_tokens: 8, output_tokens: 8}\n";
  expect_error(workload + "    deferrable: true\n", "workloads[0].deferrable", "expected a map {deadline: <duration>}");
  expect_error(workload + "    deferrable: {deadline: 0s}\n", "workloads[0].deferrable.deadline", "> 0");
  expect_error(workload + "    deferrable: {deadline: 1h, until: 2h}\n", "workloads[0].deferrable.until",
               "unknown key 'until'");
}

// The examples of scenarios/energy load with the sections they exist to show.
TEST(PowerConfig, EnergyScenariosLoadWithTheSectionsTheyShow) {
  const auto gcb = aif::sim::load_scenario(SOURCE_DIR + "/scenarios/energy/grid_cap_battery.yaml");
  EXPECT_DOUBLE_EQ(gcb.grid.connection_limit_w, 9e6);
  EXPECT_TRUE(gcb.grid.battery.present);
  EXPECT_DOUBLE_EQ(gcb.grid.battery.capacity_j, 3.6e9);  // 1 MWh
  EXPECT_TRUE(gcb.policies.power_capping.enabled);
  EXPECT_TRUE(gcb.policies.peak_shaving.enabled);
  // IT nameplate: 2,048 servers x 8,389.2 W (8 x 700 W of GPUs + 2.4 kW of the rest through supplies at 95.36 %:
  // the server model's full-load figure, docs/power.md) = 17.18 MW, the "17 MW" of the file's title.
  const double nameplate = 2048 * aif::sim::server_input_w(gcb.facility, gcb.device, 8 * gcb.device.tdp_w);
  EXPECT_NEAR(nameplate, 2048 * 8389.2, 2048 * 0.1);
  const auto dr = aif::sim::load_scenario(SOURCE_DIR + "/scenarios/energy/demand_response_day.yaml");
  ASSERT_EQ(dr.policies.demand_response.size(), 1u);
  EXPECT_DOUBLE_EQ(dr.policies.demand_response[0].start_s, 7200);
  EXPECT_DOUBLE_EQ(dr.policies.demand_response[0].shed_w, 1.5e6);
  EXPECT_EQ(dr.policies.demand_response[0].methods,
            (std::vector<std::string>{"defer_batch", "pause_training", "cap"}));
  const auto month = aif::sim::load_scenario(SOURCE_DIR + "/scenarios/energy/carbon_aware_month.yaml");
  EXPECT_TRUE(month.policies.carbon_aware.enabled);
  EXPECT_EQ(month.grid.carbon_g_per_kwh.column, "Caiso_North");
  EXPECT_DOUBLE_EQ(month.simulation.duration_s, 31 * 86400.0);
  ASSERT_EQ(month.jobs.size(), 4u);
  for (const auto& job : month.jobs) EXPECT_TRUE(job.deferrable) << job.name;
}
