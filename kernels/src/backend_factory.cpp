#include <stdexcept>
#include <string>

#include "aif/kernels/backend.hpp"
#include "aif/kernels/platform_info.hpp"

namespace aif::kernels {

#ifdef AIF_HAVE_CUDA
// Implemented in kernels/cuda/cuda_backend.cu.
bool cuda_probe(std::string* why_not);
std::unique_ptr<Backend> make_cuda_backend_impl(int device);
bool built_with_cuda() { return true; }
#else
bool built_with_cuda() { return false; }
#endif

bool cuda_device_available(std::string* why_not) {
#ifdef AIF_HAVE_CUDA
  return cuda_probe(why_not);
#else
  if (why_not) *why_not = "this build has no CUDA backend (no CUDA toolkit found, or AIF_ENABLE_CUDA=OFF)";
  return false;
#endif
}

std::unique_ptr<Backend> make_cuda_backend(int device) {
  std::string why;
  if (!cuda_device_available(&why)) throw std::runtime_error("CUDA backend unavailable: " + why);
#ifdef AIF_HAVE_CUDA
  return make_cuda_backend_impl(device);
#else
  (void)device;
  return nullptr;
#endif
}

std::unique_ptr<Backend> make_backend(const std::string& name, int cpu_threads) {
  if (name == "cpu") return make_cpu_backend(cpu_threads);
  if (name == "cuda") return make_cuda_backend(0);
  throw std::invalid_argument("unknown backend '" + name + "' (valid: cpu, cuda)");
}

}  // namespace aif::kernels
