// `aifsim sweep SWEEP.yaml -o DIR [--jobs N]`: the points of a sweep (aif/studies/sweep.hpp), each a separate
// `aifsim run` process, N at a time; each writes DIR/points/<id>.h5. Rerunning the same command resumes: a point
// whose results file holds a valid fingerprint and whose settings file matches is skipped. A failed point is recorded
// (DIR/points/<id>.error) and does not stop the others. Then DIR/sweep.csv (one row per point: id, seed, the axes,
// status, every summary metric; the same as HDF5 in DIR/sweep.h5, analysis/sweep_table.hpp) and DIR/sweep_summary.csv (per axis combination: mean and 95 % confidence half-width
// over the seeds). With --mpi (under mpirun) the ranks share the points; DIR must be on a file system they all see.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

namespace aif::cli {

struct SweepOptions {
  std::string sweep;
  std::string output;
  int jobs = 1;
  bool dry_run = false;  // check the file and every point's scenario, list the points, run nothing
  bool mpi = false;      // under mpirun: points spread over the ranks (jobs slots on each), rank 0 hands them out
  bool no_limits = false;  // each point runs with --no-limits
};

CLI::App* add_sweep_command(CLI::App& app, SweepOptions& options);
// 0 when every point ran, 1 when some failed (recorded), 2 for a bad sweep file.
int run_sweep(const SweepOptions& options);

}  // namespace aif::cli
