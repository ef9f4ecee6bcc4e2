// Unit parsing: every unit family, against factors written out by hand, and the rejections.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "aif/inputs/units.hpp"

namespace u = aif::sim::units;

namespace {

// Message of the exception `parse` throws on `text`; fails the test when nothing is thrown.
template <class F>
std::string error_of(F parse, const std::string& text) {
  try {
    const double value = parse(text);
    ADD_FAILURE() << "'" << text << "' was accepted as " << value;
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Units, Durations) {
  EXPECT_DOUBLE_EQ(u::parse_duration("90s"), 90.0);
  EXPECT_DOUBLE_EQ(u::parse_duration("15min"), 900.0);
  EXPECT_DOUBLE_EQ(u::parse_duration("2h"), 7200.0);
  EXPECT_DOUBLE_EQ(u::parse_duration("1d"), 86400.0);
  EXPECT_DOUBLE_EQ(u::parse_duration("250ms"), 0.25);
  EXPECT_DOUBLE_EQ(u::parse_duration("3us"), 3e-6);
  EXPECT_DOUBLE_EQ(u::parse_duration("10ns"), 1e-8);
  EXPECT_DOUBLE_EQ(u::parse_duration("1.5 h"), 5400.0);  // optional space
  EXPECT_DOUBLE_EQ(u::parse_duration(" 2e3ms "), 2.0);   // exponent, surrounding blanks
  EXPECT_DOUBLE_EQ(u::parse_duration("-5s"), -5.0);      // sign is the caller's range check
}

TEST(Units, Power) {
  EXPECT_DOUBLE_EQ(u::parse_power("700W"), 700.0);
  EXPECT_DOUBLE_EQ(u::parse_power("10.2kW"), 10200.0);
  EXPECT_DOUBLE_EQ(u::parse_power("1.2MW"), 1.2e6);
  EXPECT_DOUBLE_EQ(u::parse_power("0.1 GW"), 1e8);
}

TEST(Units, BandwidthBitsAreDividedByEight) {
  EXPECT_DOUBLE_EQ(u::parse_bandwidth("400Gbps"), 50e9);
  EXPECT_DOUBLE_EQ(u::parse_bandwidth("100Mbps"), 12.5e6);
  EXPECT_DOUBLE_EQ(u::parse_bandwidth("8bps"), 1.0);
  EXPECT_DOUBLE_EQ(u::parse_bandwidth("1Tbps"), 125e9);
  EXPECT_DOUBLE_EQ(u::parse_bandwidth("800Kbps"), 1e5);
  EXPECT_DOUBLE_EQ(u::parse_bandwidth("900GB/s"), 900e9);
  EXPECT_DOUBLE_EQ(u::parse_bandwidth("3.35TB/s"), 3.35e12);
  EXPECT_DOUBLE_EQ(u::parse_bandwidth("10 MB/s"), 1e7);
  EXPECT_DOUBLE_EQ(u::parse_bandwidth("1KB/s"), 1e3);
  EXPECT_DOUBLE_EQ(u::parse_bandwidth("7B/s"), 7.0);
}

TEST(Units, BytesDecimalAndBinary) {
  EXPECT_DOUBLE_EQ(u::parse_bytes("80GB"), 80e9);
  EXPECT_DOUBLE_EQ(u::parse_bytes("80GiB"), 80.0 * 1024 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(u::parse_bytes("512MiB"), 512.0 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(u::parse_bytes("4KB"), 4000.0);
  EXPECT_DOUBLE_EQ(u::parse_bytes("4KiB"), 4096.0);
  EXPECT_DOUBLE_EQ(u::parse_bytes("2TB"), 2e12);
  EXPECT_DOUBLE_EQ(u::parse_bytes("1TiB"), 1099511627776.0);
  EXPECT_DOUBLE_EQ(u::parse_bytes("100B"), 100.0);
}

TEST(Units, Flops) {
  EXPECT_DOUBLE_EQ(u::parse_flops("989TFLOPS"), 989e12);
  EXPECT_DOUBLE_EQ(u::parse_flops("1.9PFLOPS"), 1.9e15);
  EXPECT_DOUBLE_EQ(u::parse_flops("312 TFLOP/s"), 312e12);
  EXPECT_DOUBLE_EQ(u::parse_flops("5GFLOPS"), 5e9);
  EXPECT_DOUBLE_EQ(u::parse_flops("2kFLOPS"), 2e3);
  EXPECT_DOUBLE_EQ(u::parse_flops("7MFLOP/s"), 7e6);
  EXPECT_DOUBLE_EQ(u::parse_flops("3FLOPS"), 3.0);
}

TEST(Units, Rates) {
  EXPECT_DOUBLE_EQ(u::parse_rate("5/s"), 5.0);
  EXPECT_DOUBLE_EQ(u::parse_rate("300/min"), 5.0);
  EXPECT_DOUBLE_EQ(u::parse_rate("10/h"), 10.0 / 3600);
  EXPECT_DOUBLE_EQ(u::parse_rate("1000/h"), 1000.0 / 3600);
  EXPECT_DOUBLE_EQ(u::parse_rate("5.5 req/s"), 5.5);
  EXPECT_DOUBLE_EQ(u::parse_rate("2req/min"), 2.0 / 60);
  EXPECT_DOUBLE_EQ(u::parse_rate("86400/d"), 1.0);
}

TEST(Units, Energy) {
  EXPECT_DOUBLE_EQ(u::parse_energy("1J"), 1.0);
  EXPECT_DOUBLE_EQ(u::parse_energy("3kJ"), 3e3);
  EXPECT_DOUBLE_EQ(u::parse_energy("5MJ"), 5e6);
  EXPECT_DOUBLE_EQ(u::parse_energy("1Wh"), 3600.0);
  EXPECT_DOUBLE_EQ(u::parse_energy("10kWh"), 3.6e7);
  EXPECT_DOUBLE_EQ(u::parse_energy("2MWh"), 7.2e9);
}

TEST(Units, PlainNumberWhereAUnitIsNeededIsAnError) {
  const std::string message = error_of(u::parse_duration, "3600");
  EXPECT_NE(message.find("expected a duration with a unit, e.g. '90s' or '2h'"), std::string::npos) << message;
  EXPECT_NE(message.find("valid units: ns, us, µs, ms, s, min, h, d"), std::string::npos) << message;
  EXPECT_NE(error_of(u::parse_power, "700").find("expected a power with a unit"), std::string::npos);
  EXPECT_NE(error_of(u::parse_bandwidth, "400").find("expected a bandwidth with a unit"), std::string::npos);
  EXPECT_NE(error_of(u::parse_bytes, "80").find("with a unit"), std::string::npos);
  EXPECT_NE(error_of(u::parse_flops, "989e12").find("with a unit"), std::string::npos);
  EXPECT_NE(error_of(u::parse_rate, "5").find("expected a rate with a unit"), std::string::npos);
  EXPECT_NE(error_of(u::parse_energy, "10").find("with a unit"), std::string::npos);
}

TEST(Units, GarbageIsRejectedWithTheValidUnits) {
  for (const char* text : {"", "   ", "s", "nan s", "NaNs", "inf s", "infh", "0x10s", "1e999s", "5 seconds", "5ss",
                           "1.2.3s", "5e s", "five s", "--5s", "5s extra"}) {
    const std::string message = error_of(u::parse_duration, text);
    EXPECT_NE(message.find("valid units"), std::string::npos) << "'" << text << "': " << message;
  }
  // Bits and bytes are told apart by case; a wrong-case unit is not silently accepted.
  EXPECT_NE(error_of(u::parse_bandwidth, "400GBps").find("unknown unit 'GBps'"), std::string::npos);
  EXPECT_NE(error_of(u::parse_bytes, "80gb").find("unknown unit 'gb'"), std::string::npos);
  EXPECT_NE(error_of(u::parse_power, "700w").find("valid units: W, kW, MW, GW"), std::string::npos);
  EXPECT_NE(error_of(u::parse_rate, "5/week").find("unknown unit"), std::string::npos);
}

TEST(Units, PlainNumbers) {
  EXPECT_DOUBLE_EQ(u::parse_number("42"), 42.0);
  EXPECT_DOUBLE_EQ(u::parse_number("-1.5e3"), -1500.0);
  EXPECT_DOUBLE_EQ(u::parse_number("+.5"), 0.5);
  for (const char* text : {"", "nan", "inf", ".inf", "1s", "0x1p3", "1,5"}) {
    EXPECT_THROW(u::parse_number(text), std::invalid_argument) << "'" << text << "'";
  }
}
