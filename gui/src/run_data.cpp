#include "aif/gui/run_data.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "aif/analysis/latency_windows.hpp"

namespace aif::gui {

namespace {

// "rack/3" -> ("rack", 3); anything else -> ("", -1).
std::pair<std::string, int> unit_of(const std::string& target) {
  const size_t slash = target.find('/');
  if (slash == std::string::npos) return {"", -1};
  try {
    size_t used = 0;
    const int index = std::stoi(target.substr(slash + 1), &used);
    if (slash + 1 + used != target.size()) return {"", -1};
    return {target.substr(0, slash), index};
  } catch (const std::exception&) {
    return {"", -1};
  }
}

// Incident targets may be a list ("rack/1, rack/2").
std::vector<std::string> split_targets(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream s(text);
  for (std::string part; std::getline(s, part, ',');) {
    part.erase(0, part.find_first_not_of(" []"));
    part.erase(part.find_last_not_of(" []") + 1);
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

}  // namespace

const SeriesData* RunData::find(const std::string& name) const {
  for (const SeriesData& s : series)
    if (s.name == name) return &s;
  return nullptr;
}

size_t RunData::sample_at(double t) const {
  if (time_s.empty()) return 0;
  const auto it = std::upper_bound(time_s.begin(), time_s.end(), t);
  return it == time_s.begin() ? 0 : static_cast<size_t>(it - time_s.begin()) - 1;
}

namespace {

// p50 / p99 of each non-empty window (an empty window gives no point: the line joins its neighbours).
LatencyOverTime windows_of(const analysis::LatencyWindows& lw) {
  using analysis::E2E;
  using analysis::TPOT;
  using analysis::TTFT;
  LatencyOverTime out;
  for (int w = 0; w < lw.windows; ++w) {
    auto at = [&](analysis::LatencyMetric m, double p) {
      const analysis::QuantileSketch& sk = lw.window_sketch[m][static_cast<size_t>(w)];
      return sk.count() ? sk.quantile(p) : std::nan("");
    };
    if (lw.window_sketch[TTFT][static_cast<size_t>(w)].count() == 0) continue;
    out.window_mid_s.push_back(lw.window_mid(w));
    out.values["ttft_p50"].push_back(at(TTFT, 50));
    out.values["ttft_p99"].push_back(at(TTFT, 99));
    out.values["tpot_p50"].push_back(at(TPOT, 50));
    out.values["tpot_p99"].push_back(at(TPOT, 99));
    out.values["e2e_p99"].push_back(at(E2E, 99));
  }
  out.window_s = lw.width();
  return out;
}

}  // namespace

std::optional<LatencyOverTime> latency_over_time(const std::string& path, double from_s, double to_s, int windows) {
  try {
    const analysis::ResultsReader reader(path);
    return windows_of(analysis::latency_windows(reader, windows, 0, analysis::ResultsReader::DEFAULT_READ_ROWS,
                                                from_s, to_s));
  } catch (const std::exception&) {
    return std::nullopt;  // the file changed or went away since it was opened: keep the windows on screen
  }
}

std::optional<RunData> load_run(const std::string& path, std::string* error) {
  try {
    const analysis::ResultsReader reader(path);
    RunData run;
    run.path = path;
    run.meta = reader.meta();
    run.partial = run.meta.count("partial") && run.meta.at("partial") == "1";
    run.summary = reader.summary();
    run.time_s = reader.series_time();
    for (const analysis::SeriesSpec& spec : reader.series())
      run.series.push_back({spec.name, spec.unit, spec.description, reader.series_values(spec.name)});
    run.events = reader.events();
    run.rack_power = reader.rack_power();
    // Latencies of finished requests per window of arrival time and overall: the HTML report's own pass (bounded
    // memory whatever the number of requests).
    const analysis::LatencyWindows lw =
        analysis::latency_windows(reader, RunData::LATENCY_WINDOWS, RunData::CDF_POINTS);
    using analysis::E2E;
    using analysis::TPOT;
    using analysis::TTFT;
    run.latency = windows_of(lw);
    run.ttft_s = lw.cdf_values(TTFT, RunData::CDF_POINTS);
    run.tpot_s = lw.cdf_values(TPOT, RunData::CDF_POINTS);
    run.e2e_s = lw.cdf_values(E2E, RunData::CDF_POINTS);
    // The facility's shape, from the scenario the run came from (absent keys: the scenario defaults of 2 racks x 4
    // servers x 8 GPUs, FacilityConfig in sim/scenario/include/aif/scenario/scenario.hpp).
    if (const auto it = run.meta.find("scenario"); it != run.meta.end()) {
      try {
        const YAML::Node facility = YAML::Load(it->second)["facility"];
        run.racks = facility["racks"] ? facility["racks"].as<int>() : 2;
        run.servers_per_rack = facility["servers_per_rack"] ? facility["servers_per_rack"].as<int>() : 4;
        run.gpus_per_server = facility["gpus_per_server"] ? facility["gpus_per_server"].as<int>() : 8;
      } catch (const YAML::Exception&) {
        run.racks = run.servers_per_rack = run.gpus_per_server = 0;
      }
    }
    if (run.rack_power && run.racks != static_cast<int>(run.rack_power->racks()))
      run.racks = static_cast<int>(run.rack_power->racks());
    return run;
  } catch (const std::exception& e) {
    if (error) *error = path + ": " + e.what();
    return std::nullopt;
  }
}

DownState down_at(const RunData& run, double t) {
  DownState s;
  s.rack_down.assign(static_cast<size_t>(std::max(run.racks, 0)), false);
  s.server_down.assign(static_cast<size_t>(std::max(run.racks * run.servers_per_rack, 0)), false);
  std::set<std::string> down;  // targets failed and not yet back at t
  for (const analysis::EventRecord& e : run.events) {
    if (e.time_s > t) break;
    const bool start = e.kind == "failure" || e.kind == "incident_start";
    const bool end = e.kind == "repair_done" || e.kind == "incident_end";
    if (!start && !end) continue;
    for (const std::string& target : split_targets(e.target)) {
      if (start) down.insert(target);
      else down.erase(target);
    }
  }
  for (const std::string& target : down) {
    const auto [kind, index] = unit_of(target);
    if (index < 0) continue;
    if ((kind == "rack" || kind == "pdu" || kind == "cooling") && index < run.racks) {
      s.rack_down[static_cast<size_t>(index)] = true;
    } else if ((kind == "server" || kind == "host") && static_cast<size_t>(index) < s.server_down.size()) {
      s.server_down[static_cast<size_t>(index)] = true;
    } else if (kind == "gpu" && run.gpus_per_server > 0) {
      const size_t server = static_cast<size_t>(index / run.gpus_per_server);
      if (server < s.server_down.size()) s.server_down[server] = true;
    }
  }
  return s;
}

std::string series_csv(const RunData& run) {
  std::ostringstream out;
  out.precision(10);
  out << "time_s";
  for (const SeriesData& s : run.series) out << "," << s.name << " [" << s.unit << "]";
  out << "\n";
  for (size_t i = 0; i < run.time_s.size(); ++i) {
    out << run.time_s[i];
    for (const SeriesData& s : run.series) {
      out << ",";
      if (i < s.values.size() && !std::isnan(s.values[i])) out << s.values[i];
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace aif::gui
