#include "aif/models/failure.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "aif/models/mix64.hpp"

namespace aif::models {

namespace {

constexpr double INF = std::numeric_limits<double>::infinity();
constexpr double HOUR = 3600, DAY = 86400, YEAR = 365 * DAY;

double uniform_at(uint64_t key, uint64_t counter) {
  const uint64_t x = mix64(key ^ mix64(counter));
  return (static_cast<double>(x >> 11) + 0.5) * 0x1.0p-53;
}

bool never(const FailureClass& c) { return !(c.mtbf_s > 0) || std::isinf(c.mtbf_s); }

}  // namespace

const char* to_string(FailureDomain d) {
  switch (d) {
    case FailureDomain::GPU:
      return "gpu";
    case FailureDomain::HOST:
      return "host";
    case FailureDomain::SWITCH:
      return "switch";
    case FailureDomain::LINK:
      return "link";
    case FailureDomain::PDU:
      return "pdu";
    case FailureDomain::COOLING:
      return "cooling";
    case FailureDomain::SOFTWARE:
      return "software";
  }
  return "?";
}

// Derivation in docs/failures.md: Llama 3 (Dubey et al. 2024, Table 5), 419 unexpected interruptions of a job on
// 16,384 H100 (2,048 servers) over 54 days; the counts below are that table's, the unit counts the cluster's.
std::vector<FailureClass> default_failure_classes() {
  const double span = 54 * DAY, gpus = 16384, servers = 2048;
  const double edge_switches = 256;  // assumption: 64 GPU ports per edge switch (docs/failures.md)
  std::vector<FailureClass> out;
  auto add = [&](std::string name, FailureDomain domain, double units, std::vector<FailureCause> causes,
                 double detection_s, double repair_median_s, double repair_sigma) {
    double count = 0;
    for (const auto& c : causes) count += c.weight;
    FailureClass c;
    c.name = std::move(name);
    c.domain = domain;
    c.mtbf_s = units * span / count;
    c.causes = std::move(causes);
    c.detection_s = detection_s;
    c.repair_median_s = repair_median_s;
    c.repair_sigma = repair_sigma;
    out.push_back(std::move(c));
  };
  add("gpu", FailureDomain::GPU, gpus,
      {{"faulty_gpu", 148}, {"gpu_hbm", 72}, {"gpu_sram", 19}, {"gpu_system_processor", 17},
       {"silent_data_corruption", 6}, {"gpu_thermal", 6}},
      5 * 60, 4 * HOUR, 0.8);
  add("host", FailureDomain::HOST, servers,
      {{"host_maintenance", 32}, {"nic", 7}, {"ssd", 3}, {"power_supply", 3}, {"chassis", 2}, {"io_board", 2},
       {"cpu", 2}, {"system_memory", 2}},
      5 * 60, 24 * HOUR, 1.0);
  add("switch", FailureDomain::SWITCH, edge_switches, {{"network_switch", 17.5}}, 60, 2 * HOUR, 0.7);
  add("link", FailureDomain::LINK, gpus, {{"network_cable", 17.5}}, 60, 1 * HOUR, 0.7);
  add("software", FailureDomain::SOFTWARE, servers, {{"software_bug", 54}, {"nccl_watchdog", 7}, {"dependency", 2}},
      5 * 60, 10 * 60, 0.5);
  // Not in the 54-day table: assumptions (docs/failures.md), one per rack every 10 and 20 years.
  FailureClass pdu;
  pdu.name = "pdu";
  pdu.domain = FailureDomain::PDU;
  pdu.mtbf_s = 10 * YEAR;
  pdu.causes = {{"rack_pdu", 1}};
  pdu.detection_s = 60;
  pdu.repair_median_s = 8 * HOUR;
  pdu.repair_sigma = 0.7;
  out.push_back(pdu);
  FailureClass cooling = pdu;
  cooling.name = "cooling";
  cooling.domain = FailureDomain::COOLING;
  cooling.mtbf_s = 20 * YEAR;
  cooling.causes = {{"rack_cooling", 1}};
  cooling.repair_median_s = 12 * HOUR;
  out.push_back(cooling);
  return out;
}

void check_failure_class(const FailureClass& c) {
  auto bad = [&](const std::string& field, const std::string& what) {
    throw std::invalid_argument("failure class " + c.name + ": " + field + " " + what);
  };
  if (std::isnan(c.mtbf_s) || c.mtbf_s < 0) bad("mtbf_s", "must be >= 0 (0: never fails)");
  if (!(c.weibull_shape > 0) || std::isinf(c.weibull_shape)) bad("weibull_shape", "must be > 0");
  if (!(c.detection_s >= 0) || std::isinf(c.detection_s)) bad("detection_s", "must be >= 0");
  if (!(c.repair_median_s >= 0) || std::isinf(c.repair_median_s)) bad("repair_median_s", "must be >= 0");
  if (!(c.repair_sigma >= 0) || std::isinf(c.repair_sigma)) bad("repair_sigma", "must be >= 0");
  for (const auto& cause : c.causes)
    if (!(cause.weight > 0)) bad("causes", "weights must be > 0 (" + cause.name + ")");
}

FailureProcess::FailureProcess(const FailureClass& c, int units, uint64_t seed, uint64_t stream)
    : class_(c), units_(units), key_(mix64(seed ^ mix64(stream + 0x5f1a7))) {
  check_failure_class(c);
  if (units < 0) throw std::invalid_argument("FailureProcess: units must be >= 0");
  for (const auto& cause : c.causes) cause_total_ += cause.weight;
  next_time_ = INF;
  if (never(c) || units == 0) return;
  if (c.distribution == FailureDistribution::EXPONENTIAL) {
    next_time_ = time_to_failure();
    next_unit_ = std::min(units - 1, static_cast<int>(uniform() * units));
  } else {
    for (int u = 0; u < units; ++u) heap_.push({time_to_failure(), u});
  }
}

double FailureProcess::uniform() { return uniform_at(key_, counter_++); }

double FailureProcess::time_to_failure() {
  const double u = uniform();
  if (class_.distribution == FailureDistribution::EXPONENTIAL)
    return -std::log(u) * class_.mtbf_s / units_;  // the superposed process: rate units / mtbf
  // Weibull with mean mtbf: scale = mtbf / Gamma(1 + 1/k); inverse CDF.
  const double k = class_.weibull_shape;
  const double scale = class_.mtbf_s / std::tgamma(1 + 1 / k);
  return scale * std::pow(-std::log(u), 1 / k);
}

std::string FailureProcess::cause() {
  if (class_.causes.empty()) return class_.name;
  double x = uniform() * cause_total_;
  for (const auto& c : class_.causes) {
    if (x < c.weight) return c.name;
    x -= c.weight;
  }
  return class_.causes.back().name;
}

double FailureProcess::peek_time() const {
  if (class_.distribution == FailureDistribution::WEIBULL) return heap_.empty() ? INF : heap_.top().first;
  return next_time_;
}

FailureEvent FailureProcess::next() {
  FailureEvent e;
  e.time_s = peek_time();
  if (std::isinf(e.time_s)) return e;
  if (class_.distribution == FailureDistribution::WEIBULL) {
    const auto [t, unit] = heap_.top();
    heap_.pop();
    e.unit = unit;
    heap_.push({t + time_to_failure(), unit});
  } else {
    e.unit = next_unit_;
    next_time_ += time_to_failure();
    next_unit_ = std::min(units_ - 1, static_cast<int>(uniform() * units_));
  }
  e.cause = cause();
  return e;
}

double sample_repair_s(const FailureClass& c, uint64_t seed, uint64_t stream, uint64_t index) {
  if (c.repair_sigma <= 0) return c.repair_median_s;
  const uint64_t key = mix64(seed ^ mix64(stream + 0x7e9a1));
  // Standard normal by Box-Muller from two uniforms of this index.
  const double u1 = uniform_at(key, 2 * index), u2 = uniform_at(key, 2 * index + 1);
  const double z = std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
  return c.repair_median_s * std::exp(c.repair_sigma * z);
}

RepairCrew::RepairCrew(int technicians) : technicians_(technicians) {
  if (technicians > 0) free_at_.assign(static_cast<size_t>(technicians), 0.0);
}

std::pair<double, double> RepairCrew::schedule(double ready_s, double duration_s) {
  if (ready_s < last_ready_)
    throw std::invalid_argument("RepairCrew::schedule: ready times must not decrease");
  if (duration_s < 0) throw std::invalid_argument("RepairCrew::schedule: negative duration");
  last_ready_ = ready_s;
  if (technicians_ <= 0) return {ready_s, ready_s + duration_s};
  auto first = std::min_element(free_at_.begin(), free_at_.end());
  const double start = std::max(ready_s, *first);
  *first = start + duration_s;
  return {start, *first};
}

double expected_ettr(double interval, double write, double overhead, double mtbf) {
  if (!(interval > 0) || write < 0 || overhead < 0 || !(mtbf > 0))
    throw std::invalid_argument("expected_ettr: interval and mtbf must be > 0, write and overhead >= 0");
  if (std::isinf(mtbf)) return interval / (interval + write);
  const double segment = (interval + write) / mtbf;
  return interval / (std::expm1(segment) * (mtbf + overhead));
}

double optimal_checkpoint_interval_s(double write, double mtbf) { return std::sqrt(2 * write * mtbf); }

}  // namespace aif::models
