#include "aif/world/platform.hpp"

#include <stdexcept>
#include <string>
#include <unordered_set>

#include <simgrid/kernel/routing/NetPoint.hpp>
#include <simgrid/kernel/routing/NetZoneImpl.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/NetZone.hpp>

namespace aif::sim {

namespace sg4 = simgrid::s4u;
using simgrid::kernel::resource::StandardLinkImpl;
using simgrid::kernel::routing::NetPoint;
using simgrid::kernel::routing::Route;

// Actor stacks of 256 KiB, not SimGrid's 8 MiB: a training job starts one helper actor per (stage, TP rank) for
// each step's all-reduce, and each 8 MiB stack was mapped and unmapped by the kernel (with its page faults), most of
// the system time of a run with jobs (carbon_aware_month.yaml: 137 s -> 75 s, the same fingerprint). The actors run
// no recursion; an overflow hits SimGrid's guard page and stops the run, it cannot corrupt it. Under
// AddressSanitizer, whose redzones make frames larger, the stacks keep SimGrid's default size. (Thread contexts,
// whose stacks ASan would know, made a training test 40 times slower instrumented: more than its 15 minutes.)
#if defined(__SANITIZE_ADDRESS__)
#define AIF_ASAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AIF_ASAN_BUILD 1
#endif
#endif

std::vector<std::string> simgrid_config_args() {
  std::vector<std::string> args{"--cfg=network/model:CM02", "--cfg=network/crosstraffic:0", "--cfg=network/TCP-gamma:0"};
#ifndef AIF_ASAN_BUILD
  args.emplace_back("--cfg=contexts/stack-size:256");
#endif
  return args;
}

sg4::Host* Platform::gpu(int server, int local) const {
  if (server < 0 || server >= servers || local < 0 || local >= gpus_per_server)
    throw std::out_of_range("Platform::gpu(" + std::to_string(server) + ", " + std::to_string(local) +
                            "): the platform has " + std::to_string(servers) + " servers of " +
                            std::to_string(gpus_per_server) + " GPUs");
  return gpus[static_cast<size_t>(server * gpus_per_server + local)];
}

sg4::Link* Platform::link(const models::Hop& hop) const {
  if (hop.link < 0 || hop.link >= static_cast<int>(links.size()))
    throw std::out_of_range("Platform::link: no fabric link " + std::to_string(hop.link));
  sg4::SplitDuplexLink* l = links[static_cast<size_t>(hop.link)];
  return hop.up ? l->get_link_up() : l->get_link_down();
}

void Platform::set_link_state(int link, bool up) {
  if (link < 0 || link >= static_cast<int>(links.size()))
    throw std::out_of_range("Platform::set_link_state: no fabric link " + std::to_string(link));
  fabric->set_link_up(link, up);
  sg4::SplitDuplexLink* l = links[static_cast<size_t>(link)];
  for (sg4::Link* half : {l->get_link_up(), l->get_link_down()}) {
    if (up)
      half->turn_on();
    else
      half->turn_off();
  }
}

namespace {

// The one routing zone of the platform: its netpoints are the GPU and storage hosts, and a route between two of them
// is the fabric's route, each hop mapped to the split-duplex half of its direction.
class FabricZone final : public simgrid::kernel::routing::NetZoneImpl {
 public:
  FabricZone(const std::string& name, const models::Fabric& fabric, uint64_t ecmp_seed)
      : NetZoneImpl(name), fabric_(fabric), ecmp_seed_(ecmp_seed) {
    up_.resize(static_cast<size_t>(fabric.num_links()));
    down_.resize(up_.size());
    latency_.resize(up_.size());
  }

  void add_vertex(const NetPoint* point, models::Fabric::Vertex v) {
    const auto id = static_cast<size_t>(point->id());
    if (vertex_of_.size() <= id) vertex_of_.resize(id + 1, NO_VERTEX);
    vertex_of_[id] = v;
  }

  void add_link(int id, sg4::SplitDuplexLink* link) {
    const auto i = static_cast<size_t>(id);
    up_[i] = link->get_link_up()->get_impl();
    down_[i] = link->get_link_down()->get_impl();
    latency_[i] = link->get_link_up()->get_latency();
  }

  void set_loopback(StandardLinkImpl* loopback, double latency) {
    loopback_ = loopback;
    loopback_latency_ = latency;
  }

  void get_local_route(const NetPoint* src, const NetPoint* dst, Route* into, double* latency) override {
    if (src == dst) {  // SimGrid needs a non-empty route even from a host to itself
      into->link_list_.push_back(loopback_);
      if (latency) *latency += loopback_latency_;
      return;
    }
    const std::vector<models::Hop> hops = fabric_.route(vertex(src), vertex(dst), ecmp_seed_);
    for (const models::Hop& hop : hops) {
      const auto i = static_cast<size_t>(hop.link);
      into->link_list_.push_back(hop.up ? up_[i] : down_[i]);
      if (latency) *latency += latency_[i];
    }
  }

 private:
  static constexpr models::Fabric::Vertex NO_VERTEX = ~models::Fabric::Vertex{0};

  models::Fabric::Vertex vertex(const NetPoint* point) const {
    const auto id = static_cast<size_t>(point->id());
    if (id >= vertex_of_.size() || vertex_of_[id] == NO_VERTEX)
      throw std::logic_error("FabricZone: " + point->get_name() + " is not a host of the fabric");
    return vertex_of_[id];
  }

  const models::Fabric& fabric_;
  const uint64_t ecmp_seed_;
  std::vector<models::Fabric::Vertex> vertex_of_;  // NetPoint id -> fabric vertex
  std::vector<StandardLinkImpl*> up_, down_;       // by fabric link id
  std::vector<double> latency_;
  StandardLinkImpl* loopback_ = nullptr;
  double loopback_latency_ = 0;
};

}  // namespace

Platform build_platform(models::Fabric& fabric, const PlatformOptions& options) {
  if (fabric.num_gpus() == 0) throw std::invalid_argument("build_platform: the fabric has no GPUs");
  if (options.gpu_speeds.empty()) throw std::invalid_argument("build_platform: PlatformOptions.gpu_speeds is empty");
  for (double speed : options.gpu_speeds)
    if (!(speed > 0))
      throw std::invalid_argument("build_platform: PlatformOptions.gpu_speeds must be > 0, got " +
                                  std::to_string(speed));
  if (!(options.storage_speed > 0))
    throw std::invalid_argument("build_platform: PlatformOptions.storage_speed must be > 0, got " +
                                std::to_string(options.storage_speed));
  sg4::Engine* engine = sg4::Engine::get_instance();
  if (engine->get_netzone_root() != nullptr)
    throw std::logic_error("build_platform: the engine already has a platform (one platform per process)");

  // The first zone created becomes the root; SimGrid owns it from here on and deletes it with the engine.
  auto* zone = new FabricZone("fabric", fabric, options.ecmp_seed);
  sg4::NetZone* iface = zone->get_iface();

  Platform platform;
  platform.fabric = &fabric;
  platform.gpus_per_server = fabric.params().gpus_per_server;
  platform.servers = fabric.num_gpus() / platform.gpus_per_server;
  platform.gpus.resize(static_cast<size_t>(fabric.num_gpus()));
  for (int id = 0; id < fabric.num_gpus(); id++) {
    const models::Fabric::Vertex v = fabric.gpu_vertex(id);
    sg4::Host* host = iface->create_host(fabric.node(v).name, options.gpu_speeds);
    host->set_core_count(1);
    if (options.before_seal) options.before_seal(host, id);
    host->seal();
    zone->add_vertex(host->get_netpoint(), v);
    platform.gpus[static_cast<size_t>(id)] = host;
  }
  platform.storage.resize(static_cast<size_t>(fabric.num_storage()));
  for (int id = 0; id < fabric.num_storage(); id++) {
    const models::Fabric::Vertex v = fabric.storage_vertex(id);
    sg4::Host* host = iface->create_host(fabric.node(v).name, options.storage_speed);
    host->seal();
    zone->add_vertex(host->get_netpoint(), v);
    platform.storage[static_cast<size_t>(id)] = host;
  }

  platform.links.resize(static_cast<size_t>(fabric.num_links()));
  std::unordered_set<std::string> names;
  names.reserve(platform.links.size());
  for (int id = 0; id < fabric.num_links(); id++) {
    const models::FabricLink& fl = fabric.link(id);
    std::string name = fabric.node(static_cast<models::Fabric::Vertex>(fl.low)).name + "-" +
                       fabric.node(static_cast<models::Fabric::Vertex>(fl.high)).name;
    if (!names.insert(name).second) name += "#" + std::to_string(id);  // parallel links between the same vertices
    sg4::SplitDuplexLink* l = iface->create_split_duplex_link(name, fl.bandwidth);
    l->set_latency(fl.latency_s)->set_sharing_policy(sg4::Link::SharingPolicy::SHARED);
    l->seal();
    zone->add_link(id, l);
    platform.links[static_cast<size_t>(id)] = l;
    // A link already down in the fabric starts turned off in SimGrid too.
    if (!fabric.link_up(id)) {
      l->get_link_up()->turn_off();
      l->get_link_down()->turn_off();
    }
  }
  const sg4::Link* loopback = engine->link_by_name_or_null("__loopback__");
  if (loopback == nullptr) throw std::logic_error("build_platform: SimGrid created no __loopback__ link");
  zone->set_loopback(loopback->get_impl(), loopback->get_latency());
  iface->seal();
  return platform;
}

}  // namespace aif::sim
