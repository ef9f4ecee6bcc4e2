#include "sweep.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "aif/analysis/results.hpp"
#include "aif/analysis/stats.hpp"
#include "aif/analysis/sweep_table.hpp"
#include "aif/studies/sweep.hpp"
#include "files.hpp"
#include "sweep_points.hpp"

namespace aif::cli {

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string number(double v) {
  if (std::isnan(v)) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

}  // namespace

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string SweepContext::settings_text(size_t i) const {
  std::string text = "base=" + config.base_path + "\n";
  for (const std::string& o : points[i].overrides()) text += o + "\n";
  return text;
}

bool SweepContext::done(size_t i) const {
  const fs::path results = pdir / (points[i].id + ".h5"), settings = pdir / (points[i].id + ".set");
  if (!fs::exists(results) || !fs::exists(settings) || read_file(settings) != settings_text(i)) return false;
  try {
    analysis::ResultsReader r(results.string());
    const auto meta = r.meta();
    if (const auto partial = meta.find("partial"); partial != meta.end() && partial->second == "1") return false;
    const auto stored = r.stored_fingerprint();
    return stored && *stored == r.compute_fingerprint();
  } catch (const std::exception&) {
    return false;
  }
}

namespace {

// The children a signal handler must pass a stop on to: plain pids, read in the handler (async-signal-safe).
constexpr int MAX_CHILDREN = 1024;
volatile sig_atomic_t g_children[MAX_CHILDREN];
struct sigaction g_previous_int, g_previous_term;

void stop_children_and_exit(int sig) {
  for (int i = 0; i < MAX_CHILDREN; ++i)
    if (g_children[i] > 0) kill(static_cast<pid_t>(g_children[i]), SIGTERM);
  _exit(128 + sig);
}

void track_child(pid_t pid, bool add) {
  for (int i = 0; i < MAX_CHILDREN; ++i) {
    if (add ? g_children[i] == 0 : g_children[i] == pid) {
      g_children[i] = add ? pid : 0;
      return;
    }
  }
}

}  // namespace

PointProcesses::PointProcesses(const SweepContext& sweep) : sweep_(sweep) {
  struct sigaction action {};
  action.sa_handler = stop_children_and_exit;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
}

PointProcesses::~PointProcesses() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

void PointProcesses::launch(size_t i) {
  const sim::SweepPoint& p = sweep_.points.at(i);
  const fs::path& pdir = sweep_.pdir;
  fs::remove(pdir / (p.id + ".set"));
  fs::remove(pdir / (p.id + ".error"));
  std::vector<std::string> args{sweep_.self, "run", sweep_.config.base_path, "-q", "--no-progress", "-o",
                                (pdir / (p.id + ".h5")).string()};
  if (sweep_.no_limits) args.push_back("--no-limits");
  for (const std::string& s : p.overrides()) {
    args.push_back("--set");
    args.push_back(s);
  }
  const std::string log = (pdir / (p.id + ".log")).string();
  if (running_.size() >= static_cast<size_t>(MAX_CHILDREN)) throw std::runtime_error("too many points at once");
  // No stop may land between the fork and the child's tracking (it would be left running).
  sigset_t stops, before;
  sigemptyset(&stops);
  sigaddset(&stops, SIGINT);
  sigaddset(&stops, SIGTERM);
  sigprocmask(SIG_BLOCK, &stops, &before);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    sigprocmask(SIG_SETMASK, &before, nullptr);
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    // A sweep killed outright (SIGKILL, no handler runs) still stops its points: the kernel sends each a SIGTERM,
    // on which `aifsim run` removes its half-written file. The parent may already be gone: then stop here.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(128 + SIGTERM);
    sigprocmask(SIG_SETMASK, &before, nullptr);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(sweep_.self.c_str(), argv.data());
    _exit(127);
  }
  track_child(pid, true);
  running_[pid] = i;
  sigprocmask(SIG_SETMASK, &before, nullptr);
}

std::optional<PointOutcome> PointProcesses::reap(bool block) {
  while (!running_.empty()) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, block ? 0 : WNOHANG);
    if (pid <= 0) return std::nullopt;  // none ended yet (or no child left)
    const auto it = running_.find(pid);
    if (it == running_.end()) continue;  // not one of ours
    const size_t i = it->second;
    running_.erase(it);
    track_child(pid, false);
    const fs::path base = sweep_.pdir / sweep_.points[i].id;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      write_atomically(base.string() + ".set", sweep_.settings_text(i));
      return PointOutcome{i, true};
    }
    std::string log = read_file(base.string() + ".log");
    if (log.size() > 2000) log = log.substr(log.size() - 2000);
    write_atomically(base.string() + ".error",
                     "exit " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + "\n" + log);
    return PointOutcome{i, false};
  }
  return std::nullopt;
}

void print_point_line(size_t finished, size_t total, const SweepContext& sweep, const PointOutcome& o,
                      const std::string& where) {
  const std::string& id = sweep.points[o.index].id;
  if (o.ok) {
    std::printf("  [%zu/%zu] %s done%s\n", finished, total, id.c_str(), where.c_str());
  } else {
    std::printf("  [%zu/%zu] %s FAILED%s (%s)\n", finished, total, id.c_str(), where.c_str(),
                (sweep.pdir / (id + ".error")).string().c_str());
  }
  std::fflush(stdout);
}

SweepContext load_sweep_context(const SweepOptions& o, bool check_scenarios) {
  SweepContext sweep;
  sweep.config = sim::load_sweep(o.sweep);
  sweep.points = sim::expand_sweep(sweep.config, check_scenarios);
  sweep.dir = o.output;
  sweep.pdir = sweep.dir / "points";
  sweep.self = fs::read_symlink("/proc/self/exe").string();
  sweep.no_limits = o.no_limits;
  return sweep;
}

std::vector<size_t> pending_points(const SweepContext& sweep) {
  std::vector<size_t> todo;
  for (size_t i = 0; i < sweep.points.size(); ++i)
    if (!sweep.done(i)) todo.push_back(i);
  return todo;
}

CLI::App* add_sweep_command(CLI::App& app, SweepOptions& options) {
  CLI::App* sweep = app.add_subcommand("sweep", "Run the points of a sweep file as separate processes; resumable");
  sweep->add_option("sweep", options.sweep, "Sweep file (YAML): base scenario, axes, sampling, seeds")->required();
  sweep->add_option("-o,--output", options.output, "Output folder (points/, sweep.csv, sweep_summary.csv)")->required();
  sweep->add_option("--jobs", options.jobs, "Points run at once (on each rank with --mpi)")->check(CLI::PositiveNumber);
  sweep->add_flag("--dry-run", options.dry_run, "Check the sweep and every point's scenario, list the points, run none");
  sweep->add_flag("--no-limits", options.no_limits, "Run each point even beyond the size limits (docs/reliability.md)");
  sweep->add_flag("--mpi", options.mpi,
                  "Under mpirun: spread the points over the ranks, rank 0 handing them out as slots free up");
  return sweep;
}

void list_points(const SweepContext& sweep) {
  for (const auto& p : sweep.points) {
    std::printf("%s", p.id.c_str());
    for (const std::string& s : p.overrides()) std::printf(" --set %s", s.c_str());
    std::printf("\n");
  }
  std::printf("sweep    %zu points, all valid\n", sweep.points.size());
}

int run_sweep(const SweepOptions& o) {
  if (o.mpi) return run_sweep_mpi(o);
  const SweepContext sweep = load_sweep_context(o, true);  // every point's scenario checked first
  if (o.dry_run) {
    list_points(sweep);
    return 0;
  }
  fs::create_directories(sweep.pdir);
  const std::vector<size_t> todo = pending_points(sweep);
  std::printf("sweep    %zu points (%zu done before, %zu to run, %d at a time)\n", sweep.points.size(),
              sweep.points.size() - todo.size(), todo.size(), o.jobs);
  std::fflush(stdout);
  PointProcesses children(sweep);
  std::vector<size_t> failed;
  size_t next = 0, finished = 0;
  while (next < todo.size() || children.running() > 0) {
    while (next < todo.size() && static_cast<int>(children.running()) < o.jobs) children.launch(todo[next++]);
    const auto outcome = children.reap(true);
    if (!outcome) break;
    if (!outcome->ok) failed.push_back(outcome->index);
    print_point_line(++finished, todo.size(), sweep, *outcome);
  }
  return write_sweep_tables(sweep, failed);
}

int write_sweep_tables(const SweepContext& sweep, const std::vector<size_t>& failed_list) {
  const sim::SweepConfig& config = sweep.config;
  const std::vector<sim::SweepPoint>& points = sweep.points;
  const fs::path& dir = sweep.dir;
  const fs::path& pdir = sweep.pdir;
  const std::set<size_t> failed(failed_list.begin(), failed_list.end());
  // The tables, from every point's file (run now or before).
  std::vector<std::string> metrics;
  std::map<std::string, std::string> units;
  std::vector<std::map<std::string, double>> values(points.size());
  std::vector<std::string> status(points.size(), "failed");
  for (size_t i = 0; i < points.size(); ++i) {
    const fs::path results = pdir / (points[i].id + ".h5");
    if (failed.count(i) || !fs::exists(results)) continue;
    try {
      analysis::ResultsReader r(results.string());
      for (const auto& e : r.summary()) {
        if (!values[i].count(e.name) && std::find(metrics.begin(), metrics.end(), e.name) == metrics.end())
          metrics.push_back(e.name);
        values[i][e.name] = e.value;
        units[e.name] = e.unit;
      }
      status[i] = "ok";
    } catch (const std::exception& e) {
      status[i] = std::string("unreadable: ") + e.what();
    }
  }
  std::ostringstream table;
  table << "id,seed";
  for (const auto& axis : config.axes) table << "," << csv_cell(axis.key);
  table << ",status";
  for (const auto& m : metrics) table << "," << csv_cell(m);
  table << "\n";
  for (size_t i = 0; i < points.size(); ++i) {
    table << points[i].id << "," << points[i].seed;
    for (const auto& [key, value] : points[i].values) table << "," << csv_cell(value);
    table << "," << csv_cell(status[i]);
    for (const auto& m : metrics) {
      const auto it = values[i].find(m);
      table << "," << (it == values[i].end() ? "" : number(it->second));
    }
    table << "\n";
  }
  write_atomically(dir / "sweep.csv", table.str());
  analysis::SweepTable h5;
  for (size_t i = 0; i < points.size(); ++i) {
    h5.ids.push_back(points[i].id);
    h5.statuses.push_back(status[i]);
    h5.seeds.push_back(points[i].seed);
  }
  for (size_t a = 0; a < config.axes.size(); ++a) {
    std::vector<std::string> column;
    for (const auto& p : points) column.push_back(p.values[a].second);
    h5.axes.emplace_back(config.axes[a].key, std::move(column));
  }
  for (const auto& m : metrics) {
    std::vector<double> column;
    for (size_t i = 0; i < points.size(); ++i) {
      const auto it = values[i].find(m);
      column.push_back(it == values[i].end() ? std::nan("") : it->second);
    }
    h5.metrics.push_back(m);
    h5.values[m] = std::move(column);
    h5.units[m] = units[m];
  }
  analysis::write_sweep_table((dir / "sweep.h5").string(), h5);
  // Per axis combination: mean and 95 % half-width over its seeds (the points that ran).
  std::ostringstream summary;
  summary << "point,runs";
  for (const auto& axis : config.axes) summary << "," << csv_cell(axis.key);
  for (const auto& m : metrics) summary << "," << csv_cell(m + ".mean") << "," << csv_cell(m + ".ci95");
  summary << "\n";
  for (size_t i = 0; i < points.size();) {
    size_t j = i;
    while (j < points.size() && points[j].index == points[i].index) ++j;
    size_t ok = 0;
    for (size_t k = i; k < j; ++k) ok += status[k] == "ok";
    char id[32];
    std::snprintf(id, sizeof id, "p%04d", points[i].index);
    summary << id << "," << ok;
    for (const auto& [key, value] : points[i].values) summary << "," << csv_cell(value);
    for (const auto& m : metrics) {
      std::vector<double> v;
      for (size_t k = i; k < j; ++k)
        if (status[k] == "ok" && values[k].count(m)) v.push_back(values[k].at(m));
      const analysis::MeanCi ci = analysis::mean_ci95(v);
      summary << "," << number(ci.mean) << "," << number(ci.half_width);
    }
    summary << "\n";
    i = j;
  }
  write_atomically(dir / "sweep_summary.csv", summary.str());
  std::printf("tables   %s (+ sweep.h5), %s; %zu failed\n", (dir / "sweep.csv").string().c_str(),
              (dir / "sweep_summary.csv").string().c_str(), failed.size());
  return failed.empty() ? 0 : 1;
}

}  // namespace aif::cli
