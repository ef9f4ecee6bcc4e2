// Small text helpers shared by the CSV readers of sim/ (traces, calibration tables). Private to sim/.
#pragma once
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
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

// A finite decimal number written in full (strtod syntax, nothing after it); false otherwise.
inline bool parse_double(const std::string& text, double& value) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  value = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && errno != ERANGE && std::isfinite(value);
}

// Field checks of one file: every problem is thrown by `fail` (the caller's error type: file, line, column, message).
template <class Fail>
class FieldReader {
 public:
  explicit FieldReader(Fail fail) : fail_(std::move(fail)) {}

  [[noreturn]] void fail(int line, const std::string& column, const std::string& message) const {
    fail_(line, column, message);
    std::abort();  // fail_ throws
  }

  // A number > minimum (open) or >= minimum.
  double number(int line, const std::string& column, const std::string& text, double minimum, bool open) const {
    double value = 0;
    if (!parse_double(text, value)) fail(line, column, "expected a number, found '" + text + "'");
    if (open ? !(value > minimum) : !(value >= minimum)) {
      fail(line, column,
           std::string("expected a number ") + (open ? "> " : ">= ") + format(minimum) + ", found " + text);
    }
    return value;
  }

  int integer(int line, const std::string& column, const std::string& text, int minimum) const {
    if (text.empty()) fail(line, column, "expected a whole number, found an empty field");
    if (text[0] == '-' && text.size() > 1 && text.find_first_not_of("0123456789", 1) == std::string::npos)
      fail(line, column, "expected a whole number >= " + std::to_string(minimum) + ", found the negative " + text);
    if (text.find_first_not_of("0123456789") != std::string::npos)
      fail(line, column, "expected a whole number (digits only), found '" + text + "'");
    if (text.size() > 9) fail(line, column, "value " + text + " is too large (at most 999999999)");
    const int value = std::stoi(text);
    if (value < minimum)
      fail(line, column, "expected a whole number >= " + std::to_string(minimum) + ", found " + text);
    return value;
  }

  static std::string format(double v) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%g", v);
    return buffer;
  }

 private:
  Fail fail_;
};

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

// Reads exactly `count` digits at s[pos...] (dates and times in traces and signals); false if any is not a digit.
inline bool digits(const std::string& s, size_t pos, size_t count, int64_t& value) {
  if (pos + count > s.size()) return false;
  value = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    value = value * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace aif::sim::csv
