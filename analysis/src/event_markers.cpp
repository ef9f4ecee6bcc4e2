#include "aif/analysis/event_markers.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace aif::analysis {

namespace {
bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }
}  // namespace

EventLane event_lane(const std::string& kind) {
  if (kind == "failure" || kind == "failure_detected" || kind == "incident_start" || kind == "replica_down" ||
      kind == "job_interrupt")
    return EventLane::FAILURES;
  if (starts_with(kind, "repair_") || kind == "incident_end" || kind == "spares_taken" || kind == "replica_up")
    return EventLane::REPAIRS;
  if (starts_with(kind, "power_") || starts_with(kind, "demand_response") || starts_with(kind, "carbon_"))
    return EventLane::POWER;
  if (starts_with(kind, "job_") || kind == "checkpoint") return EventLane::JOBS;
  return EventLane::SCALING;  // replicas starting, draining, parking, scaling, rollouts, the run's own marks
}

const char* event_lane_name(EventLane lane) {
  switch (lane) {
    case EventLane::FAILURES: return "failures";
    case EventLane::REPAIRS: return "repairs";
    case EventLane::SCALING: return "replicas";
    case EventLane::POWER: return "power";
    case EventLane::JOBS: return "jobs";
  }
  return "";
}

const char* event_lane_color(EventLane lane) {
  switch (lane) {
    case EventLane::FAILURES: return "#BE1E1E";
    case EventLane::REPAIRS: return "#1E8232";
    case EventLane::SCALING: return "#285AB4";
    case EventLane::POWER: return "#C87800";
    case EventLane::JOBS: return "#6E3CA0";
  }
  return "#888888";
}

bool is_marked_event(const std::string& kind) {
  // A replica going down follows its server's failure (marked already); a replica coming up is routine.
  if (kind == "failure" || kind == "incident_start" || kind == "incident_end" || kind == "job_interrupt") return true;
  if (kind == "repair_done") return true;
  if (starts_with(kind, "demand_response") || kind == "power_cap" || kind == "power_uncap" ||
      starts_with(kind, "carbon_"))
    return true;
  return starts_with(kind, "rollout");
}

std::vector<EventMarker> event_markers(const std::vector<EventRecord>& events, double end_s, size_t max_markers) {
  std::vector<EventMarker> out;
  std::map<EventLane, size_t> last;  // lane -> index in out of its latest marker
  const double merge_s = std::max(end_s, 0.0) / 200;
  for (const EventRecord& e : events) {
    if (!std::isfinite(e.time_s) || !is_marked_event(e.kind)) continue;
    const EventLane lane = event_lane(e.kind);
    const auto it = last.find(lane);
    if (it != last.end() && e.time_s - out[it->second].time_s <= merge_s) {
      EventMarker& m = out[it->second];
      ++m.count;
      m.label = std::to_string(m.count) + " " + event_lane_name(lane);
      continue;
    }
    if (out.size() >= max_markers) continue;  // events are in time order: the earliest are kept
    out.push_back({e.time_s, lane, e.kind + (e.target.empty() ? "" : " " + e.target), 1});
    last[lane] = out.size() - 1;
  }
  std::stable_sort(out.begin(), out.end(), [](const EventMarker& a, const EventMarker& b) { return a.time_s < b.time_s; });
  return out;
}

}  // namespace aif::analysis
