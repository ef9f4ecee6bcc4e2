#include "subprocesses.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <stdexcept>

namespace aif::cli {

// Runs the jobs as child processes, `parallel` at a time; returns each one's exit status (stdout and stderr go to
// its log file).
std::vector<int> run_all(const std::vector<Job>& jobs, int parallel) {
  std::vector<int> status(jobs.size(), -1);
  std::map<pid_t, size_t> running;
  size_t next = 0;
  while (next < jobs.size() || !running.empty()) {
    while (next < jobs.size() && static_cast<int>(running.size()) < std::max(1, parallel)) {
      const Job& j = jobs[next];
      const pid_t pid = fork();
      if (pid < 0) throw std::runtime_error("cannot start a simulation: fork failed");
      if (pid == 0) {
        std::FILE* log = std::freopen(j.log.c_str(), "w", stdout);
        if (log) dup2(fileno(stdout), fileno(stderr));
        std::vector<char*> argv;
        for (const auto& a : j.args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        std::perror(argv[0]);
        _exit(127);
      }
      running[pid] = next++;
    }
    int st = 0;
    const pid_t done = waitpid(-1, &st, 0);
    if (done < 0) throw std::runtime_error("lost track of a simulation process");
    const auto it = running.find(done);
    if (it == running.end()) continue;
    status[it->second] = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    running.erase(it);
  }
  return status;
}

}  // namespace aif::cli
