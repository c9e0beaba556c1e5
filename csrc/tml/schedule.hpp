// Learning-rate schedules of the original tml `compute_lr`, as plain C++.
//
// Every formula here reproduces the Python reference operation by operation, so
// results are bitwise equal to it: integer steps are compared as integers and
// converted to double only where the reference multiplies, and the order of
// floating-point operations is Python's left-to-right order. This header has no
// Python in it; the binding converts and validates Python input and calls it.
//
// Adding a schedule kind: write one struct with a validating `make` factory, a `name`,
// a `cost`, `operator()(step, tables)` for both step types and its `breakpoints`, then
// add it to `Schedule` and an `add_*` method to `ScheduleSet` below. Outside the core,
// the binding reads its config fields (convert.cpp: add_config, to_config) and the
// pydantic model declares them (python/tml/optimizers/config.py).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace tml {

// Integer config fields (step counts, boundaries) must be exact in float64 so that a
// fractional step compares with them exactly; 2**53 is far beyond any training run.
inline constexpr std::int64_t max_config_int = std::int64_t{1} << 53;
inline constexpr double pi = 3.141592653589793;  // Python's math.pi, the double nearest to pi

// An integer config field kept both as an integer (compared with integer steps) and as
// the double it converts to (compared with float steps, used where the reference multiplies).
struct Count {
    std::int64_t i;
    double d;
    explicit Count(std::int64_t v = 0) : i(v), d(static_cast<double>(v)) {}
};

// A step as the double the reference multiplies by: an int step is rounded once to
// nearest, as Python's int-to-float conversion (and static_cast) does. Written as two
// exact halves and one rounding add, which vectorises on any x86-64 (the int64-to-double
// instruction needs AVX-512); for a branchy formula that does not vectorise anyway (the
// cosine) the single conversion instruction is cheaper. For non-negative integers.
inline double as_double(std::int64_t s) {
    const auto u = static_cast<std::uint64_t>(s);
    const auto exact = [](std::uint64_t below_2_52) {  // 2**52 + x has x in its mantissa
        double d;
        const std::uint64_t bits = below_2_52 | 0x4330000000000000u;
        std::memcpy(&d, &bits, sizeof d);
        return d - 0x1p52;
    };
    return exact(u >> 32) * 0x1p32 + exact(u & 0xffffffffu);
}
inline double as_double(double s) { return s; }

// The reference compares int steps with int fields exactly, and a float step with an
// int field exactly too; both hold below because |field| <= 2**53 is exact in double.
inline bool before(std::int64_t s, const Count& c) { return s < c.i; }
inline bool before(double s, const Count& c) { return s < c.d; }
inline bool not_after(std::int64_t s, const Count& c) { return s <= c.i; }
inline bool not_after(double s, const Count& c) { return s <= c.d; }
// `step - num_ramp_steps`: exact integer subtraction for int steps (Python ints), then
// rounded once to double where it is multiplied; float minus int for float steps.
inline double since(std::int64_t s, const Count& c) { return static_cast<double>(s - c.i); }
inline double since(double s, const Count& c) { return s - c.d; }

// Piecewise-constant boundaries and values of every schedule in a set, stored once.
struct Tables {
    const std::int64_t* boundaries_int = nullptr;
    const double* boundaries_float = nullptr;
    const double* values = nullptr;
};

namespace detail {
inline std::string str(std::int64_t v) { return std::to_string(v); }
inline std::string str(std::size_t v) { return std::to_string(v); }

// The shortest text that reads back as `v` (0.1, not 0.10000000000000001), and Python's
// spelling of the special values.
inline std::string str(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    std::string text;
    for (int precision = 15; precision <= 17; ++precision) {
        std::ostringstream os;
        os.precision(precision);
        os << v;
        text = os.str();
        if (std::strtod(text.c_str(), nullptr) == v) break;
    }
    return text;
}

inline void check_rate(const char* kind, const char* field, double v) {
    if (!(std::isfinite(v) && v >= 0.0))
        throw std::invalid_argument(std::string(kind) + "." + field +
                                    " must be a finite number >= 0, got " + field + "=" + str(v));
}

inline void check_count(const char* kind, const char* field, std::int64_t v, std::int64_t lo) {
    if (v < lo || v > max_config_int)
        throw std::invalid_argument(std::string(kind) + "." + field + " must be in [" + str(lo) +
                                    ", 2**53], got " + field + "=" + str(v));
}
}  // namespace detail

// lr = learning_rate
struct Constant {
    static constexpr const char* name = "constant";
    static constexpr std::size_t cost = 1;  // work per step, for threading: a store
    double learning_rate;

    static Constant make(double learning_rate) {
        if (!(std::isfinite(learning_rate) && learning_rate >= 0.0))
            throw std::invalid_argument("constant must be a finite number >= 0, got constant=" +
                                        detail::str(learning_rate));
        return {learning_rate};
    }
    template <class Step>
    double operator()(Step, const Tables&) const {
        return learning_rate;
    }
    void breakpoints(const Tables&, std::vector<std::int64_t>&) const {}
};

// lr = values[i], i = number of boundaries <= step (Python's bisect.bisect_right)
struct PiecewiseConstant {
    static constexpr const char* name = "piecewise_constant";
    static constexpr std::size_t cost =
        2;                        // work per step, for threading: a search, usually skipped
    std::size_t boundary_offset;  // boundaries are Tables::boundaries_*[offset, offset + count)
    std::size_t value_offset;     // values are Tables::values[offset, offset + count + 1)
    std::size_t count;            // number of boundaries

    // Boundaries and values are appended to the caller's tables after validation.
    static PiecewiseConstant make(const std::vector<std::int64_t>& boundaries,
                                  const std::vector<double>& values,
                                  std::vector<std::int64_t>& table_int,
                                  std::vector<double>& table_float,
                                  std::vector<double>& table_values) {
        if (values.empty())
            throw std::invalid_argument(
                "piecewise_constant.learning_rate_values must not be empty, got []");
        if (values.size() != boundaries.size() + 1)
            throw std::invalid_argument(
                "piecewise_constant needs len(learning_rate_values) == "
                "len(learning_rate_boundaries) + 1, got " +
                detail::str(values.size()) + " values and " + detail::str(boundaries.size()) +
                " boundaries");
        for (std::size_t j = 0; j < boundaries.size(); ++j) {
            if (boundaries[j] < -max_config_int || boundaries[j] > max_config_int)
                throw std::invalid_argument("piecewise_constant.learning_rate_boundaries[" +
                                            detail::str(j) + "] must be in [-2**53, 2**53], got " +
                                            detail::str(boundaries[j]));
            if (j > 0 && boundaries[j] <= boundaries[j - 1])
                throw std::invalid_argument(
                    "piecewise_constant.learning_rate_boundaries must be strictly increasing, "
                    "got learning_rate_boundaries[" +
                    detail::str(j - 1) + "]=" + detail::str(boundaries[j - 1]) +
                    " and learning_rate_boundaries[" + detail::str(j) +
                    "]=" + detail::str(boundaries[j]));
        }
        for (std::size_t j = 0; j < values.size(); ++j) {
            if (!(std::isfinite(values[j]) && values[j] >= 0.0))
                throw std::invalid_argument(
                    "piecewise_constant.learning_rate_values[" + detail::str(j) +
                    "] must be a finite number >= 0, got " + detail::str(values[j]));
        }
        PiecewiseConstant p{table_int.size(), table_values.size(), boundaries.size()};
        for (std::int64_t b : boundaries) {
            table_int.push_back(b);
            table_float.push_back(static_cast<double>(b));
        }
        table_values.insert(table_values.end(), values.begin(), values.end());
        return p;
    }

    double operator()(std::int64_t s, const Tables& t) const {
        return t.values[value_offset + index(s, t.boundaries_int + boundary_offset)];
    }
    double operator()(double s, const Tables& t) const {
        return t.values[value_offset + index(s, t.boundaries_float + boundary_offset)];
    }

    // Batch form: steps in a batch usually increase (a range of steps), so the previous
    // segment is tried before searching; the value is the same as operator() gives.
    template <class Out>
    void fill(const std::int64_t* steps, std::size_t n, Out* out, const Tables& t) const {
        fill_with(steps, n, out, t.boundaries_int + boundary_offset, t.values + value_offset);
    }
    template <class Out>
    void fill(const double* steps, std::size_t n, Out* out, const Tables& t) const {
        fill_with(steps, n, out, t.boundaries_float + boundary_offset, t.values + value_offset);
    }

    void breakpoints(const Tables& t, std::vector<std::int64_t>& out) const {
        out.insert(out.end(), t.boundaries_int + boundary_offset,
                   t.boundaries_int + boundary_offset + count);
    }

  private:
    template <class T>
    std::size_t index(T s, const T* b) const {
        return static_cast<std::size_t>(std::upper_bound(b, b + count, s) - b);
    }

    template <class T, class Out>
    void fill_with(const T* steps, std::size_t n, Out* out, const T* b, const double* v) const {
        // The current segment is [lo, hi); its missing ends are the type's extremes (a
        // step equal to the top extreme only costs a search).
        constexpr T bottom = std::numeric_limits<T>::lowest();
        constexpr T top = std::numeric_limits<T>::max();
        T lo = top, hi = bottom;  // empty: the first step searches
        Out value = 0;
        for (std::size_t k = 0; k < n; ++k) {
            const T s = steps[k];
            if ((s < lo) | !(s < hi)) {
                const std::size_t seg = index(s, b);
                lo = seg == 0 ? bottom : b[seg - 1];
                hi = seg == count ? top : b[seg];
                value = static_cast<Out>(v[seg]);
            }
            out[k] = value;
        }
    }
};

// slope = learning_rate / num_ramp_steps; lr = min(learning_rate, slope * step)
struct LinearRampToConstant {
    static constexpr const char* name = "linear_ramp_to_constant";
    static constexpr std::size_t cost = 1;  // work per step, for threading: a multiply and a min
    double learning_rate;
    std::int64_t num_ramp_steps;
    double slope;

    static LinearRampToConstant make(double learning_rate, std::int64_t num_ramp_steps) {
        detail::check_rate(name, "learning_rate", learning_rate);
        detail::check_count(name, "num_ramp_steps", num_ramp_steps, 1);
        return {learning_rate, num_ramp_steps, learning_rate / static_cast<double>(num_ramp_steps)};
    }
    template <class Step>
    double operator()(Step s, const Tables&) const {
        const double ramp = slope * as_double(s);
        // Python's min(a, b) keeps a unless b < a.
        return ramp < learning_rate ? ramp : learning_rate;
    }
    void breakpoints(const Tables&, std::vector<std::int64_t>& out) const {
        out.push_back(num_ramp_steps);
    }
};

// step < R:       lr = (learning_rate / R) * step
// R <= step <= T: lr = F + ((L - F) * 0.5) * (1.0 + cos((pi * (step - R)) / (T - R)))
// step > T:       lr = F
struct LinearRampToCosine {
    static constexpr const char* name = "linear_ramp_to_cosine";
    static constexpr std::size_t cost = 10;  // work per step, for threading: a libm cos
    double learning_rate;
    double final_learning_rate;
    Count num_ramp_steps;
    Count final_num_steps;
    double slope;       // learning_rate / R, as the reference divides
    double half_range;  // (L - F) * 0.5, the reference's first product
    double span;        // float(T - R), the exact integer difference rounded once

    static LinearRampToCosine make(double learning_rate, double final_learning_rate,
                                   std::int64_t num_ramp_steps, std::int64_t final_num_steps) {
        detail::check_rate(name, "learning_rate", learning_rate);
        detail::check_rate(name, "final_learning_rate", final_learning_rate);
        detail::check_count(name, "num_ramp_steps", num_ramp_steps, 1);
        detail::check_count(name, "final_num_steps", final_num_steps, 1);
        if (final_num_steps <= num_ramp_steps)
            throw std::invalid_argument(
                "linear_ramp_to_cosine.final_num_steps must be greater than num_ramp_steps, got "
                "final_num_steps=" +
                detail::str(final_num_steps) + ", num_ramp_steps=" + detail::str(num_ramp_steps));
        return {learning_rate,
                final_learning_rate,
                Count(num_ramp_steps),
                Count(final_num_steps),
                learning_rate / static_cast<double>(num_ramp_steps),
                (learning_rate - final_learning_rate) * 0.5,
                static_cast<double>(final_num_steps - num_ramp_steps)};
    }
    template <class Step>
    double operator()(Step s, const Tables&) const {
        if (before(s, num_ramp_steps)) return slope * static_cast<double>(s);
        if (not_after(s, final_num_steps))
            return final_learning_rate +
                   half_range * (1.0 + std::cos((pi * since(s, num_ramp_steps)) / span));
        return final_learning_rate;
    }
    void breakpoints(const Tables&, std::vector<std::int64_t>& out) const {
        out.push_back(num_ramp_steps.i);
        out.push_back(final_num_steps.i);
    }
};

using Schedule =
    std::variant<Constant, PiecewiseConstant, LinearRampToConstant, LinearRampToCosine>;

// Steps where the schedule's formula changes, increasing; it is constant from the last
// one on (from step 0 when there are none). A kind states its own in `breakpoints`.
inline std::vector<std::int64_t> breakpoints(const Schedule& s, const Tables& t) {
    std::vector<std::int64_t> out;
    std::visit([&](const auto& k) { k.breakpoints(t, out); }, s);
    return out;
}

inline const char* kind_name(const Schedule& s) {
    return std::visit([](const auto& k) { return std::decay_t<decltype(k)>::name; }, s);
}

// Many compiled schedules with their piecewise tables; immutable once built, so it is
// safe to evaluate from any number of threads at once.
class ScheduleSet {
  public:
    void add_constant(double learning_rate) { add(Constant::make(learning_rate)); }
    void add_piecewise_constant(const std::vector<std::int64_t>& boundaries,
                                const std::vector<double>& values) {
        add(PiecewiseConstant::make(boundaries, values, b_int_, b_float_, values_));
    }
    void add_linear_ramp_to_constant(double learning_rate, std::int64_t num_ramp_steps) {
        add(LinearRampToConstant::make(learning_rate, num_ramp_steps));
    }
    void add_linear_ramp_to_cosine(double learning_rate, double final_learning_rate,
                                   std::int64_t num_ramp_steps, std::int64_t final_num_steps) {
        add(LinearRampToCosine::make(learning_rate, final_learning_rate, num_ramp_steps,
                                     final_num_steps));
    }

    // Mean work per step of one schedule (the kinds' `cost`), rounded up.
    std::size_t cost() const { return items_.empty() ? 1 : (cost_ + size() - 1) / size(); }

    void clear() {
        cost_ = 0;
        items_.clear();
        b_int_.clear();
        b_float_.clear();
        values_.clear();
    }
    std::size_t size() const { return items_.size(); }
    const Schedule& operator[](std::size_t g) const { return items_[g]; }
    const std::vector<Schedule>& items() const { return items_; }
    Tables tables() const { return {b_int_.data(), b_float_.data(), values_.data()}; }

  private:
    template <class Kind>
    void add(const Kind& kind) {
        items_.emplace_back(kind);
        cost_ += Kind::cost;
    }

    std::size_t cost_ = 0;
    std::vector<Schedule> items_;
    std::vector<std::int64_t> b_int_;
    std::vector<double> b_float_;
    std::vector<double> values_;
};

}  // namespace tml
