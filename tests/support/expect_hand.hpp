// Checks against values worked out by hand, each printed next to the model's so that a reader of the test log sees
// both; and a check that a call throws std::invalid_argument naming what was wrong.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace aif::testing {

inline void expect_hand(const char* what, double hand, double model, double rel = 1e-12) {
  std::printf("  %-34s hand %-20.10g model %-20.10g\n", what, hand, model);
  EXPECT_NEAR(model, hand, rel * std::max(1.0, std::fabs(hand))) << what;
}

template <class F>
void expect_invalid(F f, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << "no std::invalid_argument (expected: " << fragment << ")";
  } catch (const std::invalid_argument& e) {
    std::printf("  %s\n", e.what());
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

}  // namespace aif::testing
