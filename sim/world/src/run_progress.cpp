// Progress reporting: the terminal's progress bar and the JSON lines the GUI reads (docs/results-format.md), one per
// slice of the run.
#include "run.hpp"

namespace aif::sim {

void Run::report_progress(double until, double frac, double wall) {
  const double eta = frac > 0 ? wall * (1 - frac) / frac : 0.0;
  if (opt_.progress) {
    const int bar = static_cast<int>(frac * 30);
    // Arrivals against the estimate made before the run (aif/scenario/run_estimate.hpp).
    char requests[64] = "";
    if (opt_.estimated_requests > 0)
      std::snprintf(requests, sizeof requests, "  req %lld / ~%.3g", static_cast<long long>(arrived_),
                    opt_.estimated_requests);
    std::fprintf(stderr, "\r[%s%s] %3.0f%%  sim %s / %s%s  %.2fM events/s  ETA %.0fs ",
                 std::string(bar, '#').c_str(), std::string(30 - bar, ' ').c_str(), frac * 100,
                 format_hms(until).c_str(), format_hms(sc_.simulation.duration_s).c_str(), requests,
                 wall > 0 ? events_ / wall / 1e6 : 0.0, eta);
  }
  if (opt_.progress_json) {
    // p50 / p99 TTFT of the requests that finished in this slice (NaN, written null, when none did).
    double ttft_p50 = std::nan(""), ttft_p99 = std::nan("");
    if (!slice_ttft_.empty()) {
      ttft_p50 = analysis::percentile(slice_ttft_, 50);
      ttft_p99 = analysis::percentile(slice_ttft_, 99);
      slice_ttft_.clear();
    }
    // NaN has no JSON spelling: written null. Doubles print at full precision (the reader parses them back).
    auto number = [](double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); };
    const nlohmann::json line{{"ttft_p50_s", number(ttft_p50)},
                              {"ttft_p99_s", number(ttft_p99)},
                              {"sim_s", until},
                              {"duration_s", sc_.simulation.duration_s},
                              {"fraction", frac},
                              {"wall_s", wall},
                              {"eta_s", eta},
                              {"events", static_cast<unsigned long long>(events_)},
                              {"arrived", static_cast<long long>(arrived_)},
                              {"estimated_requests", opt_.estimated_requests},
                              {"finished", static_cast<long long>(finished_)},
                              {"in_flight", static_cast<long long>(in_flight_)},
                              {"facility_power_w", number(last_facility_w_)},
                              {"busy_gpus", last_busy_gpus_},
                              {"running", last_running_},
                              {"waiting", last_waiting_}};
    std::fputs((line.dump() + "\n").c_str(), stdout);
    std::fflush(stdout);
  }
}

}  // namespace aif::sim
