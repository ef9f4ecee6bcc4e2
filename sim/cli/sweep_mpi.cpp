// `aifsim sweep ... --mpi` under mpirun: the points of one sweep spread over MPI ranks with dynamic load balancing.
// Rank 0 decides what is left to run (resume: the same fingerprint check as a local sweep), hands out one point per
// free slot as ranks ask, runs points itself in its own slots, and writes the tables once every point has reported.
// Each point is still a child `aifsim run` process (one SimGrid engine per process); ranks exchange only indices.
#include <cstdio>
#include <iostream>

#include "aif/scenario/scenario.hpp"
#include "sweep_points.hpp"

#ifdef AIF_HAVE_MPI
#include <mpi.h>

#include <chrono>
#include <thread>
#endif

namespace aif::cli {

#ifndef AIF_HAVE_MPI

int run_sweep_mpi(const SweepOptions&) {
  std::cerr << "error: --mpi: this aifsim was built without MPI (install libopenmpi-dev and reconfigure); "
               "run the sweep with --jobs N on one machine instead\n";
  return 2;
}

#else

namespace {

// A worker's message to rank 0: "this slot is free", with the point it just finished (index -1: none yet).
constexpr int TAG_READY = 1;
// Rank 0's answer to each READY: a point index to run, or -1: no more work for that slot.
constexpr int TAG_ASSIGN = 2;
constexpr int NO_POINT = -1;

struct MpiSession {
  MpiSession() { MPI_Init(nullptr, nullptr); }
  ~MpiSession() { MPI_Finalize(); }
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
};

// Polling, not blocking: rank 0 and the workers both wait on two things at once, MPI messages and child processes.
void pause_briefly() { std::this_thread::sleep_for(std::chrono::milliseconds(5)); }

std::vector<size_t> coordinate(const SweepContext& sweep, const std::vector<size_t>& todo, int jobs, int ranks) {
  PointProcesses children(sweep);
  std::vector<size_t> failed;
  size_t next = 0, finished = 0;
  // Every worker slot ends with exactly one NO_POINT answer; the run is over when all have had theirs.
  const long worker_slots = static_cast<long>(ranks - 1) * jobs;
  long slots_stopped = 0;
  auto record = [&](const PointOutcome& o, int rank) {
    if (!o.ok) failed.push_back(o.index);
    print_point_line(++finished, todo.size(), sweep, o, " on rank " + std::to_string(rank));
  };
  while (finished < todo.size() || slots_stopped < worker_slots || children.running() > 0) {
    bool busy = false;
    while (next < todo.size() && static_cast<int>(children.running()) < jobs) {
      children.launch(todo[next++]);
      busy = true;
    }
    if (const auto o = children.reap(false)) {
      record(*o, 0);
      busy = true;
    }
    int arrived = 0;
    MPI_Status status;
    MPI_Iprobe(MPI_ANY_SOURCE, TAG_READY, MPI_COMM_WORLD, &arrived, &status);
    if (arrived) {
      int report[2];  // finished point (or -1), its success
      MPI_Recv(report, 2, MPI_INT, status.MPI_SOURCE, TAG_READY, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      if (report[0] >= 0) record(PointOutcome{static_cast<size_t>(report[0]), report[1] != 0}, status.MPI_SOURCE);
      int assign = NO_POINT;
      if (next < todo.size()) {
        assign = static_cast<int>(todo[next++]);
      } else {
        ++slots_stopped;
      }
      MPI_Send(&assign, 1, MPI_INT, status.MPI_SOURCE, TAG_ASSIGN, MPI_COMM_WORLD);
      busy = true;
    }
    if (!busy) pause_briefly();
  }
  return failed;
}

void work(const SweepContext& sweep, int jobs) {
  PointProcesses children(sweep);
  int awaiting = 0;  // READY messages sent and not answered yet
  auto ask = [&](int finished_index, bool ok) {
    const int report[2] = {finished_index, ok ? 1 : 0};
    MPI_Send(report, 2, MPI_INT, 0, TAG_READY, MPI_COMM_WORLD);
    ++awaiting;
  };
  for (int s = 0; s < jobs; ++s) ask(NO_POINT, false);
  while (awaiting > 0 || children.running() > 0) {
    bool busy = false;
    int arrived = 0;
    MPI_Iprobe(0, TAG_ASSIGN, MPI_COMM_WORLD, &arrived, MPI_STATUS_IGNORE);
    if (arrived) {
      int assign = NO_POINT;
      MPI_Recv(&assign, 1, MPI_INT, 0, TAG_ASSIGN, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      --awaiting;
      if (assign >= 0) children.launch(static_cast<size_t>(assign));
      busy = true;
    }
    if (const auto o = children.reap(false)) {
      ask(static_cast<int>(o->index), o->ok);
      busy = true;
    }
    if (!busy) pause_briefly();
  }
}

}  // namespace

int run_sweep_mpi(const SweepOptions& o) {
  MpiSession mpi;
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  // Every rank reads the sweep (rank 0 also validates every point); all go on only if all could. A message is
  // printed once: rank 0's, or a worker's when only that worker failed (e.g. the file is not on its file system).
  SweepContext sweep;
  int code = 0;
  std::string error;
  try {
    sweep = load_sweep_context(o, rank == 0);
    if (rank == 0 && !o.dry_run) std::filesystem::create_directories(sweep.pdir);
  } catch (const sim::ScenarioError& e) {
    error = e.what();
    code = 2;
  } catch (const std::exception& e) {
    error = e.what();
    code = 1;
  }
  int rank0_code = code, worst = 0;
  MPI_Bcast(&rank0_code, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Allreduce(&code, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (code != 0 && (rank == 0 || rank0_code == 0))
    std::cerr << "error: " << (rank == 0 ? "" : "rank " + std::to_string(rank) + ": ") << error << "\n";
  if (worst != 0) return worst;
  if (o.dry_run) {
    if (rank == 0) list_points(sweep);
    return 0;
  }
  if (rank != 0) {
    work(sweep, o.jobs);
    return 0;
  }
  const std::vector<size_t> todo = pending_points(sweep);
  std::printf("sweep    %zu points (%zu done before, %zu to run, %d at a time on each of %d MPI ranks)\n",
              sweep.points.size(), sweep.points.size() - todo.size(), todo.size(), o.jobs, ranks);
  std::fflush(stdout);
  const std::vector<size_t> failed = coordinate(sweep, todo, o.jobs, ranks);
  return write_sweep_tables(sweep, failed);
}

#endif

}  // namespace aif::cli
