#include "sweep.hpp"

#include <fcntl.h>
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
#include "aif/sim/sweep.hpp"

namespace aif::cli {

namespace fs = std::filesystem;

namespace {

std::string settings_text(const sim::SweepPoint& p, const std::string& base) {
  std::string text = "base=" + base + "\n";
  for (const std::string& o : p.overrides()) text += o + "\n";
  return text;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  fs::rename(tmp, path);
}

// Done: its results file reads back with the fingerprint it stored, and it ran these very settings.
bool point_done(const fs::path& results, const fs::path& settings, const std::string& expected) {
  if (!fs::exists(results) || !fs::exists(settings) || read_file(settings) != expected) return false;
  try {
    analysis::ResultsReader r(results.string());
    const auto stored = r.stored_fingerprint();
    return stored && *stored == r.compute_fingerprint();
  } catch (const std::exception&) {
    return false;
  }
}

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string number(double v) {
  if (std::isnan(v)) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

}  // namespace

CLI::App* add_sweep_command(CLI::App& app, SweepOptions& options) {
  CLI::App* sweep = app.add_subcommand("sweep", "Run the points of a sweep file as separate processes; resumable");
  sweep->add_option("sweep", options.sweep, "Sweep file (YAML): base scenario, axes, sampling, seeds")->required();
  sweep->add_option("-o,--output", options.output, "Output folder (points/, sweep.csv, sweep_summary.csv)")->required();
  sweep->add_option("--jobs", options.jobs, "Points run at once")->check(CLI::PositiveNumber);
  sweep->add_flag("--dry-run", options.dry_run, "Check the sweep and every point's scenario, list the points, run none");
  return sweep;
}

int run_sweep(const SweepOptions& o) {
  const sim::SweepConfig config = sim::load_sweep(o.sweep);
  const std::vector<sim::SweepPoint> points = sim::expand_sweep(config);  // every point validated first
  if (o.dry_run) {
    for (const auto& p : points) {
      std::printf("%s", p.id.c_str());
      for (const std::string& s : p.overrides()) std::printf(" --set %s", s.c_str());
      std::printf("\n");
    }
    std::printf("sweep    %zu points, all valid\n", points.size());
    return 0;
  }
  const fs::path dir = o.output, pdir = dir / "points";
  fs::create_directories(pdir);
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  std::vector<size_t> todo;
  for (size_t i = 0; i < points.size(); ++i) {
    const auto& p = points[i];
    if (!point_done(pdir / (p.id + ".h5"), pdir / (p.id + ".set"), settings_text(p, config.base_path))) todo.push_back(i);
  }
  std::printf("sweep    %zu points (%zu done before, %zu to run, %d at a time)\n", points.size(),
              points.size() - todo.size(), todo.size(), o.jobs);
  std::fflush(stdout);
  std::map<pid_t, size_t> running;
  std::set<size_t> failed;
  size_t next = 0, finished = 0;
  auto launch = [&](size_t i) {
    const auto& p = points[i];
    fs::remove(pdir / (p.id + ".set"));
    fs::remove(pdir / (p.id + ".error"));
    std::vector<std::string> args{self, "run", config.base_path, "-q", "--no-progress", "-o",
                                  (pdir / (p.id + ".h5")).string()};
    for (const std::string& s : p.overrides()) {
      args.push_back("--set");
      args.push_back(s);
    }
    const std::string log = (pdir / (p.id + ".log")).string();
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(self.c_str(), argv.data());
      _exit(127);
    }
    running[pid] = i;
  };
  while (next < todo.size() || !running.empty()) {
    while (next < todo.size() && static_cast<int>(running.size()) < o.jobs) launch(todo[next++]);
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) break;
    const auto it = running.find(pid);
    if (it == running.end()) continue;
    const size_t i = it->second;
    running.erase(it);
    const auto& p = points[i];
    ++finished;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      write_atomically(pdir / (p.id + ".set"), settings_text(p, config.base_path));
      std::printf("  [%zu/%zu] %s done\n", finished, todo.size(), p.id.c_str());
    } else {
      failed.insert(i);
      std::string log = read_file(pdir / (p.id + ".log"));
      if (log.size() > 2000) log = log.substr(log.size() - 2000);
      write_atomically(pdir / (p.id + ".error"),
                       "exit " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + "\n" + log);
      std::printf("  [%zu/%zu] %s FAILED (%s)\n", finished, todo.size(), p.id.c_str(),
                  (pdir / (p.id + ".error")).string().c_str());
    }
    std::fflush(stdout);
  }
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
