// The site's power from chip to grid, and the policies that act on it (private to sim/world).
//
// Every control interval (policies.control_interval, 1 s by default) the manager reads the power of
// every consumer (replicas, training jobs, spare GPUs, servers), builds the chain rack -> hall -> IT -> facility
// (UPS and distribution losses, cooling at the outdoor temperature) -> grid (minus solar, plus or minus the battery),
// integrates energy, carbon and cost over the interval, and lets the policies act:
//  - power capping keeps grid draw under the connection limit and every rack under its limit by lowering GPU clocks,
//    training first (or lowest priority first), and raises them again when there is room;
//  - demand-response events shed a given power for their window: pause training (checkpoint first), hold
//    deferrable workloads, cap clocks, in the order the event lists;
//  - carbon- or price-aware deferral holds deferrable work while the signal is above its threshold, within deadlines;
//  - battery peak shaving discharges above a threshold and recharges below, and can smooth training power swings.
// Every action goes to /events with its reason and numbers; the interval after it, its measured effect.
//
// Power between two control instants is taken as the value at the first one (piecewise constant): facility, grid,
// carbon and cost energies are exact for loads that change at control instants, and otherwise carry an error of at
// most one interval's change. GPU energy itself stays exact (replicas integrate their own steps).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "aif/analysis/results.hpp"
#include "aif/models/facility_power.hpp"
#include "aif/models/power.hpp"
#include "aif/models/signals.hpp"
#include "aif/scenario/scenario.hpp"

namespace aif::sim {

// Something that draws GPU power and can be slowed down: a serving replica or a training job.
struct PowerConsumer {
  std::string name;      // "service chat/3", "job pretrain"
  std::string group;     // what its energy and carbon are reported under: the service name, or "job.<name>"
  double overhead_w = 0; // server overhead of the servers it occupies (CPUs, NICs, fans), for attribution only
  bool training = false;
  int priority = 0;      // higher = more latency-critical = capped last
  std::vector<std::pair<int, int>> rack_gpus;  // (rack, GPUs of it there): a replica sits in one rack, a job spans some
  int gpus = 0;
  std::function<double(double now)> power_w;  // all its GPUs, now
  std::function<double()> clock;              // current clock fraction
  // All its GPUs, now, had they run at clock fraction f: the GPU power model over the work in flight, its time from
  // the perf model at f. Required: power capping sizes its cuts with it.
  std::function<double(double now, double f)> power_at_clock;
  std::function<void(double)> set_clock;
  // Demand response: a training job can pause after checkpointing (empty for replicas).
  std::function<void()> pause;
  std::function<void()> resume;
  // Carbon/price-aware deferral of a deferrable job: it may be paused while the signal is high as long as
  // now + remaining_s() stays before deadline_s.
  bool deferrable = false;
  double deadline_s = 0;
  std::function<double()> remaining_s;
  std::function<bool()> done;  // a job that has run all its steps: nothing left to defer
  double start_s = 0;          // a job is not deferred before its own start
};

class PowerManager {
 public:
  // `static_rack_w[r]`: power of rack r that no consumer accounts for (server overhead, spare GPUs at idle).
  PowerManager(const Scenario& scenario, std::vector<PowerConsumer> consumers, std::vector<double> static_rack_w,
               models::GpuPowerModel gpu_power, std::function<void(const analysis::EventRecord&)> event,
               uint64_t* events);

  // A rack's input power from its GPUs' power (the server model: non-GPU parts at the GPUs' load, supply losses),
  // when the servers' power is not a constant; static_rack_w then holds GPU power only (spare GPUs at idle), and each
  // consumer's share of its racks' non-GPU power is in proportion to its GPUs there (gpus_per_rack per rack).
  void set_rack_input(std::function<double(double rack_gpu_w)> rack_input_w, int gpus_per_rack);

  // Starts the control timer at t = 0.
  void start();
  // Series added to /timeseries (in this order in sample()).
  std::vector<analysis::SeriesSpec> series() const;
  std::vector<double> sample(double now) const;
  // IT power of every rack at the last control instant (W), for /power/rack_power.
  const std::vector<double>& rack_power_w() const { return last_.rack_w; }
  // Hall of every rack (facility.power.racks_per_hall; all 0 when not given).
  std::vector<int32_t> rack_halls() const;
  double grid_limit_now() const;  // W; NaN without a limit
  // True while deferrable arrivals must be held (demand response or carbon/price-aware deferral).
  bool hold_deferrable(double now) const;
  // Called after every control instant (the run releases held deferrable work there).
  void set_after_tick(std::function<void(double now)> after_tick) { after_tick_ = std::move(after_tick); }
  // Whether to keep controlling after `next` (the run's horizon, or while draining work); default: always.
  void set_keep_going(std::function<bool(double next)> keep_going) { keep_going_ = std::move(keep_going); }
  // Site totals: grid, facility and IT energy, carbon, cost, peak and 95th-percentile grid draw, time at the limit,
  // demand-response compliance, per-token carbon and energy (`output_tokens` of the whole run).
  // Per group (service or job): grid energy, carbon and cost attributed in proportion to its IT power (its GPUs plus
  // the overhead of the servers it occupies) at every control instant; per output token for services
  // (`tokens_by_group`, keyed by service name).
  std::vector<analysis::SummaryEntry> summary(double end, double output_tokens,
                                              const std::map<std::string, double>& tokens_by_group) const;
  bool enabled() const { return enabled_; }
  // Ends the books at `end`, the end of the window the run's series cover (their last sample): the power of the last
  // control instant counts up to `end`, neither beyond it (that instant's interval may reach past the window) nor
  // short of it (the last instant's interval is empty). Control instants after it change no total, peak or
  // percentile; the demand-response bookkeeping they log goes on. Once only; the first call counts.
  void close_window(double end);
  // Facility energy over the run, J (what the legacy constant-PUE figure becomes when the chain is on).
  double facility_energy_j() const { return facility_j_; }

 private:
  struct Chain {
    std::vector<double> rack_w;
    std::vector<double> consumer_w;  // each consumer's GPU power
    std::vector<double> rack_extra_w;  // with set_rack_input: each rack's non-GPU power
    double it_w = 0;
    models::FacilityPower facility;
    double solar_w = 0;
    double battery_w = 0;  // + discharging to the site, - charging
    double grid_w = 0;
  };
  void tick();
  Chain measure(double now) const;
  void integrate(const Chain& c, double now, double dt);
  void add_to_books(const Chain& c, double now, double dt);
  // `battery_w`: what the battery will deliver at this instant (peak shaving), so that capping acts only on the rest.
  void apply_capping(const Chain& c, double now, double battery_w);
  void apply_demand_response(const Chain& c, double now);
  void apply_carbon_aware(double now);
  double battery_request(const Chain& c) const;
  void log(double now, const std::string& kind, const std::string& target, const std::string& detail) const;

  const Scenario& sc_;
  std::vector<PowerConsumer> consumers_;
  std::vector<double> static_rack_w_;
  models::GpuPowerModel gpu_power_;
  std::function<double(double)> rack_input_w_;
  int gpus_per_rack_ = 0;
  std::function<void(const analysis::EventRecord&)> event_;
  uint64_t* events_;
  std::function<void(double)> after_tick_;
  std::function<bool(double)> keep_going_;
  bool enabled_ = false;
  double interval_s_ = 1;
  bool chain_enabled_ = false;
  std::unique_ptr<models::FacilityPowerModel> facility_model_;
  models::TimeSeries outdoor_c_ = models::TimeSeries::constant(20), carbon_ = models::TimeSeries::constant(0),
                     price_ = models::TimeSeries::constant(0), solar_profile_ = models::TimeSeries::constant(0);
  std::unique_ptr<models::Battery> battery_;
  std::vector<size_t> cap_order_;  // consumers, first capped first
  double smooth_w_ = -1;           // moving average of facility power (training-swing smoothing)
  double carbon_threshold_ = 0;    // carbon-aware deferral: the signal's threshold (its median when not given)
  std::vector<bool> deferred_;     // consumers paused by carbon-aware deferral
  // Power of a consumer just capped or uncapped at this control instant, until the next one: the GPUs' firmware
  // enforces a cap within milliseconds, while the replica's step in flight keeps its planned duration (its energy
  // in the replica's own books too): -1 = measure it.
  std::vector<double> set_power_w_;

  // State at the last control instant (for sample()).
  Chain last_;
  double last_time_ = 0;
  bool have_last_ = false;
  // Demand response.
  int dr_active_ = -1;             // index of the event in progress
  double dr_target_w_ = 0;
  double dr_energy_j_ = 0, dr_time_s_ = 0;
  int dr_events_ = 0, dr_met_ = 0;
  bool paused_for_dr_ = false;
  // Totals.
  double it_j_ = 0, facility_j_ = 0, grid_j_ = 0, solar_j_ = 0, battery_out_j_ = 0, battery_in_j_ = 0;
  double carbon_g_ = 0, cost_ = 0, cooling_j_ = 0, losses_j_ = 0;
  double peak_grid_w_ = 0, at_limit_s_ = 0, capped_s_ = 0, total_s_ = 0;
  std::vector<double> grid_samples_;  // grid draw at every control instant, for the 95th percentile
  std::vector<double> rack_peak_w_;
  int halls_ = 0;
  struct GroupTotals {
    double grid_j = 0, carbon_g = 0, cost = 0;
    double active_grid_j = 0, active_carbon_g = 0;  // of its GPUs' power above idle: what scheduling can move
  };
  std::map<std::string, GroupTotals> groups_;
  // The totals integrate() adds to, as they stood at the last control instant before its interval was added.
  struct Books {
    double it_j, facility_j, grid_j, solar_j, battery_out_j, battery_in_j, carbon_g, cost, cooling_j, losses_j;
    double at_limit_s, capped_s, total_s;
    std::map<std::string, GroupTotals> groups;
  };
  Books books() const;
  void set_books(const Books& b);
  Books books_at_last_;
  bool closed_ = false;  // close_window() has run
  int cap_actions_ = 0;
  double last_cap_s_ = -1e300;    // clocks are raised again only 10 control intervals after the last cut
  double effect_before_w_ = -1;    // grid draw before the last action, logged with its effect at the next instant
  std::string effect_what_;
};

}  // namespace aif::sim
