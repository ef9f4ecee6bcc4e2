// Quantities with explicit units, parsed into SI doubles. Each parser throws
// std::invalid_argument with a message saying what was expected; the scenario
// loader adds file, line and key path.
#pragma once
#include <string>

namespace aif::sim::units {

double parse_duration(const std::string& text);   // "90s", "15min", "2h", "1d", "250ms", "3us", "10ns" -> s
double parse_power(const std::string& text);      // "700W", "10.2kW", "1.2MW", "0.1GW" -> W
double parse_bandwidth(const std::string& text);  // "400Gbps", "100Mbps", "900GB/s", "3.35TB/s" -> bytes/s
double parse_bytes(const std::string& text);      // "80GB", "80GiB", "512MiB", "4KB" -> bytes
double parse_flops(const std::string& text);      // "989TFLOPS", "1.9PFLOPS", "312 TFLOP/s" -> FLOP/s
double parse_rate(const std::string& text);       // "5/s", "300/min", "1000/h", "5.5 req/s" -> 1/s
double parse_energy(const std::string& text);     // "10kWh", "5MJ", "1J" -> J
// A plain finite decimal number with no unit ("42", "-1.5e3"); rejects nan, inf, hex and trailing text.
double parse_number(const std::string& text);

// A duration for messages: six significant digits and the unit, 0.25 -> "0.25 s", 1234567 -> "1.23457e+06 s".
std::string seconds_text(double s);

}  // namespace aif::sim::units
