// From a scenario's service to its step-time model: the perf model its replicas use, the KV cache they hold, and the
// check that the measured tables cover every step the service can ask for.
#pragma once
#include <memory>

#include "aif/models/perf.hpp"
#include "aif/scenario/scenario.hpp"

namespace aif::sim {

// KV cache blocks of one replica of services[index]: as configured, or what its GPUs' HBM holds after the weights.
int kv_blocks(const Scenario& scenario, const ServiceConfig& service, size_t index);

// The iteration-time model a service's replicas use (also used to predict measured steps in validation).
std::unique_ptr<models::PerfModel> make_perf_model(const Scenario& scenario, const ServiceConfig& service);

// How a service's replica splits a step (tp, pp, dp attention ranks, bf16 activations) at its clock, as the calibrated
// perf model composes it.
models::ComposedOptions composed_options(const ServiceConfig& service);

// A mixture of experts whose expert-parallel group (data_parallel x tp GPUs, one pipeline stage) spans servers: the
// bytes each GPU sends to other servers' GPUs per token of a step, in all its layers' all-to-alls (dispatch and
// combine). The run moves them as fabric flows; the perf model times the part within a server. 0 otherwise.
double expert_flow_bytes_per_token(const Scenario& scenario, const ServiceConfig& service);

// The longest prompt + output the service accepts: scheduler.max_model_len, at most the model's context.
int max_model_len(const Scenario& scenario, const ServiceConfig& service);

// The largest step services[index] may schedule: its batch limits, the model's context and the KV cache.
models::StepLimits service_step_limits(const Scenario& scenario, size_t index);

// Builds services[index]'s perf model and checks its tables cover the service's largest steps. Throws ScenarioError at
// `file`:`line`, key services[index].perf (or .dtype / .tp when the profile lacks them), naming the table and value.
void check_service_perf(const Scenario& scenario, size_t index, const std::string& file, int line);

// How the run describes a service's perf model in /meta and the summary: "calibrated: ..." or "roofline: ... (why)".
std::string perf_provenance(const Scenario& scenario, const ServiceConfig& service);

}  // namespace aif::sim
