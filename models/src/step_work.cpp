#include "aif/models/step_work.hpp"

#include <cmath>
#include <stdexcept>

namespace aif::models {

StepWorkModel::StepWorkModel(const ModelArch& model, double bytes_per_element, int tp, int pp,
                             double kv_bytes_per_element, int dp)
    : attention_flops_per_pair_(4.0 * model.layers * model.heads * model.head_dim),
      bytes_per_element_(bytes_per_element),
      tp_(tp),
      pp_(pp) {
  if (tp < 1) throw std::invalid_argument("tp must be at least 1");
  if (pp < 1) throw std::invalid_argument("pp must be at least 1");
  if (dp < 1 || (dp > 1 && !model.is_moe()))
    throw std::invalid_argument("dp must be 1, or more for a mixture of experts");
  if (!(bytes_per_element > 0)) throw std::invalid_argument("bytes per element must be > 0");
  head_params_ = static_cast<double>(model.vocab) * model.hidden;
  layer_params_ = model.parameters() - 2.0 * head_params_ - model.hidden;  // minus embedding, LM head, final norm
  if (model.is_moe()) {
    layer_params_ -= model.expert_parameters();
    experts_ = model.experts;
    experts_per_token_ = model.experts_per_token;
    expert_params_ = model.expert_parameters() / model.experts;
    dp_ = dp;
  }
  kv_bytes_per_token_ = model.kv_bytes_per_token(kv_bytes_per_element > 0 ? kv_bytes_per_element : bytes_per_element);
}

StepWork StepWorkModel::work(const BatchShape& s) const {
  StepWork w;
  if (s.num_seqs == 0) return w;
  // Written as the roofline model always counted them (a micro-batch of 1/pp of the step on tp GPUs), so that its
  // times stay the same to the last bit.
  const double tokens = static_cast<double>(s.num_tokens) / pp_, sampled = static_cast<double>(s.sampled_seqs) / pp_;
  if (experts_ > 0) {
    // Per GPU of a rank: its rank's tokens through the shared layers, and its 1/(tp dp) of all tokens' expert work.
    const double touched = experts_ * (1 - std::pow(1 - experts_per_token_ / experts_, tokens));
    w.linear_flops = 2.0 * ((layer_params_ + expert_params_ * experts_per_token_) * tokens / dp_ +
                            head_params_ * sampled / dp_) / tp_;
    w.linear_bytes = ((layer_params_ + head_params_) + expert_params_ * touched / dp_) * bytes_per_element_ / tp_;
  } else {
    w.linear_flops = 2.0 * (layer_params_ * tokens + head_params_ * sampled) / tp_;
    w.linear_bytes = (layer_params_ + head_params_) * bytes_per_element_ / tp_;
  }
  w.attention_flops = attention_flops_per_pair_ * (s.attended_pairs / pp_) / tp_ / dp_;
  w.attention_bytes = kv_bytes_per_token_ * (s.kv_read_tokens / pp_ + tokens) / tp_ / dp_;
  return w;
}

StepWork StepWorkModel::request_work(double p, double o) const {
  // Every count is linear in the step shape, so the request's steps add up into one shape:
  //   tokens p + o - 1, sampled rows o (the prefill's last token and each decode step),
  //   pairs  p (p + 1) / 2 + sum_{j=1}^{o-1} (p + j) = p (p + 1) / 2 + (o - 1) p + o (o - 1) / 2,
  //   keys read p + sum_{j=1}^{o-1} (p + j) = p + (o - 1) p + o (o - 1) / 2.
  BatchShape s;
  s.num_seqs = 1;
  s.num_tokens = static_cast<int64_t>(p + o - 1);
  s.sampled_seqs = static_cast<int>(o);
  s.attended_pairs = p * (p + 1) / 2 + (o - 1) * p + o * (o - 1) / 2;
  s.kv_read_tokens = p + (o - 1) * p + o * (o - 1) / 2;
  StepWork w = work(s);
  w.linear_bytes = 0;
  return w;
}

}  // namespace aif::models
