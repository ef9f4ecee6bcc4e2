// The error a reader of user input throws for one bad file: the tests of every reader check its file, line, key and
// message, so a reader that accepts the file is a failure of the test, not an exception that escapes it.
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "aif/scenario/scenario.hpp"

namespace aif::testing {

template <class Read>
aif::sim::ScenarioError error_of_reading(const std::string& path, Read read) {
  try {
    read(path);
    ADD_FAILURE() << path << " was read without error";
  } catch (const aif::sim::ScenarioError& e) {
    return e;
  }
  return aif::sim::ScenarioError("", -1, "", "no error");
}

}  // namespace aif::testing
