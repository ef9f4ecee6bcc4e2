// One SimGrid simulation in a child process, for tests that need several platforms (SimGrid allows one engine and
// one platform per process). The child constructs the engine with aif::sim::simgrid_config_args(), runs `body`
// (which builds its platform, creates actors and calls Engine::run), sends the numbers it returns to the parent
// through a pipe and exits; the test asserts on them in the parent, where gtest reports failures normally.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <simgrid/s4u/Engine.hpp>

#include "aif/world/platform.hpp"

namespace aif::testing {

inline std::vector<double> run_simulation_in_child(const std::function<std::vector<double>()>& body) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    close(fds[0]);
    int code = 0;
    try {
      static std::vector<std::string> args = [] {
        std::vector<std::string> a{"aif_test_child"};
        for (const std::string& c : aif::sim::simgrid_config_args()) a.push_back(c);
        return a;
      }();
      static std::vector<char*> argv;
      for (std::string& s : args) argv.push_back(s.data());
      argv.push_back(nullptr);
      static int argc = static_cast<int>(args.size());
      new simgrid::s4u::Engine(&argc, argv.data());  // never destroyed: the process ends right after
      const std::vector<double> out = body();
      const size_t n = out.size();
      if (write(fds[1], &n, sizeof n) != static_cast<ssize_t>(sizeof n) ||
          write(fds[1], out.data(), n * sizeof(double)) != static_cast<ssize_t>(n * sizeof(double)))
        code = 4;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "simulation in child process failed: %s\n", e.what());
      code = 3;
    }
    std::fflush(stdout);
    std::fflush(stderr);
    close(fds[1]);
    _exit(code);
  }
  close(fds[1]);
  size_t n = 0;
  std::vector<double> out;
  bool ok = read(fds[0], &n, sizeof n) == static_cast<ssize_t>(sizeof n);
  if (ok) {
    out.resize(n);
    size_t got = 0;
    auto* dst = reinterpret_cast<char*>(out.data());
    while (got < n * sizeof(double)) {
      const ssize_t r = read(fds[0], dst + got, n * sizeof(double) - got);
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    ok = got == n * sizeof(double);
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !ok)
    throw std::runtime_error("the simulation's child process failed (status " + std::to_string(status) + ")");
  return out;
}

}  // namespace aif::testing
