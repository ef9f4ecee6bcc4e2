// A run's timeline as a Chrome trace (the JSON that chrome://tracing and Perfetto open), for people who debug with
// those viewers. From a results file:
//   process "replicas": one thread per replica, a complete event per engine step (/iterations: present in
//                       iteration-level runs, `aifsim run --iteration-level`; fast runs record none);
//   process "jobs":     one thread per training job, a complete event per optimizer step (/jobs/steps), with its
//                       compute, exposed communication and checkpoint times as arguments;
//   process "events":   every /events row as an instant event (failures, repairs, scaling, power actions, ...).
// Times in microseconds from the start of the run. The file is written to "<path>.tmp" and renamed into place.
#pragma once
#include <cstddef>
#include <string>

#include "aif/analysis/results.hpp"

namespace aif::analysis {

struct ChromeTraceCounts {
  size_t iterations = 0, job_steps = 0, events = 0;
};

// Throws ResultsError for an unreadable results file or an unwritable output.
ChromeTraceCounts write_chrome_trace(const ResultsReader& results, const std::string& path);

}  // namespace aif::analysis
