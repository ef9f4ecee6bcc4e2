#include "aif/gui/run_data.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "aif/analysis/stats.hpp"

namespace aif::gui {

namespace {

// At most n evenly spaced order statistics of sorted values (all of them when there are fewer).
std::vector<double> quantiles(std::vector<double> v, size_t n) {
  std::sort(v.begin(), v.end());
  if (v.size() <= n) return v;
  std::vector<double> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(v[(v.size() - 1) * i / (n - 1)]);
  return out;
}

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
    // Latencies of finished requests, per window of arrival time and overall.
    const double end = std::max(run.end_s(), 1e-9);
    const int windows = RunData::LATENCY_WINDOWS;
    std::vector<std::vector<double>> ttft_w(windows), tpot_w(windows), e2e_w(windows);
    std::vector<double> ttft, tpot, e2e;
    reader.for_each_request_chunk([&](const std::vector<analysis::RequestRecord>& chunk) {
      for (const analysis::RequestRecord& q : chunk) {
        if (q.outcome != analysis::Outcome::FINISHED) continue;
        const int w = std::clamp(static_cast<int>(q.arrival_s / end * windows), 0, windows - 1);
        const double a = q.first_token_s - q.arrival_s, e = q.finish_s - q.arrival_s;
        ttft.push_back(a);
        e2e.push_back(e);
        ttft_w[static_cast<size_t>(w)].push_back(a);
        e2e_w[static_cast<size_t>(w)].push_back(e);
        if (q.generated_tokens > 1) {
          const double t = (q.finish_s - q.first_token_s) / (q.generated_tokens - 1);
          tpot.push_back(t);
          tpot_w[static_cast<size_t>(w)].push_back(t);
        }
      }
    });
    for (int w = 0; w < windows; ++w) {
      const size_t i = static_cast<size_t>(w);
      if (ttft_w[i].empty()) continue;
      run.latency.window_mid_s.push_back((w + 0.5) * end / windows);
      run.latency.values["ttft_p50"].push_back(analysis::percentile(ttft_w[i], 50));
      run.latency.values["ttft_p99"].push_back(analysis::percentile(ttft_w[i], 99));
      run.latency.values["tpot_p50"].push_back(tpot_w[i].empty() ? 0 : analysis::percentile(tpot_w[i], 50));
      run.latency.values["tpot_p99"].push_back(tpot_w[i].empty() ? 0 : analysis::percentile(tpot_w[i], 99));
      run.latency.values["e2e_p99"].push_back(analysis::percentile(e2e_w[i], 99));
    }
    run.ttft_s = quantiles(std::move(ttft), RunData::CDF_POINTS);
    run.tpot_s = quantiles(std::move(tpot), RunData::CDF_POINTS);
    run.e2e_s = quantiles(std::move(e2e), RunData::CDF_POINTS);
    // The facility's shape, from the scenario the run came from (absent keys: the scenario defaults of 1 x 1 x 8).
    if (const auto it = run.meta.find("scenario"); it != run.meta.end()) {
      try {
        const YAML::Node facility = YAML::Load(it->second)["facility"];
        run.racks = facility["racks"] ? facility["racks"].as<int>() : 1;
        run.servers_per_rack = facility["servers_per_rack"] ? facility["servers_per_rack"].as<int>() : 1;
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
