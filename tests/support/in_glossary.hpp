// Every summary metric and every series a results file holds has a definition in the glossary (what the report, the
// GUI and docs/glossary.md show): a metric added without one fails the scenario test that writes it.
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "aif/analysis/glossary.hpp"
#include "aif/analysis/results.hpp"

namespace aif::testing {

inline void expect_every_name_in_the_glossary(const analysis::ResultsReader& r, const std::string& what) {
  for (const analysis::SummaryEntry& e : r.summary())
    EXPECT_NE(analysis::glossary_entry(e.name), nullptr) << what << ": summary metric " << e.name << " is not in "
                                                         << "analysis/src/glossary_entries.inc";
  for (const analysis::SeriesSpec& s : r.series())
    EXPECT_NE(analysis::glossary_entry(s.name, analysis::GlossaryKind::SERIES), nullptr)
        << what << ": series " << s.name << " is not in analysis/src/glossary_entries.inc";
}

}  // namespace aif::testing
