// Bulk data movement over the fabric for the serving side (private to sim/world): a KV cache going from a prefill
// replica to a decode replica, model weights coming from storage when a replica starts. Each transfer is a set of
// SimGrid flows started together (one per GPU pair), so it shares links with every other flow on the fabric.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace simgrid::s4u {
class Host;
}

namespace aif::sim {

struct Flow {
  simgrid::s4u::Host* src;
  simgrid::s4u::Host* dst;
  double bytes;
};

// Start the flows at the current simulated time (from a timer callback or an actor); `done(start_s, end_s)` runs
// once the last one has arrived, in an actor's context. A transfer with no bytes to move still completes through
// the callback, after the routes' latency. Runs as one short-lived actor named `name`.
void start_transfer(const std::string& name, std::vector<Flow> flows, std::function<void(double, double)> done);

}  // namespace aif::sim
