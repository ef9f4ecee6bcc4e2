// A results file, read as the GUI, `aifsim report`, `compare` and replay read it: every table, the summary, the
// fingerprint, the HTML report, the comparison and the replay trace.
#include "aif/analysis/compare.hpp"
#include "aif/analysis/report.hpp"
#include "aif/analysis/results.hpp"
#include "aif/inputs/trace.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = aif::fuzz::write_input(data, size, "results.h5");
  aif::fuzz::expect_input_errors([&] {
    const aif::analysis::ResultsReader r(path);
    r.meta();
    r.requests();
    r.events();
    r.iterations();
    r.job_names();
    r.job_steps();
    r.busiest_links();
    r.rack_power();
    for (const auto& s : r.series()) r.series_values(s.name);
    r.series_time();
    r.summary();
    r.stored_fingerprint();
    r.compute_fingerprint();
    aif::analysis::write_results_report(r, aif::fuzz::scratch_dir() + "/report.html");
  });
  aif::fuzz::expect_input_errors([&] { aif::analysis::compare_runs({path}, {path}); });
  aif::fuzz::expect_input_errors([&] { aif::sim::read_results_requests(path); });
  return 0;
}
