// Batch evaluation: G schedules times N steps in one call, split across cores.
//
// Plain loops over raw pointers and counts; no Python. Steps are validated here too
// (finite and >= 0), so no caller can evaluate an invalid step by forgetting to.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif

#include "tml/schedule.hpp"

namespace tml {

// Cores this process may run on (its affinity mask), not all cores of the machine:
// a job pinned to 4 of 64 cores must not start 64 threads.
inline unsigned available_cores() {
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        const int n = CPU_COUNT(&set);
        if (n > 0) return static_cast<unsigned>(n);
    }
#endif
    const unsigned n = std::thread::hardware_concurrency();
    return n > 0 ? n : 1;
}

// Work per thread below which starting a thread costs more than it saves, in units of
// the cheapest element (a constant schedule at one step, about a nanosecond): a thread
// start costs some tens of microseconds.
inline constexpr std::size_t min_work_per_thread = std::size_t{1} << 16;

// Runs body(begin, end) over [0, n) in chunks that the calling thread and up to
// max_threads - 1 others take in turn from a shared counter, so that a region of costly
// elements (the cosine part of a schedule) does not land on one thread. `cost` is the
// work of one element in the units above; small inputs stay on the calling thread.
// Chunks may run in any order; every chunk runs.
template <class Body>
void parallel_for(std::size_t n, unsigned max_threads, const Body& body, std::size_t cost = 1) {
    const std::size_t work = n * std::max<std::size_t>(cost, 1);
    const std::size_t threads =
        std::min<std::size_t>(max_threads > 0 ? max_threads : 1, work / min_work_per_thread);
    if (threads <= 1) {
        body(std::size_t{0}, n);
        return;
    }
    // About eight chunks a thread: enough to even out uneven costs, few enough that
    // taking one is nothing next to running it.
    const std::size_t chunk = std::max<std::size_t>((n + 8 * threads - 1) / (8 * threads), 1024);
    std::atomic<std::size_t> next{0};
    const auto run = [&] {
        for (std::size_t begin; (begin = next.fetch_add(chunk)) < n;)
            body(begin, std::min(n, begin + chunk));
    };
    std::vector<std::thread> pool;
    pool.reserve(threads - 1);
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(run);
    run();
    for (auto& th : pool) th.join();
}

inline bool invalid_step(std::int64_t s) { return s < 0; }
inline bool invalid_step(double s) {
    return !((s >= 0.0) & (s < std::numeric_limits<double>::infinity()));
}

// Whether any of steps[0, n) may be invalid: a quick filter written with integer ORs
// so that it vectorises with baseline SSE2 (which has no 64-bit compares). For int64,
// a negative step shows in the sign bit of the OR. For doubles, a negative value (sign
// bit) or an infinity/NaN (exponent all ones: adding 2**52 to the bits carries into the
// sign) shows the same way; -0.0 also trips it and is then cleared by the exact scan.
inline bool maybe_invalid(const std::int64_t* steps, std::size_t n) {
    std::uint64_t acc = 0;
    for (std::size_t i = 0; i < n; ++i) acc |= static_cast<std::uint64_t>(steps[i]);
    return (acc >> 63) != 0;
}
inline bool maybe_invalid(const double* steps, std::size_t n) {
    std::uint64_t acc = 0;
    for (std::size_t i = 0; i < n; ++i) {
        std::uint64_t bits;
        std::memcpy(&bits, steps + i, sizeof bits);
        acc |= bits | (bits + (std::uint64_t{1} << 52));
    }
    return (acc >> 63) != 0;
}

// Steps are checked in blocks small enough to stay in L1 between the check and the
// evaluation that reads them again.
inline constexpr std::size_t check_block = 2048;

// Offset of the first invalid step in steps[0, n), or n. The vectorised filter runs
// first; the exact test only when it trips.
template <class Step>
std::size_t first_invalid_in(const Step* steps, std::size_t n) {
    if (!maybe_invalid(steps, n)) return n;
    std::size_t i = 0;
    while (i < n && !invalid_step(steps[i])) ++i;
    return i;
}

// Lowers `first` to `i` unless it already holds a smaller index.
inline void keep_min(std::atomic<std::size_t>& first, std::size_t i) {
    std::size_t seen = first.load();
    while (i < seen && !first.compare_exchange_weak(seen, i)) {
    }
}

// Index of the first negative (or NaN, or infinite) step, or n when all are valid.
template <class Step>
std::size_t first_invalid_step(const Step* steps, std::size_t n, unsigned max_threads) {
    std::atomic<std::size_t> first{n};
    parallel_for(n, max_threads, [&](std::size_t begin, std::size_t end) {
        for (std::size_t b = begin; b < end; b += check_block) {
            const std::size_t m = std::min(check_block, end - b);
            const std::size_t k = first_invalid_in(steps + b, m);
            if (k != m) return keep_min(first, b + k);
        }
    });
    return first.load();
}

template <class Kernel, class Step, class Out, class = void>
struct has_fill : std::false_type {};
template <class Kernel, class Step, class Out>
struct has_fill<Kernel, Step, Out,
                std::void_t<decltype(std::declval<const Kernel&>().fill(
                    std::declval<const Step*>(), std::size_t{}, std::declval<Out*>(),
                    std::declval<const Tables&>()))>> : std::true_type {};

// One schedule over a run of steps: the kind's own batch form where it has one, else
// its formula element by element.
template <class Kernel, class Step, class Out>
void fill(const Kernel& kernel, const Step* steps, std::size_t n, Out* out, const Tables& t) {
    if constexpr (has_fill<Kernel, Step, Out>::value) {
        kernel.fill(steps, n, out, t);
    } else {
        for (std::size_t k = 0; k < n; ++k) out[k] = static_cast<Out>(kernel(steps[k], t));
    }
}

// Many schedules at a few steps (every group at the current step): the cost is the
// dispatch on each schedule's kind, mispredicted when kinds are mixed. Schedules are
// taken in blocks that stay in cache, and within a block one kind at a time.
inline constexpr std::size_t few_steps = 16;
inline constexpr std::size_t kind_block = 2048;

template <class Step, class Out>
void evaluate_by_kind(const ScheduleSet& set, std::size_t begin, std::size_t end, const Step* steps,
                      std::size_t n, Out* out, const Tables& tables) {
    constexpr std::size_t kinds = std::variant_size_v<Schedule>;
    std::uint16_t order[kind_block];  // offsets from begin, grouped by kind
    std::size_t start[kinds + 1] = {};
    for (std::size_t g = begin; g < end; ++g) ++start[set[g].index() + 1];
    const auto visit_one = [&](std::size_t g) {
        std::visit([&](const auto& kernel) { fill(kernel, steps, n, out + g * n, tables); },
                   set[g]);
    };
    if (std::count(start + 1, start + kinds + 1, end - begin) == 1) {  // one kind only
        for (std::size_t g = begin; g < end; ++g) visit_one(g);
        return;
    }
    for (std::size_t k = 1; k <= kinds; ++k) start[k] += start[k - 1];
    for (std::size_t g = begin; g < end; ++g)
        order[start[set[g].index()]++] = static_cast<std::uint16_t>(g - begin);
    for (std::size_t j = 0; j < end - begin; ++j) visit_one(begin + order[j]);
}

// When steps are checked, relative to writing `out`.
enum class Check {
    before_writing,  // all steps first: `out` is untouched when one is invalid
    while_writing,   // each block just before it is evaluated: one pass over memory,
                     // but `out` holds partial results when a step is invalid
};

// out[g * n + i] = schedule g at steps[i], for every g in the set and i < n, when every
// step is valid (finite and >= 0); returns n then, else the index of the first invalid
// step. Out is double or float; a float result is the double result rounded once.
template <class Step, class Out>
std::size_t evaluate(const ScheduleSet& set, const Step* steps, std::size_t n, Out* out,
                     unsigned max_threads, Check check) {
    const std::size_t groups = set.size();
    if (n == 0) return 0;
    // Few steps (one step for many schedules, say) are cheaper to check once up front.
    const bool checked = check == Check::while_writing && groups > 0 && n >= check_block;
    if (!checked) {
        const std::size_t bad = first_invalid_step(steps, n, max_threads);
        if (bad != n || groups == 0) return bad;
    }
    const Tables tables = set.tables();
    if (n <= few_steps && groups > 1) {
        parallel_for(
            groups, max_threads,
            [&](std::size_t begin, std::size_t end) {
                for (std::size_t g = begin; g < end; g += kind_block)
                    evaluate_by_kind(set, g, std::min(end, g + kind_block), steps, n, out, tables);
            },
            set.cost() * n);
        return n;
    }
    std::atomic<std::size_t> first{n};
    parallel_for(
        groups * n, max_threads,
        [&](std::size_t begin, std::size_t end) {
            // A chunk runs through groups in order and stops at its first invalid step;
            // the smallest of those is the first invalid step index, since every index
            // is seen in group 0 by the chunk that holds it.
            std::size_t g = begin / n;
            std::size_t i = begin % n;
            while (begin < end) {
                const std::size_t len = std::min(n - i, end - begin);
                for (std::size_t b = 0; b < len; b += check_block) {
                    const std::size_t m = std::min(check_block, len - b);
                    const Step* src = steps + i + b;
                    if (checked) {
                        const std::size_t k = first_invalid_in(src, m);
                        if (k != m) return keep_min(first, i + b + k);
                    }
                    Out* dst = out + begin + b;
                    std::visit([&](const auto& kernel) { fill(kernel, src, m, dst, tables); },
                               set[g]);
                }
                begin += len;
                ++g;
                i = 0;
            }
        },
        set.cost());
    return first.load();
}

}  // namespace tml
