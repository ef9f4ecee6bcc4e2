// The facility as the scenario builds it (aifsim topo: topology.hpp): switch tiers above the racks (spines or cores,
// leaves or rail switches, routers), storage beside them, racks of servers below. Before a run it shows the placement
// (which service or job runs on each server, spares, free servers); with a run open, at the cursor time: the
// placement with failed servers in red, rack IT power, power relative to the rack's peak, or, when the run recorded no
// per-rack power, each server's service GPU power per GPU (busy proxy). Tiers' links are coloured by their
// utilization at the cursor when the run recorded it.
#pragma once
#include <QWidget>
#include <optional>

#include "aif/gui/run_data.hpp"
#include "aif/gui/topology.hpp"

namespace aif::gui {

class TopologyView : public QWidget {
  Q_OBJECT
 public:
  enum class Colour { PLACEMENT, POWER, SHARE_OF_PEAK, SERVICE_POWER, FAILURES };
  explicit TopologyView(QWidget* parent = nullptr);
  void set_topology(std::optional<Topology> topology);  // from the scenario (before or after a run)
  void show_run(const RunData* run);                    // not owned; nullptr clears
  void set_cursor(double t_s);
  void set_colour(Colour c);
  QSize sizeHint() const override { return {640, 420}; }
  const std::optional<Topology>& topology() const { return topology_; }
  // What is drawn for a rack at the cursor (tests, tool tips): its power (W) and whether it is down.
  double rack_power_w(int rack) const;
  bool rack_down(int rack) const;
  int down_servers() const;
  // Utilization of a link tier at the cursor (link_util_<tier> series, lower case), NaN when not recorded.
  double tier_utilization(const std::string& tier) const;
  // GPU power per GPU of the service on a server at the cursor (W), NaN when none runs there or none recorded.
  double server_service_power_w(int server) const;
  QString legend_text() const { return legend_; }
  // Spare servers running replacement replicas at the cursor (spares_taken events so far, at most the spares; after
  // a repair the repaired servers are the new spares, drawn where the service was).
  int spares_in_use() const;

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  int racks() const;
  int servers_per_rack() const;
  void index_service_power();
  const RunData* run_ = nullptr;
  std::optional<Topology> topology_;
  double t_s_ = 0;
  Colour colour_ = Colour::PLACEMENT;
  DownState down_;
  std::vector<float> peak_w_;  // per rack over the run
  float max_w_ = 1;
  struct ServicePower {
    const SeriesData* series = nullptr;  // service.<name>.gpu_power of the run
    int gpus = 0;                        // the service's GPUs in the topology
  };
  std::vector<ServicePower> service_power_;  // per service of the topology
  double max_gpu_w_ = 1;  // largest service GPU power per GPU over the run
  QString legend_;
};

}  // namespace aif::gui
