// Runs child processes (`aifsim run` of generated scenarios), a few at a time, each with its output in a log file.
#pragma once
#include <string>
#include <vector>

namespace aif::cli {

struct Job {
  std::vector<std::string> args;  // argv, the program's path first
  std::string log;                // stdout and stderr go here
};

// Runs every job, at most `parallel` at once; returns each one's exit status (128 + signal when killed).
std::vector<int> run_all(const std::vector<Job>& jobs, int parallel);

}  // namespace aif::cli
