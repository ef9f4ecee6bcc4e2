#include <charconv>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>

#include "aif/inputs/signals.hpp"
#include "aif/inputs/csv_text.hpp"

namespace aif::sim {

SignalError::SignalError(std::string file, int line, const std::string& message)
    : std::runtime_error(file + ":" + std::to_string(line) + ": " + message), file_(std::move(file)), line_(line) {}

namespace {

const char* const DATE_TIME_EXAMPLE = "2023-06-08 00:05:00";

// Line-by-line reader that counts lines from 1, drops a '\r' before the '\n' and a UTF-8 byte-order mark on line 1.
class Lines {
 public:
  explicit Lines(const std::string& path) : path_(path), in_(path, std::ios::binary) {
    if (!in_) throw SignalError(path, 0, "cannot open the signal file (missing or unreadable)");
  }
  bool next(std::string& line) {
    if (!std::getline(in_, line)) return false;
    ++number_;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (number_ == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
    return true;
  }
  int number() const { return number_; }
  const std::string& path() const { return path_; }
  [[noreturn]] void fail(const std::string& message) const { throw SignalError(path_, number_, message); }

 private:
  std::string path_;
  std::ifstream in_;
  int number_ = 0;
};

bool is_blank(const std::string& s) { return s.find_first_not_of(" \t") == std::string::npos; }

// Trimmed fields, each without one pair of surrounding double quotes (no embedded commas in these files).
std::vector<std::string> fields_of(const std::string& line) {
  std::vector<std::string> f = csv::split_commas(line);
  for (std::string& x : f)
    if (x.size() >= 2 && x.front() == '"' && x.back() == '"') x = csv::trim(x.substr(1, x.size() - 2));
  return f;
}

std::string join(const std::vector<std::string>& names, size_t from) {
  std::string s;
  for (size_t i = from; i < names.size(); ++i) s += (i > from ? ", " : "") + names[i];
  return s;
}

// A finite decimal number, the whole field (an optional leading '+' is allowed); locale-independent.
bool parse_number(const std::string& s, double& value) {
  const char* first = s.data();
  const char* last = s.data() + s.size();
  if (first != last && *first == '+') ++first;
  if (first == last) return false;
  const auto [end, ec] = std::from_chars(first, last, value);
  return ec == std::errc() && end == last && std::isfinite(value);
}

using csv::digits;

int month_days(int64_t y, int64_t m) { return csv::days_in_month(y, m); }
int64_t days_since_year_one(int64_t y, int64_t m, int64_t d) { return csv::day_number(y, m, d); }

// "YYYY-MM-DD[ T]HH:MM[:SS[.f...]][Z|+HH:MM|-HH:MM]" -> whole seconds since 0001-01-01 UTC and the fraction.
bool parse_date_time(const std::string& s, int64_t& seconds, double& fraction) {
  int64_t y, mo, d, h, mi, sec = 0;
  if (!digits(s, 0, 4, y) || s.size() < 16 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != ' ' && s[10] != 'T') || !digits(s, 11, 2, h) || s[13] != ':' ||
      !digits(s, 14, 2, mi))
    return false;
  size_t pos = 16;
  if (pos < s.size() && s[pos] == ':') {
    if (!digits(s, pos + 1, 2, sec)) return false;
    pos += 3;
  }
  fraction = 0;
  if (pos < s.size() && s[pos] == '.') {
    const size_t start = ++pos;
    double scale = 0.1;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      fraction += scale * (s[pos] - '0');
      scale *= 0.1;
      ++pos;
    }
    if (pos == start) return false;
  }
  int64_t offset_s = 0;
  if (pos < s.size() && s[pos] == 'Z') {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int64_t oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(s, pos + 4, 2, om) ||
        oh > 23 || om > 59)
      return false;
    offset_s = (s[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    pos += 6;
  }
  if (pos != s.size()) return false;
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 || sec > 59) return false;
  // Local time minus its offset from UTC is UTC.
  seconds = days_since_year_one(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset_s;
  return true;
}

std::string number_text(double x) {
  std::ostringstream s;
  s.precision(12);
  s << x;
  return s.str();
}

// Reads the header line: the names, at least a time column and one value column.
std::vector<std::string> read_header(Lines& in) {
  std::string line;
  if (!in.next(line))
    throw SignalError(in.path(), 1, "the file is empty; expected a header line: a time column, then value columns");
  if (is_blank(line)) in.fail("the first line is blank; expected a header line: a time column, then value columns");
  std::vector<std::string> names = fields_of(line);
  if (names.size() < 2)
    in.fail("expected a header with a time column and at least one value column, found '" + line + "'");
  for (size_t i = 1; i < names.size(); ++i)
    if (names[i].empty()) in.fail("value column " + std::to_string(i + 1) + " of the header has no name");
  return names;
}

}  // namespace

std::vector<std::string> read_signal_columns(const std::string& path) {
  Lines in(path);
  std::vector<std::string> names = read_header(in);
  return std::vector<std::string>(names.begin() + 1, names.end());
}

models::TimeSeries read_signal_csv(const std::string& path, const std::string& column,
                                   const SignalCsvOptions& options) {
  if (!std::isfinite(options.scale))
    throw std::invalid_argument("read_signal_csv: options.scale must be finite, found " + number_text(options.scale));
  if (!std::isfinite(options.period_s) || options.period_s < 0)
    throw std::invalid_argument("read_signal_csv: options.period_s must be finite and >= 0, found " +
                                number_text(options.period_s));
  Lines in(path);
  const std::vector<std::string> names = read_header(in);

  // The value column: by name, or the only one.
  size_t col = 0;
  if (column.empty()) {
    if (names.size() != 2)
      in.fail("the file has " + std::to_string(names.size() - 1) +
              " value columns; name one of them: " + join(names, 1));
    col = 1;
  } else {
    for (size_t i = 1; i < names.size(); ++i) {
      if (names[i] != column) continue;
      if (col != 0) in.fail("column '" + column + "' appears twice in the header");
      col = i;
    }
    if (col == 0) {
      if (names[0] == column)
        in.fail("'" + column +
                "' is the time column (the first); expected one of the value columns: " + join(names, 1));
      in.fail("no column '" + column + "' in the header; value columns: " + join(names, 1));
    }
  }

  enum class TimeKind { SECONDS, DATE_TIME } kind = TimeKind::SECONDS;
  std::vector<models::TimeSeries::Point> points;
  double first_seconds = 0, first_fraction = 0;
  int64_t first_whole = 0;
  std::string previous_text;
  int previous_line = 0, blank_line = 0;
  std::string line;
  while (in.next(line)) {
    if (is_blank(line)) {
      if (blank_line == 0) blank_line = in.number();
      continue;
    }
    if (blank_line != 0)
      throw SignalError(path, blank_line, "blank line in the middle of the series (only the end may have them)");
    const std::vector<std::string> f = fields_of(line);
    if (f.size() != names.size())
      in.fail("expected " + std::to_string(names.size()) + " comma-separated fields like the header, found " +
              std::to_string(f.size()));

    // Time: the kind is set by the first row; every row must match it.
    const std::string& stamp = f[0];
    double seconds = 0, fraction = 0;
    int64_t whole = 0;
    const bool numeric = parse_number(stamp, seconds);
    const bool dated = !numeric && parse_date_time(stamp, whole, fraction);
    if (!numeric && !dated)
      in.fail("time column '" + names[0] + "': expected seconds (a number) or a date-time like " + DATE_TIME_EXAMPLE +
              ", found '" + stamp + "'");
    double t = 0;
    if (points.empty()) {
      kind = numeric ? TimeKind::SECONDS : TimeKind::DATE_TIME;
      first_seconds = seconds;
      first_whole = whole;
      first_fraction = fraction;
    } else if (numeric != (kind == TimeKind::SECONDS)) {
      in.fail("time column '" + names[0] + "': the first row gives " +
              (kind == TimeKind::SECONDS ? "seconds" : "date-times") + ", but this row has '" + stamp + "'");
    }
    // Whole-second difference in integers first, so date-times a month apart keep sub-microsecond precision.
    t = numeric ? seconds - first_seconds : static_cast<double>(whole - first_whole) + (fraction - first_fraction);
    if (!points.empty() && !(t > points.back().time_s))
      in.fail("time '" + stamp + "' is not after '" + previous_text + "' on line " + std::to_string(previous_line) +
              ": times must be strictly increasing");

    double value = 0;
    const std::string& text = f[col];
    if (text.empty()) in.fail("column '" + names[col] + "': expected a number, found an empty field");
    if (!parse_number(text, value))
      in.fail("column '" + names[col] + "': expected a finite number, found '" + text + "'");
    points.push_back({t, value * options.scale});
    previous_text = stamp;
    previous_line = in.number();
  }
  if (points.empty()) throw SignalError(path, 1, "the header has no data rows after it");
  try {
    return models::TimeSeries(std::move(points), options.interpolation, options.outside, options.period_s);
  } catch (const std::invalid_argument& e) {
    // The rows were checked above, so what is left is the repeat period against the file's span.
    std::string what = e.what();
    const std::string prefix = "TimeSeries: ";
    if (what.rfind(prefix, 0) == 0) what.erase(0, prefix.size());
    throw SignalError(path, 0, what + " (options.period_s)");
  }
}

double read_region_carbon(const std::string& path, const std::string& region) {
  const char* const REGION = "Region";
  const char* const INTENSITY = "Avg Grid Intensity";
  Lines in(path);
  std::string line;
  if (!in.next(line))
    throw SignalError(
        path, 1, std::string("the file is empty; expected a header with ") + REGION + " and " + INTENSITY + " columns");
  const std::vector<std::string> names = fields_of(line);
  size_t region_col = names.size(), value_col = names.size();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == REGION) region_col = i;
    if (names[i] == INTENSITY) value_col = i;
  }
  if (region_col == names.size()) in.fail(std::string("no column '") + REGION + "' in the header '" + line + "'");
  if (value_col == names.size()) in.fail(std::string("no column '") + INTENSITY + "' in the header '" + line + "'");

  std::vector<std::string> regions;
  while (in.next(line)) {
    if (is_blank(line)) continue;
    const std::vector<std::string> f = fields_of(line);
    if (f.size() != names.size())
      in.fail("expected " + std::to_string(names.size()) + " comma-separated fields like the header, found " +
              std::to_string(f.size()));
    regions.push_back(f[region_col]);
    if (f[region_col] != region) continue;
    double value = 0;
    if (!parse_number(f[value_col], value) || value < 0)
      in.fail("column '" + std::string(INTENSITY) + "' of region '" + region +
              "': expected a carbon intensity >= 0 gCO2/kWh, found '" + f[value_col] + "'");
    return value;
  }
  if (regions.empty()) throw SignalError(path, 1, "the header has no region rows after it");
  throw SignalError(path, 0, "no region '" + region + "' in the table; regions: " + join(regions, 0));
}

}  // namespace aif::sim
