// Which events a time chart marks, and how: shared by the HTML report and the GUI so that both mark the same
// moments. Events fall in lanes by what they do (failures, repairs, replicas and rollouts, power, jobs); a chart
// marks the ones a reader looks for on a time axis: failures and incidents, their repairs, power caps, demand
// response and carbon deferral, rollouts. Frequent routine events (every replica start, every job step) are not
// marked; the events timeline shows them.
#pragma once
#include <string>
#include <vector>

#include "aif/analysis/results.hpp"

namespace aif::analysis {

enum class EventLane { FAILURES, REPAIRS, SCALING, POWER, JOBS };
EventLane event_lane(const std::string& kind);
const char* event_lane_name(EventLane lane);  // "failures", "repairs", "replicas", "power", "jobs"
// CSS colour of a lane, the same in the report and the GUI (red failures, green repairs, ...).
const char* event_lane_color(EventLane lane);

struct EventMarker {
  double time_s = 0;
  EventLane lane = EventLane::FAILURES;
  std::string label;  // "failure rack/1", "3 failures" when merged
  size_t count = 1;   // events merged into this marker
};

// The markers of a run's events over [0, end_s]: events of the marked kinds, in time order; events of one lane closer
// than end_s / 200 to the previous marker of that lane merge into it (a rack failure that takes 8 servers down is one
// mark). At most max_markers, the earliest kept.
bool is_marked_event(const std::string& kind);
std::vector<EventMarker> event_markers(const std::vector<EventRecord>& events, double end_s, size_t max_markers = 60);

}  // namespace aif::analysis
