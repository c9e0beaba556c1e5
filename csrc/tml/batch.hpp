// Batch evaluation: G schedules times N steps in one call, split across cores.
//
// Plain loops over raw pointers and counts; no Python. The caller validates steps
// with `first_invalid_step` before calling `evaluate`, which trusts them.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
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

// Below this many elements per thread, starting a thread costs more than it saves.
inline constexpr std::size_t min_items_per_thread = std::size_t{1} << 15;

// Runs body(begin, end) over [0, n) in contiguous slices, one per thread, the calling
// thread taking the first. Small inputs stay on the calling thread.
template <class Body>
void parallel_for(std::size_t n, unsigned max_threads, const Body& body) {
    std::size_t threads = std::min<std::size_t>(max_threads > 0 ? max_threads : 1,
                                                n / min_items_per_thread);
    if (threads <= 1) {
        body(std::size_t{0}, n);
        return;
    }
    const std::size_t slice = (n + threads - 1) / threads;
    std::vector<std::thread> pool;
    pool.reserve(threads - 1);
    for (std::size_t t = 1; t < threads; ++t) {
        const std::size_t begin = std::min(n, t * slice);
        const std::size_t end = std::min(n, begin + slice);
        pool.emplace_back([&body, begin, end] { body(begin, end); });
    }
    body(std::size_t{0}, std::min(n, slice));
    for (auto& th : pool) th.join();
}

inline bool invalid_step(std::int64_t s) { return s < 0; }
inline bool invalid_step(double s) { return !(s >= 0.0) || std::isinf(s); }

// Index of the first negative (or NaN, or infinite) step, or n when all are valid.
template <class Step>
std::size_t first_invalid_step(const Step* steps, std::size_t n, unsigned max_threads) {
    std::atomic<std::size_t> first{n};
    parallel_for(n, max_threads, [&](std::size_t begin, std::size_t end) {
        // Branch-free block test first (it vectorises), exact position only on failure.
        constexpr std::size_t block = 1024;
        for (std::size_t b = begin; b < end; b += block) {
            const std::size_t e = std::min(end, b + block);
            bool bad = false;
            for (std::size_t i = b; i < e; ++i) bad |= invalid_step(steps[i]);
            if (!bad) continue;
            std::size_t i = b;
            while (!invalid_step(steps[i])) ++i;
            std::size_t seen = first.load();
            while (i < seen && !first.compare_exchange_weak(seen, i)) {
            }
            return;
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

// out[g * n + i] = schedule g at steps[i], for every g in the set and i < n.
// Out is double or float; a float result is the double result rounded once.
template <class Step, class Out>
void evaluate(const ScheduleSet& set, const Step* steps, std::size_t n, Out* out,
              unsigned max_threads) {
    const std::size_t groups = set.size();
    if (groups == 0 || n == 0) return;
    const Tables tables = set.tables();
    parallel_for(groups * n, max_threads, [&](std::size_t begin, std::size_t end) {
        std::size_t g = begin / n;
        std::size_t i = begin % n;
        while (begin < end) {
            const std::size_t len = std::min(n - i, end - begin);
            Out* dst = out + begin;
            const Step* src = steps + i;
            std::visit([&](const auto& kernel) { fill(kernel, src, len, dst, tables); }, set[g]);
            begin += len;
            ++g;
            i = 0;
        }
    });
}

}  // namespace tml
