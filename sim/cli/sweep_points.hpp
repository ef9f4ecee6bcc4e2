// What the local (`--jobs N`) and the MPI (`--mpi`) sweep runners share: the expanded sweep, and the child
// `aifsim run` processes that run its points on this machine. Internal to the aifsim binary.
#pragma once
#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "aif/studies/sweep.hpp"
#include "sweep.hpp"

namespace aif::cli {

struct SweepContext {
  sim::SweepConfig config;
  std::vector<sim::SweepPoint> points;
  std::filesystem::path dir, pdir;  // DIR and DIR/points
  std::string self;                 // this aifsim binary, run for each point
  bool no_limits = false;           // pass --no-limits to each point's run (docs/reliability.md)

  std::string settings_text(size_t i) const;  // what DIR/points/<id>.set holds once point i has run
  bool done(size_t i) const;                  // ran these settings before, its results hold a valid fingerprint
};

// A CSV cell: quoted (with doubled quotes) when it holds a comma, a quote or a line break.
std::string csv_cell(const std::string& s);

// Point i's outcome, reported by whichever rank ran it.
struct PointOutcome {
  size_t index = 0;
  bool ok = false;
};

// Child processes running points of one sweep on this machine: DIR/points/<id>.h5 and .log; then .set when the run
// succeeded, .error (exit status and the log's tail) when it did not.
// SIGINT or SIGTERM to the sweep (Ctrl-C, kill, a batch system's time limit) is passed on to the running children
// before the sweep exits (status 130 or 143), so that no orphan run is left writing a point's files; the points done
// so far stay done and the same command resumes.
class PointProcesses {
 public:
  explicit PointProcesses(const SweepContext& sweep);
  ~PointProcesses();
  PointProcesses(const PointProcesses&) = delete;
  PointProcesses& operator=(const PointProcesses&) = delete;
  void launch(size_t i);
  size_t running() const { return running_.size(); }
  // The next child to end (waiting for it when block, else only one already ended), with its files written.
  std::optional<PointOutcome> reap(bool block);

 private:
  const SweepContext& sweep_;
  std::map<pid_t, size_t> running_;
};

// Loads the sweep file and expands its points (loading each point's scenario to check it when check_scenarios);
// creates DIR/points.
SweepContext load_sweep_context(const SweepOptions& options, bool check_scenarios);
// --dry-run: each point with its overrides, then the count.
void list_points(const SweepContext& sweep);
// The points not done before, in order.
std::vector<size_t> pending_points(const SweepContext& sweep);
// "  [k/n] p0003-s1 done" (or FAILED with the .error path), with `where` appended (e.g. " on rank 1").
void print_point_line(size_t finished, size_t total, const SweepContext& sweep, const PointOutcome& o,
                      const std::string& where = "");
// sweep.csv, sweep.h5 and sweep_summary.csv from every point's file; 0 when no point failed, else 1.
int write_sweep_tables(const SweepContext& sweep, const std::vector<size_t>& failed);

// `--mpi` (sweep_mpi.cpp): every rank of `mpirun -np K aifsim sweep ... --mpi` calls it; rank 0 hands out the points
// one at a time as slots free up on any rank (its own included, --jobs slots per rank), the others ask for work, run
// it and report; rank 0 writes the tables. Without MPI at build time it explains that and returns 2.
int run_sweep_mpi(const SweepOptions& options);

}  // namespace aif::cli
