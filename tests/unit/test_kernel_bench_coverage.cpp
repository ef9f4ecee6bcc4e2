// kbench times what the engine runs: a recording backend logs every operator call (function and argument
// shapes) of one Model::forward and of the kbench points a perf model would sum for that step
// (embedding + layers x [rms_norm, qkv_proj, rope, kv_cache_write, attention, o_proj, add, rms_norm,
// gate_up_proj, swiglu, down_proj, add] + rms_norm(s) + lm_head(s) + sampling(s)); the two multisets must be equal.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../support/kernel_shapes.hpp"
#include "aif/kernels/backend.hpp"
#include "aif/kernels/kbench.hpp"
#include "aif/kernels/model.hpp"

namespace ak = aif::kernels;

namespace {

// Forwards to a CPU backend and records compute calls, host downloads and synchronisations. Uploads, fills
// and allocations are set-up work (per-step overhead in the engine, buffer preparation in kbench): not logged.
class RecordingBackend final : public ak::Backend {
 public:
  explicit RecordingBackend(ak::Backend& inner) : in_(inner) {}
  std::vector<std::string> calls;
  bool recording = true;

  std::string name() const override { return in_.name(); }
  std::string device_description() const override { return in_.device_description(); }
  void* allocate(size_t bytes) override { return in_.allocate(bytes); }
  void deallocate(void* p) override { in_.deallocate(p); }
  void copy_to_device(void* d, const void* s, size_t n) override { in_.copy_to_device(d, s, n); }
  void copy_to_host(void* d, const void* s, size_t n) override {
    log("copy_to_host", {long(n)});
    in_.copy_to_host(d, s, n);
  }
  void fill(float* d, float v, size_t n) override { in_.fill(d, v, n); }
  void synchronize() override {
    log("synchronize", {});
    in_.synchronize();
  }
  std::unique_ptr<ak::Matrix> make_matrix(const float* w, int n, int k) override { return in_.make_matrix(w, n, k); }
  void linear(const float* x, int m, const ak::Matrix& w, float* y) override {
    log("linear", {m, w.rows(), w.cols()});
    in_.linear(x, m, w, y);
  }
  void embedding(const int32_t* t, int m, const float* table, int hidden, float* y) override {
    log("embedding", {m, hidden});
    in_.embedding(t, m, table, hidden, y);
  }
  void rms_norm(const float* x, const float* g, int m, int hidden, float eps, float* y) override {
    log("rms_norm", {m, hidden, long(eps * 1e9f)});
    in_.rms_norm(x, g, m, hidden, eps, y);
  }
  void rope(float* x, int stride, const int32_t* pos, int m, int heads, int hd, float theta) override {
    log("rope", {stride, m, heads, hd, long(theta)});
    in_.rope(x, stride, pos, m, heads, hd, theta);
  }
  void kv_cache_write(const float* k, const float* v, int stride, const int32_t* slots, int m, int kvh, int hd,
                      float* kc, float* vc) override {
    log("kv_cache_write", {stride, m, kvh, hd});
    in_.kv_cache_write(k, v, stride, slots, m, kvh, hd, kc, vc);
  }
  void attention(const float* q, int q_stride, const ak::AttentionBatch& b, const float* kc, const float* vc, int heads,
                 int kvh, int hd, float scale, float* out) override {
    // CPU backend: the index arrays are host memory, so the per-sequence shapes can be read here.
    std::vector<long> a{q_stride, b.num_seqs, b.max_blocks_per_seq, b.block_size, b.max_q_len, b.max_context_len,
                        heads, kvh, hd, long(scale * 1e6f)};
    for (int s = 0; s < b.num_seqs; ++s) {
      a.push_back(b.q_start[s + 1] - b.q_start[s]);
      a.push_back(b.context_lens[s]);
    }
    log("attention", a);
    in_.attention(q, q_stride, b, kc, vc, heads, kvh, hd, scale, out);
  }
  void swiglu(const float* gu, int m, int ffn, float* out) override {
    log("swiglu", {m, ffn});
    in_.swiglu(gu, m, ffn, out);
  }
  void add(float* x, const float* y, size_t n) override {
    log("add", {long(n)});
    in_.add(x, y, n);
  }
  void gather_rows(const float* x, const int32_t* rows, int count, int width, float* y) override {
    log("gather_rows", {count, width});
    in_.gather_rows(x, rows, count, width, y);
  }

 private:
  void log(const char* fn, const std::vector<long>& args) {
    if (!recording) return;
    std::ostringstream s;
    s << fn << "(";
    for (size_t i = 0; i < args.size(); ++i) s << (i ? "," : "") << args[i];
    calls.push_back(s.str() + ")");
  }
  ak::Backend& in_;
};

ak::ModelShape tiny() { return aif::testing::test_model_shape("coverage-test", 96, 128, 256); }

// The calls each kbench point makes, keyed by "op/tokens/batch/kv_len".
std::map<std::string, std::vector<std::string>> kbench_calls(ak::Backend& inner, const ak::ModelShape& s, int tp,
                                                             int block_size) {
  RecordingBackend rec(inner);
  std::map<std::string, std::vector<std::string>> out;
  ak::for_each_bench_point(rec, s, tp, ak::bench_grid("tiny"), block_size,
                           [&](const ak::BenchPoint& p, const std::function<void()>& run) {
                             rec.calls.clear();
                             run();
                             out[p.op + "/" + std::to_string(p.tokens) + "/" + std::to_string(p.batch) + "/" +
                                 std::to_string(p.kv_len)] = rec.calls;
                           });
  return out;
}

// The engine's calls for one forward, and the same step assembled from kbench points.
void expect_forward_equals_table_sum(const ak::ForwardInput& in, int block_size, const std::string& attn_key) {
  auto cpu = ak::make_cpu_backend(2);
  const ak::ModelShape s = tiny();
  RecordingBackend rec(*cpu);
  rec.recording = false;
  ak::Model model(rec, ak::make_weights(s, 5));
  ak::KvCache cache(rec, s, 64, block_size);
  rec.recording = true;
  model.forward(in, cache);
  std::vector<std::string> engine = rec.calls;

  const auto k = kbench_calls(*cpu, s, 1, block_size);
  const int t = static_cast<int>(in.tokens.size());
  int sampled = 0;
  for (const auto& c : in.seqs) sampled += c.sample;
  auto row = [&](const std::string& op, int tokens) {
    const std::string key = op + "/" + std::to_string(tokens) + "/0/0";
    EXPECT_TRUE(k.count(key)) << "kbench has no row " << key;
    return k.count(key) ? k.at(key) : std::vector<std::string>{};
  };
  std::vector<std::string> predicted;
  auto put = [&](const std::vector<std::string>& v) { predicted.insert(predicted.end(), v.begin(), v.end()); };
  put(row("embedding", t));
  for (int l = 0; l < s.layers; ++l) {
    for (const char* op : {"rms_norm", "qkv_proj", "rope", "kv_cache_write"}) put(row(op, t));
    EXPECT_TRUE(k.count(attn_key)) << "kbench has no row " << attn_key;
    if (k.count(attn_key)) put(k.at(attn_key));
    for (const char* op : {"o_proj", "add", "rms_norm", "gate_up_proj", "swiglu", "down_proj", "add"}) put(row(op, t));
  }
  for (const char* op : {"rms_norm", "lm_head", "sampling"}) put(row(op, sampled));
  std::sort(engine.begin(), engine.end());
  std::sort(predicted.begin(), predicted.end());
  EXPECT_EQ(engine.size(), predicted.size());
  // Print the difference both ways: a call the engine makes that no row times, or a row timing something else.
  std::vector<std::string> only_engine, only_table;
  std::set_difference(engine.begin(), engine.end(), predicted.begin(), predicted.end(), std::back_inserter(only_engine));
  std::set_difference(predicted.begin(), predicted.end(), engine.begin(), engine.end(), std::back_inserter(only_table));
  for (const auto& c : only_engine) ADD_FAILURE() << "engine call not timed by kbench: " << c;
  for (const auto& c : only_table) ADD_FAILURE() << "kbench call the engine does not make: " << c;
  EXPECT_EQ(engine, predicted);
  std::cout << engine.size() << " engine calls, each matched by a kbench row\n";
}

}  // namespace

TEST(KernelBenchCoverage, EveryEngineOpHasRowsAtEveryTpAndGridPoint) {
  auto cpu = ak::make_cpu_backend(2);
  const ak::ModelShape s = tiny();
  const ak::BenchGrid g = ak::bench_grid("tiny");
  for (int tp : {1, 2}) {
    std::map<std::string, int> count;
    ak::for_each_bench_point(*cpu, s, tp, g, 16, [&](const ak::BenchPoint& p, const std::function<void()>&) {
      EXPECT_EQ(p.tp, tp);
      ++count[p.op];
    });
    for (const std::string& op : ak::engine_ops()) {
      const size_t want = op == "attn_decode"    ? g.decode_batches.size() * g.decode_kv_lens.size()
                          : op == "attn_prefill" ? g.prefill_chunks.size() * g.prefill_prefixes.size()
                                                 : g.tokens.size();
      EXPECT_EQ(size_t(count[op]), want) << op << " at tp=" << tp;
    }
    EXPECT_EQ(count.size(), ak::engine_ops().size()) << "kbench times an op the engine list does not name";
  }
  EXPECT_THROW(ak::for_each_bench_point(*cpu, s, 3, g, 16, [](const ak::BenchPoint&, const std::function<void()>&) {}),
               std::invalid_argument);
  for (const char* name : {"small", "full"}) {
    const auto grid = ak::bench_grid(name);
    // Piecewise-linear interpolation needs a point at least every factor of 2 from 1 to 2048 tokens.
    ASSERT_EQ(grid.tokens.front(), 1) << name;
    ASSERT_GE(grid.tokens.back(), 2048) << name;
    for (size_t i = 1; i < grid.tokens.size(); ++i) EXPECT_LE(grid.tokens[i], 2 * grid.tokens[i - 1]) << name;
  }
}

TEST(KernelBenchCoverage, DecodeStepIsTheSumOfItsTableRows) {
  // Three sequences decoding one token each at 40 tokens of context (39 cached): kbench attn_decode(3, 40).
  ak::ForwardInput in;
  for (int i = 0; i < 3; ++i) {
    ak::SeqChunk c;
    c.q_len = 1;
    c.context_len = 40;
    c.block_table = {3 * i, 3 * i + 1, 3 * i + 2};
    c.sample = true;
    in.seqs.push_back(c);
    in.tokens.push_back(10 + i);
  }
  expect_forward_equals_table_sum(in, 16, "attn_decode/3/3/40");
}

TEST(KernelBenchCoverage, PrefillChunkIsTheSumOfItsTableRows) {
  // One chunk of 8 prompt tokens after a cached prefix of 20: kbench attn_prefill(chunk 8, kv 28); one sampled row.
  ak::ForwardInput in;
  ak::SeqChunk c;
  c.q_len = 8;
  c.context_len = 28;
  c.block_table = {5, 9};
  c.sample = true;
  in.seqs.push_back(c);
  for (int i = 0; i < 8; ++i) in.tokens.push_back(i * 7);
  expect_forward_equals_table_sum(in, 16, "attn_prefill/8/1/28");
}
