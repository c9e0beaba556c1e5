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
// Fast mode (exact=False): a kind whose formula calls libm cos or pow also declares
// `fast(step, context)`, the same formula with those calls replaced by the kernels of
// fast_math.hpp (cos_0_pi, exp2, pow_unit, pow_from_log2), every other operation kept;
// and, where one loop over `fast` would not vectorise or would miss a cheaper shape,
// `fast_fill`. A fast formula chooses its phase through detail::Blend (every phase
// computed, one taken with fast::select: what a loop needs to vectorise, see fast_math.hpp
// and dispatch.hpp) or detail::Branch (the phase taken only: one step); the batch loops
// call the very functions the scalar calls do, so a step gives the same bits alone and in
// an array, at every instruction-set level and thread count. `prepare_fast`, where present,
// computes what only fast mode reads (a constant base's log2). Kinds without a libm call
// may declare `fast` too (then it is their exact formula, in a shape that vectorises), and
// give bitwise their exact values; a kind without `fast` is evaluated exactly.
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

#include "tml/dispatch.hpp"
#include "tml/fast_math.hpp"
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

// The last cos and pow the exact formulas computed, with the bits of their arguments.
// Where a set evaluates many schedules at one step, consecutive schedules of a kind often
// share their shape and differ only in their rates (a multi-task model's towers, param
// groups scaled from one config): their cos and pow arguments are then the same bits, and
// the call is made once. The same function of the same bits gives the same value, so the
// results are bitwise those without the memo. One lives on the stack of each call of
// batch.hpp's evaluate_by_kind (a block of a set's members, every kind in turn: any two
// consecutive calls may share), never shared between threads.
class LibmMemo {
  public:
    double cos(double x) {
        const std::uint64_t b = fast::detail::bits(x);
        if (b != cos_x_) {
            cos_v_ = std::cos(x);
            cos_x_ = b;
        }
        return cos_v_;
    }
    double pow(double base, double y) {
        const std::uint64_t b = fast::detail::bits(base), e = fast::detail::bits(y);
        if (b != pow_b_ || e != pow_y_) {
            pow_v_ = std::pow(base, y);
            pow_b_ = b;
            pow_y_ = e;
        }
        return pow_v_;
    }

  private:
    // Primed with values IEC 60559 libms (C's Annex F, which glibc follows) give exactly:
    // cos(+0) = 1, pow(1, y) = 1.
    std::uint64_t cos_x_ = 0;  // bits of 0.0
    double cos_v_ = 1.0;
    std::uint64_t pow_b_ = 0x3ff0000000000000u, pow_y_ = 0x3ff0000000000000u;  // 1.0, 1.0
    double pow_v_ = 1.0;
};

// What a formula reads besides its own fields.
struct Context {
    const std::int64_t* ints = nullptr;
    const double* ints_d = nullptr;
    const double* reals = nullptr;
    const Ref* refs = nullptr;
    const Pool* pool = nullptr;
    LibmMemo* memo = nullptr;  // where set, the libm calls below go through it
};

namespace detail {
// The exact formulas' libm calls: std::cos and std::pow, through the context's memo where
// it has one.
inline double libm_cos(double x, const Context& c) { return c.memo ? c.memo->cos(x) : std::cos(x); }
inline double libm_pow(double base, double y, const Context& c) {
    return c.memo ? c.memo->pow(base, y) : std::pow(base, y);
}
}  // namespace detail

// How a kind's config is written: `{kind: {field: value, ...}}` for most, `{kind: value}`
// for constant (its one field is the value), `{kind: [stage, ...]}` for sequence.
enum class Shape : std::uint8_t { mapping, scalar, list };

// Kinds with infinitely many breakpoints (restarts, cycles, staircases) list this many.
inline constexpr std::size_t max_listed_breakpoints = 64;

// Sequences nest at most this deep (a stage's schedule a sequence, and so on). Building
// and evaluating recurse once a level, on the caller's stack or a worker thread's; a
// config that contains itself would recurse forever. 32 levels is what the YAML loader's
// 100 levels of nesting can hold (three a sequence) and far past any real schedule.
inline constexpr int max_sequence_depth = 32;

// Work per step, for threading: about a nanosecond per unit (a store is 1, a libm call 10).
inline constexpr std::size_t cheap = 1, libm_call = 10;

namespace detail {
// Refuses a config whose formula's largest value is not finite. `peak` is that value,
// computed as the formula computes it where it is largest (a cosine at cos = 1, a decay
// at its start): rounding is monotone, so no other step gives more. Near the largest
// double, F + (L - F) can round past it to inf though L and F are both finite. `field`
// is the field named; `got` (called on failure only) shows the rates involved.
template <class Got>
void require_finite_peak(double peak, const Path& where, const char* field, const Got& got) {
    if (!std::isfinite(peak))
        fail(where, field,
             "must keep the schedule finite (its largest value rounds past the largest float)",
             got());
}
// Refuses a config whose formula's smallest value, computed where it is smallest (a
// cosine from L up to F > L at its start), is below 0. Only subnormal rates get there:
// halving an odd subnormal rounds away from 0, so F + ((L - F) * 0.5) * 2.0 can be one
// below L = 0 (L = 0, F = 1.5e-323 gives -5e-324).
template <class Got>
void require_nonnegative_low(double low, const Path& where, const char* field, const Got& got) {
    if (low < 0.0)
        fail(where, field,
             "must keep the schedule >= 0 (with subnormal rates its half-amplitude rounds "
             "away from 0, and its low end falls below 0)",
             got());
}
// The same for the kinds whose values lie between learning_rate and final_learning_rate.
inline void require_finite_peak(double peak, const Path& where, double learning_rate,
                                double final_learning_rate) {
    require_finite_peak(peak, where, "learning_rate", [&] {
        return "learning_rate=" + repr(learning_rate) +
               ", final_learning_rate=" + repr(final_learning_rate);
    });
}

// Index of the first element > s in the increasing list b[0, n): Python's bisect_right.
// A bisection without branches (each halving a conditional move): many schedules at one
// step sit at unrelated places in their lists, where std::upper_bound's branches were
// mispredicted about every other halving (2e5 piecewise_constant schedules of 7
// boundaries at one step, one thread: 13.9 -> 5.4 ns a schedule; multistep_decay 10.4 ->
// 3.7). The same index as std::upper_bound.
template <class T>
std::size_t upper(const T* b, std::size_t n, T s) {
    if (n == 0) return 0;
    const T* base = b;  // b[0, base - b) are <= s; the first > s is in [base, base + n]
    while (n > 1) {
        const std::size_t half = n / 2;
        base = base[half] <= s ? base + half : base;
        n -= half;
    }
    return static_cast<std::size_t>(base - b) + (*base <= s ? 1 : 0);
}
// The least double >= n (n >= 0): n itself where it is one. A double t is below the
// integer n exactly when it is below this (no double lies between n and it).
inline double double_at_least(std::int64_t n) {
    const double d = static_cast<double>(n);
    return static_cast<std::int64_t>(d) < n ? std::nextafter(d, HUGE_VAL) : d;
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
// The same k in fast mode: floor without its libm call (bitwise the same value), so that
// a loop over float steps vectorises.
inline double fast_periods(std::int64_t s, const Count& d, bool staircase) {
    return periods(s, d, staircase);
}
inline double fast_periods(double t, const Count& d, bool staircase) {
    return staircase ? fast::floor_nonneg(t / d.d) : t / d.d;
}

// Fast mode's phase tests, as masks for fast::select: step < c and c < step. For int
// steps and Count fields the integer compare; for float steps the exact double compare.
inline fast::Mask before_mask(std::int64_t s, const Count& c) { return fast::less_mask(s, c.i); }
inline fast::Mask before_mask(double t, const Count& c) { return fast::less_mask(t, c.d); }
inline fast::Mask after_mask(std::int64_t s, const Count& c) { return fast::less_mask(c.i, s); }
inline fast::Mask after_mask(double t, const Count& c) { return fast::less_mask(c.d, t); }

// How a fast formula chooses between its phases. Blend computes every arm and blends
// (fast::select), so that a loop over it vectorises: the batch loops. Branch computes the
// arm chosen only: one step at a time (a scalar call, many schedules at one step), where
// computing the cosine of a phase not taken would be wasted. The arms are the same
// lambdas either way, so the value chosen has the same bits.
struct Blend {
    using Where = fast::Lanes;  // how the kernels choose (fast_math.hpp)
    template <class A, class B>
    static double choose(fast::Mask m, const A& a, const B& b) {
        return fast::select(m, a(), b());
    }
};
struct Branch {
    using Where = fast::One;
    template <class A, class B>
    static double choose(fast::Mask m, const A& a, const B& b) {
        return m != 0 ? a() : b();
    }
};

// Fast mode's batch loop: out[k] = f(steps[k]) for k < n, compiled for the best
// instruction set this CPU has (dispatch.hpp). It vectorises when f is branch-free: every
// phase computed, one chosen with fast::select (fast_math.hpp). `f` holds a copy of the
// kind, so that its fields are locals the stores cannot alias.
template <class Step, class Out, class F>
void fast_loop(const Step* steps, std::size_t n, Out* out, const F& f) {
    dispatch::run([=] {
        for (std::size_t k = 0; k < n; ++k) out[k] = static_cast<Out>(f(steps[k]));
    });
}

// Fast mode's batch form of a periodic kind: steps usually increase, so they come in runs
// inside one cycle, and a run is one loop with the cycle's constants (its start, length,
// amplitude) instead of an integer division per step, which does not vectorise.
// `cycle_at(step)` finds the cycle of a step, `within(cycle, step)` says whether a later
// step is in it too, and `run(cycle, steps, m, out)` evaluates a run of m steps. A run's
// end is looked for a block of steps at a time, each block tested whole in a loop that
// vectorises (no branch per step), then step by step in the block where the run ends.
template <class Step, class Out, class CycleAt, class Within, class Run>
void fill_runs(const Step* steps, std::size_t n, Out* out, const CycleAt& cycle_at,
               const Within& within, const Run& run) {
    constexpr std::size_t block = 256;
    std::size_t i = 0;
    while (i < n) {
        const auto cycle = cycle_at(steps[i]);
        std::size_t m = 1;
        while (n - (i + m) >= block) {
            const Step* b = steps + i + m;
            unsigned all = 1;
            dispatch::run([&] {
                unsigned ok = 1;
                for (std::size_t k = 0; k < block; ++k)
                    ok &= static_cast<unsigned>(within(cycle, b[k]));
                all = ok;
            });
            if (all == 0) break;
            m += block;
        }
        while (i + m < n && within(cycle, steps[i + m])) ++m;
        run(cycle, steps + i, m, out + i);
        i += m;
    }
}

// Fast mode's batch form of a staircase at int steps: the value is the same on each period
// [q * d, (q + 1) * d), so `value(s)` (the kind's fast formula) runs once per period met;
// a division per step would not vectorise. Each output is value(s) of its own step.
template <class Out, class F>
void fill_periods(const std::int64_t* steps, std::size_t n, Out* out, std::int64_t d,
                  const F& value) {
    std::int64_t start = std::numeric_limits<std::int64_t>::min();  // no period yet
    Out v = 0;
    for (std::size_t k = 0; k < n; ++k) {
        const std::int64_t s = steps[k];
        // s - start as unsigned: 0 <= s - start < d inside the period (no overflow).
        if (static_cast<std::uint64_t>(s) - static_cast<std::uint64_t>(start) >=
            static_cast<std::uint64_t>(d)) {
            start = s - s % d;
            v = static_cast<Out>(value(s));
        }
        out[k] = v;
    }
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

// A step function stored in a compiled set's tables: values[i] from the i-th of the
// sorted bounds on (piecewise constant, multistep decay). Int steps search the exact
// bounds, float steps their doubles (each bound's double is exact: checked on input).
struct StepFunction {
    ListRef bounds, values;

    static const std::int64_t* bounds_in(const Context& c, std::int64_t) { return c.ints; }
    static const double* bounds_in(const Context& c, double) { return c.ints_d; }

    template <class Step>
    double at(Step s, const Context& c) const {
        const Step* b = bounds_in(c, Step{}) + bounds.offset;
        return c.reals[values.offset + upper(b, bounds.count, s)];
    }
    template <class Step, class Out>
    void fill(const Step* steps, std::size_t n, Out* out, const Context& c) const {
        fill_segments(steps, n, out, bounds_in(c, Step{}) + bounds.offset, bounds.count,
                      c.reals + values.offset);
    }
};
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
    // No libm call: fast mode runs the exact formula, in a loop that vectorises.
    template <class Step>
    double fast(Step s, const Context& c) const {
        return (*this)(s, c);
    }
    void breakpoints(const Context&, std::vector<std::int64_t>&) const {}
    std::optional<std::int64_t> flat_from(const Context&) const { return 0; }
    std::optional<std::int64_t> period(const Context&) const { return std::nullopt; }
    bool fast_is_exact() const { return true; }  // fast: the exact formula, vectorised
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
    template <class Step>
    double operator()(Step s, const Context& c) const {
        return detail::StepFunction{boundaries, values}.at(s, c);
    }
    template <class Step, class Out>
    void fill(const Step* steps, std::size_t n, Out* out, const Context& c) const {
        detail::StepFunction{boundaries, values}.fill(steps, n, out, c);
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
    // No libm call: fast mode runs the exact formula, in a loop that vectorises.
    template <class Step>
    double fast(Step s, const Context& c) const {
        return (*this)(s, c);
    }
    // Where the ramp meets L: R, or a step or two later when L / R * R rounds below L
    // (1e-4 / 100 * 100 is 9.999999999999999e-05, and step 101 gives 1e-4). A subnormal
    // L's slope is coarse, so the first step where slope * s reaches L is found by
    // bisection (slope * s never decreases as s grows); None where it never does. A
    // slope of 0 (L = 0, or L / R underflowing) makes every value 0: flat from step 0.
    std::optional<std::int64_t> ramp_end() const {
        if (slope == 0.0) return 0;
        const auto reached = [&](std::int64_t s) {
            return !(slope * as_double(s) < learning_rate);
        };
        std::int64_t below = num_ramp_steps.i, at = max_step;
        if (reached(below)) return below;
        if (!reached(at)) return std::nullopt;
        while (at - below > 1) {
            const std::int64_t mid = below + (at - below) / 2;
            (reached(mid) ? at : below) = mid;
        }
        return at;
    }
    void breakpoints(const Context&, std::vector<std::int64_t>& out) const {
        const std::optional<std::int64_t> end = ramp_end();
        if (end && *end > 0) out.push_back(*end);
    }
    std::optional<std::int64_t> flat_from(const Context&) const { return ramp_end(); }
    std::optional<std::int64_t> period(const Context&) const { return std::nullopt; }
    bool fast_is_exact() const { return true; }  // fast: the exact formula, vectorised
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
        // Largest where the cosine starts (cos = 1), or F; smallest there too when F > L
        // (the reference's subnormal half-amplitude can take it below 0, as cosine_decay's).
        const double start = (*this)(num_ramp_steps.i, Context{});
        detail::require_finite_peak(start, where, learning_rate, final_learning_rate);
        detail::require_nonnegative_low(start, where, "learning_rate", [&] {
            return "learning_rate=" + repr(learning_rate) +
                   ", final_learning_rate=" + repr(final_learning_rate);
        });
    }
    template <class Step>
    double operator()(Step s, const Context& c) const {
        if (before(s, num_ramp_steps)) return slope * static_cast<double>(s);
        if (not_after(s, final_num_steps))
            return final_learning_rate +
                   half_range * (1.0 + detail::libm_cos((pi * since(s, num_ramp_steps)) / span, c));
        return final_learning_rate;
    }
    // Fast mode: cos_0_pi for std::cos, the same argument (a division, as the exact path:
    // `from_ramp * (pi / span)`, a multiply, measured 2.5 ulp of L against 2.0, and its
    // worst case by error analysis is near the 4 ulp bound).
    // s - R is the exact path's integer difference wherever the cosine is chosen; in the
    // ramp it is negative and the cosine a discarded garbage value.
    template <class Choose = detail::Blend>
    double fast(std::int64_t s, const Context&) const {
        return fast_of<Choose>(s, as_double(s), as_double(s - num_ramp_steps.i));
    }
    template <class Choose = detail::Blend>
    double fast(double t, const Context&) const {
        return fast_of<Choose>(t, t, since(t, num_ramp_steps));
    }
    template <class Choose, class Step>
    double fast_of(Step s, double t, double from_ramp) const {
        const auto cosine = [&] {
            return final_learning_rate +
                   half_range * (1.0 + fast::cos_0_pi((pi * from_ramp) / span));
        };
        const auto after_ramp = [&] {
            return Choose::choose(
                detail::after_mask(s, final_num_steps), [&] { return final_learning_rate; },
                cosine);
        };
        return Choose::choose(
            detail::before_mask(s, num_ramp_steps), [&] { return slope * t; }, after_ramp);
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
    // No libm call: fast mode runs the exact formula, each half and the end computed and
    // one chosen, so that a loop over it vectorises. Bitwise the exact values.
    double fast(std::int64_t s, const Context&) const {
        // Where 2 * s - N passes 2**63 the mask is garbage, but then s >= N chooses F.
        const fast::Mask first_half = fast::less_mask(s, num_steps.i - s);
        const double ratio =
            fast::select(first_half, as_double(s), as_double(num_steps.i - s)) / num_steps.d;
        const double v = fast::select(first_half, learning_rate + rise * ratio,
                                      final_learning_rate + fall * ratio);
        return fast::select(detail::before_mask(s, num_steps), v, final_learning_rate);
    }
    double fast(double t, const Context&) const {
        const fast::Mask first_half = fast::less_mask(2.0 * t, num_steps.d);
        const double ratio = fast::select(first_half, t, num_steps.d - t) / num_steps.d;
        const double v = fast::select(first_half, learning_rate + rise * ratio,
                                      final_learning_rate + fall * ratio);
        return fast::select(detail::before_mask(t, num_steps), v, final_learning_rate);
    }
    void breakpoints(const Context&, std::vector<std::int64_t>& out) const {
        out.push_back(num_steps.i);
    }
    std::optional<std::int64_t> flat_from(const Context&) const { return num_steps.i; }
    std::optional<std::int64_t> period(const Context&) const { return std::nullopt; }
    bool fast_is_exact() const { return true; }  // fast: the exact formula, vectorised
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
    // Fast mode (prepare_fast): log2(r) to double-double precision, and the bounds as a
    // floor and a cap that leave v unchanged where unset (max(v, 0.0) and min(v, inf) are
    // v, for v >= 0).
    fast::DoubleDouble log2_rate{0.0, 0.0};
    double fast_floor = 0.0;
    double fast_cap = HUGE_VAL;

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
    double operator()(Step s, const Context& c) const {
        const double v =
            learning_rate *
            detail::libm_pow(decay_rate, detail::periods(s, decay_steps, staircase), c);
        if (!final_learning_rate.set) return v;
        return decay_rate < 1.0 ? detail::max_py(v, final_learning_rate.value)
                                : detail::min_py(v, final_learning_rate.value);
    }
    // Fast mode: pow_from_log2 for std::pow (the base is constant: its log2 is computed
    // once, precisely); the same k and the same bound.
    void prepare_fast() {
        log2_rate = fast::log2_precise(decay_rate);
        const bool set = final_learning_rate.set;
        fast_floor = set && decay_rate < 1.0 ? final_learning_rate.value : 0.0;
        fast_cap = set && decay_rate > 1.0 ? final_learning_rate.value : HUGE_VAL;
    }
    template <class Where = fast::Lanes>
    double fast_of(double k) const {
        const double v = learning_rate * fast::pow_from_log2<Where>(log2_rate, k);
        return detail::min_py(detail::max_py(v, fast_floor), fast_cap);
    }
    template <class Step>
    double fast(Step s, const Context&) const {  // one step
        return fast_of<fast::One>(detail::fast_periods(s, decay_steps, staircase));
    }
    template <class Out>
    void fast_fill(const std::int64_t* steps, std::size_t n, Out* out, const Context& c) const {
        if (staircase)  // a pow per period, compiled for the dispatched level (fma() inline)
            return detail::fill_periods(steps, n, out, decay_steps.i, [&](std::int64_t s) {
                return dispatch::call([&] { return fast(s, c); });
            });
        const ExponentialDecay k = *this;
        detail::fast_loop(steps, n, out, [k](std::int64_t s) {
            return k.fast_of(detail::fast_periods(s, k.decay_steps, false));
        });
    }
    template <class Out>
    void fast_fill(const double* steps, std::size_t n, Out* out, const Context&) const {
        const ExponentialDecay k = *this;
        if (staircase)
            return detail::fast_loop(steps, n, out, [k](double t) {
                return k.fast_of(detail::fast_periods(t, k.decay_steps, true));
            });
        detail::fast_loop(steps, n, out, [k](double t) {
            return k.fast_of(detail::fast_periods(t, k.decay_steps, false));
        });
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
    template <class Step>
    double operator()(Step s, const Context& c) const {
        return detail::StepFunction{milestones, values}.at(s, c);
    }
    template <class Step, class Out>
    void fill(const Step* steps, std::size_t n, Out* out, const Context& c) const {
        detail::StepFunction{milestones, values}.fill(steps, n, out, c);
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
        // x ** power <= 1 for x in [0, 1]: largest at step 0
        detail::require_finite_peak((*this)(std::int64_t{0}, Context{}), where, learning_rate,
                                    final_learning_rate);
    }
    template <class Step>
    double operator()(Step s, const Context& c) const {
        if (!before(s, num_steps)) return final_learning_rate;
        const double x = 1.0 - as_double(s) / num_steps.d;
        return range * (power == 1.0 ? x : detail::libm_pow(x, power, c)) + final_learning_rate;
    }
    // The formula above in three passes over a block: the bases, the pow calls alone, the
    // affine map. The passes without a call vectorise, and the division's latency no
    // longer stands before each call (pow(1.0, p) fills the steps past the end). Same bits.
    template <class Step, class Out>
    void fill(const Step* steps, std::size_t n, Out* out, const Context&) const {
        constexpr std::size_t block = 256;
        double x[block];
        for (std::size_t b = 0; b < n; b += block) {
            const std::size_t m = std::min(block, n - b);
            const Step* s = steps + b;
            for (std::size_t j = 0; j < m; ++j)
                x[j] = before(s[j], num_steps) ? 1.0 - as_double(s[j]) / num_steps.d : 1.0;
            for (std::size_t j = 0; j < m; ++j) x[j] = std::pow(x[j], power);
            for (std::size_t j = 0; j < m; ++j)
                out[b + j] =
                    static_cast<Out>(before(s[j], num_steps) ? range * x[j] + final_learning_rate
                                                             : final_learning_rate);
        }
    }
    // Fast mode: pow_unit for std::pow (x is in (0, 1] wherever the decay is chosen, and
    // only the absolute error of x ** p reaches the result); power 1 has no pow, and its
    // values are bitwise the exact ones.
    template <bool unit_power, class Choose = detail::Blend, class Step>
    double fast_at(Step s) const {
        const auto decay = [&] {
            const double x = 1.0 - as_double(s) / num_steps.d;
            if constexpr (unit_power) return range * x + final_learning_rate;
            return range * fast::pow_unit<typename Choose::Where>(x, power) + final_learning_rate;
        };
        return Choose::choose(detail::before_mask(s, num_steps), decay,
                              [&] { return final_learning_rate; });
    }
    template <class Choose = detail::Blend, class Step>
    double fast(Step s, const Context&) const {
        return power == 1.0 ? fast_at<true, Choose>(s) : fast_at<false, Choose>(s);
    }
    template <class Step, class Out>
    void fast_fill(const Step* steps, std::size_t n, Out* out, const Context&) const {
        const PolynomialDecay k = *this;
        if (power == 1.0)
            return detail::fast_loop(steps, n, out, [k](Step s) { return k.fast_at<true>(s); });
        detail::fast_loop(steps, n, out, [k](Step s) { return k.fast_at<false>(s); });
    }
    void breakpoints(const Context&, std::vector<std::int64_t>& out) const {
        out.push_back(num_steps.i);
    }
    std::optional<std::int64_t> flat_from(const Context&) const { return num_steps.i; }
    std::optional<std::int64_t> period(const Context&) const { return std::nullopt; }
    bool fast_is_exact() const { return power == 1.0; }  // no pow call then
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
    void finish(const Path& where, Tables&) {
        half_range = (learning_rate - final_learning_rate) * 0.5;
        // Largest at step 0 (cos = 1), or F; smallest there too when F > L.
        const double start = (*this)(std::int64_t{0}, Context{});
        detail::require_finite_peak(start, where, learning_rate, final_learning_rate);
        detail::require_nonnegative_low(start, where, "learning_rate", [&] {
            return "learning_rate=" + repr(learning_rate) +
                   ", final_learning_rate=" + repr(final_learning_rate);
        });
    }
    template <class Step>
    double operator()(Step s, const Context& c) const {
        if (!not_after(s, num_steps)) return final_learning_rate;
        return final_learning_rate +
               half_range * (1.0 + detail::libm_cos(pi * as_double(s) / num_steps.d, c));
    }
    // Fast mode: cos_0_pi for std::cos, the same argument (in [0, pi] up to N).
    template <class Choose = detail::Blend, class Step>
    double fast(Step s, const Context&) const {
        return Choose::choose(
            detail::after_mask(s, num_steps), [&] { return final_learning_rate; },
            [&] {
                return final_learning_rate +
                       half_range * (1.0 + fast::cos_0_pi(pi * as_double(s) / num_steps.d));
            });
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
    // No libm call (sqrt and the divisions are IEEE's): fast mode, and the exact batch
    // loops (fast_is_exact), run this shape of the exact formula, which vectorises: both
    // phases computed, one chosen. In the warm-up the unsigned sum wraps to a garbage that
    // is discarded; as_double of it is the correctly rounded conversion of the exact path.
    double fast(std::int64_t s, const Context&) const {
        const auto n = static_cast<std::uint64_t>(s - num_warmup_steps.i) +
                       static_cast<std::uint64_t>(timescale.value.i);
        const double decayed =
            learning_rate / std::sqrt(as_double(static_cast<std::int64_t>(n)) / timescale.value.d);
        return fast::select(detail::before_mask(s, num_warmup_steps), slope * as_double(s),
                            decayed);
    }
    double fast(double t, const Context&) const {
        const double decayed =
            learning_rate /
            std::sqrt((t - num_warmup_steps.d + timescale.value.d) / timescale.value.d);
        return fast::select(detail::before_mask(t, num_warmup_steps), slope * t, decayed);
    }
    bool fast_is_exact() const { return true; }
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
    // No libm call (the division is IEEE's): fast mode gives bitwise the exact values, in
    // loops that vectorise (whole periods: once per period at int steps, floor without its
    // libm call at float steps).
    template <class Step>
    double fast(Step s, const Context&) const {
        return learning_rate / (1.0 + decay_rate * detail::fast_periods(s, decay_steps, staircase));
    }
    template <class Out>
    void fast_fill(const std::int64_t* steps, std::size_t n, Out* out, const Context& c) const {
        if (staircase)
            return detail::fill_periods(steps, n, out, decay_steps.i,
                                        [&](std::int64_t s) { return fast(s, c); });
        const InverseTimeDecay k = *this;
        detail::fast_loop(steps, n, out, [k](std::int64_t s) {
            return k.learning_rate /
                   (1.0 + k.decay_rate * detail::fast_periods(s, k.decay_steps, false));
        });
    }
    template <class Out>
    void fast_fill(const double* steps, std::size_t n, Out* out, const Context&) const {
        const InverseTimeDecay k = *this;
        if (staircase)
            return detail::fast_loop(steps, n, out, [k](double t) {
                return k.learning_rate /
                       (1.0 + k.decay_rate * detail::fast_periods(t, k.decay_steps, true));
            });
        detail::fast_loop(steps, n, out, [k](double t) {
            return k.learning_rate /
                   (1.0 + k.decay_rate * detail::fast_periods(t, k.decay_steps, false));
        });
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
    bool fast_is_exact() const { return true; }  // fast: the exact formula, vectorised
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
    ListRef peaks;  // the first cycles' peaks (prepare_table), or none
    fast::DoubleDouble log2_peak_decay{0.0, 0.0};  // fast mode (prepare_fast)

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
        // Largest at step 0: the first cycle's peak is L (peak_decay <= 1), at cos = 1.
        detail::require_finite_peak((*this)(std::int64_t{0}, Context{}), where, learning_rate,
                                    final_learning_rate);
    }

    struct Cycle {
        std::int64_t index;  // i
        std::int64_t start;  // S_i
        double length;       // float(T_i), rounded once from the exact integer
        // T_i, or 2**63 - 1 where it is longer (fast mode's runs: a step s is in the
        // cycle when (uint64)(s - S_i) < steps, which a step below S_i, wrapping to 2**63
        // or more, never is)
        std::uint64_t steps;
    };
    // The cycle holding step s (0 <= s <= 2**63 - 1).
    Cycle cycle_of(std::int64_t s) const {
        const std::int64_t n = num_steps.i;
        if (period_multiplier.i == 1)
            return {s / n, (s / n) * n, num_steps.d, static_cast<std::uint64_t>(n)};
        // In 64 bits while T_i fits (0 <= s - S_i, so S_i + T_i cannot overflow while
        // s - S_i >= T_i); a cycle longer than 2**63 - 1 steps holds every later step.
        const std::int64_t m = period_multiplier.i;
        std::int64_t start = 0, i = 0, length = n;
        while (s - start >= length) {
            start += length;
            ++i;
            if (length > max_step / m) {
                const uint128 longer = static_cast<uint128>(length) * static_cast<uint128>(m);
                return {i, start, static_cast<double>(longer),
                        static_cast<std::uint64_t>(max_step)};
            }
            length *= m;
        }
        return {i, start, static_cast<double>(length), static_cast<std::uint64_t>(length)};
    }
    // The cycle's peak, max(L * d ** i, F); NaN after num_cycles cycles, where F holds.
    // A compiled schedule keeps the first peaks in a table (prepare_table), computed by
    // the same expression.
    double peak_of(const Cycle& c, const Context& ctx) const {
        if (num_cycles.set && c.index >= num_cycles.value.i)
            return std::numeric_limits<double>::quiet_NaN();
        if (peak_decay == 1.0) return learning_rate;
        if (c.index < static_cast<std::int64_t>(peaks.count))
            return ctx.reals[peaks.offset + c.index];
        return peak_at(c.index, ctx);
    }
    double peak_at(std::int64_t i, const Context& ctx) const {
        return detail::max_py(
            learning_rate * detail::libm_pow(peak_decay, static_cast<double>(i), ctx),
            final_learning_rate);
    }
    // For a compiled schedule (not a one-off compute_lr): the peaks of the first cycles,
    // so that a step costs one libm call (the cos), not two.
    void prepare_table(Tables& t) {
        if (peak_decay == 1.0) return;
        std::int64_t count = static_cast<std::int64_t>(max_listed_breakpoints);
        if (num_cycles.set) count = std::min(count, num_cycles.value.i);
        peaks = {static_cast<std::uint32_t>(t.reals.size()), static_cast<std::uint32_t>(count)};
        for (std::int64_t i = 0; i < count; ++i) t.reals.push_back(peak_at(i, Context{}));
    }
    double at(double peak, double position, double length, const Context& ctx) const {
        if (std::isnan(peak)) return final_learning_rate;
        return final_learning_rate + (peak - final_learning_rate) * 0.5 *
                                         (1.0 + detail::libm_cos(pi * position / length, ctx));
    }
    double operator()(std::int64_t s, const Context& ctx) const {
        const Cycle c = cycle_of(s);
        return at(peak_of(c, ctx), static_cast<double>(s - c.start), c.length, ctx);
    }
    double operator()(double t, const Context& ctx) const {
        if (!(t < two_63)) return std::numeric_limits<double>::quiet_NaN();  // refused
        const Cycle c = cycle_of(floor_step(t));
        return at(peak_of(c, ctx), position(t, c.start), c.length, ctx);
    }
    // Batch form: steps come in runs inside one cycle, each run with its cycle and peak
    // found once (a cycle search and a pow per run, not per step); the same formula.
    struct ExactCycle {
        Cycle cycle;
        double peak;
    };
    template <class Out>
    void fill(const std::int64_t* steps, std::size_t n, Out* out, const Context& ctx) const {
        detail::fill_runs(
            steps, n, out,
            [&](std::int64_t s) {
                const Cycle c = cycle_of(s);
                return ExactCycle{c, peak_of(c, ctx)};
            },
            [](const ExactCycle& e, std::int64_t s) {
                return static_cast<std::uint64_t>(s - e.cycle.start) < e.cycle.steps;
            },
            [&](const ExactCycle& e, const std::int64_t* run, std::size_t m, Out* to) {
                for (std::size_t k = 0; k < m; ++k)
                    to[k] = static_cast<Out>(at(e.peak, static_cast<double>(run[k] - e.cycle.start),
                                                e.cycle.length, ctx));
            });
    }
    // Float steps below 2**53 in runs (position() is t - S_i there); others one at a time.
    template <class Out>
    void fill(const double* steps, std::size_t n, Out* out, const Context& c) const {
        detail::fill_runs(
            steps, n, out,
            [&](double t) {
                if (!(t < 0x1p53)) return ExactCycle{{0, 0, 0.0, 0}, 0.0};  // a lone step
                const Cycle cy = cycle_of(floor_step(t));
                return ExactCycle{cy, peak_of(cy, c)};
            },
            [](const ExactCycle& e, double t) {
                return e.cycle.steps != 0 && t < 0x1p53 &&
                       static_cast<std::uint64_t>(floor_step(t) - e.cycle.start) < e.cycle.steps;
            },
            [&](const ExactCycle& e, const double* run, std::size_t m, Out* to) {
                if (e.cycle.steps == 0) {
                    to[0] = static_cast<Out>((*this)(run[0], c));
                    return;
                }
                const double start = static_cast<double>(e.cycle.start);
                for (std::size_t k = 0; k < m; ++k)
                    to[k] = static_cast<Out>(at(e.peak, run[k] - start, e.cycle.length, c));
            });
    }

    // Fast mode: pow_from_log2 for the peak's std::pow (log2(d) computed once, precisely)
    // and cos_0_pi for std::cos, the same argument. The amplitude (peak - F) * 0.5 is the
    // cycle's constant; after num_cycles cycles it is 0, and F + 0 * (1 + cos) is F.
    void prepare_fast() { log2_peak_decay = fast::log2_precise(peak_decay); }
    double fast_half(const Cycle& c) const {
        if (num_cycles.set && c.index >= num_cycles.value.i) return 0.0;
        const double peak =
            peak_decay == 1.0
                ? learning_rate
                : detail::max_py(learning_rate * fast::pow_from_log2<fast::One>(
                                                     log2_peak_decay, static_cast<double>(c.index)),
                                 final_learning_rate);
        return (peak - final_learning_rate) * 0.5;
    }
    double fast_at(double half, double position, double length) const {
        return final_learning_rate + half * (1.0 + fast::cos_0_pi(pi * position / length));
    }
    // One step (a scalar call, or a lone step of fast_fill).
    double fast(std::int64_t s, const Context&) const {
        const Cycle c = cycle_of(s);
        return fast_at(fast_half(c), static_cast<double>(s - c.start), c.length);
    }
    double fast(double t, const Context&) const {
        if (!(t < two_63)) return std::numeric_limits<double>::quiet_NaN();  // refused
        const Cycle c = cycle_of(floor_step(t));
        return fast_at(fast_half(c), position(t, c.start), c.length);
    }
    struct FastCycle {
        Cycle cycle;
        double half;
    };
    template <class Out>
    void fast_fill(const std::int64_t* steps, std::size_t n, Out* out, const Context&) const {
        const CosineRestarts k = *this;
        detail::fill_runs(
            steps, n, out,
            [&](std::int64_t s) {
                const Cycle c = cycle_of(s);  // fast_half's pow with fma() inline
                return FastCycle{c, dispatch::call([&] { return fast_half(c); })};
            },
            [](const FastCycle& f, std::int64_t s) {
                return static_cast<std::uint64_t>(s - f.cycle.start) < f.cycle.steps;
            },
            [&](const FastCycle& f, const std::int64_t* run, std::size_t m, Out* to) {
                const std::int64_t start = f.cycle.start;
                const double half = f.half, length = f.cycle.length;
                detail::fast_loop(run, m, to, [k, start, half, length](std::int64_t s) {
                    return k.fast_at(half, as_double(s - start), length);
                });
            });
    }
    // Float steps below 2**53 in runs (their position t - S_i is exact there, as
    // numeric.hpp's position() takes it); larger ones, and refused ones, one at a time.
    template <class Out>
    void fast_fill(const double* steps, std::size_t n, Out* out, const Context& c) const {
        const CosineRestarts k = *this;
        detail::fill_runs(
            steps, n, out,
            [&](double t) {
                if (!(t < 0x1p53)) return FastCycle{{0, 0, 0.0, 0}, 0.0};  // a lone step
                const Cycle cy = cycle_of(floor_step(t));
                return FastCycle{cy, dispatch::call([&] { return fast_half(cy); })};
            },
            [](const FastCycle& f, double t) {
                return f.cycle.steps != 0 && t < 0x1p53 &&
                       static_cast<std::uint64_t>(floor_step(t) - f.cycle.start) < f.cycle.steps;
            },
            [&](const FastCycle& f, const double* run, std::size_t m, Out* to) {
                if (f.cycle.steps == 0) {
                    to[0] = static_cast<Out>(dispatch::call([&] { return fast(run[0], c); }));
                    return;
                }
                const double start = static_cast<double>(f.cycle.start);
                const double half = f.half, length = f.cycle.length;
                detail::fast_loop(run, m, to, [k, start, half, length](double t) {
                    return k.fast_at(half, t - start, length);
                });
            });
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
        if (period_multiplier.i == 1) {  // N * num_cycles (at most 2**106), not a loop
            const uint128 end =
                static_cast<uint128>(num_steps.i) * static_cast<uint128>(num_cycles.value.i);
            if (end > static_cast<uint128>(max_step)) return std::nullopt;
            return static_cast<std::int64_t>(end);
        }
        // Each cycle at least twice as long as the last: under 64 of them fit in int64.
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
        // Each anneal is monotone between its two values: largest at one end, smallest
        // at the other.
        const auto got = [&] {
            return "learning_rate=" + repr(learning_rate) + ", div_factor=" + repr(div_factor) +
                   ", final_div_factor=" + repr(final_div_factor);
        };
        for (int p = 0; p < phases; ++p)
            for (const double pct : {0.0, 1.0}) {
                const double end = anneal_between(from[p], to[p], pct, Context{});
                detail::require_finite_peak(end, where, "learning_rate", got);
                detail::require_nonnegative_low(end, where, "learning_rate", got);
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
    double anneal_between(double start, double end, double pct, const Context& c) const {
        if (anneal.index == 0)
            return end + (start - end) / 2.0 * (detail::libm_cos(pi * pct, c) + 1.0);
        return (end - start) * pct + start;
    }
    double at(double t, const Context& c) const {  // 0 <= t <= T - 1
        double start = 0.0;
        for (int p = 0; p < phases; ++p) {
            if (t <= ends[p] || p == phases - 1)
                return anneal_between(from[p], to[p], (t - start) / (ends[p] - start), c);
            start = ends[p];
        }
        return minimum;  // unreachable: the last phase always answers
    }
    double operator()(std::int64_t s, const Context& c) const {
        return s > total_steps.i - 1 ? minimum : at(static_cast<double>(s), c);
    }
    double operator()(double t, const Context& c) const {
        return t > static_cast<double>(total_steps.i - 1) ? minimum : at(t, c);
    }

    // Fast mode: cos_0_pi for the cos anneal's std::cos (pi * pct is in [0, pi] in the
    // phase that holds t); the linear anneal has no libm call and gives bitwise the exact
    // values. The phase holding t is chosen as at() chooses it, but before its anneal:
    // its start, end and values are selected (fast::select), then the anneal is computed
    // once, the same operations on the same values as at() for that phase, so the same
    // bits at the cost of one phase (one division, one cos) whatever the phase count.
    template <int phase_count, bool cosine>
    double fast_at(double t) const {
        const fast::Mask past_first = fast::less_mask(ends[0], t);
        double start = fast::select(past_first, ends[0], 0.0);
        double end = fast::select(past_first, ends[1], ends[0]);
        double a = fast::select(past_first, from[1], from[0]);
        double b = fast::select(past_first, to[1], to[0]);
        if constexpr (phase_count == 3) {
            const fast::Mask past_second = fast::less_mask(ends[1], t);
            start = fast::select(past_second, ends[1], start);
            end = fast::select(past_second, ends[2], end);
            a = fast::select(past_second, from[2], a);
            b = fast::select(past_second, to[2], b);
        }
        const double pct = (t - start) / (end - start);
        if constexpr (cosine)
            return b + (a - b) / 2.0 * (fast::cos_0_pi(pi * pct) + 1.0);
        else
            return (b - a) * pct + a;
    }
    template <int phase_count, bool cosine, class Choose = detail::Blend>
    double fast_of(std::int64_t s) const {
        return Choose::choose(
            fast::less_mask(total_steps.i - 1, s), [&] { return minimum; },
            [&] { return fast_at<phase_count, cosine>(as_double(s)); });
    }
    template <int phase_count, bool cosine, class Choose = detail::Blend>
    double fast_of(double t) const {
        return Choose::choose(
            fast::less_mask(static_cast<double>(total_steps.i - 1), t), [&] { return minimum; },
            [&] { return fast_at<phase_count, cosine>(t); });
    }
    template <class Choose = detail::Blend, class Step>
    double fast(Step s, const Context&) const {
        const bool cosine = anneal.index == 0;
        if (phases == 3) return cosine ? fast_of<3, true, Choose>(s) : fast_of<3, false, Choose>(s);
        return cosine ? fast_of<2, true, Choose>(s) : fast_of<2, false, Choose>(s);
    }
    template <class Step, class Out>
    void fast_fill(const Step* steps, std::size_t n, Out* out, const Context&) const {
        const OneCycle k = *this;
        const bool cosine = anneal.index == 0;
        if (phases == 3 && cosine)
            detail::fast_loop(steps, n, out, [k](Step s) { return k.fast_of<3, true>(s); });
        else if (phases == 3)
            detail::fast_loop(steps, n, out, [k](Step s) { return k.fast_of<3, false>(s); });
        else if (cosine)
            detail::fast_loop(steps, n, out, [k](Step s) { return k.fast_of<2, true>(s); });
        else
            detail::fast_loop(steps, n, out, [k](Step s) { return k.fast_of<2, false>(s); });
    }
    void breakpoints(const Context&, std::vector<std::int64_t>& out) const {
        for (int p = 0; p + 1 < phases; ++p)
            out.push_back(static_cast<std::int64_t>(std::floor(ends[p])) + 1);
        out.push_back(total_steps.i);
    }
    std::optional<std::int64_t> flat_from(const Context& c) const {
        // The last phase ends on the minimum exactly with cos; linear may miss it by an ulp.
        return at(static_cast<double>(total_steps.i - 1), c) == minimum ? total_steps.i - 1
                                                                        : total_steps.i;
    }
    std::optional<std::int64_t> period(const Context&) const { return std::nullopt; }
    bool fast_is_exact() const { return anneal.index == 1; }  // linear: no cos call
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
    std::int64_t cycle = 0;                   // U + D
    double amplitude = 0.0;                   // M - L
    fast::DoubleDouble log2_gamma{0.0, 0.0};  // fast mode (prepare_fast)

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
        // Unset, step_size_down is step_size_up: then a cycle too long is step_size_up's.
        const bool down_given = step_size_down.set;
        if (!down_given) step_size_down = {true, step_size_up};
        cycle = step_size_up.i + step_size_down.value.i;
        if (cycle > max_config_int) {
            if (!down_given)
                fail(where, "step_size_up",
                     "must be <= 2**52 without step_size_down (which is then step_size_up: "
                     "a cycle is at most 2**53 steps)",
                     "step_size_up=" + repr(step_size_up.i));
            fail(where, "step_size_down", "must keep step_size_up + step_size_down <= 2**53",
                 "step_size_up=" + repr(step_size_up.i) +
                     ", step_size_down=" + repr(step_size_down.value.i));
        }
        amplitude = max_learning_rate - learning_rate;
        // The first cycle holds the largest value: its peak, at step U with scale 1, for
        // the triangular modes; for exp_range the most of (t / U) * gamma ** t over the
        // rise, at t = -1 / ln(gamma) where that is below U.
        double largest = (*this)(step_size_up.i, Context{});
        if (mode.index == 2 && gamma < 1.0)
            largest = (*this)(std::min(step_size_up.d, -1.0 / std::log(gamma)), Context{});
        detail::require_finite_peak(largest, where, "max_learning_rate", [&] {
            return "max_learning_rate=" + repr(max_learning_rate) +
                   ", learning_rate=" + repr(learning_rate);
        });
    }
    double scale_of(std::int64_t c, double t, const Context& ctx) const {
        if (mode.index == 0) return 1.0;
        if (mode.index == 1) return 1.0 / detail::libm_pow(2.0, static_cast<double>(c), ctx);
        return detail::libm_pow(gamma, t, ctx);
    }
    double operator()(std::int64_t s, const Context& ctx) const {
        const std::int64_t c = s / cycle;
        const std::int64_t p = s - c * cycle;
        const double scale = p < step_size_up.i
                                 ? static_cast<double>(p) / step_size_up.d
                                 : static_cast<double>(cycle - p) / step_size_down.value.d;
        return learning_rate + amplitude * scale * scale_of(c, as_double(s), ctx);
    }
    double operator()(double t, const Context& ctx) const {
        if (!(t < two_63)) return std::numeric_limits<double>::quiet_NaN();  // refused
        const std::int64_t c = floor_step(t) / cycle;
        const double p = position(t, c * cycle);
        const double scale = p < step_size_up.d
                                 ? p / step_size_up.d
                                 : (static_cast<double>(cycle) - p) / step_size_down.value.d;
        return learning_rate + amplitude * scale * scale_of(c, t, ctx);
    }

    // Fast mode: triangular2's 2.0 ** c is exact, and computed so (ldexp; inf, so a factor
    // of 0, from c = 1024 on, as pow gives): triangular and triangular2 give bitwise the
    // exact values, without a kernel, as the exact batch loops run them; exp_range's gamma ** t is
    // pow_from_log2 with log2(gamma) computed once, precisely. Within a cycle (start c *
    // (U + D)) the factor of triangular2 is a constant, `f`; the rest is the exact formula
    // with the phase chosen by select.
    void prepare_fast() { log2_gamma = fast::log2_precise(gamma); }
    double fast_factor(std::int64_t c) const {
        if (mode.index != 1) return 1.0;
        return c < 1024 ? 1.0 / std::ldexp(1.0, static_cast<int>(c)) : 0.0;
    }
    template <int mode_index, class Where = fast::Lanes>
    double fast_at(std::int64_t s, std::int64_t start, double f) const {
        // Each side's numerator and denominator are chosen, then divided once: the same
        // quotient as dividing on each side, at half the divisions.
        const std::int64_t p = s - start;
        const fast::Mask up = fast::less_mask(p, step_size_up.i);
        const double scale = fast::select(up, as_double(p), as_double(cycle - p)) /
                             fast::select(up, step_size_up.d, step_size_down.value.d);
        if constexpr (mode_index == 2) f = fast::pow_from_log2<Where>(log2_gamma, as_double(s));
        return learning_rate + amplitude * scale * f;
    }
    template <int mode_index, class Where = fast::Lanes>
    double fast_at(double t, double start, double f) const {  // t < 2**53
        const double p = t - start;
        const fast::Mask up = fast::less_mask(p, step_size_up.d);
        const double scale = fast::select(up, p, static_cast<double>(cycle) - p) /
                             fast::select(up, step_size_up.d, step_size_down.value.d);
        if constexpr (mode_index == 2) f = fast::pow_from_log2<Where>(log2_gamma, t);
        return learning_rate + amplitude * scale * f;
    }
    double fast(std::int64_t s, const Context&) const {
        const std::int64_t c = s / cycle;
        const double f = fast_factor(c);
        switch (mode.index) {  // one step
            case 0:
                return fast_at<0, fast::One>(s, c * cycle, f);
            case 1:
                return fast_at<1, fast::One>(s, c * cycle, f);
            default:
                return fast_at<2, fast::One>(s, c * cycle, f);
        }
    }
    double fast(double t, const Context&) const {
        if (!(t < two_63)) return std::numeric_limits<double>::quiet_NaN();  // refused
        const std::int64_t c = floor_step(t) / cycle;
        if (t < 0x1p53) {  // position() is t - start there, as fast_at takes it
            const double start = static_cast<double>(c * cycle), f = fast_factor(c);
            switch (mode.index) {
                case 0:
                    return fast_at<0, fast::One>(t, start, f);
                case 1:
                    return fast_at<1, fast::One>(t, start, f);
                default:
                    return fast_at<2, fast::One>(t, start, f);
            }
        }
        const double p = position(t, c * cycle);
        const double scale = p < step_size_up.d
                                 ? p / step_size_up.d
                                 : (static_cast<double>(cycle) - p) / step_size_down.value.d;
        const double f =
            mode.index == 2 ? fast::pow_from_log2<fast::One>(log2_gamma, t) : fast_factor(c);
        return learning_rate + amplitude * scale * f;
    }
    struct FastCycle {
        std::int64_t start;  // c * (U + D); -1: a lone float step (>= 2**53), not a run
        double f;
    };
    template <int mode_index, class Step, class Out>
    void fast_runs(const Step* steps, std::size_t n, Out* out, const Context& c) const {
        const Cyclic k = *this;
        const auto cycle_at = [&](Step s) {
            if constexpr (std::is_same_v<Step, double>)
                if (!(s < 0x1p53)) return FastCycle{-1, 0.0};
            const std::int64_t i = floor_step(s) / cycle;
            return FastCycle{i * cycle, fast_factor(i)};
        };
        const auto within = [this](const FastCycle& f, Step s) {
            if constexpr (std::is_same_v<Step, double>)
                if (f.start < 0 || !(s < 0x1p53)) return false;
            return static_cast<std::uint64_t>(floor_step(s) - f.start) <
                   static_cast<std::uint64_t>(cycle);
        };
        detail::fill_runs(
            steps, n, out, cycle_at, within,
            [&](const FastCycle& f, const Step* run, std::size_t m, Out* to) {
                if (f.start < 0) {
                    to[0] = static_cast<Out>(dispatch::call([&] { return fast(run[0], c); }));
                    return;
                }
                const Step start = static_cast<Step>(f.start);
                const double factor = f.f;
                detail::fast_loop(run, m, to, [k, start, factor](Step s) {
                    return k.fast_at<mode_index>(s, start, factor);
                });
            });
    }
    template <class Step, class Out>
    void fast_fill(const Step* steps, std::size_t n, Out* out, const Context& c) const {
        switch (mode.index) {
            case 0:
                return fast_runs<0>(steps, n, out, c);
            case 1:
                return fast_runs<1>(steps, n, out, c);
            default:
                return fast_runs<2>(steps, n, out, c);
        }
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
    bool fast_is_exact() const { return mode.index != 2; }  // 2**c is exact in fast::exp2
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
    // Fast mode (prepare_fast): the least doubles >= decay_start and end, so that a float
    // step compares with them exactly by one double compare (no double lies between).
    double decay_start_up = 0.0, end_up = 0.0;

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
        // Each shape is largest where the decay starts: cos = 1, sqrt(0) = 0, and for the
        // linear shape the most steps left. At an int step that is D; at a float step
        // float(W + S + D) - t, which exceeds D where W + S + D is not exact in float64
        // (the reference's own rounding): the first float step of the decay gives most.
        const double first = detail::double_at_least(decay_start);
        const double most_left = std::max(num_decay_steps.d, static_cast<double>(end) - first);
        detail::require_finite_peak(decay(0.0, most_left, Context{}), where, learning_rate,
                                    final_learning_rate);
    }
    double decay(double p, double left, const Context& c) const {
        switch (decay_shape.index) {
            case 0:
                return final_learning_rate + half_range * (1.0 + detail::libm_cos(pi * p, c));
            case 1:
                return final_learning_rate + range * (left / num_decay_steps.d);
            default:
                return final_learning_rate + range * (1.0 - std::sqrt(p));
        }
    }
    double operator()(std::int64_t s, const Context& c) const {
        if (s < num_warmup_steps.i) return slope * as_double(s);
        if (s < decay_start) return learning_rate;
        if (s < end)
            return decay(static_cast<double>(s - decay_start) / num_decay_steps.d,
                         static_cast<double>(end - s), c);
        return final_learning_rate;
    }
    // Fast mode: cos_0_pi for the cosine shape's std::cos (pi * p is in [0, pi] in the
    // decay); linear and sqrt have no libm call (sqrt is IEEE's) and give bitwise the exact
    // values. Every phase is computed and one chosen, the shape fixed per loop.
    void prepare_fast() {
        decay_start_up = detail::double_at_least(decay_start);
        end_up = detail::double_at_least(end);
    }
    template <int shape>
    double fast_decay(double p, double left) const {
        if constexpr (shape == 0)
            return final_learning_rate + half_range * (1.0 + fast::cos_0_pi(pi * p));
        else if constexpr (shape == 1)
            return final_learning_rate + range * (left / num_decay_steps.d);
        else
            return final_learning_rate + range * (1.0 - std::sqrt(p));
    }
    // The phases in order, each test a mask: before the warm-up's end, the decay's start,
    // its end.
    template <class Choose, class Decayed>
    double fast_phases(fast::Mask warming, double warm, fast::Mask stable, fast::Mask decaying,
                       const Decayed& decayed) const {
        const auto after_stable = [&] {
            return Choose::choose(decaying, decayed, [&] { return final_learning_rate; });
        };
        const auto after_warmup = [&] {
            return Choose::choose(stable, [&] { return learning_rate; }, after_stable);
        };
        return Choose::choose(warming, [&] { return warm; }, after_warmup);
    }
    template <int shape, class Choose = detail::Blend>
    double fast_at(std::int64_t s) const {
        // s - decay_start and end - s are the exact path's integers wherever the decay is
        // chosen (>= 0 there).
        return fast_phases<Choose>(fast::less_mask(s, num_warmup_steps.i), slope * as_double(s),
                                   fast::less_mask(s, decay_start), fast::less_mask(s, end), [&] {
                                       return fast_decay<shape>(
                                           as_double(s - decay_start) / num_decay_steps.d,
                                           as_double(end - s));
                                   });
    }
    template <int shape, class Choose = detail::Blend>
    double fast_at(double t) const {
        return fast_phases<Choose>(
            fast::less_mask(t, num_warmup_steps.d), slope * t, fast::less_mask(t, decay_start_up),
            fast::less_mask(t, end_up), [&] {
                return fast_decay<shape>(
                    (t - num_warmup_steps.d - num_stable_steps.d) / num_decay_steps.d,
                    static_cast<double>(end) - t);
            });
    }
    template <class Choose = detail::Blend, class Step>
    double fast(Step s, const Context&) const {
        switch (decay_shape.index) {
            case 0:
                return fast_at<0, Choose>(s);
            case 1:
                return fast_at<1, Choose>(s);
            default:
                return fast_at<2, Choose>(s);
        }
    }
    template <class Step, class Out>
    void fast_fill(const Step* steps, std::size_t n, Out* out, const Context&) const {
        const WarmupStableDecay k = *this;
        switch (decay_shape.index) {
            case 0:
                return detail::fast_loop(steps, n, out, [k](Step s) { return k.fast_at<0>(s); });
            case 1:
                return detail::fast_loop(steps, n, out, [k](Step s) { return k.fast_at<1>(s); });
            default:
                return detail::fast_loop(steps, n, out, [k](Step s) { return k.fast_at<2>(s); });
        }
    }
    double operator()(double t, const Context& c) const {
        if (t < num_warmup_steps.d) return slope * t;
        if (before_int(t, decay_start)) return learning_rate;
        if (before_int(t, end))
            return decay((t - num_warmup_steps.d - num_stable_steps.d) / num_decay_steps.d,
                         static_cast<double>(end) - t, c);
        return final_learning_rate;
    }
    void breakpoints(const Context&, std::vector<std::int64_t>& out) const {
        if (num_warmup_steps.i > 0) out.push_back(num_warmup_steps.i);
        if (num_stable_steps.i > 0) out.push_back(decay_start);
        out.push_back(end);
    }
    std::optional<std::int64_t> flat_from(const Context&) const { return end; }
    std::optional<std::int64_t> period(const Context&) const { return std::nullopt; }
    bool fast_is_exact() const { return decay_shape.index != 0; }  // no cos call
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
    // Fast mode: the stages' fast formulas and batch loops (schedule_set.hpp).
    template <class Step>
    double fast(Step s, const Context& c) const;
    template <class Step, class Out>
    void fast_fill(const Step* steps, std::size_t n, Out* out, const Context& c) const;
    // A kind's breakpoints(), returning false when cut inside a stage (schedule_set.hpp).
    bool list_breakpoints(const Context& c, std::vector<std::int64_t>& out) const;
    std::optional<std::int64_t> flat_from(const Context& c) const;
    std::optional<std::int64_t> period(const Context& c) const;
    std::size_t cost() const { return work; }
};

}  // namespace tml
