// The schedule kinds: one struct each, declaring its fields once (fields.hpp), its
// cross-field rules and derived constants (`finish`), its formula for int and float
// steps, and what tools need to know of its curve (breakpoints, flat_from, period).
//
// Every formula reproduces a Python expression operation by operation, so results are
// bitwise equal to it: an int step stays an exact integer in comparisons, sums and
// differences with integer fields and is rounded to double once where it meets a float
// (`as_double`, `since`); a float step `t` follows Python's float arithmetic; the order
// of floating-point operations is Python's left-to-right order; `cos`, `sqrt` and `pow`
// are the platform's libm. The reference expressions are quoted above each kind.
//
// Adding a kind: DEVELOPING.md has the checklist (this file, the list in
// schedule_set.hpp, the pydantic model, the oracle, the README).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "tml/fields.hpp"
#include "tml/numeric.hpp"

namespace tml {

// Where a compiled schedule lives: its kind's index in `Kinds` and its position in that
// kind's storage.
struct Ref {
    std::uint8_t kind = 0;
    std::uint32_t index = 0;
};

struct Pool;  // every compiled schedule of a set, by kind (schedule_set.hpp)

// Tables shared by the schedules of a set: list fields, computed value tables and the
// stages of sequences. Built while configs are read; read-only afterwards.
struct Tables {
    std::vector<std::int64_t> ints;  // int_list fields, sequence stage starts
    std::vector<double> ints_d;      // the same, as doubles (exact: |x| <= 2**53)
    std::vector<double> reals;       // rate_list fields, computed values
    std::vector<Ref> refs;           // the schedules of sequence stages

    ListRef add_ints(const std::int64_t* v, std::size_t n) {
        const ListRef r{static_cast<std::uint32_t>(ints.size()), static_cast<std::uint32_t>(n)};
        for (std::size_t j = 0; j < n; ++j) {
            ints.push_back(v[j]);
            ints_d.push_back(static_cast<double>(v[j]));
        }
        return r;
    }
    ListRef add_reals(const double* v, std::size_t n) {
        const ListRef r{static_cast<std::uint32_t>(reals.size()), static_cast<std::uint32_t>(n)};
        reals.insert(reals.end(), v, v + n);
        return r;
    }
    void clear() {
        ints.clear();
        ints_d.clear();
        reals.clear();
        refs.clear();
    }
};

// What a formula reads besides its own fields.
struct Context {
    const std::int64_t* ints = nullptr;
    const double* ints_d = nullptr;
    const double* reals = nullptr;
    const Ref* refs = nullptr;
    const Pool* pool = nullptr;
};

// How a kind's config is written: `{kind: {field: value, ...}}` for most, `{kind: value}`
// for constant (its one field is the value), `{kind: [stage, ...]}` for sequence.
enum class Shape : std::uint8_t { mapping, scalar, list };

// Kinds with infinitely many breakpoints (restarts, cycles, staircases) list this many.
inline constexpr std::size_t max_listed_breakpoints = 64;

// Work per step, for threading: about a nanosecond per unit (a store is 1, a libm call 10).
inline constexpr std::size_t cheap = 1, libm_call = 10;

namespace detail {
// Index of the first element > s in the increasing list b[0, n): Python's bisect_right.
template <class T>
std::size_t upper(const T* b, std::size_t n, T s) {
    return static_cast<std::size_t>(std::upper_bound(b, b + n, s) - b);
}
inline double max_py(double a, double b) { return b > a ? b : a; }  // Python's max(a, b)
inline double min_py(double a, double b) { return b < a ? b : a; }  // Python's min(a, b)

// The k of exponential and inverse-time decay: t / D, or the whole number of periods
// with staircase (float(s // D) for an int step, math.floor(t / D) for a float one).
inline double periods(std::int64_t s, const Count& d, bool staircase) {
    return staircase ? static_cast<double>(s / d.i) : as_double(s) / d.d;
}
inline double periods(double t, const Count& d, bool staircase) {
    return staircase ? std::floor(t / d.d) : t / d.d;
}

// Batch form of a step function whose value is table[i], i = number of sorted `bounds`
// <= step: steps in a batch usually increase, so the previous segment is tried first.
template <class T, class Out>
void fill_segments(const T* steps, std::size_t n, Out* out, const T* b, std::size_t count,
                   const double* table) {
    constexpr T bottom = std::numeric_limits<T>::lowest();
    constexpr T top = std::numeric_limits<T>::max();
    T lo = top, hi = bottom;  // empty: the first step searches
    Out value = 0;
    for (std::size_t k = 0; k < n; ++k) {
        const T s = steps[k];
        if ((s < lo) | !(s < hi)) {
            const std::size_t seg = upper(b, count, s);
            lo = seg == 0 ? bottom : b[seg - 1];
            hi = seg == count ? top : b[seg];
            value = static_cast<Out>(table[seg]);
        }
        out[k] = value;
    }
}
}  // namespace detail

// ---------------------------------------------------------------------------------------
// The four kinds of the original tml compute_lr.

// c
struct Constant {
    static constexpr const char* name = "constant";
    static constexpr Shape shape = Shape::scalar;
    static constexpr const char* doc = "A constant learning rate: `c`.";
    double learning_rate = 0.0;

    static constexpr auto fields() {
        return std::make_tuple(
            rate<Constant>("constant", &Constant::learning_rate, "The learning rate."));
    }
    void finish(const Path&, Tables&) {}
    template <class Step>
    double operator()(Step, const Context&) const {
        return learning_rate;
    }
    void breakpoints(const Context&, std::vector<std::int64_t>&) const {}
    std::optional<std::int64_t> flat_from(const Context&) const { return 0; }
    std::optional<std::int64_t> period(const Context&) const { return std::nullopt; }
    std::size_t cost() const { return cheap; }
};

// learning_rate_values[i], i = number of learning_rate_boundaries <= s (bisect_right)
struct PiecewiseConstant {
    static constexpr const char* name = "piecewise_constant";
    static constexpr Shape shape = Shape::mapping;
    static constexpr const char* doc =
        "`learning_rate_values[i]`, i = number of `learning_rate_boundaries` <= step.";
    ListRef boundaries;
    ListRef values;

    static constexpr auto fields() {
        return std::make_tuple(
            int_list<PiecewiseConstant>("learning_rate_boundaries", &PiecewiseConstant::boundaries,
                                        -max_config_int, false,
                                        "Steps where the value changes, strictly increasing."),
            rate_list<PiecewiseConstant>("learning_rate_values", &PiecewiseConstant::values,
                                         "One more value than boundaries."));
    }
    void finish(const Path& where, Tables&) const {
        if (values.count != boundaries.count + 1)
            fail(where,
                 "needs len(learning_rate_values) == len(learning_rate_boundaries) + 1, "
                 "got " +
                     std::to_string(values.count) + " values and " +
                     std::to_string(boundaries.count) + " boundaries");
    }
    double operator()(std::int64_t s, const Context& c) const {
        return c
            .reals[values.offset + detail::upper(c.ints + boundaries.offset, boundaries.count, s)];
    }
    double operator()(double s, const Context& c) const {
        return c.reals[values.offset +
                       detail::upper(c.ints_d + boundaries.offset, boundaries.count, s)];
    }
    template <class Out>
    void fill(const std::int64_t* steps, std::size_t n, Out* out, const Context& c) const {
        detail::fill_segments(steps, n, out, c.ints + boundaries.offset, boundaries.count,
                              c.reals + values.offset);
    }
    template <class Out>
    void fill(const double* steps, std::size_t n, Out* out, const Context& c) const {
        detail::fill_segments(steps, n, out, c.ints_d + boundaries.offset, boundaries.count,
                              c.reals + values.offset);
    }
    void breakpoints(const Context& c, std::vector<std::int64_t>& out) const {
        const std::int64_t* b = c.ints + boundaries.offset;
        for (std::uint32_t j = 0; j < boundaries.count; ++j)
            if (b[j] > 0) out.push_back(b[j]);
    }
    std::optional<std::int64_t> flat_from(const Context& c) const {
        return boundaries.count
                   ? std::max<std::int64_t>(0, c.ints[boundaries.offset + boundaries.count - 1])
                   : 0;
    }
    std::optional<std::int64_t> period(const Context&) const { return std::nullopt; }
    std::size_t cost() const { return 2 * cheap; }  // a search, usually skipped
};

// slope = L / R; min(L, slope * s)
struct LinearRampToConstant {
    static constexpr const char* name = "linear_ramp_to_constant";
    static constexpr Shape shape = Shape::mapping;
    static constexpr const char* doc = "`min(L, L / R * step)`: a linear ramp, then constant.";
    double learning_rate = 0.0;
    Count num_ramp_steps;
    double slope = 0.0;

    static constexpr auto fields() {
        using K = LinearRampToConstant;
        return std::make_tuple(
            rate<K>("learning_rate", &K::learning_rate, "Value after the ramp (L)."),
            integer<K>("num_ramp_steps", &K::num_ramp_steps, 1, "Length of the ramp (R)."));
    }
    void finish(const Path&, Tables&) { slope = learning_rate / num_ramp_steps.d; }
    template <class Step>
    double operator()(Step s, const Context&) const {
        return detail::min_py(learning_rate, slope * as_double(s));
    }
    void breakpoints(const Context&, std::vector<std::int64_t>& out) const {
        out.push_back(num_ramp_steps.i);
    }
    std::optional<std::int64_t> flat_from(const Context&) const { return num_ramp_steps.i; }
    std::optional<std::int64_t> period(const Context&) const { return std::nullopt; }
    std::size_t cost() const { return cheap; }
};

// s < R:       (L / R) * s
// R <= s <= T: F + ((L - F) * 0.5) * (1.0 + cos((pi * (s - R)) / (T - R)))
// s > T:       F
struct LinearRampToCosine {
    static constexpr const char* name = "linear_ramp_to_cosine";
    static constexpr Shape shape = Shape::mapping;
    static constexpr const char* doc =
        "A linear ramp to L, then a half cosine down to F: `L / R * step` below R, "
        "`F + (L - F) * 0.5 * (1 + cos(pi * (step - R) / (T - R)))` to T, then F.";
    double learning_rate = 0.0;
    double final_learning_rate = 0.0;
    Count num_ramp_steps;
    Count final_num_steps;
    double slope = 0.0;       // L / R, as the reference divides
    double half_range = 0.0;  // (L - F) * 0.5, the reference's first product
    double span = 0.0;        // float(T - R), the exact integer difference rounded once

    static constexpr auto fields() {
        using K = LinearRampToCosine;
        return std::make_tuple(
            rate<K>("learning_rate", &K::learning_rate, "Peak value, reached at R (L)."),
            rate<K>("final_learning_rate", &K::final_learning_rate, "Value from T on (F)."),
            integer<K>("num_ramp_steps", &K::num_ramp_steps, 1, "Length of the ramp (R)."),
            integer<K>("final_num_steps", &K::final_num_steps, 1, "End of the cosine (T > R)."));
    }
    void finish(const Path& where, Tables&) {
        if (final_num_steps.i <= num_ramp_steps.i)
            fail(where, "final_num_steps", "must be greater than num_ramp_steps",
                 "final_num_steps=" + repr(final_num_steps.i) +
                     ", num_ramp_steps=" + repr(num_ramp_steps.i));
        slope = learning_rate / num_ramp_steps.d;
        half_range = (learning_rate - final_learning_rate) * 0.5;
        span = static_cast<double>(final_num_steps.i - num_ramp_steps.i);
    }
    template <class Step>
    double operator()(Step s, const Context&) const {
        if (before(s, num_ramp_steps)) return slope * static_cast<double>(s);
        if (not_after(s, final_num_steps))
            return final_learning_rate +
                   half_range * (1.0 + std::cos((pi * since(s, num_ramp_steps)) / span));
        return final_learning_rate;
    }
    void breakpoints(const Context&, std::vector<std::int64_t>& out) const {
        out.push_back(num_ramp_steps.i);
        out.push_back(final_num_steps.i);
    }
    std::optional<std::int64_t> flat_from(const Context&) const { return final_num_steps.i; }
    std::optional<std::int64_t> period(const Context&) const { return std::nullopt; }
    std::size_t cost() const { return libm_call; }
};

// ---------------------------------------------------------------------------------------
// The kinds of torch, optax, Hugging Face and Keras. t = float(s).

// s < N and 2*s < N:  L + (F - L) * (t / N)
// s < N and 2*s >= N: F + (L - F) * (float(N - s) / N)
// else:               F
// Each half is computed from its own end, so neither cancels.
struct Linear {
    static constexpr const char* name = "linear";
    static constexpr Shape shape = Shape::mapping;
    static constexpr const char* doc =
        "From L to F in N steps, then F: `L + (F - L) * (t / N)` in the first half, "
        "`F + (L - F) * ((N - s) / N)` in the second.";
    double learning_rate = 0.0;
    double final_learning_rate = 0.0;
    Count num_steps;
    double rise = 0.0;  // F - L
    double fall = 0.0;  // L - F

    static constexpr auto fields() {
        using K = Linear;
        return std::make_tuple(
            rate<K>("learning_rate", &K::learning_rate, "Value at step 0 (L)."),
            rate<K>("final_learning_rate", &K::final_learning_rate, "Value from N on (F)."),
            integer<K>("num_steps", &K::num_steps, 1, "Length of the line (N)."));
    }
    void finish(const Path&, Tables&) {
        rise = final_learning_rate - learning_rate;
        fall = learning_rate - final_learning_rate;
    }
    double operator()(std::int64_t s, const Context&) const {
        // One division of the side's own numerator, then the side's own formula.
        // 2 * s < N, written so that no step can overflow.
        const bool first_half = s < num_steps.i - s;
        const double ratio =
            (first_half ? as_double(s) : static_cast<double>(num_steps.i - s)) / num_steps.d;
        const double v =
            first_half ? learning_rate + rise * ratio : final_learning_rate + fall * ratio;
        return s < num_steps.i ? v : final_learning_rate;
    }
    double operator()(double t, const Context&) const {
        const bool first_half = 2.0 * t < num_steps.d;
        const double ratio = (first_half ? t : num_steps.d - t) / num_steps.d;
        const double v =
            first_half ? learning_rate + rise * ratio : final_learning_rate + fall * ratio;
        return t < num_steps.d ? v : final_learning_rate;
    }
    void breakpoints(const Context&, std::vector<std::int64_t>& out) const {
        out.push_back(num_steps.i);
    }
    std::optional<std::int64_t> flat_from(const Context&) const { return num_steps.i; }
    std::optional<std::int64_t> period(const Context&) const { return std::nullopt; }
    std::size_t cost() const { return 2 * cheap; }
};

// v = L * r ** k, k = t / D, or with staircase float(s // D) (math.floor(t / D) for a
// float step); with F: max(v, F) when r < 1, min(v, F) when r > 1.
struct ExponentialDecay {
    static constexpr const char* name = "exponential_decay";
    static constexpr Shape shape = Shape::mapping;
    static constexpr const char* doc =
        "`L * decay_rate ** (step / decay_steps)` (whole periods with staircase), "
        "bounded by final_learning_rate when given.";
    double learning_rate = 0.0;
    double decay_rate = 1.0;
    Count decay_steps;
    bool staircase = false;
    OptionalRate final_learning_rate;

    static constexpr auto fields() {
        using K = ExponentialDecay;
        return std::make_tuple(
            rate<K>("learning_rate", &K::learning_rate, "Value at step 0 (L)."),
            real<K>("decay_rate", &K::decay_rate, positive,
                    "Factor per decay_steps steps (r > 0; > 1 grows, and then needs "
                    "final_learning_rate as a cap)."),
            integer<K>("decay_steps", &K::decay_steps, 1, "Steps per factor of decay_rate (D)."),
            flag<K>("staircase", &K::staircase, "Decay in whole periods of decay_steps.", false),
            optional_rate<K>("final_learning_rate", &K::final_learning_rate,
                             "Bound the value never passes: a floor when r < 1, a cap when "
                             "r > 1 (F)."));
    }
    void finish(const Path& where, Tables&) const {
        const double l = learning_rate, r = decay_rate;
        // Messages are built on failure only: this runs on every scalar compute_lr call.
        const auto got_r = [&] { return "decay_rate=" + repr(r); };
        if (r > 1.0 && !final_learning_rate.set)
            fail(where, "final_learning_rate",
                 "is required when decay_rate > 1 (a growing schedule needs a cap)",
                 got_r() + ", final_learning_rate=None");
        if (r > 1.0 && !(l > 0.0))
            fail(where, "learning_rate", "must be > 0 when decay_rate > 1",
                 "learning_rate=" + repr(l) + ", " + got_r());
        if (!final_learning_rate.set) return;
        const double f = final_learning_rate.value;
        const auto got = [&] {
            return "final_learning_rate=" + repr(f) + ", learning_rate=" + repr(l) + ", " + got_r();
        };
        if (r == 1.0)
            fail(where, "final_learning_rate", "must be unset when decay_rate is 1", got());
        if (r < 1.0 && f > l)
            fail(where, "final_learning_rate", "must be <= learning_rate when decay_rate < 1",
                 got());
        if (r > 1.0 && f < l)
            fail(where, "final_learning_rate", "must be >= learning_rate when decay_rate > 1",
                 got());
    }
    template <class Step>
    double operator()(Step s, const Context&) const {
        const double v =
            learning_rate * std::pow(decay_rate, detail::periods(s, decay_steps, staircase));
        if (!final_learning_rate.set) return v;
        return decay_rate < 1.0 ? detail::max_py(v, final_learning_rate.value)
                                : detail::min_py(v, final_learning_rate.value);
    }
    void breakpoints(const Context&, std::vector<std::int64_t>& out) const {
        if (!staircase || decay_rate == 1.0) return;
        for (std::size_t j = 1; j <= max_listed_breakpoints; ++j) {
            if (decay_steps.i > max_step / static_cast<std::int64_t>(j)) break;
            out.push_back(decay_steps.i * static_cast<std::int64_t>(j));
        }
    }
    // The first step from which the value stays at its limit (F, or 0.0 once L * r ** k
    // underflows), found by bisection on the formula, which is monotonic in the step.
    std::optional<std::int64_t> flat_from(const Context& c) const {
        if (decay_rate == 1.0 || learning_rate == 0.0) return 0;
        const double limit = final_learning_rate.set ? final_learning_rate.value : 0.0;
        if ((*this)(max_step, c) != limit) return std::nullopt;
        std::int64_t lo = 0, hi = max_step;  // value(hi) == limit
        while (lo < hi) {
            const std::int64_t mid = lo + (hi - lo) / 2;
            if ((*this)(mid, c) == limit)
                hi = mid;
            else
                lo = mid + 1;
        }
        return lo;
    }
    std::optional<std::int64_t> period(const Context&) const { return std::nullopt; }
    std::size_t cost() const { return libm_call; }
};

// L * gamma ** k, k = number of milestones <= s (torch's MultiStepLR closed form).
// The len(milestones) + 1 values are computed once, with the same pow, into a table.
struct MultistepDecay {
    static constexpr const char* name = "multistep_decay";
    static constexpr Shape shape = Shape::mapping;
    static constexpr const char* doc =
        "`L * gamma ** k`, k = number of milestones <= step (torch's MultiStepLR).";
    double learning_rate = 0.0;
    ListRef milestones;
    double gamma = 1.0;
    ListRef values;  // L * gamma ** k for k = 0 .. len(milestones)

    static constexpr auto fields() {
        using K = MultistepDecay;
        return std::make_tuple(
            rate<K>("learning_rate", &K::learning_rate, "Value before the first milestone (L)."),
            int_list<K>("milestones", &K::milestones, 1, true,
                        "Steps where the value is multiplied by gamma, strictly increasing."),
            real<K>("gamma", &K::gamma, positive, "Factor at each milestone (> 0)."));
    }
    void finish(const Path& where, Tables& t) {
        const std::size_t first = t.reals.size();
        for (std::uint32_t k = 0; k <= milestones.count; ++k) {
            const double v = learning_rate * std::pow(gamma, static_cast<double>(k));
            if (!std::isfinite(v))
                fail(where, "gamma", "must keep learning_rate * gamma ** len(milestones) finite",
                     "gamma=" + repr(gamma) + ", learning_rate=" + repr(learning_rate) +
                         ", len(milestones)=" + std::to_string(milestones.count));
            t.reals.push_back(v);
        }
        values = {static_cast<std::uint32_t>(first), milestones.count + 1};
    }
    double operator()(std::int64_t s, const Context& c) const {
        return c
            .reals[values.offset + detail::upper(c.ints + milestones.offset, milestones.count, s)];
    }
    double operator()(double s, const Context& c) const {
        return c.reals[values.offset +
                       detail::upper(c.ints_d + milestones.offset, milestones.count, s)];
    }
    template <class Out>
    void fill(const std::int64_t* steps, std::size_t n, Out* out, const Context& c) const {
        detail::fill_segments(steps, n, out, c.ints + milestones.offset, milestones.count,
                              c.reals + values.offset);
    }
    template <class Out>
    void fill(const double* steps, std::size_t n, Out* out, const Context& c) const {
        detail::fill_segments(steps, n, out, c.ints_d + milestones.offset, milestones.count,
                              c.reals + values.offset);
    }
    void breakpoints(const Context& c, std::vector<std::int64_t>& out) const {
        out.insert(out.end(), c.ints + milestones.offset,
                   c.ints + milestones.offset + milestones.count);
    }
    std::optional<std::int64_t> flat_from(const Context& c) const {
        return c.ints[milestones.offset + milestones.count - 1];
    }
    std::optional<std::int64_t> period(const Context&) const { return std::nullopt; }
    std::size_t cost() const { return 2 * cheap; }
};

// s < N: (L - F) * (1.0 - t / N) ** p + F; else F
// (torch's PolynomialLR closed form when F = 0). pow(x, 1.0) is x exactly, so power 1
// skips the call.
struct PolynomialDecay {
    static constexpr const char* name = "polynomial_decay";
    static constexpr Shape shape = Shape::mapping;
    static constexpr const char* doc =
        "`(L - F) * (1 - step / N) ** power + F` for step < N, then F (torch's PolynomialLR).";
    double learning_rate = 0.0;
    double final_learning_rate = 0.0;
    Count num_steps;
    double power = 1.0;
    double range = 0.0;  // L - F

    static constexpr auto fields() {
        using K = PolynomialDecay;
        return std::make_tuple(
            rate<K>("learning_rate", &K::learning_rate, "Value at step 0 (L)."),
            rate<K>("final_learning_rate", &K::final_learning_rate, "Value from N on (F <= L).",
                    0.0),
            integer<K>("num_steps", &K::num_steps, 1, "Length of the decay (N)."),
            real<K>("power", &K::power, positive, "Exponent of the decay (> 0).", 1.0));
    }
    void finish(const Path& where, Tables&) {
        if (final_learning_rate > learning_rate)
            fail(where, "final_learning_rate", "must be <= learning_rate",
                 "final_learning_rate=" + repr(final_learning_rate) +
                     ", learning_rate=" + repr(learning_rate));
        range = learning_rate - final_learning_rate;
    }
    template <class Step>
    double operator()(Step s, const Context&) const {
        if (!before(s, num_steps)) return final_learning_rate;
        const double x = 1.0 - as_double(s) / num_steps.d;
        return range * (power == 1.0 ? x : std::pow(x, power)) + final_learning_rate;
    }
    void breakpoints(const Context&, std::vector<std::int64_t>& out) const {
        out.push_back(num_steps.i);
    }
    std::optional<std::int64_t> flat_from(const Context&) const { return num_steps.i; }
    std::optional<std::int64_t> period(const Context&) const { return std::nullopt; }
    std::size_t cost() const { return power == 1.0 ? 2 * cheap : libm_call; }
};

// s <= N: F + (L - F) * 0.5 * (1.0 + cos(pi * t / N)); else F
struct CosineDecay {
    static constexpr const char* name = "cosine_decay";
    static constexpr Shape shape = Shape::mapping;
    static constexpr const char* doc =
        "`F + (L - F) * 0.5 * (1 + cos(pi * step / N))` for step <= N, then F "
        "(torch's CosineAnnealingLR up to N).";
    double learning_rate = 0.0;
    double final_learning_rate = 0.0;
    Count num_steps;
    double half_range = 0.0;  // (L - F) * 0.5

    static constexpr auto fields() {
        using K = CosineDecay;
        return std::make_tuple(
            rate<K>("learning_rate", &K::learning_rate, "Value at step 0 (L)."),
            rate<K>("final_learning_rate", &K::final_learning_rate,
                    "Value from N on (F; above L, the cosine rises).", 0.0),
            integer<K>("num_steps", &K::num_steps, 1, "Length of the cosine (N)."));
    }
    void finish(const Path&, Tables&) { half_range = (learning_rate - final_learning_rate) * 0.5; }
    template <class Step>
    double operator()(Step s, const Context&) const {
        if (!not_after(s, num_steps)) return final_learning_rate;
        return final_learning_rate + half_range * (1.0 + std::cos(pi * as_double(s) / num_steps.d));
    }
    void breakpoints(const Context&, std::vector<std::int64_t>& out) const {
        out.push_back(num_steps.i);
    }
    std::optional<std::int64_t> flat_from(const Context&) const { return num_steps.i; }
    std::optional<std::int64_t> period(const Context&) const { return std::nullopt; }
    std::size_t cost() const { return libm_call; }
};

// s < W: L / W * t; else L / sqrt(float(s - W + tau) / tau)
struct InverseSqrt {
    static constexpr const char* name = "inverse_sqrt";
    static constexpr Shape shape = Shape::mapping;
    static constexpr const char* doc =
        "A linear warm-up to L over W steps, then `L / sqrt((step - W + timescale) / timescale)`.";
    double learning_rate = 0.0;
    Count num_warmup_steps;
    OptionalCount timescale;
    double slope = 0.0;  // L / W

    static constexpr auto fields() {
        using K = InverseSqrt;
        return std::make_tuple(
            rate<K>("learning_rate", &K::learning_rate, "Peak value, reached at W (L)."),
            integer<K>("num_warmup_steps", &K::num_warmup_steps, 0, "Length of the warm-up (W).",
                       0),
            optional_integer<K>("timescale", &K::timescale, 1,
                                "Steps over which the decay acts (tau >= 1; W when unset, "
                                "required when W = 0)."));
    }
    void finish(const Path& where, Tables&) {
        if (!timescale.set) {
            if (num_warmup_steps.i == 0)
                fail(where, "timescale", "is required when num_warmup_steps is 0",
                     "timescale=None, num_warmup_steps=0");
            timescale = {true, num_warmup_steps};
        }
        if (num_warmup_steps.i > 0) slope = learning_rate / num_warmup_steps.d;
    }
    double operator()(std::int64_t s, const Context&) const {
        if (s < num_warmup_steps.i) return slope * as_double(s);
        // s - W + tau can pass 2**63 - 1; as an unsigned sum it is exact.
        const auto n = static_cast<std::uint64_t>(s - num_warmup_steps.i) +
                       static_cast<std::uint64_t>(timescale.value.i);
        return learning_rate / std::sqrt(static_cast<double>(n) / timescale.value.d);
    }
    double operator()(double t, const Context&) const {
        if (t < num_warmup_steps.d) return slope * t;
        return learning_rate /
               std::sqrt((t - num_warmup_steps.d + timescale.value.d) / timescale.value.d);
    }
    void breakpoints(const Context&, std::vector<std::int64_t>& out) const {
        if (num_warmup_steps.i > 0) out.push_back(num_warmup_steps.i);
    }
    std::optional<std::int64_t> flat_from(const Context&) const {
        return learning_rate == 0.0 ? std::optional<std::int64_t>(0) : std::nullopt;
    }
    std::optional<std::int64_t> period(const Context&) const { return std::nullopt; }
    std::size_t cost() const { return 4 * cheap; }
};

// L / (1.0 + r * k), k as in exponential_decay
struct InverseTimeDecay {
    static constexpr const char* name = "inverse_time_decay";
    static constexpr Shape shape = Shape::mapping;
    static constexpr const char* doc =
        "`L / (1 + decay_rate * step / decay_steps)` (whole periods with staircase).";
    double learning_rate = 0.0;
    double decay_rate = 0.0;
    Count decay_steps;
    bool staircase = false;

    static constexpr auto fields() {
        using K = InverseTimeDecay;
        return std::make_tuple(
            rate<K>("learning_rate", &K::learning_rate, "Value at step 0 (L)."),
            real<K>("decay_rate", &K::decay_rate, non_negative, "Rate of the decay (r >= 0)."),
            integer<K>("decay_steps", &K::decay_steps, 1, "Steps per unit of k (D)."),
            flag<K>("staircase", &K::staircase, "Decay in whole periods of decay_steps.", false));
    }
    void finish(const Path&, Tables&) {}
    template <class Step>
    double operator()(Step s, const Context&) const {
        return learning_rate / (1.0 + decay_rate * detail::periods(s, decay_steps, staircase));
    }
    void breakpoints(const Context&, std::vector<std::int64_t>& out) const {
        if (!staircase || decay_rate == 0.0) return;
        for (std::size_t j = 1; j <= max_listed_breakpoints; ++j) {
            if (decay_steps.i > max_step / static_cast<std::int64_t>(j)) break;
            out.push_back(decay_steps.i * static_cast<std::int64_t>(j));
        }
    }
    std::optional<std::int64_t> flat_from(const Context&) const {
        if (decay_rate == 0.0 || learning_rate == 0.0) return 0;
        return std::nullopt;
    }
    std::optional<std::int64_t> period(const Context&) const { return std::nullopt; }
    std::size_t cost() const { return 3 * cheap; }
};

// Cycle i starts at S_i = N * (m**i - 1) // (m - 1) (N * i when m == 1) and lasts
// T_i = N * m**i steps; p = s - S_i; peak = max(L * d ** i, F);
// F + (peak - F) * 0.5 * (1.0 + cos(pi * p / T_i)); after num_cycles cycles: F.
// Cycles are found with exact integer arithmetic; one that would end past 2**63 - 1
// never ends. A float step uses the cycle of floor(t) and the position t - S_i.
struct CosineRestarts {
    static constexpr const char* name = "cosine_restarts";
    static constexpr Shape shape = Shape::mapping;
    static constexpr const char* doc =
        "Cosine decay from a peak to F in cycles that restart at the peak (SGDR, torch's "
        "CosineAnnealingWarmRestarts): cycle i lasts num_steps * period_multiplier ** i "
        "steps and peaks at max(L * peak_decay ** i, F); F after num_cycles cycles.";
    double learning_rate = 0.0;
    double final_learning_rate = 0.0;
    Count num_steps;
    Count period_multiplier;
    double peak_decay = 1.0;
    OptionalCount num_cycles;

    static constexpr auto fields() {
        using K = CosineRestarts;
        return std::make_tuple(
            rate<K>("learning_rate", &K::learning_rate, "Peak of the first cycle (L)."),
            rate<K>("final_learning_rate", &K::final_learning_rate,
                    "Value at the end of each cycle (F <= L).", 0.0),
            integer<K>("num_steps", &K::num_steps, 1, "Length of the first cycle (N)."),
            integer<K>("period_multiplier", &K::period_multiplier, 1,
                       "Each cycle is this many times longer than the one before (m).", 1),
            real<K>("peak_decay", &K::peak_decay, unit_right,
                    "Each cycle's peak is this times the one before (d in (0, 1]).", 1.0),
            optional_integer<K>("num_cycles", &K::num_cycles, 1,
                                "Cycles before F holds for good; unset: forever."));
    }
    static constexpr bool may_reject = true;  // float steps >= 2**63 have no exact cycle

    void finish(const Path& where, Tables&) const {
        if (final_learning_rate > learning_rate)
            fail(where, "final_learning_rate", "must be <= learning_rate",
                 "final_learning_rate=" + repr(final_learning_rate) +
                     ", learning_rate=" + repr(learning_rate));
    }

    struct Cycle {
        std::int64_t index;  // i
        std::int64_t start;  // S_i
        double length;       // float(T_i), rounded once from the exact integer
    };
    // The cycle holding step s (0 <= s <= 2**63 - 1).
    Cycle cycle_of(std::int64_t s) const {
        const std::int64_t n = num_steps.i;
        if (period_multiplier.i == 1) return {s / n, (s / n) * n, num_steps.d};
        // T_i < 2**63 while the loop runs, so T_i * m < 2**116 fits in 128 bits.
        std::int64_t start = 0, i = 0;
        uint128 length = static_cast<uint128>(n);
        while (static_cast<uint128>(s - start) >= length) {
            start += static_cast<std::int64_t>(length);
            length *= static_cast<uint128>(period_multiplier.i);
            ++i;
        }
        return {i, start, static_cast<double>(length)};
    }
    double at(const Cycle& c, double position) const {
        if (num_cycles.set && c.index >= num_cycles.value.i) return final_learning_rate;
        const double peak =
            peak_decay == 1.0
                ? learning_rate
                : detail::max_py(learning_rate * std::pow(peak_decay, static_cast<double>(c.index)),
                                 final_learning_rate);
        return final_learning_rate +
               (peak - final_learning_rate) * 0.5 * (1.0 + std::cos(pi * position / c.length));
    }
    double operator()(std::int64_t s, const Context&) const {
        const Cycle c = cycle_of(s);
        return at(c, static_cast<double>(s - c.start));
    }
    double operator()(double t, const Context&) const {
        if (!(t < two_63)) return std::numeric_limits<double>::quiet_NaN();  // refused
        const Cycle c = cycle_of(floor_step(t));
        return at(c, position(t, c.start));
    }
    void breakpoints(const Context&, std::vector<std::int64_t>& out) const {
        std::int64_t start = 0, i = 0;
        uint128 length = static_cast<uint128>(num_steps.i);
        while (out.size() < max_listed_breakpoints &&
               length <= static_cast<uint128>(max_step - start)) {
            if (num_cycles.set && i >= num_cycles.value.i) break;
            start += static_cast<std::int64_t>(length);
            length *= static_cast<uint128>(period_multiplier.i);
            ++i;
            out.push_back(start);
        }
    }
    std::optional<std::int64_t> flat_from(const Context&) const {
        if (!num_cycles.set) return std::nullopt;
        std::int64_t start = 0;
        uint128 length = static_cast<uint128>(num_steps.i);
        for (std::int64_t i = 0; i < num_cycles.value.i; ++i) {
            if (length > static_cast<uint128>(max_step - start)) return std::nullopt;
            start += static_cast<std::int64_t>(length);
            length *= static_cast<uint128>(period_multiplier.i);
        }
        return start;
    }
    std::optional<std::int64_t> period(const Context&) const {
        if (period_multiplier.i == 1 && !num_cycles.set) return num_steps.i;
        return std::nullopt;
    }
    std::size_t cost() const { return libm_call + 2 * cheap; }
};

// torch's OneCycleLR, exactly, for 0 <= s <= T - 1: initial = L / div_factor,
// min = initial / final_div_factor; phases end at float(pct_start * T) - 1,
// [float(2 * pct_start * T) - 2,] T - 1; in the phase that holds s (the first whose end
// is >= s, else the last), pct = (s - start) / (end - start) and the value anneals from
// the phase's start value to its end value: cos: end + (start - end) / 2.0 *
// (cos(pi * pct) + 1), linear: (end - start) * pct + start. s > T - 1: min.
struct OneCycle {
    static constexpr const char* name = "one_cycle";
    static constexpr Shape shape = Shape::mapping;
    static constexpr const char* doc =
        "torch's OneCycleLR: from L / div_factor up to L over pct_start of total_steps, then "
        "down to L / div_factor / final_div_factor (with three_phase: back to L / div_factor "
        "first); that minimum after total_steps - 1.";
    static constexpr const char* anneals[] = {"cos", "linear"};
    double learning_rate = 0.0;
    Count total_steps;
    double pct_start = 0.3;
    Choice anneal;
    double div_factor = 25.0;
    double final_div_factor = 1e4;
    bool three_phase = false;
    // Derived: each phase's end step (torch's floats) and start and end values.
    double initial = 0.0, minimum = 0.0;
    double ends[3] = {0.0, 0.0, 0.0};
    double from[3] = {0.0, 0.0, 0.0}, to[3] = {0.0, 0.0, 0.0};
    int phases = 2;

    static constexpr auto fields() {
        using K = OneCycle;
        return std::make_tuple(
            rate<K>("learning_rate", &K::learning_rate, "The peak (torch's max_lr) (L)."),
            integer<K>("total_steps", &K::total_steps, 1, "Steps of the cycle (T)."),
            real<K>("pct_start", &K::pct_start, unit_open,
                    "Fraction of the steps spent rising (in (0, 1); (0, 0.5) with three_phase).",
                    0.3),
            choice<K>("anneal", &K::anneal, anneals, "Shape of each phase: cos or linear."),
            real<K>("div_factor", &K::div_factor, positive,
                    "The first value is L / div_factor (> 0).", 25.0),
            real<K>("final_div_factor", &K::final_div_factor, positive,
                    "The minimum is L / div_factor / final_div_factor (> 0).", 1e4),
            flag<K>("three_phase", &K::three_phase,
                    "Come back down to L / div_factor before the final descent.", false));
    }
    void finish(const Path& where, Tables&) {
        if (three_phase && !(pct_start < 0.5))
            fail(where, "pct_start", "must be in (0, 0.5) with three_phase",
                 "pct_start=" + repr(pct_start) + ", three_phase=True");
        initial = learning_rate / div_factor;
        minimum = initial / final_div_factor;
        if (!std::isfinite(initial) || !std::isfinite(minimum))
            fail(where, "div_factor",
                 "must keep learning_rate / div_factor / final_div_factor finite",
                 "learning_rate=" + repr(learning_rate) + ", div_factor=" + repr(div_factor) +
                     ", final_div_factor=" + repr(final_div_factor));
        const double t = total_steps.d;
        const double last = static_cast<double>(total_steps.i - 1);
        if (three_phase) {
            phases = 3;
            ends[0] = pct_start * t - 1.0;
            ends[1] = 2.0 * pct_start * t - 2.0;
            ends[2] = last;
            from[0] = initial, to[0] = learning_rate;
            from[1] = learning_rate, to[1] = initial;
            from[2] = initial, to[2] = minimum;
        } else {
            phases = 2;
            ends[0] = pct_start * t - 1.0;
            ends[1] = last;
            from[0] = initial, to[0] = learning_rate;
            from[1] = learning_rate, to[1] = minimum;
        }
        double previous = 0.0;
        for (int p = 0; p < phases; ++p) {
            if (!(ends[p] - previous >= 1.0))
                fail(where, "total_steps",
                     "must leave every phase at least one step wide (phase " +
                         std::to_string(p + 1) + " of " + std::to_string(phases) + " is " +
                         repr(ends[p] - previous) + " steps)",
                     "total_steps=" + repr(total_steps.i) + ", pct_start=" + repr(pct_start) +
                         (three_phase ? ", three_phase=True" : ""));
            previous = ends[p];
        }
    }
    double anneal_between(double start, double end, double pct) const {
        if (anneal.index == 0) return end + (start - end) / 2.0 * (std::cos(pi * pct) + 1.0);
        return (end - start) * pct + start;
    }
    double at(double t) const {  // 0 <= t <= T - 1
        double start = 0.0;
        for (int p = 0; p < phases; ++p) {
            if (t <= ends[p] || p == phases - 1)
                return anneal_between(from[p], to[p], (t - start) / (ends[p] - start));
            start = ends[p];
        }
        return minimum;  // unreachable: the last phase always answers
    }
    double operator()(std::int64_t s, const Context&) const {
        return s > total_steps.i - 1 ? minimum : at(static_cast<double>(s));
    }
    double operator()(double t, const Context&) const {
        return t > static_cast<double>(total_steps.i - 1) ? minimum : at(t);
    }
    void breakpoints(const Context&, std::vector<std::int64_t>& out) const {
        for (int p = 0; p + 1 < phases; ++p)
            out.push_back(static_cast<std::int64_t>(std::floor(ends[p])) + 1);
        out.push_back(total_steps.i);
    }
    std::optional<std::int64_t> flat_from(const Context&) const {
        // The last phase ends on the minimum exactly with cos; linear may miss it by an ulp.
        return at(static_cast<double>(total_steps.i - 1)) == minimum ? total_steps.i - 1
                                                                     : total_steps.i;
    }
    std::optional<std::int64_t> period(const Context&) const { return std::nullopt; }
    std::size_t cost() const { return libm_call; }
};

// c = s // (U + D), p = s - c * (U + D); scale = p / U if p < U else (U + D - p) / D;
// L + (M - L) * scale * f, f = 1.0 (triangular), 1.0 / 2.0 ** c (triangular2) or
// gamma ** t (exp_range). A float step uses the cycle of floor(t), p = t - c * (U + D).
struct Cyclic {
    static constexpr const char* name = "cyclic";
    static constexpr Shape shape = Shape::mapping;
    static constexpr const char* doc =
        "torch's CyclicLR: up from L to max_learning_rate in step_size_up steps, back down in "
        "step_size_down, forever; triangular2 halves the amplitude each cycle, exp_range "
        "scales it by gamma ** step.";
    static constexpr const char* modes[] = {"triangular", "triangular2", "exp_range"};
    double learning_rate = 0.0;
    double max_learning_rate = 0.0;
    Count step_size_up;
    OptionalCount step_size_down;
    Choice mode;
    double gamma = 1.0;
    std::int64_t cycle = 0;  // U + D
    double amplitude = 0.0;  // M - L

    static constexpr auto fields() {
        using K = Cyclic;
        return std::make_tuple(
            rate<K>("learning_rate", &K::learning_rate, "The base, at each cycle's start (L)."),
            rate<K>("max_learning_rate", &K::max_learning_rate, "The top of the cycle (M >= L)."),
            integer<K>("step_size_up", &K::step_size_up, 1, "Steps from L up to M (U)."),
            optional_integer<K>("step_size_down", &K::step_size_down, 1,
                                "Steps from M back to L (D; U when unset)."),
            choice<K>("mode", &K::mode, modes,
                      "triangular, triangular2 (amplitude halves each cycle) or exp_range."),
            real<K>("gamma", &K::gamma, unit_right,
                    "exp_range: amplitude times gamma ** step (in (0, 1]).", 1.0));
    }
    static constexpr bool may_reject = true;  // float steps >= 2**63 have no exact cycle

    void finish(const Path& where, Tables&) {
        if (max_learning_rate < learning_rate)
            fail(where, "max_learning_rate", "must be >= learning_rate",
                 "max_learning_rate=" + repr(max_learning_rate) +
                     ", learning_rate=" + repr(learning_rate));
        if (!step_size_down.set) step_size_down = {true, step_size_up};
        cycle = step_size_up.i + step_size_down.value.i;
        if (cycle > max_config_int)
            fail(where, "step_size_down", "must keep step_size_up + step_size_down <= 2**53",
                 "step_size_up=" + repr(step_size_up.i) +
                     ", step_size_down=" + repr(step_size_down.value.i));
        amplitude = max_learning_rate - learning_rate;
    }
    double scale_of(std::int64_t c, double t) const {
        if (mode.index == 0) return 1.0;
        if (mode.index == 1) return 1.0 / std::pow(2.0, static_cast<double>(c));
        return std::pow(gamma, t);
    }
    double operator()(std::int64_t s, const Context&) const {
        const std::int64_t c = s / cycle;
        const std::int64_t p = s - c * cycle;
        const double scale = p < step_size_up.i
                                 ? static_cast<double>(p) / step_size_up.d
                                 : static_cast<double>(cycle - p) / step_size_down.value.d;
        return learning_rate + amplitude * scale * scale_of(c, as_double(s));
    }
    double operator()(double t, const Context&) const {
        if (!(t < two_63)) return std::numeric_limits<double>::quiet_NaN();  // refused
        const std::int64_t c = floor_step(t) / cycle;
        const double p = position(t, c * cycle);
        const double scale = p < step_size_up.d
                                 ? p / step_size_up.d
                                 : (static_cast<double>(cycle) - p) / step_size_down.value.d;
        return learning_rate + amplitude * scale * scale_of(c, t);
    }
    void breakpoints(const Context&, std::vector<std::int64_t>& out) const {
        for (std::int64_t start = 0; out.size() + 2 <= max_listed_breakpoints; start += cycle) {
            if (start > max_step - cycle) break;
            out.push_back(start + step_size_up.i);
            out.push_back(start + cycle);
        }
    }
    std::optional<std::int64_t> flat_from(const Context&) const {
        return amplitude == 0.0 ? std::optional<std::int64_t>(0) : std::nullopt;
    }
    std::optional<std::int64_t> period(const Context&) const { return cycle; }
    std::size_t cost() const { return mode.index == 0 ? 3 * cheap : libm_call; }
};

// s < W: L / W * t; s < W + S: L; s < W + S + D with p = float(s - W - S) / D:
// cosine F + (L - F) * 0.5 * (1.0 + cos(pi * p)), linear F + (L - F) * (float(W + S + D - s)
// / D), sqrt F + (L - F) * (1.0 - sqrt(p)); else F.
struct WarmupStableDecay {
    static constexpr const char* name = "warmup_stable_decay";
    static constexpr Shape shape = Shape::mapping;
    static constexpr const char* doc =
        "A linear warm-up to L over W steps, L for S steps, then a decay to F over D steps "
        "(cosine, linear or sqrt), then F.";
    static constexpr const char* shapes[] = {"cosine", "linear", "sqrt"};
    double learning_rate = 0.0;
    double final_learning_rate = 0.0;
    Count num_warmup_steps;
    Count num_stable_steps;
    Count num_decay_steps;
    Choice decay_shape;
    double slope = 0.0;                     // L / W
    double range = 0.0;                     // L - F
    double half_range = 0.0;                // (L - F) * 0.5
    std::int64_t decay_start = 0, end = 0;  // W + S, W + S + D (exact, up to 3 * 2**53)

    static constexpr auto fields() {
        using K = WarmupStableDecay;
        return std::make_tuple(
            rate<K>("learning_rate", &K::learning_rate, "The stable value (L)."),
            rate<K>("final_learning_rate", &K::final_learning_rate,
                    "Value at the end of the decay and after (F <= L).", 0.0),
            integer<K>("num_warmup_steps", &K::num_warmup_steps, 0, "Length of the warm-up (W)."),
            integer<K>("num_stable_steps", &K::num_stable_steps, 0, "Steps held at L (S)."),
            integer<K>("num_decay_steps", &K::num_decay_steps, 1, "Length of the decay (D)."),
            choice<K>("decay_shape", &K::decay_shape, shapes, "cosine, linear or sqrt."));
    }
    void finish(const Path& where, Tables&) {
        if (final_learning_rate > learning_rate)
            fail(where, "final_learning_rate", "must be <= learning_rate",
                 "final_learning_rate=" + repr(final_learning_rate) +
                     ", learning_rate=" + repr(learning_rate));
        if (num_warmup_steps.i > 0) slope = learning_rate / num_warmup_steps.d;
        range = learning_rate - final_learning_rate;
        half_range = range * 0.5;
        decay_start = num_warmup_steps.i + num_stable_steps.i;
        end = decay_start + num_decay_steps.i;
    }
    double decay(double p, double left) const {
        switch (decay_shape.index) {
            case 0:
                return final_learning_rate + half_range * (1.0 + std::cos(pi * p));
            case 1:
                return final_learning_rate + range * (left / num_decay_steps.d);
            default:
                return final_learning_rate + range * (1.0 - std::sqrt(p));
        }
    }
    double operator()(std::int64_t s, const Context&) const {
        if (s < num_warmup_steps.i) return slope * as_double(s);
        if (s < decay_start) return learning_rate;
        if (s < end)
            return decay(static_cast<double>(s - decay_start) / num_decay_steps.d,
                         static_cast<double>(end - s));
        return final_learning_rate;
    }
    double operator()(double t, const Context&) const {
        if (t < num_warmup_steps.d) return slope * t;
        if (before_int(t, decay_start)) return learning_rate;
        if (before_int(t, end))
            return decay((t - num_warmup_steps.d - num_stable_steps.d) / num_decay_steps.d,
                         static_cast<double>(end) - t);
        return final_learning_rate;
    }
    void breakpoints(const Context&, std::vector<std::int64_t>& out) const {
        if (num_warmup_steps.i > 0) out.push_back(num_warmup_steps.i);
        if (num_stable_steps.i > 0) out.push_back(decay_start);
        out.push_back(end);
    }
    std::optional<std::int64_t> flat_from(const Context&) const { return end; }
    std::optional<std::int64_t> period(const Context&) const { return std::nullopt; }
    std::size_t cost() const { return decay_shape.index == 1 ? 3 * cheap : libm_call; }
};

// Stage k runs from S_k = n_0 + ... + n_{k-1} for n_k steps and sees the local step
// s - S_k (re-zeroed, as optax's join_schedules); the last stage runs forever. The
// formula is in schedule_set.hpp: it evaluates the stage's compiled schedule.
struct Sequence {
    static constexpr const char* name = "sequence";
    static constexpr Shape shape = Shape::list;
    static constexpr const char* doc =
        "Stages of any kinds, one after the other: stage k runs for num_steps steps and sees "
        "the step counted from its own start; the last stage runs forever.";
    ListRef starts;  // S_1 .. S_{K-1} in Tables::ints (S_0 = 0 is implied)
    ListRef stages;  // the K stage schedules in Tables::refs
    std::size_t work = cheap;

    static constexpr auto fields() { return std::make_tuple(); }  // read as stages
    void finish(const Path&, Tables&) {}
    template <class Step>
    double operator()(Step s, const Context& c) const;
    template <class Step, class Out>
    void fill(const Step* steps, std::size_t n, Out* out, const Context& c) const;
    void breakpoints(const Context& c, std::vector<std::int64_t>& out) const;
    std::optional<std::int64_t> flat_from(const Context& c) const;
    std::optional<std::int64_t> period(const Context& c) const;
    std::size_t cost() const { return work; }
};

}  // namespace tml
