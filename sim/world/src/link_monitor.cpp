#include "link_monitor.hpp"

#include <algorithm>
#include <cctype>

#include <simgrid/plugins/load.h>
#include <simgrid/s4u/Link.hpp>

namespace aif::sim {

void init_link_load_plugin() { sg_link_load_plugin_init(); }

namespace {

// Tiers shared by many flows, where congestion happens and a per-link series is worth keeping. NVLink and NIC
// links belong to one GPU each: their tier aggregates say enough, and there can be 200,000 of them.
bool shared_tier(models::LinkTier tier) {
  return tier != models::LinkTier::NVLINK && tier != models::LinkTier::NIC;
}

}  // namespace

std::string tier_name(models::LinkTier tier) {
  std::string name = models::to_string(tier);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

LinkMonitor::LinkMonitor(const Platform& platform) {
  const models::Fabric& fabric = *platform.fabric;
  std::vector<bool> present(8, false);
  for (int id = 0; id < fabric.num_links(); ++id) present[static_cast<size_t>(fabric.link(id).tier)] = true;
  std::vector<int> tier_index(8, -1);
  for (size_t t = 0; t < present.size(); ++t)
    if (present[t]) {
      tier_index[t] = static_cast<int>(tiers_.size());
      tiers_.push_back(static_cast<models::LinkTier>(t));
    }
  halves_.reserve(static_cast<size_t>(2 * fabric.num_links()));
  for (int id = 0; id < fabric.num_links(); ++id) {
    const models::FabricLink& fl = fabric.link(id);
    for (bool up : {true, false}) {
      simgrid::s4u::Link* l = platform.link(models::Hop{id, up});
      sg_link_load_track(l);
      Half h;
      h.link = l;
      h.id = id;
      h.up = up;
      h.bandwidth = fl.bandwidth;
      h.keep_series = shared_tier(fl.tier);
      halves_.push_back(std::move(h));
      tier_of_half_.push_back(tier_index[static_cast<size_t>(fl.tier)]);
    }
  }
}

std::vector<analysis::SeriesSpec> LinkMonitor::series() const {
  std::vector<analysis::SeriesSpec> out;
  for (models::LinkTier t : tiers_) {
    const std::string name = tier_name(t);
    out.push_back({"link_util_" + name, "1", std::string("mean utilization of the ") + name + " links (both directions)"});
    out.push_back({"link_util_" + name + "_max", "1", std::string("utilization of the busiest ") + name + " link half"});
  }
  return out;
}

std::vector<double> LinkMonitor::sample(double now) {
  const double interval = now - last_;
  std::vector<double> bytes(tiers_.size(), 0), capacity(tiers_.size(), 0), peak(tiers_.size(), 0);
  for (size_t i = 0; i < halves_.size(); ++i) {
    Half& h = halves_[i];
    const double b = sg_link_get_cum_load(h.link);
    sg_link_load_reset(h.link);
    const auto t = static_cast<size_t>(tier_of_half_[i]);
    bytes[t] += b;
    capacity[t] += h.bandwidth;
    h.bytes += b;
    if (interval > 0 && b > 0) {
      const double util = b / (interval * h.bandwidth);
      peak[t] = std::max(peak[t], util);
      h.peak_util = std::max(h.peak_util, util);
      if (h.keep_series) h.series.emplace_back(samples_, static_cast<float>(util));
    }
  }
  std::vector<double> values;
  for (size_t t = 0; t < tiers_.size(); ++t) {
    values.push_back(interval > 0 ? bytes[t] / (interval * capacity[t]) : 0.0);
    values.push_back(peak[t]);
  }
  last_ = now;
  ++samples_;
  return values;
}

std::vector<LinkMonitor::LinkTotal> LinkMonitor::busiest(size_t count) const {
  std::vector<const Half*> order;
  for (const Half& h : halves_)
    if (h.bytes > 0 && h.keep_series) order.push_back(&h);
  std::sort(order.begin(), order.end(), [](const Half* a, const Half* b) {
    if (a->bytes != b->bytes) return a->bytes > b->bytes;
    return a->id != b->id ? a->id < b->id : a->up > b->up;
  });
  std::vector<LinkTotal> out;
  for (size_t i = 0; i < std::min(count, order.size()); ++i)
    out.push_back({order[i]->id, order[i]->up, order[i]->bytes, order[i]->peak_util});
  return out;
}

std::vector<double> LinkMonitor::series_of(int link, bool up) const {
  std::vector<double> out(static_cast<size_t>(samples_), 0.0);
  const Half& h = halves_.at(static_cast<size_t>(2 * link + (up ? 0 : 1)));
  for (const auto& [sample, util] : h.series) out[static_cast<size_t>(sample)] = util;
  return out;
}

std::vector<LinkMonitor::TierTotal> LinkMonitor::tier_totals(double end) const {
  std::vector<TierTotal> out;
  for (size_t t = 0; t < tiers_.size(); ++t) {
    TierTotal total{tiers_[t], 0, 0, 0};
    double capacity = 0;
    for (size_t i = 0; i < halves_.size(); ++i) {
      if (tier_of_half_[i] != static_cast<int>(t)) continue;
      total.bytes += halves_[i].bytes;
      capacity += halves_[i].bandwidth;
      if (halves_[i].up) ++total.links;
    }
    total.mean_util = end > 0 ? total.bytes / (end * capacity) : 0;
    out.push_back(total);
  }
  return out;
}

}  // namespace aif::sim
