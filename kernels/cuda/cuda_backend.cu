// CUDA backend: bf16 weights with cuBLAS GEMMs (fp32 accumulate, fp32 activations), own kernels for the rest.
// Written for clarity first; the attention kernel is a plain three-pass softmax over a global scratch row.
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "aif/kernels/backend.hpp"

namespace aif::kernels {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}
void check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string(what) + ": " + cublasGetStatusName(s) + " (" + cublasGetStatusString(s) + ")");
}
// A launch that fails (bad configuration, no kernel image for this GPU) only says so through cudaGetLastError; without
// this the next synchronize would report it under another operator's name, or a timed run would time nothing.
void launched(const char* kernel) { check(cudaGetLastError(), kernel); }

constexpr int THREADS = 256;
unsigned blocks_for(size_t n) { return static_cast<unsigned>((n + THREADS - 1) / THREADS); }

__global__ void fill_kernel(float* x, float v, size_t n) {
  const size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x;
  if (i < n) x[i] = v;
}
__global__ void to_bf16_kernel(const float* x, __nv_bfloat16* y, size_t n) {
  const size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x;
  if (i < n) y[i] = __float2bfloat16(x[i]);
}
__global__ void embedding_kernel(const int32_t* tok, const float* table, int hidden, float* y, size_t n) {
  const size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x;
  if (i < n) y[i] = table[size_t(tok[i / hidden]) * hidden + i % hidden];
}
__global__ void gather_kernel(const float* x, const int32_t* rows, int width, float* y, size_t n) {
  const size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x;
  if (i < n) y[i] = x[size_t(rows[i / width]) * width + i % width];
}
__global__ void add_kernel(float* x, const float* y, size_t n) {
  const size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x;
  if (i < n) x[i] += y[i];
}
__global__ void swiglu_kernel(const float* gu, int ffn, float* out, size_t n) {
  const size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const size_t row = i / ffn, j = i % ffn;
  const float g = gu[row * 2 * ffn + j], u = gu[row * 2 * ffn + ffn + j];
  out[i] = g / (1.0f + expf(-g)) * u;
}

// Block-wide sum or max over THREADS threads.
template <bool MAX>
__device__ float block_reduce(float v, float* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) shared[threadIdx.x] = MAX ? fmaxf(shared[threadIdx.x], shared[threadIdx.x + s])
                                                   : shared[threadIdx.x] + shared[threadIdx.x + s];
    __syncthreads();
  }
  const float r = shared[0];
  __syncthreads();
  return r;
}

__global__ void rms_norm_kernel(const float* x, const float* gamma, int hidden, float eps, float* y) {
  __shared__ float red[THREADS];
  const float* xr = x + size_t(blockIdx.x) * hidden;
  float ss = 0;
  for (int j = threadIdx.x; j < hidden; j += blockDim.x) ss += xr[j] * xr[j];
  const float inv = rsqrtf(block_reduce<false>(ss, red) / hidden + eps);
  for (int j = threadIdx.x; j < hidden; j += blockDim.x) y[size_t(blockIdx.x) * hidden + j] = xr[j] * inv * gamma[j];
}

__global__ void rope_kernel(float* x, int stride, const int32_t* pos, int heads, int head_dim, float theta, size_t n) {
  const size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x;  // over rows x heads x half
  const int half = head_dim / 2;
  if (i >= n) return;
  const size_t row = i / (size_t(heads) * half);
  const int h = int(i / half % heads), k = int(i % half);
  // Angle in double: positions up to 1e5 times a frequency near 1 lose too much in a float product.
  const double angle = double(pos[row]) * pow(double(theta), -2.0 * k / head_dim);
  const float c = float(cos(angle)), s = float(sin(angle));
  float* v = x + row * stride + size_t(h) * head_dim;
  const float a = v[k], b = v[k + half];
  v[k] = a * c - b * s;
  v[k + half] = b * c + a * s;
}

__global__ void kv_write_kernel(const float* k, const float* v, int stride, const int32_t* slots, int width,
                                float* kc, float* vc, size_t n) {
  const size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const size_t row = i / width, j = i % width;
  kc[size_t(slots[row]) * width + j] = k[row * stride + j];
  vc[size_t(slots[row]) * width + j] = v[row * stride + j];
}

// One block per (query row, head). scratch: one row of max_context floats per block.
__global__ void attention_kernel(const float* q, int q_stride, int num_seqs, const int32_t* q_start,
                                 const int32_t* context_lens, const int32_t* tables, int max_blocks, int block_size,
                                 const float* kc, const float* vc, int heads, int kv_heads, int head_dim, float scale,
                                 float* out, float* scratch, int max_context) {
  __shared__ float red[THREADS];
  const int row = blockIdx.x / heads, h = blockIdx.x % heads;
  int s = 0;
  while (s + 1 < num_seqs && q_start[s + 1] <= row) ++s;
  const int q_len = q_start[s + 1] - q_start[s];
  const int keys = context_lens[s] - q_len + (row - q_start[s]) + 1;
  const int32_t* table = tables + size_t(s) * max_blocks;
  const int kv_w = kv_heads * head_dim;
  const size_t kv_off = size_t(h / (heads / kv_heads)) * head_dim;
  const float* qv = q + size_t(row) * q_stride + size_t(h) * head_dim;
  float* sc = scratch + size_t(blockIdx.x) * max_context;
  float mx = -INFINITY;
  for (int j = threadIdx.x; j < keys; j += blockDim.x) {
    const size_t slot = size_t(table[j / block_size]) * block_size + j % block_size;
    const float* kv = kc + slot * kv_w + kv_off;
    float d = 0;
    for (int e = 0; e < head_dim; ++e) d += qv[e] * kv[e];
    sc[j] = d * scale;
    mx = fmaxf(mx, sc[j]);
  }
  mx = block_reduce<true>(mx, red);
  float sum = 0;
  for (int j = threadIdx.x; j < keys; j += blockDim.x) sum += (sc[j] = expf(sc[j] - mx));
  sum = block_reduce<false>(sum, red);
  __syncthreads();
  for (int e = threadIdx.x; e < head_dim; e += blockDim.x) {
    float acc = 0;
    for (int j = 0; j < keys; ++j) {
      const size_t slot = size_t(table[j / block_size]) * block_size + j % block_size;
      acc += sc[j] * vc[slot * kv_w + kv_off + e];
    }
    out[size_t(row) * heads * head_dim + size_t(h) * head_dim + e] = acc / sum;
  }
}

class CudaMatrix final : public Matrix {
 public:
  CudaMatrix(const float* host, int n, int k) : n_(n), k_(k) {
    std::vector<__nv_bfloat16> tmp(size_t(n) * k);
    for (size_t i = 0; i < tmp.size(); ++i) tmp[i] = __float2bfloat16(host[i]);
    check(cudaMalloc(&w_, tmp.size() * sizeof(__nv_bfloat16)), "cudaMalloc weights");
    const cudaError_t e = cudaMemcpy(w_, tmp.data(), tmp.size() * sizeof(__nv_bfloat16), cudaMemcpyHostToDevice);
    if (e != cudaSuccess) cudaFree(w_);  // the destructor does not run when the constructor throws
    check(e, "upload weights");
  }
  ~CudaMatrix() override { cudaFree(w_); }
  int rows() const override { return n_; }
  int cols() const override { return k_; }
  const __nv_bfloat16* data() const { return w_; }

 private:
  int n_, k_;
  __nv_bfloat16* w_ = nullptr;
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) {
    check(cudaSetDevice(device), "cudaSetDevice");
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    int driver = 0, runtime = 0;
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    description_ = std::string(prop.name) + "; sm_" + std::to_string(prop.major) + std::to_string(prop.minor) +
                   "; driver " + std::to_string(driver) + ", runtime " + std::to_string(runtime) + "; cuBLAS bf16";
    // The kernels are compiled for CMAKE_CUDA_ARCHITECTURES (sm_90): on another GPU every launch would fail.
    // Say so once, here, naming both, rather than at the first operator.
    cudaFuncAttributes attributes{};
    const cudaError_t image = cudaFuncGetAttributes(&attributes, fill_kernel);
    if (image != cudaSuccess) {
      cudaGetLastError();  // clear it: the error is reported by the exception
      throw std::runtime_error(std::string(prop.name) + " (sm_" + std::to_string(prop.major) +
                               std::to_string(prop.minor) + ") cannot run this build's kernels: " +
                               cudaGetErrorString(image) + " (rebuild with -DCMAKE_CUDA_ARCHITECTURES=" +
                               std::to_string(prop.major) + std::to_string(prop.minor) + ")");
    }
    check(cublasCreate(&handle_), "cublasCreate");
  }
  ~CudaBackend() override {
    cublasDestroy(handle_);
    cudaFree(x16_);
    cudaFree(scratch_);
  }
  std::string name() const override { return "cuda"; }
  std::string device_description() const override { return description_; }

  void* allocate(size_t bytes) override {
    void* p = nullptr;
    check(cudaMalloc(&p, bytes ? bytes : 1), ("cudaMalloc of " + std::to_string(bytes) + " bytes").c_str());
    return p;
  }
  void deallocate(void* p) override { cudaFree(p); }
  void copy_to_device(void* dst, const void* src, size_t bytes) override {
    check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "copy to device");
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "copy to host");
  }
  void fill(float* dst, float v, size_t n) override {
    if (!n) return;
    fill_kernel<<<blocks_for(n), THREADS>>>(dst, v, n);
    launched("fill_kernel");
  }
  void synchronize() override { check(cudaDeviceSynchronize(), "synchronize"); }

  std::unique_ptr<Matrix> make_matrix(const float* w, int n, int k) override {
    return std::make_unique<CudaMatrix>(w, n, k);
  }

  void linear(const float* x, int m, const Matrix& w, float* y) override {
    if (m <= 0) return;
    const auto& cw = static_cast<const CudaMatrix&>(w);
    const size_t nx = size_t(m) * cw.cols();
    grow(reinterpret_cast<void**>(&x16_), x16_cap_, nx * sizeof(__nv_bfloat16));
    to_bf16_kernel<<<blocks_for(nx), THREADS>>>(x, x16_, nx);
    launched("to_bf16_kernel");
    const float alpha = 1.0f, beta = 0.0f;
    // Column-major view: y^T [n x m] = W [n x k] . x^T [k x m].
    check(cublasGemmEx(handle_, CUBLAS_OP_T, CUBLAS_OP_N, cw.rows(), m, cw.cols(), &alpha, cw.data(), CUDA_R_16BF,
                       cw.cols(), x16_, CUDA_R_16BF, cw.cols(), &beta, y, CUDA_R_32F, cw.rows(), CUBLAS_COMPUTE_32F,
                       CUBLAS_GEMM_DEFAULT),
          "cublasGemmEx");
  }
  void embedding(const int32_t* tok, int m, const float* table, int hidden, float* y) override {
    const size_t n = size_t(m) * hidden;
    if (!n) return;
    embedding_kernel<<<blocks_for(n), THREADS>>>(tok, table, hidden, y, n);
    launched("embedding_kernel");
  }
  void rms_norm(const float* x, const float* g, int m, int hidden, float eps, float* y) override {
    if (m <= 0) return;
    rms_norm_kernel<<<m, THREADS>>>(x, g, hidden, eps, y);
    launched("rms_norm_kernel");
  }
  void rope(float* x, int stride, const int32_t* pos, int m, int heads, int head_dim, float theta) override {
    const size_t n = size_t(m) * heads * (head_dim / 2);
    if (!n) return;
    rope_kernel<<<blocks_for(n), THREADS>>>(x, stride, pos, heads, head_dim, theta, n);
    launched("rope_kernel");
  }
  void kv_cache_write(const float* k, const float* v, int stride, const int32_t* slots, int m, int kv_heads,
                      int head_dim, float* kc, float* vc) override {
    const size_t n = size_t(m) * kv_heads * head_dim;
    if (!n) return;
    kv_write_kernel<<<blocks_for(n), THREADS>>>(k, v, stride, slots, kv_heads * head_dim, kc, vc, n);
    launched("kv_write_kernel");
  }
  void attention(const float* q, int q_stride, const AttentionBatch& b, const float* kc, const float* vc, int heads,
                 int kv_heads, int head_dim, float scale, float* out) override {
    // Rows are counted on the host from the launch hints: q_start lives on the device.
    int rows = 0;
    check(cudaMemcpy(&rows, b.q_start + b.num_seqs, sizeof(int), cudaMemcpyDeviceToHost), "read q_start");
    if (rows <= 0) return;
    const size_t blocks = size_t(rows) * heads;
    grow(reinterpret_cast<void**>(&scratch_), scratch_cap_, blocks * size_t(b.max_context_len) * sizeof(float));
    attention_kernel<<<unsigned(blocks), THREADS>>>(q, q_stride, b.num_seqs, b.q_start, b.context_lens, b.block_tables,
                                                     b.max_blocks_per_seq, b.block_size, kc, vc, heads, kv_heads,
                                                     head_dim, scale, out, scratch_, b.max_context_len);
    launched("attention_kernel");
  }
  void swiglu(const float* gu, int m, int ffn, float* out) override {
    const size_t n = size_t(m) * ffn;
    if (!n) return;
    swiglu_kernel<<<blocks_for(n), THREADS>>>(gu, ffn, out, n);
    launched("swiglu_kernel");
  }
  void add(float* x, const float* y, size_t n) override {
    if (!n) return;
    add_kernel<<<blocks_for(n), THREADS>>>(x, y, n);
    launched("add_kernel");
  }
  void gather_rows(const float* x, const int32_t* rows, int count, int width, float* y) override {
    const size_t n = size_t(count) * width;
    if (!n) return;
    gather_kernel<<<blocks_for(n), THREADS>>>(x, rows, width, y, n);
    launched("gather_kernel");
  }

 private:
  void grow(void** p, size_t& cap, size_t bytes) {
    if (bytes <= cap) return;
    check(cudaDeviceSynchronize(), "synchronize before regrow");
    check(cudaFree(*p), "cudaFree scratch");
    // Forget the old buffer first: should the larger one not fit, the destructor must not free it again.
    *p = nullptr;
    cap = 0;
    check(cudaMalloc(p, bytes), ("cudaMalloc scratch of " + std::to_string(bytes) + " bytes").c_str());
    cap = bytes;
  }
  std::string description_;
  cublasHandle_t handle_ = nullptr;
  __nv_bfloat16* x16_ = nullptr;
  size_t x16_cap_ = 0;
  float* scratch_ = nullptr;
  size_t scratch_cap_ = 0;
};

}  // namespace

bool cuda_probe(std::string* why_not) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    if (why_not) *why_not = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(e);
    return false;
  }
  if (count == 0) {
    if (why_not) *why_not = "no CUDA device";
    return false;
  }
  return true;
}

std::unique_ptr<Backend> make_cuda_backend_impl(int device) { return std::make_unique<CudaBackend>(device); }

}  // namespace aif::kernels
