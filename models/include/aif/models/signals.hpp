// Time-varying site signals (carbon intensity, electricity price, normalised solar output, outdoor temperature):
// a series of (time, value) points with a rule between points and a rule outside them, evaluated and integrated
// exactly. Pure: no files here (sim/signals.hpp reads CSV into a TimeSeries).
#pragma once
#include <cstddef>
#include <vector>

namespace aif::models {

// Between two points.
enum class Interpolation {
  LINEAR,  // straight line between neighbouring points
  STEP,    // a point's value holds until the next point (right-continuous: at(t_i) = v_i)
};

// Outside [first point, last point].
enum class Extrapolation {
  HOLD,    // the first value before the series, the last value after it
  REPEAT,  // the series repeats with a period (a day or a month of data reused over a longer run)
};

// A signal s(t) defined by points (t_i, v_i), t_0 < t_1 < ... < t_{n-1} (seconds; any origin).
//
// Inside the points: LINEAR s(t) = v_i + (v_{i+1} - v_i) (t - t_i) / (t_{i+1} - t_i); STEP s(t) = v_i on
// [t_i, t_{i+1}).
// HOLD: s(t) = v_0 for t < t_0, s(t) = v_{n-1} for t > t_{n-1}.
// REPEAT with period P >= t_{n-1} - t_0: s(t) = s(t_0 + ((t - t_0) mod P)), both ways in time. The wrap segment
// [t_{n-1}, t_0 + P) goes from v_{n-1} back to v_0 (LINEAR) or holds v_{n-1} (STEP). When P equals the span the
// wrap segment is empty and v_{n-1} is only a limit: at t_{n-1} the next period has begun and s = v_0.
//
// integral(t0, t1) is exact for this definition (trapezoids, partial segments, whole periods), up to floating-point
// rounding. Energy-weighted quantities need the integral of power times signal:
//  - power piecewise constant (P_k on [a_k, a_{k+1}), as the simulator's power is between events):
//      integral P(t) s(t) dt = sum_k P_k * s.integral(a_k, a_{k+1});
//  - power itself a TimeSeries (e.g. solar): p.integral_product(s, t0, t1).
// With W and seconds: carbon [g] = integral P[W] * I[gCO2/kWh] dt[s] / 3.6e6; cost likewise with a price per kWh.
class TimeSeries {
 public:
  struct Point {
    double time_s;
    double value;
  };

  // Throws std::invalid_argument naming the problem: no points, a non-finite time or value, times not strictly
  // increasing (naming the index and both times), a REPEAT period that is not finite or shorter than the span.
  // period_s = 0 with REPEAT picks the span plus the last spacing (t_{n-1} - t_{n-2}), i.e. points are taken as
  // evenly sampled and the next period starts one step after the last point; a single point gives a constant.
  TimeSeries(std::vector<Point> points, Interpolation interpolation = Interpolation::LINEAR,
             Extrapolation outside = Extrapolation::HOLD, double period_s = 0);

  // s(t) = v for every t.
  static TimeSeries constant(double value);

  double at(double t) const;
  // Exact integral of s over [t0, t1] (value x seconds). Requires finite t0 <= t1 (std::invalid_argument).
  double integral(double t0, double t1) const;
  // Exact integral of this(t) x other(t) over [t0, t1] for any combination of LINEAR and STEP series: between
  // consecutive breakpoints of either series both are linear, so the product is a quadratic, which two-point
  // Gauss-Legendre quadrature integrates exactly (and its nodes are inside the interval, away from STEP jumps).
  double integral_product(const TimeSeries& other, double t0, double t1) const;
  // integral(t0, t1) / (t1 - t0); at(t0) when t0 == t1.
  double mean(double t0, double t1) const;
  // Times in the open interval (t0, t1) where the series' slope or value may change (its points, repeated with the
  // period when REPEAT), ascending. Requires finite t0 <= t1.
  std::vector<double> breakpoints(double t0, double t1) const;

  // The same series with every value multiplied by `factor` (e.g. normalised solar x installed watts).
  TimeSeries scaled(double factor) const;

  const std::vector<Point>& points() const { return points_; }
  Interpolation interpolation() const { return interpolation_; }
  Extrapolation extrapolation() const { return outside_; }
  double period_s() const { return period_s_; }  // 0 when HOLD
  double start_s() const { return points_.front().time_s; }
  double end_s() const { return points_.back().time_s; }
  double min_value() const;
  double max_value() const;

 private:
  // s at tau in [t_0, t_0 + P) (REPEAT) or at any tau (HOLD).
  double value_in_base(double tau) const;
  // F(t) = integral from t_0 to t of s (negative for t < t_0).
  double cumulative(double t) const;
  double cumulative_in_base(double tau) const;  // tau within [t_0, t_0 + P] (REPEAT) or [t_0, t_{n-1}]
  // t mapped into [t_0, t_0 + P) and the whole periods k with t = tau + k P.
  void reduce(double t, double& tau, double& k) const;
  std::size_t segment_of(double tau) const;  // largest i with t_i <= tau (tau >= t_0)
  void check_interval(double t0, double t1, const char* what) const;

  std::vector<Point> points_;
  Interpolation interpolation_;
  Extrapolation outside_;
  double period_s_ = 0;
  std::vector<double> cumulative_;  // cumulative_[i] = integral from t_0 to t_i
  double period_integral_ = 0;      // integral over one period (REPEAT)
};

}  // namespace aif::models
