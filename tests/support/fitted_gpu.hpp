// An H100-like GPU power model with round figures, for checks worked out by hand: idle 75 W, decode 380 W (where the
// fitted byte term stops), prefill and TDP 700 W; busy floor 145 W, 1.2 pJ per FLOP, 220 pJ per HBM byte (the fit
// of data/power/ gives 145.0 W, 1.2338 pJ and 218.94 pJ).
#pragma once
#include "aif/models/hardware.hpp"

namespace aif::testing {

// `d` (its name, peaks and bandwidths kept) with those power figures.
inline aif::models::DeviceSpec with_round_h100_power(aif::models::DeviceSpec d) {
  d.tdp_w = 700;
  d.idle_w = 75;
  d.decode_w = 380;
  d.prefill_w = 700;
  d.power_fit = {145, 1.2e-12, 220e-12};
  return d;
}

}  // namespace aif::testing
