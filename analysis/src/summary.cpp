#include "aif/analysis/summary.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace aif::analysis {

bool SloTargets::any() const { return std::isfinite(ttft_s) || std::isfinite(tpot_s) || std::isfinite(e2e_s); }

RequestSummaryBuilder::RequestSummaryBuilder(SloTargets slo) : slo_(slo) {}

void RequestSummaryBuilder::add(const RequestRecord& r) {
  ++counts_.requests;
  switch (r.outcome) {
    case Outcome::FINISHED:
      ++counts_.finished;
      break;
    case Outcome::UNFINISHED:
      ++counts_.unfinished;
      break;
    case Outcome::REJECTED:
      ++counts_.rejected;
      break;
    case Outcome::DROPPED:
      ++counts_.dropped;
      break;
  }
  if (std::isfinite(r.arrival_s)) first_arrival_s_ = std::min(first_arrival_s_, r.arrival_s);
  for (double t : {r.arrival_s, r.first_token_s, r.finish_s}) {
    if (std::isfinite(t)) last_time_s_ = std::max(last_time_s_, t);
  }
  if (r.outcome != Outcome::FINISHED) return;

  output_tokens_ += r.generated_tokens;
  input_tokens_ += r.prompt_tokens;
  const double ttft = r.first_token_s - r.arrival_s;
  const double e2e = r.finish_s - r.arrival_s;
  const bool has_tpot = r.generated_tokens > 1;
  const double tpot = has_tpot ? (r.finish_s - r.first_token_s) / (r.generated_tokens - 1) : 0.0;
  // A FINISHED record without its times is a writer bug; it is counted but adds no latency.
  if (std::isfinite(ttft)) ttft_.push_back(ttft);
  if (std::isfinite(e2e)) e2e_.push_back(e2e);
  if (has_tpot && std::isfinite(tpot)) tpot_.push_back(tpot);
  const bool meets = std::isfinite(ttft) && std::isfinite(e2e) && ttft <= slo_.ttft_s && e2e <= slo_.e2e_s &&
                     (!has_tpot || (std::isfinite(tpot) && tpot <= slo_.tpot_s));
  if (meets) ++attained_;
}

RequestSummary RequestSummaryBuilder::result() const {
  RequestSummary s = counts_;
  s.duration_s =
      (std::isfinite(first_arrival_s_) && last_time_s_ > first_arrival_s_) ? last_time_s_ - first_arrival_s_ : 0.0;
  if (s.duration_s > 0.0) {
    s.throughput_rps = static_cast<double>(s.finished) / s.duration_s;
    s.output_tokens_per_s = output_tokens_ / s.duration_s;
    s.input_tokens_per_s = input_tokens_ / s.duration_s;
  }
  s.ttft = latency_stats(ttft_);
  s.tpot = latency_stats(tpot_);
  s.e2e = latency_stats(e2e_);
  if (slo_.any() && s.requests > 0) s.slo_attainment = static_cast<double>(attained_) / static_cast<double>(s.requests);
  return s;
}

RequestSummary summarize_requests(const ResultsReader& reader, const SloTargets& slo) {
  RequestSummaryBuilder builder(slo);
  reader.for_each_request_chunk([&](const std::vector<RequestRecord>& chunk) {
    for (const auto& record : chunk) builder.add(record);
  });
  return builder.result();
}

RequestSummary summarize_requests(const std::vector<RequestRecord>& records, const SloTargets& slo) {
  RequestSummaryBuilder builder(slo);
  for (const auto& record : records) builder.add(record);
  return builder.result();
}

std::vector<SummaryEntry> summary_entries(const RequestSummary& s) {
  std::vector<SummaryEntry> entries = {
      {"requests", static_cast<double>(s.requests), "req"},
      {"requests_finished", static_cast<double>(s.finished), "req"},
      {"requests_unfinished", static_cast<double>(s.unfinished), "req"},
      {"requests_rejected", static_cast<double>(s.rejected), "req"},
      {"requests_dropped", static_cast<double>(s.dropped), "req"},
      {"duration", s.duration_s, "s"},
      {"throughput", s.throughput_rps, "req/s"},
      {"output_tokens_per_s", s.output_tokens_per_s, "tok/s"},
      {"input_tokens_per_s", s.input_tokens_per_s, "tok/s"},
  };
  const std::pair<const char*, const LatencyStats*> latencies[] = {
      {"ttft", &s.ttft}, {"tpot", &s.tpot}, {"e2e", &s.e2e}};
  for (const auto& [prefix, stats] : latencies) {
    const std::string p = prefix;
    entries.push_back({p + "_mean", stats->mean, "s"});
    entries.push_back({p + "_p50", stats->p50, "s"});
    entries.push_back({p + "_p90", stats->p90, "s"});
    entries.push_back({p + "_p99", stats->p99, "s"});
    entries.push_back({p + "_max", stats->max, "s"});
  }
  if (!std::isnan(s.slo_attainment)) entries.push_back({"slo_attainment", s.slo_attainment, "fraction"});
  return entries;
}

std::string format_summary_table(const std::vector<SummaryEntry>& entries) {
  std::vector<std::string> values;
  values.reserve(entries.size());
  size_t name_width = std::string("metric").size();
  size_t value_width = std::string("value").size();
  for (const auto& entry : entries) {
    char text[64];
    // Counts print in full (1000000, not 1e+06); everything else with 6 significant digits.
    if (std::isfinite(entry.value) && entry.value == std::floor(entry.value) && std::fabs(entry.value) < 1e15)
      std::snprintf(text, sizeof text, "%.0f", entry.value);
    else
      std::snprintf(text, sizeof text, "%.6g", entry.value);
    values.emplace_back(text);
    name_width = std::max(name_width, entry.name.size());
    value_width = std::max(value_width, values.back().size());
  }
  std::ostringstream out;
  auto line = [&](const std::string& name, const std::string& value, const std::string& unit) {
    std::string row =
        name + std::string(name_width - name.size() + 2, ' ') + std::string(value_width - value.size(), ' ') + value;
    if (!unit.empty()) row += "  " + unit;
    out << row << '\n';
  };
  line("metric", "value", "unit");
  for (size_t i = 0; i < entries.size(); ++i) line(entries[i].name, values[i], entries[i].unit);
  return out.str();
}

}  // namespace aif::analysis
