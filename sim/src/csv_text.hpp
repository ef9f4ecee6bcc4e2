// Small text helpers shared by the CSV readers of sim/ (traces, calibration tables). Private to sim/.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace aif::sim::csv {

inline std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t") - a + 1);
}

// Fields of one CSV line, each trimmed (no quoting: the formats read here have none).
inline std::vector<std::string> split_commas(const std::string& line) {
  std::vector<std::string> fields;
  size_t start = 0;
  for (;;) {
    const size_t comma = line.find(',', start);
    fields.push_back(trim(line.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    if (comma == std::string::npos) return fields;
    start = comma + 1;
  }
}

// Calendar arithmetic for the date-times in traces and signal files (proleptic Gregorian).
inline bool leap_year(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

inline int days_in_month(int64_t y, int64_t m) {
  static const int DAYS[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap_year(y) ? 29 : DAYS[m - 1];
}

// Days from 0001-01-01 to y-m-d: whole years (365 each plus leap days), then whole months of year y, then days.
inline int64_t day_number(int64_t y, int64_t m, int64_t d) {
  const int64_t past_years = y - 1;
  int64_t days = past_years * 365 + past_years / 4 - past_years / 100 + past_years / 400;
  for (int64_t month = 1; month < m; ++month) days += days_in_month(y, month);
  return days + d - 1;
}

}  // namespace aif::sim::csv
