#include "app_common.hpp"

#include "aif/inputs/trace.hpp"

#include <yaml-cpp/yaml.h>

#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace aif::kernels::app {

std::string default_models_path() { return std::string(AIF_SOURCE_DIR) + "/data/models.yaml"; }

ModelShape load_model(const std::string& path, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
  const YAML::Node m = root[name];
  if (!m || !m.IsMap()) {
    std::string names;
    for (const auto& kv : root) names += (names.empty() ? "" : ", ") + kv.first.as<std::string>();
    throw std::runtime_error(path + ": no model '" + name + "' (valid: " + names + ")");
  }
  auto get = [&](const char* key, bool required) {
    if (!m[key]) {
      if (required) throw std::runtime_error(path + ": model '" + name + "' has no '" + key + "'");
      return 0;
    }
    return m[key].as<int>();
  };
  models::ModelArch a;
  a.name = name;
  a.layers = get("layers", true);
  a.hidden = get("hidden", true);
  a.heads = get("heads", true);
  a.kv_heads = get("kv_heads", false);
  if (a.kv_heads == 0) a.kv_heads = a.heads;
  a.head_dim = get("head_dim", false);
  a.ffn = get("ffn", true);
  a.vocab = get("vocab", true);
  a.max_context = get("max_context", false);
  return shape_from_arch(a);
}


std::vector<TraceRequest> read_trace(const std::string& path, size_t max_rows) {
  // The project's one validated reader (aif::sim); the format follows the file extension.
  const bool jsonl = path.size() >= 6 && path.compare(path.size() - 6, 6, ".jsonl") == 0;
  const std::vector<sim::TraceRecord> rows = jsonl ? sim::read_mooncake_jsonl(path) : sim::read_azure_csv(path);
  std::vector<TraceRequest> out;
  for (const sim::TraceRecord& r : rows) {
    if (max_rows != 0 && out.size() >= max_rows) break;
    out.push_back({static_cast<int64_t>(out.size()), r.time_s, r.prompt_tokens, r.output_tokens, r.block_ids,
                   r.block_tokens});
  }
  return out;
}

std::string now_iso8601() {
  char buf[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

}  // namespace aif::kernels::app
