#include "transfer.hpp"

#include <cmath>
#include <cstdint>
#include <stdexcept>

#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Comm.hpp>
#include <simgrid/s4u/Engine.hpp>

namespace aif::sim {

namespace sg4 = simgrid::s4u;

void start_transfer(const std::string& name, std::vector<Flow> flows, std::function<void(double, double)> done) {
  if (flows.empty()) throw std::invalid_argument("transfer " + name + ": no flows");
  for (const Flow& f : flows)
    if (!f.src || !f.dst || !(f.bytes >= 0)) throw std::invalid_argument("transfer " + name + ": bad flow");
  sg4::Host* where = flows.front().src;
  sg4::Actor::create(name, where, [flows = std::move(flows), done = std::move(done)] {
    const double start = sg4::Engine::get_clock();
    std::vector<sg4::CommPtr> comms;
    comms.reserve(flows.size());
    // SimGrid moves whole bytes; a flow's share of a transfer (bytes / TP) need not be one, so round to the nearest
    // on purpose, as the collectives and the training job do.
    for (const Flow& f : flows)
      comms.push_back(sg4::Comm::sendto_async(f.src, f.dst, static_cast<uint64_t>(std::llround(f.bytes))));
    sg4::Comm::wait_all(comms);
    done(start, sg4::Engine::get_clock());
  });
}

}  // namespace aif::sim
