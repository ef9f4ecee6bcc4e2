#include "aif/inputs/trace.hpp"
#include "aif/inputs/csv_text.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "aif/analysis/results.hpp"
#include "aif/inputs/input_error.hpp"

namespace aif::sim {

namespace {

constexpr int64_t TICKS_PER_SECOND = 10'000'000;  // Azure timestamps have 100 ns resolution
const char* const AZURE_HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens";
const std::array<const char*, 3> AZURE_COLUMNS = {"TIMESTAMP", "ContextTokens", "GeneratedTokens"};

// Reads a text file line by line, counting lines from 1 and dropping a '\r' before the '\n' (CRLF files).
class LineReader {
 public:
  explicit LineReader(const std::string& path) : path_(path), in_(path, std::ios::binary) {
    if (!in_) throw ScenarioError(path, 0, "", "cannot open the trace file (missing or unreadable)");
  }
  bool next(std::string& line) {
    if (!std::getline(in_, line)) return false;
    ++number_;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return true;
  }
  // The next line that is not blank; blank lines may only end the file (one followed by a record is an error, at it).
  bool next_record(std::string& line) {
    int blank_line = 0;
    while (next(line)) {
      if (line.find_first_not_of(" \t") == std::string::npos) {
        if (blank_line == 0) blank_line = number_;
        continue;
      }
      if (blank_line != 0)
        throw ScenarioError(path_, blank_line, "", "blank line in the middle of the trace (only the end may have them)");
      return true;
    }
    return false;
  }
  int number() const { return number_; }
  [[noreturn]] void fail(const std::string& key, const std::string& message) const {
    throw ScenarioError(path_, number_, key, message);
  }

 private:
  std::string path_;
  std::ifstream in_;
  int number_ = 0;
};

bool is_blank(const std::string& s) { return s.find_first_not_of(" \t") == std::string::npos; }

using csv::split_commas;
using csv::trim;

using csv::day_number;
using csv::days_in_month;

using csv::digits;

// "YYYY-MM-DD HH:MM:SS[.f{1,7}]" -> 100 ns ticks since 0001-01-01 00:00:00, in integers (exact).
bool parse_wall_clock(const std::string& s, int64_t& ticks) {
  int64_t y, mo, d, h, mi, sec;
  if (s.size() < 19 || !digits(s, 0, 4, y) || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != ' ' && s[10] != 'T') || !digits(s, 11, 2, h) || s[13] != ':' ||
      !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, sec))
    return false;
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, static_cast<int>(mo)) || h > 23 || mi > 59 ||
      sec > 59)
    return false;
  int64_t fraction = 0;  // in 100 ns
  if (s.size() > 19) {
    const size_t n = s.size() - 20;
    if (s[19] != '.' || n < 1 || n > 7 || !digits(s, 20, n, fraction)) return false;
    for (size_t i = n; i < 7; ++i) fraction *= 10;
  }
  const int64_t seconds = day_number(y, static_cast<int>(mo), static_cast<int>(d)) * 86400 + h * 3600 + mi * 60 + sec;
  ticks = seconds * TICKS_PER_SECOND + fraction;
  return true;
}

// A token count: digits only (no sign, no decimal point), at least `minimum`, at most INT32_MAX.
int32_t parse_tokens(const LineReader& reader, const std::string& key, const std::string& text, int32_t minimum,
                     const char* why_minimum) {
  if (text.empty()) reader.fail(key, "expected a token count, found an empty field");
  if (text[0] == '-' && text.size() > 1 && text.find_first_not_of("0123456789", 1) == std::string::npos)
    reader.fail(key, "expected a token count >= " + std::to_string(minimum) + ", found the negative " + text);
  if (text.find_first_not_of("0123456789") != std::string::npos)
    reader.fail(key, "expected a whole number of tokens (digits only), found '" + text + "'");
  if (text.size() > 10 || std::stoll(text) > std::numeric_limits<int32_t>::max())
    reader.fail(key, "token count " + text + " is too large (at most 2147483647)");
  const auto value = static_cast<int32_t>(std::stoll(text));
  if (value < minimum)
    reader.fail(key, "expected at least " + std::to_string(minimum) + " (" + why_minimum + "), found " + text);
  return value;
}

const char* const PROMPT_MINIMUM = "a request has at least one prompt token";
const char* const OUTPUT_MINIMUM = "a request generates at least one token";

}  // namespace

std::vector<TraceRecord> read_azure_csv(const std::string& path) {
  LineReader reader(path);
  std::string line;
  if (!reader.next(line))
    throw ScenarioError(path, 1, "", std::string("the trace file is empty; expected the header ") + AZURE_HEADER);
  if (is_blank(line))
    reader.fail("header", std::string("the first line is blank; expected the header ") + AZURE_HEADER);

  // Header: the three expected names, each once, in any order.
  const std::vector<std::string> names = split_commas(line);
  std::array<int, 3> column = {-1, -1, -1};  // index in the row of TIMESTAMP, ContextTokens, GeneratedTokens
  for (size_t i = 0; i < names.size(); ++i) {
    int which = -1;
    for (int k = 0; k < 3; ++k)
      if (names[i] == AZURE_COLUMNS[static_cast<size_t>(k)]) which = k;
    if (which < 0)
      reader.fail(names[i].empty() ? "header" : names[i],
                  "unknown column '" + names[i] + "' in the header; expected " + AZURE_HEADER);
    if (column[static_cast<size_t>(which)] >= 0)
      reader.fail(names[i], "column " + names[i] + " appears twice in the header; expected " + AZURE_HEADER);
    column[static_cast<size_t>(which)] = static_cast<int>(i);
  }
  for (size_t k = 0; k < 3; ++k)
    if (column[k] < 0)
      reader.fail(AZURE_COLUMNS[k],
                  std::string("missing column ") + AZURE_COLUMNS[k] + " in the header; expected " + AZURE_HEADER);

  std::vector<TraceRecord> records;
  int64_t first_ticks = 0, previous_ticks = 0;
  std::string previous_text;
  int previous_line = 0;
  while (reader.next_record(line)) {
    const std::vector<std::string> fields = split_commas(line);
    if (fields.size() != 3)
      reader.fail(fields.size() < 3 ? names[fields.size()] : "", "expected 3 comma-separated columns (" +
                                                                     std::string(AZURE_HEADER) + "), found " +
                                                                     std::to_string(fields.size()));
    const std::string& stamp = fields[static_cast<size_t>(column[0])];
    int64_t ticks = 0;
    if (!parse_wall_clock(stamp, ticks))
      reader.fail("TIMESTAMP", "expected a wall-clock time like 2023-11-16 18:15:46.6805900, found '" + stamp + "'");
    if (records.empty()) {
      first_ticks = ticks;
    } else if (ticks < previous_ticks) {
      reader.fail("TIMESTAMP", stamp + " is earlier than " + previous_text + " on line " +
                                   std::to_string(previous_line) + ": the trace must be sorted by time");
    }
    const int32_t prompt =
        parse_tokens(reader, "ContextTokens", fields[static_cast<size_t>(column[1])], 1, PROMPT_MINIMUM);
    const int32_t output =
        parse_tokens(reader, "GeneratedTokens", fields[static_cast<size_t>(column[2])], 1, OUTPUT_MINIMUM);
    // Integer tick difference first, one rounding at the end: exact to the double's 53 bits (~1 ns after 100 days).
    records.push_back({static_cast<double>(ticks - first_ticks) / TICKS_PER_SECOND, prompt, output});
    previous_ticks = ticks;
    previous_text = stamp;
    previous_line = reader.number();
  }
  if (records.empty())
    throw ScenarioError(path, 1, "", "the trace has a header but no requests (expected rows after line 1)");
  return records;
}

std::vector<TraceRecord> read_csv_trace(const std::string& path) {
  static const std::array<const char*, 3> NEEDED = {"arrival_s", "prompt_tokens", "output_tokens"};
  LineReader reader(path);
  std::string line;
  if (!reader.next(line))
    throw ScenarioError(path, 1, "", "the trace file is empty; expected a header naming arrival_s, prompt_tokens and "
                                     "output_tokens");
  const std::vector<std::string> names = split_commas(line);
  std::array<int, 3> column = {-1, -1, -1};
  for (size_t i = 0; i < names.size(); ++i)
    for (size_t k = 0; k < 3; ++k)
      if (names[i] == NEEDED[k]) {
        if (column[k] >= 0) reader.fail(names[i], "column " + names[i] + " appears twice in the header");
        column[k] = static_cast<int>(i);
      }
  for (size_t k = 0; k < 3; ++k)
    if (column[k] < 0)
      reader.fail(NEEDED[k], std::string("missing column ") + NEEDED[k] +
                                 " in the header (needed: arrival_s, prompt_tokens, output_tokens; others are ignored)");
  std::vector<TraceRecord> records;
  double first = 0, previous = 0;
  while (reader.next_record(line)) {
    const std::vector<std::string> fields = split_commas(line);
    if (fields.size() != names.size())
      reader.fail(fields.size() < names.size() ? names[fields.size()] : "",
                  "expected " + std::to_string(names.size()) + " comma-separated fields as in the header, found " +
                      std::to_string(fields.size()));
    const std::string& stamp = fields[static_cast<size_t>(column[0])];
    double t = 0;
    if (!csv::parse_double(stamp, t) || t < 0) reader.fail("arrival_s", "expected seconds >= 0, found '" + stamp + "'");
    if (!records.empty() && t < previous)
      reader.fail("arrival_s", stamp + " is earlier than the arrival on the line before: the trace must be sorted");
    if (records.empty()) first = t;
    const int32_t prompt =
        parse_tokens(reader, "prompt_tokens", fields[static_cast<size_t>(column[1])], 1, PROMPT_MINIMUM);
    const int32_t output =
        parse_tokens(reader, "output_tokens", fields[static_cast<size_t>(column[2])], 1, OUTPUT_MINIMUM);
    records.push_back({t - first, prompt, output});
    previous = t;
  }
  if (records.empty())
    throw ScenarioError(path, 1, "", "the trace has a header but no requests (expected rows after line 1)");
  return records;
}

std::vector<TraceRecord> read_mooncake_jsonl(const std::string& path) {
  using nlohmann::json;
  LineReader reader(path);
  std::vector<TraceRecord> records;
  double first_ms = 0, previous_ms = 0;
  std::string previous_text;
  int previous_line = 0;
  std::string line;
  while (reader.next_record(line)) {

    // The callback sees every key of the line's object (depth 1) and remembers the first one given twice:
    // nlohmann::json would otherwise keep the last value silently.
    std::vector<std::string> keys;
    std::string duplicate;
    const json::parser_callback_t watch_keys = [&](int depth, json::parse_event_t event, json& parsed) {
      if (depth == 1 && event == json::parse_event_t::key) {
        const std::string& key = parsed.get_ref<const std::string&>();
        if (duplicate.empty() && std::find(keys.begin(), keys.end(), key) != keys.end()) duplicate = key;
        keys.push_back(key);
      }
      return true;
    };
    json object;
    try {
      object = json::parse(line, watch_keys);
    } catch (const json::exception& e) {  // syntax, and also numbers beyond a double (out_of_range.406)
      reader.fail("", std::string("malformed JSON (") + e.what() + ")");
    }
    if (!object.is_object())
      reader.fail("", "expected one JSON object per line, found " + std::string(object.type_name()));
    if (!duplicate.empty()) reader.fail(duplicate, "field given twice in the same object");

    auto field = [&](const char* key) -> const json& {
      const auto it = object.find(key);
      if (it == object.end())
        reader.fail(key, "missing field (each line needs timestamp, input_length and output_length)");
      return *it;
    };
    auto tokens = [&](const char* key, int32_t minimum, const char* why) -> int32_t {
      const json& v = field(key);
      if (v.is_number_unsigned()) {  // nlohmann::json stores every integer >= 0 as unsigned
        if (v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()))
          reader.fail(key, "token count " + v.dump() + " is too large (at most 2147483647)");
        const auto n = static_cast<int32_t>(v.get<uint64_t>());
        if (n < minimum)
          reader.fail(key, "expected at least " + std::to_string(minimum) + " (" + why + "), found " + v.dump());
        return n;
      }
      if (v.is_number_integer())
        reader.fail(key, "expected a token count >= " + std::to_string(minimum) + ", found the negative " + v.dump());
      reader.fail(key, "expected a whole number of tokens, found " + v.dump());
    };

    const json& stamp = field("timestamp");
    if (!stamp.is_number()) reader.fail("timestamp", "expected a time in ms (a number), found " + stamp.dump());
    const double ms = stamp.get<double>();
    if (!(ms >= 0) || !std::isfinite(ms)) reader.fail("timestamp", "expected a time in ms >= 0, found " + stamp.dump());
    const int32_t prompt = tokens("input_length", 1, PROMPT_MINIMUM);
    const int32_t output = tokens("output_length", 1, OUTPUT_MINIMUM);
    std::vector<int64_t> ids;
    if (const auto it = object.find("hash_ids"); it != object.end()) {
      if (!it->is_array()) reader.fail("hash_ids", "expected a list of block ids (integers >= 0), found " + it->dump());
      const size_t blocks = (static_cast<size_t>(prompt) + MOONCAKE_BLOCK_TOKENS - 1) / MOONCAKE_BLOCK_TOKENS;
      if (it->size() > blocks)
        reader.fail("hash_ids", std::to_string(it->size()) + " block ids for " + std::to_string(prompt) +
                                    " prompt tokens; expected at most " + std::to_string(blocks) + " (one per " +
                                    std::to_string(MOONCAKE_BLOCK_TOKENS) + " tokens)");
      for (size_t j = 0; j < it->size(); ++j) {
        const json& id = (*it)[j];
        if (!id.is_number_unsigned() || id.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
          reader.fail("hash_ids[" + std::to_string(j) + "]", "expected a block id (an integer >= 0), found " + id.dump());
        ids.push_back(static_cast<int64_t>(id.get<uint64_t>()));
      }
    }
    if (records.empty()) {
      first_ms = ms;
    } else if (ms < previous_ms) {
      reader.fail("timestamp", stamp.dump() + " ms is earlier than the " + previous_text + " ms on line " +
                                   std::to_string(previous_line) + ": the trace must be sorted by time");
    }
    const int32_t block_tokens = ids.empty() ? 0 : MOONCAKE_BLOCK_TOKENS;
    records.push_back({(ms - first_ms) / 1000, prompt, output, std::move(ids), block_tokens});
    previous_ms = ms;
    previous_text = stamp.dump();
    previous_line = reader.number();
  }
  if (records.empty()) throw ScenarioError(path, 1, "", "the trace file is empty; expected one JSON object per line");
  return records;
}

std::vector<TraceRecord> read_results_requests(const std::string& path) {
  std::vector<analysis::RequestRecord> rows;
  try {
    rows = analysis::ResultsReader(path).requests();
  } catch (const analysis::ResultsError& e) {
    throw ScenarioError(path, 0, "", std::string("cannot replay the requests of this results file: ") + e.what());
  }
  if (rows.empty()) throw ScenarioError(path, 0, "/requests", "the results file has no requests to replay");
  for (size_t i = 0; i < rows.size(); ++i) {
    const analysis::RequestRecord& r = rows[i];
    const int row = static_cast<int>(std::min<size_t>(i + 1, std::numeric_limits<int>::max()));
    if (!std::isfinite(r.arrival_s))
      throw ScenarioError(path, row, "/requests/arrival_s", "row " + std::to_string(i) + " has no arrival time");
    if (r.prompt_tokens < 1)
      throw ScenarioError(path, row, "/requests/prompt_tokens",
                          "row " + std::to_string(i) + ": expected at least 1 (" + PROMPT_MINIMUM + "), found " +
                              std::to_string(r.prompt_tokens));
    if (r.output_tokens < 1)
      throw ScenarioError(path, row, "/requests/output_tokens",
                          "row " + std::to_string(i) + ": expected at least 1 (" + OUTPUT_MINIMUM + "), found " +
                              std::to_string(r.output_tokens));
  }
  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return rows[a].arrival_s < rows[b].arrival_s; });
  std::vector<TraceRecord> records;
  records.reserve(rows.size());
  const double first = rows[order.front()].arrival_s;
  for (const size_t i : order)
    records.push_back({rows[i].arrival_s - first, rows[i].prompt_tokens, rows[i].output_tokens});
  return records;
}

}  // namespace aif::sim
