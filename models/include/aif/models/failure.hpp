// Failures of an AI factory's components: classes with per-unit rates, time-to-failure processes, repair times, a
// finite repair crew, and the checkpoint/restart closed form (ETTR). Pure models, no SimGrid; the run applies them
// (sim/world/src/reliability.*). Default rates are derived from published figures in docs/failures.md.
#pragma once
#include <cstdint>
#include <queue>
#include <string>
#include <utility>
#include <vector>

namespace aif::models {

// What a failure of one unit takes down (the simulator maps it to GPUs, servers, racks, links).
enum class FailureDomain { GPU, HOST, SWITCH, LINK, PDU, COOLING, SOFTWARE };
const char* to_string(FailureDomain d);  // "gpu", "host", "switch", "link", "pdu", "cooling", "software"

enum class FailureDistribution { EXPONENTIAL, WEIBULL };

struct FailureCause {
  std::string name;
  double weight = 1;
};

struct FailureClass {
  std::string name;                  // "gpu", "host", "switch", "link", "pdu", "cooling", "software"
  FailureDomain domain = FailureDomain::GPU;
  FailureDistribution distribution = FailureDistribution::EXPONENTIAL;
  double mtbf_s = 0;                 // mean time between failures of ONE unit; <= 0 or inf: never fails
  double weibull_shape = 1;          // k; the scale is chosen so that the mean is mtbf_s
  std::vector<FailureCause> causes;  // sub-causes with relative weights (empty: the class name)
  double detection_s = 0;            // failure -> detected (operations start acting)
  double repair_median_s = 0;        // repair time: lognormal with this median...
  double repair_sigma = 0;           // ...and this log-sigma (0: always the median)
};

// Defaults for an H100 factory (docs/failures.md). Units: gpu and link per GPU, host and software per server,
// switch per edge switch, pdu and cooling per rack.
std::vector<FailureClass> default_failure_classes();
// Throws std::invalid_argument naming the field when a class is inconsistent.
void check_failure_class(const FailureClass& c);

struct FailureEvent {
  double time_s = 0;
  int unit = -1;
  std::string cause;
};

// Failure times of `units` identical units of one class, in time order, as renewal processes restarting at each
// failure (a repaired unit is as good as new; the repair time is not subtracted). Exponential: one superposed
// Poisson process of rate units / mtbf, the unit uniform. Weibull: one renewal process per unit. Deterministic for
// (seed, stream).
class FailureProcess {
 public:
  FailureProcess(const FailureClass& c, int units, uint64_t seed, uint64_t stream);
  FailureEvent next();       // the next failure; time +inf when the class never fails
  double peek_time() const;  // time of next() without consuming it

 private:
  double uniform();  // in (0, 1)
  double time_to_failure();
  std::string cause();
  FailureClass class_;
  int units_;
  uint64_t key_, counter_ = 0;
  double next_time_;  // exponential
  int next_unit_ = -1;
  using Entry = std::pair<double, int>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;  // Weibull: (time, unit)
  double cause_total_ = 0;
};

// Repair time of one failure: lognormal(median, sigma), deterministic for (seed, stream, index).
double sample_repair_s(const FailureClass& c, uint64_t seed, uint64_t stream, uint64_t index);

// A finite crew of technicians taking repairs first come, first served. technicians <= 0: unlimited.
class RepairCrew {
 public:
  explicit RepairCrew(int technicians);
  // A repair that can start at ready_s and takes duration_s: {start_s, finish_s} on the technician free first.
  // Calls must come in non-decreasing ready_s (std::invalid_argument otherwise).
  std::pair<double, double> schedule(double ready_s, double duration_s);
  int technicians() const { return technicians_; }

 private:
  int technicians_;
  std::vector<double> free_at_;
  double last_ready_ = -1e300;
};

// Effective training time ratio with checkpoints every checkpoint_interval_s of progress (writing takes
// checkpoint_write_s, blocking), a restart of restart_overhead_s after each failure, and failures as a Poisson
// process of mean mtbf_s while the job runs: each segment L = interval + write restarts from its beginning until
// it completes without failure, taking (e^{L/M} - 1)(M + o) on average, so ETTR = interval / ((e^{L/M} - 1)(M + o)).
double expected_ettr(double checkpoint_interval_s, double checkpoint_write_s, double restart_overhead_s, double mtbf_s);
// Young's first-order optimum interval sqrt(2 w M).
double optimal_checkpoint_interval_s(double checkpoint_write_s, double mtbf_s);

}  // namespace aif::models
