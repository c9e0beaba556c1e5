// The kind registry and compiled sets of schedules.
//
// `Kinds` lists every kind once; everything that needs all kinds (storage, dispatch on a
// schedule's kind, the binding's config reader and `kind_fields()`) iterates it. A set
// stores each kind's schedules in a vector of their own, so a schedule takes only its
// kind's size and many schedules of one kind are read as one array. No Python here.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "tml/kinds.hpp"

namespace tml {

// Every kind, in the order of LearningRate's fields (the original four first).
using Kinds =
    std::tuple<Constant, PiecewiseConstant, LinearRampToConstant, LinearRampToCosine, Linear,
               ExponentialDecay, MultistepDecay, PolynomialDecay, CosineDecay, InverseSqrt,
               InverseTimeDecay, CosineRestarts, OneCycle, Cyclic, WarmupStableDecay, Sequence>;
inline constexpr std::size_t kind_count = std::tuple_size_v<Kinds>;

namespace detail {
template <class K, class Tuple>
struct index_of;
template <class K, class... Ts>
struct index_of<K, std::tuple<K, Ts...>> : std::integral_constant<std::size_t, 0> {};
template <class K, class T, class... Ts>
struct index_of<K, std::tuple<T, Ts...>>
    : std::integral_constant<std::size_t, 1 + index_of<K, std::tuple<Ts...>>::value> {};

template <class Tuple>
struct vectors_of;
template <class... K>
struct vectors_of<std::tuple<K...>> {
    using type = std::tuple<std::vector<K>...>;
};

template <class K, class = void>
struct rejects : std::false_type {};
template <class K>
struct rejects<K, std::void_t<decltype(K::may_reject)>> : std::bool_constant<K::may_reject> {};
}  // namespace detail

template <class K>
inline constexpr std::uint8_t kind_index =
    static_cast<std::uint8_t>(detail::index_of<K, Kinds>::value);

// A kind as a value: `typename decltype(tag)::type` is the kind.
template <class K>
struct KindTag {
    using type = K;
};

namespace detail {
template <class F, std::size_t... I>
void for_each_kind(F& f, std::index_sequence<I...>) {
    (f(KindTag<std::tuple_element_t<I, Kinds>>{}), ...);
}
template <std::size_t I, class F>
decltype(auto) with_kind_from(std::size_t index, F& f) {
    if constexpr (I + 1 == std::tuple_size_v<Kinds>) {
        return f(KindTag<std::tuple_element_t<I, Kinds>>{});
    } else {
        if (index == I) return f(KindTag<std::tuple_element_t<I, Kinds>>{});
        return with_kind_from<I + 1>(index, f);
    }
}
}  // namespace detail

// Calls f(KindTag<K>{}) for each kind K, in order.
template <class F>
void for_each_kind(F&& f) {
    detail::for_each_kind(f, std::make_index_sequence<std::tuple_size_v<Kinds>>{});
}

// f(KindTag<K>{}) for the kind K at `index` in Kinds.
template <class F>
decltype(auto) with_kind(std::size_t index, F&& f) {
    return detail::with_kind_from<0>(index, f);
}

// The name of the kind at `index` in Kinds.
inline const char* kind_name_at(std::size_t index) {
    return with_kind(index, [](auto tag) { return decltype(tag)::type::name; });
}

// Every compiled schedule of a set, in one vector per kind.
struct Pool {
    detail::vectors_of<Kinds>::type items;

    template <class K>
    std::vector<K>& of() {
        return std::get<std::vector<K>>(items);
    }
    template <class K>
    const std::vector<K>& of() const {
        return std::get<std::vector<K>>(items);
    }
    void clear() {
        std::apply([](auto&... v) { (v.clear(), ...); }, items);
    }
};

namespace detail {
template <std::size_t I, class F>
decltype(auto) visit_from(const Pool& pool, Ref r, F& f) {
    if constexpr (I + 1 == kind_count) {
        return f(std::get<I>(pool.items)[r.index]);
    } else {
        if (r.kind == I) return f(std::get<I>(pool.items)[r.index]);
        return visit_from<I + 1>(pool, r, f);
    }
}
}  // namespace detail

// f(schedule) with the schedule `r` refers to, as its own kind's type.
template <class F>
decltype(auto) visit(const Pool& pool, Ref r, F&& f) {
    return detail::visit_from<0>(pool, r, f);
}

template <class Kernel, class Step, class Out, class = void>
struct has_fill : std::false_type {};
template <class Kernel, class Step, class Out>
struct has_fill<Kernel, Step, Out,
                std::void_t<decltype(std::declval<const Kernel&>().fill(
                    std::declval<const Step*>(), std::size_t{}, std::declval<Out*>(),
                    std::declval<const Context&>()))>> : std::true_type {};

template <class Kernel, class = void>
struct has_exact_fast : std::false_type {};
template <class Kernel>
struct has_exact_fast<Kernel, std::void_t<decltype(std::declval<const Kernel&>().fast_is_exact())>>
    : std::true_type {};

template <class Kernel, class Step, class Out>
void fill_fast(const Kernel& kernel, const Step* steps, std::size_t n, Out* out, const Context& c);

// One schedule over a run of steps: the kind's own batch form where it has one, else its
// formula element by element. Out is double or float (the double rounded once). A kind
// whose fast formula is its exact one for this config (no libm call in it: a line, an
// inverse time decay, a triangular cycle, ...) runs its fast batch loop, which gives the
// same bits and vectorises at the widest instruction set the CPU has (IEEE +, -, *, /
// and sqrt round the same at every level, and nothing is fused into an FMA).
template <class Kernel, class Step, class Out>
void fill(const Kernel& kernel, const Step* steps, std::size_t n, Out* out, const Context& c) {
    // One step (each of many schedules at the current step): the formula itself, without
    // a batch form's setup.
    if (n == 1) {
        out[0] = static_cast<Out>(kernel(steps[0], c));
        return;
    }
    if constexpr (has_exact_fast<Kernel>::value) {
        if (kernel.fast_is_exact()) return fill_fast(kernel, steps, n, out, c);
    }
    if constexpr (has_fill<Kernel, Step, Out>::value) {
        kernel.fill(steps, n, out, c);
    } else {
        for (std::size_t k = 0; k < n; ++k) out[k] = static_cast<Out>(kernel(steps[k], c));
    }
}

// Fast mode (exact=False; kinds.hpp says what it changes). A kind's fast formula where it
// declares one, else its exact formula; its fast batch form where it declares one, else a
// vectorised loop over its fast formula, else its exact batch form.
template <class Kernel, class Step, class = void>
struct has_fast : std::false_type {};
template <class Kernel, class Step>
struct has_fast<Kernel, Step,
                std::void_t<decltype(std::declval<const Kernel&>().fast(
                    std::declval<Step>(), std::declval<const Context&>()))>> : std::true_type {};

// A fast formula that can compute only the phase chosen (detail::Branch): for one step.
template <class Kernel, class Step, class = void>
struct has_fast_branch : std::false_type {};
template <class Kernel, class Step>
struct has_fast_branch<
    Kernel, Step,
    std::void_t<decltype(std::declval<const Kernel&>().template fast<detail::Branch>(
        std::declval<Step>(), std::declval<const Context&>()))>> : std::true_type {};

template <class Kernel, class Step, class Out, class = void>
struct has_fast_fill : std::false_type {};
template <class Kernel, class Step, class Out>
struct has_fast_fill<Kernel, Step, Out,
                     std::void_t<decltype(std::declval<const Kernel&>().fast_fill(
                         std::declval<const Step*>(), std::size_t{}, std::declval<Out*>(),
                         std::declval<const Context&>()))>> : std::true_type {};

template <class Kernel, class = void>
struct has_prepare_fast : std::false_type {};
template <class Kernel>
struct has_prepare_fast<Kernel, std::void_t<decltype(std::declval<Kernel&>().prepare_fast())>>
    : std::true_type {};

// Whether a kind's fast formula is its exact one for this config (see fill).
template <class Kernel>
bool fast_is_exact(const Kernel& kernel) {
    if constexpr (has_exact_fast<Kernel>::value) return kernel.fast_is_exact();
    return false;
}

template <class Kernel, class = void>
struct has_prepare_table : std::false_type {};
template <class Kernel>
struct has_prepare_table<
    Kernel, std::void_t<decltype(std::declval<Kernel&>().prepare_table(std::declval<Tables&>()))>>
    : std::true_type {};

// Makes a finished kind ready for its fast formula (a no-op for most kinds).
template <class Kernel>
void prepare_fast(Kernel& kernel) {
    if constexpr (has_prepare_fast<Kernel>::value) kernel.prepare_fast();
}

// One step's value: the exact formula where the fast one is the same (its branches cost
// less than computing every phase), else the branching form of the fast formula where the
// kind has one.
template <class Kernel, class Step>
double fast_value(const Kernel& kernel, Step s, const Context& c) {
    if (fast_is_exact(kernel)) return kernel(s, c);
    if constexpr (has_fast_branch<Kernel, Step>::value) {
        return kernel.template fast<detail::Branch>(s, c);
    } else if constexpr (has_fast<Kernel, Step>::value) {
        return kernel.fast(s, c);
    } else {
        return kernel(s, c);
    }
}

// One step's value in fast mode, as every path that evaluates one step at a time outside
// a loop computes it: fast_value compiled for the dispatched level, so that fast_math's
// fma() is an instruction, or the exact formula where that level has no FMA
// (ScheduleSet::runs_fast).
template <class Kernel, class Step>
double fast_mode_value(const Kernel& kernel, Step s, const Context& c) {
    if (!dispatch::has_fma()) return kernel(s, c);
    return dispatch::call([&] { return fast_value(kernel, s, c); });
}

// Fewer steps than this (one step for many schedules, the by-kind pass) are evaluated one
// at a time: starting a vectorised loop costs more than that. The same bits either way.
inline constexpr std::size_t min_fast_loop = 4;

// Entries of look-ahead tables (prepare_table) a set keeps, at most: 512 KiB, a share of a
// core's L2. Later schedules compute those values when they need them.
inline constexpr std::size_t max_lookahead_reals = std::size_t{1} << 16;

template <class Kernel, class Step, class Out>
void fill_fast(const Kernel& kernel, const Step* steps, std::size_t n, Out* out, const Context& c) {
    if constexpr (has_fast<Kernel, Step>::value) {
        if (n < min_fast_loop) {
            dispatch::run([&] {
                for (std::size_t k = 0; k < n; ++k)
                    out[k] = static_cast<Out>(fast_value(kernel, steps[k], c));
            });
            return;
        }
    }
    if constexpr (has_fast_fill<Kernel, Step, Out>::value) {
        kernel.fast_fill(steps, n, out, c);
    } else if constexpr (has_fast<Kernel, Step>::value) {
        const Kernel k = kernel;
        detail::fast_loop(steps, n, out, [k, c](Step s) { return k.fast(s, c); });
    } else {
        fill(kernel, steps, n, out, c);
    }
}

// ---------------------------------------------------------------------------------------
// Sequence: the stage holding a step, and the step seen from that stage's start.

namespace detail {
// Number of stage starts <= s, compared exactly (starts may pass 2**53).
inline std::size_t stages_started(const std::int64_t* starts, std::size_t n, std::int64_t s) {
    return upper(starts, n, s);
}
inline std::size_t stages_started(const std::int64_t* starts, std::size_t n, double t) {
    return static_cast<std::size_t>(
        std::partition_point(starts, starts + n,
                             [t](std::int64_t start) { return !before_int(t, start); }) -
        starts);
}
inline std::int64_t local_step(std::int64_t s, std::int64_t start) { return s - start; }
// Stage starts may pass 2**53 and float steps 2**63: the exact position, rounded once,
// as for cycles (numeric.hpp).
inline double local_step(double t, std::int64_t start) {
    if (t < two_63) return position(t, start);
    if (t < 0x1p127)
        return static_cast<double>(static_cast<uint128>(t) - static_cast<uint128>(start));
    return t;  // start < 2**63 is far below half an ulp of t
}
}  // namespace detail

template <class Step>
double Sequence::operator()(Step s, const Context& c) const {
    const std::int64_t* b = c.ints + starts.offset;
    const std::size_t k = detail::stages_started(b, starts.count, s);
    const Step local = k == 0 ? s : detail::local_step(s, b[k - 1]);
    return visit(*c.pool, c.refs[stages.offset + k],
                 [&](const auto& stage) { return stage(local, c); });
}

namespace detail {
// Runs of steps in one stage are handed to that stage's batch form (`fill_stage`: exact
// or fast), a block of local steps at a time, so a sequence costs about what its stages
// cost alone.
template <class Step, class Out, class FillStage>
void fill_stage_runs(const Sequence& q, const Step* steps, std::size_t n, Out* out,
                     const Context& c, const FillStage& fill_stage) {
    constexpr std::size_t block = 256;
    Step local[block];
    const std::int64_t* b = c.ints + q.starts.offset;
    std::size_t i = 0;
    while (i < n) {
        const std::size_t k = stages_started(b, q.starts.count, steps[i]);
        const bool has_start = k > 0, has_end = k < q.starts.count;
        const std::int64_t start = has_start ? b[k - 1] : 0, end = has_end ? b[k] : 0;
        std::size_t m = 0;
        while (i + m < n && m < block) {
            const Step s = steps[i + m];
            if ((has_end && !before_int(s, end)) || (has_start && before_int(s, start))) break;
            local[m++] = has_start ? local_step(s, start) : s;
        }
        visit(*c.pool, c.refs[q.stages.offset + k],
              [&](const auto& stage) { fill_stage(stage, local, m, out + i); });
        i += m;
    }
}
}  // namespace detail

template <class Step, class Out>
void Sequence::fill(const Step* steps, std::size_t n, Out* out, const Context& c) const {
    detail::fill_stage_runs(*this, steps, n, out, c,
                            [&](const auto& stage, const Step* local, std::size_t m, Out* to) {
                                tml::fill(stage, local, m, to, c);
                            });
}

namespace detail {
// A sequence's stage at one step in fast mode: a call, never inlined. Inlined into a
// dispatched (flatten) function, it would bring every kind's formula at every level, and
// through a nested sequence every kind again: one translation unit took minutes and
// gigabytes to compile. Here each stage's formula goes through fast_mode_value, compiled
// once per kind and level.
template <class Step>
TML_NOINLINE double stage_fast_value(const Pool& pool, Ref r, Step local, const Context& c) {
    return visit(pool, r, [&](const auto& stage) { return tml::fast_mode_value(stage, local, c); });
}
}  // namespace detail

template <class Step>
double Sequence::fast(Step s, const Context& c) const {
    const std::int64_t* b = c.ints + starts.offset;
    const std::size_t k = detail::stages_started(b, starts.count, s);
    const Step local = k == 0 ? s : detail::local_step(s, b[k - 1]);
    return detail::stage_fast_value(*c.pool, c.refs[stages.offset + k], local, c);
}

template <class Step, class Out>
void Sequence::fast_fill(const Step* steps, std::size_t n, Out* out, const Context& c) const {
    detail::fill_stage_runs(*this, steps, n, out, c,
                            [&](const auto& stage, const Step* local, std::size_t m, Out* to) {
                                tml::fill_fast(stage, local, m, to, c);
                            });
}

namespace detail {
// Appends r's breakpoints to out. False when the list was cut at max_listed_breakpoints
// and more follow: a kind with endlessly many (restarts, cycles, staircases, listed up to
// their formula's end if they have one), or a sequence with such a stage.
inline bool list_breakpoints(const Pool& pool, Ref r, const Context& c,
                             std::vector<std::int64_t>& out) {
    return visit(pool, r, [&](const auto& k) -> bool {
        if constexpr (std::is_same_v<std::decay_t<decltype(k)>, Sequence>) {
            return k.list_breakpoints(c, out);
        } else {
            const std::size_t before = out.size();
            k.breakpoints(c, out);
            if (out.size() - before < max_listed_breakpoints) return true;
            const std::optional<std::int64_t> flat = k.flat_from(c);
            return flat && out.back() >= *flat;
        }
    });
}
}  // namespace detail

inline std::vector<std::int64_t> breakpoints(const Pool& pool, Ref r, const Context& c) {
    std::vector<std::int64_t> out;
    detail::list_breakpoints(pool, r, c, out);
    return out;
}
inline std::optional<std::int64_t> flat_from(const Pool& pool, Ref r, const Context& c) {
    return visit(pool, r, [&](const auto& k) { return k.flat_from(c); });
}
inline std::optional<std::int64_t> period(const Pool& pool, Ref r, const Context& c) {
    return visit(pool, r, [&](const auto& k) { return k.period(c); });
}

// Each stage's breakpoints inside it, in order. A stage whose own list was cut before
// its end ends the list there: what follows it is a prefix of no one's breakpoints.
inline bool Sequence::list_breakpoints(const Context& c, std::vector<std::int64_t>& out) const {
    const std::int64_t* b = c.ints + starts.offset;
    std::vector<std::int64_t> stage;
    for (std::uint32_t k = 0; k < stages.count; ++k) {
        const std::int64_t start = k == 0 ? 0 : b[k - 1];
        const bool last = k + 1 == stages.count;
        if (k > 0) out.push_back(start);
        stage.clear();
        const bool complete =
            detail::list_breakpoints(*c.pool, c.refs[stages.offset + k], c, stage);
        bool ended = false;  // the stage's list reached the stage's end (or step 2**63 - 1)
        for (std::int64_t p : stage) {
            if (p <= 0) continue;
            if (p > max_step - start || (!last && start + p >= b[k])) {
                ended = true;
                break;
            }
            out.push_back(start + p);
        }
        if (!complete && !ended) return false;
    }
    return true;
}
inline std::optional<std::int64_t> Sequence::flat_from(const Context& c) const {
    const std::int64_t start = starts.count ? c.ints[starts.offset + starts.count - 1] : 0;
    const auto f = tml::flat_from(*c.pool, c.refs[stages.offset + stages.count - 1], c);
    if (!f || *f > max_step - start) return std::nullopt;
    return start + *f;
}
inline std::optional<std::int64_t> Sequence::period(const Context& c) const {
    return tml::period(*c.pool, c.refs[stages.offset + stages.count - 1], c);
}

// ---------------------------------------------------------------------------------------

// Many compiled schedules with their tables; immutable once built, so it is safe to
// evaluate from any number of threads at once.
class ScheduleSet {
  public:
    // Schedule g of the set, by kind: the by-kind loops read each kind's array in order.
    struct Member {
        std::uint32_t g;      // position in the set
        std::uint32_t index;  // position in its kind's vector
    };

    // Building. The binding reads a config into a kind's struct, validating each field
    // (fields.hpp); `finish` adds the cross-field rules and derived constants. A stage of
    // a sequence is stored like any schedule but is not a member of the set.
    Tables& tables() { return tables_; }
    // Fast mode (exact=False): chosen before the first store, kept by clear().
    void set_fast(bool fast) { fast_ = fast; }
    template <class K>
    Ref store(K kind, const Path& where) {
        kind.finish(where, tables_);
        // What only a compiled schedule, evaluated many times, is worth computing ahead,
        // while such tables stay small enough to be in cache: a table read from memory
        // (many schedules at one step, each reading its own) costs more than computing
        // the value (one pow). The same values either way, so the same results.
        if constexpr (has_prepare_table<K>::value) {
            if (lookahead_reals_ < max_lookahead_reals) {
                const std::size_t before = tables_.reals.size();
                kind.prepare_table(tables_);
                lookahead_reals_ += tables_.reals.size() - before;
            }
        }
        // The exact batch loops run the fast ones where those are exact (fill): both modes
        // may read what prepare_fast computes.
        if (fast_ || fast_is_exact(kind)) prepare_fast(kind);
        auto& v = pool_.of<K>();
        v.push_back(kind);
        may_reject_ |= detail::rejects<K>::value;
        return {kind_index<K>, static_cast<std::uint32_t>(v.size() - 1)};
    }
    void add_member(Ref r) {
        members_[r.kind].push_back({static_cast<std::uint32_t>(refs_.size()), r.index});
        refs_.push_back(r);
        cost_ += visit(pool_, r, [](const auto& k) { return k.cost(); });
    }
    // A sequence of the stages already stored as `stages`, lasting `lengths` (one fewer
    // than stages; the last runs forever). Errors name `where` (the sequence's path).
    Sequence make_sequence(const std::vector<std::int64_t>& lengths, const std::vector<Ref>& stages,
                           const Path& where) {
        if (stages.empty()) fail(where, "must have at least one stage, got []");
        Sequence s;
        std::vector<std::int64_t> starts;
        std::int64_t start = 0;
        for (std::size_t k = 0; k < lengths.size(); ++k) {
            if (lengths[k] > max_step - start)
                fail(Path(where, static_cast<long>(k)), "num_steps",
                     "makes the stages start past 2**63 - 1", "num_steps=" + repr(lengths[k]));
            start += lengths[k];
            starts.push_back(start);
        }
        s.starts = {static_cast<std::uint32_t>(tables_.ints.size()),
                    static_cast<std::uint32_t>(starts.size())};
        for (std::int64_t v : starts) {
            tables_.ints.push_back(v);
            tables_.ints_d.push_back(static_cast<double>(v));
        }
        s.stages = {static_cast<std::uint32_t>(tables_.refs.size()),
                    static_cast<std::uint32_t>(stages.size())};
        tables_.refs.insert(tables_.refs.end(), stages.begin(), stages.end());
        std::size_t work = 0;
        for (Ref r : stages)
            work = std::max(work, visit(pool_, r, [](const auto& k) { return k.cost(); }));
        s.work = work + cheap;
        return s;
    }

    void clear() {
        pool_.clear();
        tables_.clear();
        refs_.clear();
        for (auto& m : members_) m.clear();
        cost_ = 0;
        lookahead_reals_ = 0;
        may_reject_ = false;
    }

    // Reading.
    std::size_t size() const { return refs_.size(); }
    Ref operator[](std::size_t g) const { return refs_[g]; }
    const Pool& pool() const { return pool_; }
    const std::vector<Member>& members_of_kind(std::size_t kind) const { return members_[kind]; }
    Context context() const {
        return {tables_.ints.data(), tables_.ints_d.data(), tables_.reals.data(),
                tables_.refs.data(), &pool_};
    }
    // Mean work per step of one member (the kinds' `cost`), rounded up.
    std::size_t cost() const { return refs_.empty() ? 1 : (cost_ + size() - 1) / size(); }
    // Whether some float step may be refused by a schedule (the result is then NaN); no
    // kind refuses an int step.
    bool may_reject() const { return may_reject_; }
    // Whether the schedules are in fast mode (exact=False).
    bool fast() const { return fast_; }
    // Whether they are evaluated with the fast formulas now: fast mode, at an
    // instruction-set level with FMA. Without it fast_math's kernels would call the C
    // library's fma and cost more than libm (fast_math.hpp), so the exact formulas run:
    // exact values, within any bound, and as fast as that machine's exact path.
    bool runs_fast() const { return fast_ && dispatch::has_fma(); }

    template <class Step>
    double at(std::size_t g, Step s) const {
        const Context c = context();
        if (fast_)
            return visit(pool_, refs_[g], [&](const auto& k) { return fast_mode_value(k, s, c); });
        return visit(pool_, refs_[g], [&](const auto& k) { return k(s, c); });
    }
    const char* kind_name(std::size_t g) const {
        return visit(pool_, refs_[g],
                     [](const auto& k) { return std::decay_t<decltype(k)>::name; });
    }
    std::vector<std::int64_t> breakpoints(std::size_t g) const {
        return tml::breakpoints(pool_, refs_[g], context());
    }
    std::optional<std::int64_t> flat_from(std::size_t g) const {
        return tml::flat_from(pool_, refs_[g], context());
    }
    std::optional<std::int64_t> period(std::size_t g) const {
        return tml::period(pool_, refs_[g], context());
    }

  private:
    Pool pool_;
    Tables tables_;
    std::vector<Ref> refs_;  // the members, in order
    std::vector<Member> members_[kind_count];
    std::size_t cost_ = 0;
    std::size_t lookahead_reals_ = 0;  // table entries prepare_table added
    bool may_reject_ = false;
    bool fast_ = false;
};

}  // namespace tml
