#include "aif/inputs/units.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <sstream>
#include <utility>
#include <vector>

namespace aif::sim::units {
namespace {

// One family of units: each suffix with its factor to the SI base unit.
struct UnitTable {
  const char* quantity;  // "a duration"
  const char* example;   // "'90s' or '2h'"
  std::vector<std::pair<std::string, double>> units;
};

std::string unit_list(const UnitTable& table) {
  std::string list;
  for (const auto& [suffix, factor] : table.units) {
    (void)factor;
    if (!list.empty()) list += ", ";
    list += suffix;
  }
  return list;
}

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

// Length of the decimal number at the start of `text` ([+-]digits[.digits][e[+-]digits]); 0 if there is none.
// Written by hand so that "nan", "inf" and hex floats, which strtod accepts, are not numbers here.
size_t scan_number(const std::string& text) {
  size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  size_t digits = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++digits;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++digits;
  }
  if (digits == 0) return 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    size_t j = i + 1;
    if (j < text.size() && (text[j] == '+' || text[j] == '-')) ++j;
    const size_t exp_start = j;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
    if (j > exp_start) i = j;  // "5e" leaves the 'e' to the unit, where it is rejected
  }
  return i;
}

double to_double(const std::string& number) {
  // from_chars is locale-independent (strtod would read "1,5" in some locales); it rejects a leading '+'.
  const size_t skip = (!number.empty() && number[0] == '+') ? 1 : 0;
  double value = 0;
  const auto [end, error] = std::from_chars(number.data() + skip, number.data() + number.size(), value);
  if (error != std::errc() || end != number.data() + number.size() || !std::isfinite(value)) {
    throw std::invalid_argument("'" + number + "' is not a finite number");
  }
  return value;
}

double parse_with(const UnitTable& table, const std::string& raw) {
  const std::string text = trim(raw);
  const std::string valid = " (valid units: " + unit_list(table) + ")";
  const size_t n = scan_number(text);
  if (text.empty() || n == 0) {
    throw std::invalid_argument(std::string("expected ") + table.quantity + " with a unit, e.g. " + table.example +
                                ", found '" + raw + "'" + valid);
  }
  double value = 0;
  try {
    value = to_double(text.substr(0, n));
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string(e.what()) + valid);
  }
  const std::string unit = trim(text.substr(n));
  if (unit.empty()) {
    throw std::invalid_argument(std::string("expected ") + table.quantity + " with a unit, e.g. " + table.example +
                                ", found the plain number '" + raw + "'" + valid);
  }
  for (const auto& [suffix, factor] : table.units) {
    if (unit == suffix) {
      const double si = value * factor;
      if (!std::isfinite(si)) throw std::invalid_argument("'" + raw + "' is out of range");
      return si;
    }
  }
  throw std::invalid_argument(std::string("unknown unit '") + unit + "' in '" + raw + "': expected " + table.quantity +
                              valid);
}

const UnitTable& duration_table() {
  static const UnitTable table{"a duration",
                               "'90s' or '2h'",
                               {{"ns", 1e-9},
                                {"us", 1e-6},
                                {"µs", 1e-6},
                                {"ms", 1e-3},
                                {"s", 1.0},
                                {"min", 60.0},
                                {"h", 3600.0},
                                {"d", 86400.0}}};
  return table;
}

}  // namespace

double parse_duration(const std::string& text) { return parse_with(duration_table(), text); }

double parse_power(const std::string& text) {
  static const UnitTable table{"a power", "'700W' or '1.2MW'", {{"W", 1.0}, {"kW", 1e3}, {"MW", 1e6}, {"GW", 1e9}}};
  return parse_with(table, text);
}

double parse_bandwidth(const std::string& text) {
  // Bits per second are divided by 8: "400Gbps" is 50e9 bytes/s. Byte prefixes are decimal, as in datasheets.
  static const UnitTable table{
      "a bandwidth",
      "'400Gbps' or '3.35TB/s'",
      {{"bps", 1.0 / 8},       {"Kbps", 1e3 / 8},  {"kbps", 1e3 / 8}, {"Mbps", 1e6 / 8}, {"Gbps", 1e9 / 8},
       {"Tbps", 1e12 / 8},     {"b/s", 1.0 / 8},   {"Kb/s", 1e3 / 8}, {"kb/s", 1e3 / 8}, {"Mb/s", 1e6 / 8},
       {"Gb/s", 1e9 / 8},      {"Tb/s", 1e12 / 8}, {"B/s", 1.0},      {"KB/s", 1e3},     {"kB/s", 1e3},
       {"MB/s", 1e6},          {"GB/s", 1e9},      {"TB/s", 1e12},    {"KiB/s", 1024.0}, {"MiB/s", 1048576.0},
       {"GiB/s", 1073741824.0}}};
  return parse_with(table, text);
}

double parse_bytes(const std::string& text) {
  static const UnitTable table{"a size",
                               "'80GB' or '512MiB'",
                               {{"B", 1.0},
                                {"KB", 1e3},
                                {"kB", 1e3},
                                {"MB", 1e6},
                                {"GB", 1e9},
                                {"TB", 1e12},
                                {"PB", 1e15},
                                {"KiB", 1024.0},
                                {"MiB", 1048576.0},
                                {"GiB", 1073741824.0},
                                {"TiB", 1099511627776.0}}};
  return parse_with(table, text);
}

double parse_flops(const std::string& text) {
  static const UnitTable table = [] {
    UnitTable t{"a compute rate", "'989TFLOPS' or '312 TFLOP/s'", {}};
    const std::vector<std::pair<std::string, double>> prefixes = {{"", 1.0},  {"k", 1e3},  {"K", 1e3},  {"M", 1e6},
                                                                  {"G", 1e9}, {"T", 1e12}, {"P", 1e15}, {"E", 1e18}};
    for (const auto& [prefix, factor] : prefixes) t.units.emplace_back(prefix + "FLOPS", factor);
    for (const auto& [prefix, factor] : prefixes) t.units.emplace_back(prefix + "FLOP/s", factor);
    return t;
  }();
  return parse_with(table, text);
}

double parse_rate(const std::string& text) {
  // "N/<duration unit>" or "N req/<duration unit>": events per that unit of time.
  static const UnitTable table = [] {
    UnitTable t{"a rate", "'5/s' or '300/min'", {}};
    for (const char* prefix : {"/", "req/"}) {
      for (const auto& [suffix, seconds] : duration_table().units) t.units.emplace_back(prefix + suffix, 1.0 / seconds);
    }
    return t;
  }();
  return parse_with(table, text);
}

double parse_energy(const std::string& text) {
  static const UnitTable table{"an energy",
                               "'10kWh' or '5MJ'",
                               {{"J", 1.0},
                                {"kJ", 1e3},
                                {"MJ", 1e6},
                                {"GJ", 1e9},
                                {"Wh", 3600.0},
                                {"kWh", 3.6e6},
                                {"MWh", 3.6e9},
                                {"GWh", 3.6e12}}};
  return parse_with(table, text);
}

double parse_number(const std::string& raw) {
  const std::string text = trim(raw);
  const size_t n = scan_number(text);
  if (n == 0 || n != text.size()) throw std::invalid_argument("expected a plain number, found '" + raw + "'");
  return to_double(text);
}

std::string seconds_text(double s) {
  std::ostringstream text;
  text.precision(6);
  text << s << " s";
  return text.str();
}

}  // namespace aif::sim::units
