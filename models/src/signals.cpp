#include "aif/models/signals.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>

namespace aif::models {

namespace {

std::string number(double x) {
  std::ostringstream s;
  s.precision(17);
  s << x;
  return s.str();
}

}  // namespace

TimeSeries::TimeSeries(std::vector<Point> points, Interpolation interpolation, Extrapolation outside, double period_s)
    : points_(std::move(points)), interpolation_(interpolation), outside_(outside) {
  if (points_.empty()) throw std::invalid_argument("TimeSeries: no points (expected at least one (time, value))");
  for (size_t i = 0; i < points_.size(); ++i) {
    if (!std::isfinite(points_[i].time_s))
      throw std::invalid_argument("TimeSeries: point " + std::to_string(i) + " has a non-finite time");
    if (!std::isfinite(points_[i].value))
      throw std::invalid_argument("TimeSeries: point " + std::to_string(i) + " at t = " + number(points_[i].time_s) +
                                  " s has a non-finite value");
    if (i > 0 && !(points_[i].time_s > points_[i - 1].time_s))
      throw std::invalid_argument("TimeSeries: times must be strictly increasing, but point " + std::to_string(i) +
                                  " has t = " + number(points_[i].time_s) + " s after point " + std::to_string(i - 1) +
                                  " at t = " + number(points_[i - 1].time_s) + " s");
  }
  const size_t n = points_.size();
  const double span = points_.back().time_s - points_.front().time_s;
  if (!std::isfinite(span)) throw std::invalid_argument("TimeSeries: the span of the times is not finite");
  if (outside_ == Extrapolation::REPEAT) {
    if (!std::isfinite(period_s) || period_s < 0)
      throw std::invalid_argument("TimeSeries: the repeat period must be finite and >= 0 (0 = automatic), found " +
                                  number(period_s));
    if (n == 1) {
      outside_ = Extrapolation::HOLD;  // one point repeated is the same constant
      period_s = 0;
    } else if (period_s == 0) {
      period_s = span + (points_[n - 1].time_s - points_[n - 2].time_s);
    } else if (period_s < span) {
      throw std::invalid_argument("TimeSeries: the repeat period " + number(period_s) +
                                  " s is shorter than the span of the points " + number(span) + " s");
    }
    period_s_ = period_s;
  }

  // Prefix integrals over whole segments: trapezoids (LINEAR) or rectangles (STEP).
  cumulative_.assign(n, 0.0);
  for (size_t i = 1; i < n; ++i) {
    const double h = points_[i].time_s - points_[i - 1].time_s;
    const double area = interpolation_ == Interpolation::LINEAR ? h * 0.5 * (points_[i - 1].value + points_[i].value)
                                                                : h * points_[i - 1].value;
    cumulative_[i] = cumulative_[i - 1] + area;
  }
  if (outside_ == Extrapolation::REPEAT) period_integral_ = cumulative_in_base(points_.front().time_s + period_s_);
}

TimeSeries TimeSeries::constant(double value) { return TimeSeries({{0.0, value}}); }

size_t TimeSeries::segment_of(double tau) const {
  // upper_bound gives the first point strictly after tau; the one before it starts tau's segment.
  const auto it =
      std::upper_bound(points_.begin(), points_.end(), tau, [](double t, const Point& p) { return t < p.time_s; });
  return it == points_.begin() ? 0 : static_cast<size_t>(std::distance(points_.begin(), it) - 1);
}

void TimeSeries::reduce(double t, double& tau, double& k) const {
  if (outside_ == Extrapolation::HOLD) {
    tau = t;
    k = 0;
    return;
  }
  const double t0 = points_.front().time_s;
  k = std::floor((t - t0) / period_s_);
  tau = t - k * period_s_;
  // floor of a rounded quotient can be off by one period at the edges.
  if (tau >= t0 + period_s_) {
    tau -= period_s_;
    k += 1;
  } else if (tau < t0) {
    tau += period_s_;
    k -= 1;
  }
}

double TimeSeries::value_in_base(double tau) const {
  const Point& first = points_.front();
  const Point& last = points_.back();
  if (tau <= first.time_s) return first.value;
  if (tau >= last.time_s) {
    if (outside_ == Extrapolation::HOLD || interpolation_ == Interpolation::STEP) return last.value;
    const double wrap = first.time_s + period_s_ - last.time_s;  // LINEAR wrap segment back to v_0
    if (wrap <= 0) return first.value;
    return last.value + (first.value - last.value) * (tau - last.time_s) / wrap;
  }
  const size_t i = segment_of(tau);
  const Point& a = points_[i];
  if (interpolation_ == Interpolation::STEP) return a.value;
  const Point& b = points_[i + 1];
  return a.value + (b.value - a.value) * (tau - a.time_s) / (b.time_s - a.time_s);
}

double TimeSeries::cumulative_in_base(double tau) const {
  const Point& first = points_.front();
  const Point& last = points_.back();
  if (tau <= first.time_s) return first.value * (tau - first.time_s);  // HOLD before the series (0 at t_0)
  if (tau >= last.time_s) {
    const double h = tau - last.time_s;
    // HOLD and STEP keep v_{n-1}; the LINEAR wrap segment is a trapezoid up to s(tau).
    if (outside_ == Extrapolation::HOLD || interpolation_ == Interpolation::STEP)
      return cumulative_.back() + last.value * h;
    return cumulative_.back() + h * 0.5 * (last.value + value_in_base(tau));
  }
  const size_t i = segment_of(tau);
  const Point& a = points_[i];
  const double h = tau - a.time_s;
  if (interpolation_ == Interpolation::STEP) return cumulative_[i] + a.value * h;
  return cumulative_[i] + h * 0.5 * (a.value + value_in_base(tau));
}

double TimeSeries::cumulative(double t) const {
  double tau = 0, k = 0;
  reduce(t, tau, k);
  return k * period_integral_ + cumulative_in_base(tau);
}

void TimeSeries::check_interval(double t0, double t1, const char* what) const {
  if (!std::isfinite(t0) || !std::isfinite(t1) || t1 < t0)
    throw std::invalid_argument(std::string("TimeSeries::") + what + ": expected finite t0 <= t1, found t0 = " +
                                number(t0) + " s, t1 = " + number(t1) + " s");
}

double TimeSeries::at(double t) const {
  if (!std::isfinite(t)) throw std::invalid_argument("TimeSeries::at: the time is not finite");
  double tau = 0, k = 0;
  reduce(t, tau, k);
  return value_in_base(tau);
}

double TimeSeries::integral(double t0, double t1) const {
  check_interval(t0, t1, "integral");
  if (t0 == t1) return 0;
  double tau0 = 0, k0 = 0, tau1 = 0, k1 = 0;
  reduce(t0, tau0, k0);
  reduce(t1, tau1, k1);
  // Whole periods first, then the difference inside the base period: keeps the numbers small over long runs.
  return (k1 - k0) * period_integral_ + (cumulative_in_base(tau1) - cumulative_in_base(tau0));
}

double TimeSeries::mean(double t0, double t1) const {
  check_interval(t0, t1, "mean");
  if (t0 == t1) return at(t0);
  return integral(t0, t1) / (t1 - t0);
}

std::vector<double> TimeSeries::breakpoints(double t0, double t1) const {
  check_interval(t0, t1, "breakpoints");
  std::vector<double> out;
  if (outside_ == Extrapolation::HOLD) {
    for (const Point& p : points_)
      if (p.time_s > t0 && p.time_s < t1) out.push_back(p.time_s);
    return out;
  }
  const double first = points_.front().time_s;
  double tau = 0, k = 0;
  reduce(t0, tau, k);
  for (;; k += 1) {
    const double shift = k * period_s_;
    if (first + shift >= t1) break;
    for (const Point& p : points_) {
      const double x = p.time_s + shift;
      if (x >= t1) break;
      if (x > t0 && (out.empty() || x > out.back())) out.push_back(x);
    }
  }
  return out;
}

double TimeSeries::integral_product(const TimeSeries& other, double t0, double t1) const {
  check_interval(t0, t1, "integral_product");
  std::vector<double> a = breakpoints(t0, t1);
  std::vector<double> b = other.breakpoints(t0, t1);
  std::vector<double> knots;
  knots.reserve(a.size() + b.size() + 2);
  knots.push_back(t0);
  std::merge(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(knots));
  knots.push_back(t1);
  // Two-point Gauss-Legendre: nodes at the midpoint -/+ h / (2 sqrt 3), weights h / 2; exact up to cubics.
  const double offset = 0.5 / std::sqrt(3.0);
  double sum = 0;
  for (size_t i = 1; i < knots.size(); ++i) {
    const double h = knots[i] - knots[i - 1];
    if (h <= 0) continue;
    const double m = 0.5 * (knots[i - 1] + knots[i]);
    const double x1 = m - offset * h, x2 = m + offset * h;
    sum += 0.5 * h * (at(x1) * other.at(x1) + at(x2) * other.at(x2));
  }
  return sum;
}

TimeSeries TimeSeries::scaled(double factor) const {
  if (!std::isfinite(factor)) throw std::invalid_argument("TimeSeries::scaled: the factor is not finite");
  std::vector<Point> p = points_;
  for (Point& x : p) x.value *= factor;
  return TimeSeries(std::move(p), interpolation_, outside_, period_s_);
}

double TimeSeries::min_value() const {
  return std::min_element(points_.begin(), points_.end(),
                          [](const Point& a, const Point& b) { return a.value < b.value; })
      ->value;
}

double TimeSeries::max_value() const {
  return std::max_element(points_.begin(), points_.end(),
                          [](const Point& a, const Point& b) { return a.value < b.value; })
      ->value;
}

}  // namespace aif::models
