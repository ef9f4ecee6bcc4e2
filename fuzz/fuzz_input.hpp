// What the fuzz targets share. Most readers take a path, so a target writes the fuzzer's bytes to a file of its own
// (one folder per process); a reader may answer bad bytes only with the error type it documents (ScenarioError,
// SignalError, ResultsError), which the target records and swallows. Anything else that escapes (another
// exception, a crash, a sanitizer report, a hang or a runaway allocation, which libFuzzer's -timeout and
// -rss_limit_mb catch) is a finding.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "aif/analysis/results.hpp"
#include "aif/inputs/input_error.hpp"
#include "aif/inputs/signals.hpp"

namespace aif::fuzz {

// The bytes as a file named `name` in this process's scratch folder; its path.
std::string write_input(const uint8_t* data, size_t size, const std::string& name);
// The scratch folder (created on first use, under $TMPDIR or /tmp).
std::string scratch_dir();
// Puts a small valid scenario at base.yaml in the scratch folder (once): the base a sweep or plan seed names.
void write_base_scenario();

// The last input's outcome: "" when it was accepted, else the message of the documented error it gave. The replay
// driver prints it (--messages), which is how docs/reliability.md lists what each bad input must say.
std::string& last_message();

// Runs `read`, keeping the message of a documented input error; other exceptions propagate (a finding).
template <class Read>
void expect_input_errors(Read&& read) {
  last_message().clear();
  try {
    read();
  } catch (const sim::ScenarioError& e) {
    last_message() = e.what();
  } catch (const sim::SignalError& e) {
    last_message() = e.what();
  } catch (const analysis::ResultsError& e) {
    last_message() = e.what();
  }
}

}  // namespace aif::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
