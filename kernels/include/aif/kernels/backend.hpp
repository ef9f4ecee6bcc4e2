// The operator interface the engine runs on: one implementation per device (CPU: OpenBLAS + TBB, fp32;
// CUDA: cuBLAS bf16 GEMMs + own kernels). Every pointer handed to an operator lives in the backend's own
// memory (allocate / copy_to_device); shapes are written beside each argument as [rows][cols], row-major.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace aif::kernels {

// A weight matrix W[n][k] (out_features x in_features, the layout of a PyTorch Linear) in the backend's
// storage format: fp32 on the CPU, bf16 on CUDA.
class Matrix {
 public:
  virtual ~Matrix() = default;
  virtual int rows() const = 0;  // n, out features
  virtual int cols() const = 0;  // k, in features
};

// Attention over a paged KV cache for a batch of sequences. Sequence s owns query rows
// [q_start[s], q_start[s+1]) of q, which are its last (q_start[s+1]-q_start[s]) positions out of
// context_lens[s] (so a prefill chunk with a cached prefix, and decode as the one-row case). Row r of
// sequence s attends causally to keys 0 .. context_lens[s] - q_len + r. Key j of sequence s lives in slot
// block_tables[s * max_blocks_per_seq + j / block_size] * block_size + j % block_size of the cache.
// All index arrays are in backend memory.
struct AttentionBatch {
  int num_seqs = 0;
  const int32_t* q_start = nullptr;       // [num_seqs + 1]
  const int32_t* context_lens = nullptr;  // [num_seqs]
  const int32_t* block_tables = nullptr;  // [num_seqs][max_blocks_per_seq]
  int max_blocks_per_seq = 0;
  int block_size = 16;
  int max_q_len = 0;        // largest q_len in the batch (launch hint)
  int max_context_len = 0;  // largest context_lens (scratch size)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;                // "cpu" or "cuda"
  virtual std::string device_description() const = 0;  // CPU model / GPU name, library versions

  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr) = 0;
  virtual void copy_to_device(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_to_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void fill(float* dst, float value, size_t count) = 0;
  virtual void synchronize() = 0;

  // host_w[n][k] in fp32, converted to the storage format.
  virtual std::unique_ptr<Matrix> make_matrix(const float* host_w, int n, int k) = 0;

  // y[m][n] = x[m][k] W^T.
  virtual void linear(const float* x, int m, const Matrix& w, float* y) = 0;
  // y[m][hidden] = table[tokens[i]][hidden].
  virtual void embedding(const int32_t* tokens, int m, const float* table, int hidden, float* y) = 0;
  // y[m][hidden] = x / rms(x) * gamma, rms over each row (eps added to the mean square).
  virtual void rms_norm(const float* x, const float* gamma, int m, int hidden, float eps, float* y) = 0;
  // In place on x rows (row_stride floats apart), heads x head_dim each: rotary embedding with the
  // "rotate half" pairing (i, i + head_dim/2), angle positions[r] * theta^(-2i/head_dim).
  virtual void rope(float* x, int row_stride, const int32_t* positions, int m, int heads, int head_dim,
                    float theta) = 0;
  // k_cache/v_cache[slot][kv_heads][head_dim] = k/v rows (row_stride apart); slots[m].
  virtual void kv_cache_write(const float* k, const float* v, int row_stride, const int32_t* slots, int m,
                              int kv_heads, int head_dim, float* k_cache, float* v_cache) = 0;
  // out[rows][heads * head_dim] = softmax(q k^T * scale) v with GQA (head h reads kv head h / (heads/kv_heads)).
  // q rows are q_stride floats apart.
  virtual void attention(const float* q, int q_stride, const AttentionBatch& batch, const float* k_cache,
                         const float* v_cache, int heads, int kv_heads, int head_dim, float scale, float* out) = 0;
  // out[m][ffn] = silu(gate_up[:, :ffn]) * gate_up[:, ffn:]   (gate_up is [m][2 ffn]).
  virtual void swiglu(const float* gate_up, int m, int ffn, float* out) = 0;
  // x[count] += y[count] (residual add).
  virtual void add(float* x, const float* y, size_t count) = 0;
  // y[count][width] = x[rows[i]][width].
  virtual void gather_rows(const float* x, const int32_t* rows, int count, int width, float* y) = 0;
};

// CPU backend. threads <= 0: the number of hardware threads. OpenBLAS and TBB are both limited to
// `threads` so that GEMMs and the TBB operators never oversubscribe the cores.
std::unique_ptr<Backend> make_cpu_backend(int threads = 0);

// True when this build has the CUDA backend and a CUDA device answers.
bool cuda_device_available(std::string* why_not = nullptr);
// Throws std::runtime_error when not built with CUDA or when no device is present.
std::unique_ptr<Backend> make_cuda_backend(int device = 0);
// "cpu" or "cuda".
std::unique_ptr<Backend> make_backend(const std::string& name, int cpu_threads = 0);

// Owning array in a backend's memory.
template <typename T>
class DeviceArray {
 public:
  DeviceArray() = default;
  DeviceArray(Backend& backend, size_t count)
      : backend_(&backend), data_(static_cast<T*>(backend.allocate(count * sizeof(T)))), count_(count) {}
  ~DeviceArray() { reset(); }
  DeviceArray(DeviceArray&& o) noexcept { swap(o); }
  DeviceArray& operator=(DeviceArray&& o) noexcept {
    if (this != &o) {
      reset();
      swap(o);
    }
    return *this;
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return count_; }
  void upload(const T* host, size_t count) { backend_->copy_to_device(data_, host, count * sizeof(T)); }
  void download(T* host, size_t count) const { backend_->copy_to_host(host, data_, count * sizeof(T)); }
  // Grow (never shrink) to hold count elements; contents are not kept.
  void reserve(Backend& backend, size_t count) {
    if (backend_ == &backend && count <= count_) return;
    *this = DeviceArray(backend, count);
  }

 private:
  void reset() {
    if (data_) backend_->deallocate(data_);
    data_ = nullptr;
    count_ = 0;
  }
  void swap(DeviceArray& o) {
    std::swap(backend_, o.backend_);
    std::swap(data_, o.data_);
    std::swap(count_, o.count_);
  }
  Backend* backend_ = nullptr;
  T* data_ = nullptr;
  size_t count_ = 0;
};

}  // namespace aif::kernels
