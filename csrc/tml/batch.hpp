// Batch evaluation: G schedules times N steps in one call, split across cores by one
// persistent pool of threads.
//
// Plain loops over raw pointers and counts; no Python. Steps are validated here too
// (finite and >= 0), so no caller can evaluate an invalid step by forgetting to. Long
// calls can be interrupted: the calling thread asks its `Interrupt` between chunks of
// about a millisecond, and every thread stops at its next chunk once it says stop.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif
#if defined(__linux__)
#include <sched.h>
#endif

#include "tml/schedule_set.hpp"

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

// Threads shared by every batch call of the process, started on first need and kept.
// One call at a time uses them; a call that finds them busy (another Python thread is
// evaluating) runs on its own thread, so concurrent callers never oversubscribe the
// cores with helpers. After fork() the child gets a fresh pool: the parent's threads do
// not exist there.
class ThreadPool {
  public:
    static ThreadPool& instance() {
        static const bool registered = register_fork_handler();
        (void)registered;
        ThreadPool* p = current().load(std::memory_order_acquire);
        if (p == nullptr) {
            auto* fresh = new ThreadPool();  // never deleted: threads may outlive statics
            if (current().compare_exchange_strong(p, fresh, std::memory_order_acq_rel))
                return *fresh;
            delete fresh;  // another thread won; it has no threads yet
        }
        return *p;
    }

    // Runs `job` on the calling thread and on up to `helpers` pool threads at once, and
    // returns when every copy has returned. `job` must share its work out itself.
    void run(std::size_t helpers, const std::function<void()>& job) {
        std::unique_lock<std::mutex> lock(mutex_);
        if (busy_ || helpers == 0) {
            lock.unlock();
            job();
            return;
        }
        busy_ = true;
        while (threads_->size() < helpers) threads_->emplace_back([this] { work(); });
        job_ = &job;
        wanted_ = helpers;
        wake_.notify_all();
        lock.unlock();
        job();
        lock.lock();
        wanted_ = 0;  // helpers not yet awake stay asleep: the work is taken
        done_.wait(lock, [this] { return running_ == 0; });
        job_ = nullptr;
        busy_ = false;
    }

  private:
    ThreadPool() : threads_(new std::vector<std::thread>()) {}

    static std::atomic<ThreadPool*>& current() {
        static std::atomic<ThreadPool*> pool{nullptr};
        return pool;
    }
    static bool register_fork_handler() {
#if defined(__unix__) || defined(__APPLE__)
        // The child has only the forking thread: forget the pool (leaked, threads gone).
        pthread_atfork(nullptr, nullptr, [] { current().store(nullptr); });
#endif
        return true;
    }
    void work() {
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            wake_.wait(lock, [this] { return wanted_ > 0; });
            --wanted_;
            ++running_;
            const std::function<void()>* job = job_;
            lock.unlock();
            (*job)();
            lock.lock();
            if (--running_ == 0) done_.notify_all();
        }
    }

    std::mutex mutex_;
    std::condition_variable wake_, done_;
    std::vector<std::thread>* threads_;  // leaked with the pool
    const std::function<void()>* job_ = nullptr;
    std::size_t wanted_ = 0, running_ = 0;
    bool busy_ = false;
};

// Asked by the calling thread between chunks whether to stop (a pending Ctrl-C). It is
// asked at most every `interval`, so it may be costly (take a lock, say).
struct Interrupt {
    std::function<bool()> stop;
    std::chrono::microseconds interval{20'000};
};

// Work per thread below which using another thread costs more than it saves, in units of
// the cheapest element (a constant schedule at one step, about a nanosecond): handing
// work to a pool thread costs some microseconds.
inline constexpr std::size_t min_work_per_thread = std::size_t{1} << 15;
// Work per chunk, at most: about a millisecond, so a stop request is seen quickly.
inline constexpr std::size_t max_work_per_chunk = std::size_t{1} << 20;

// Runs body(begin, end) over [0, n) in chunks that the calling thread and up to
// max_threads - 1 pool threads take in turn from a shared counter, so that a region of
// costly elements (the cosine part of a schedule) does not land on one thread. `cost`
// is the work of one element in the units above. Returns false when `interrupt` asked
// to stop (some chunks then did not run); otherwise every chunk ran, in any order.
template <class Body>
bool parallel_for(std::size_t n, unsigned max_threads, const Body& body, std::size_t cost = 1,
                  const Interrupt* interrupt = nullptr) {
    cost = std::max<std::size_t>(cost, 1);
    const std::size_t work = n * cost;
    const std::size_t threads = std::max<std::size_t>(
        1, std::min<std::size_t>(max_threads > 0 ? max_threads : 1, work / min_work_per_thread));
    // About eight chunks a thread evens out uneven costs; a chunk is at most about a
    // millisecond so that a stop request is noticed.
    const std::size_t chunk = std::max<std::size_t>(
        1024 / cost + 1,
        std::min((n + 8 * threads - 1) / (8 * threads), max_work_per_chunk / cost));
    if (threads == 1 && (interrupt == nullptr || work <= max_work_per_chunk)) {
        body(std::size_t{0}, n);
        return true;
    }
    std::atomic<std::size_t> next{0};
    std::atomic<bool> stop{false};
    const std::thread::id caller = std::this_thread::get_id();
    auto last_check = std::chrono::steady_clock::now();
    const std::function<void()> run = [&] {
        const bool asks = interrupt != nullptr && std::this_thread::get_id() == caller;
        for (std::size_t begin;
             !stop.load(std::memory_order_relaxed) && (begin = next.fetch_add(chunk)) < n;) {
            body(begin, std::min(n, begin + chunk));
            if (asks) {
                const auto now = std::chrono::steady_clock::now();
                if (now - last_check >= interrupt->interval) {
                    last_check = now;
                    if (interrupt->stop()) stop.store(true);
                }
            }
        }
    };
    ThreadPool::instance().run(threads - 1, run);
    return !stop.load();
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

// Whether out[0, n) holds a NaN, tested on the bits so that the loop vectorises with
// SSE2 (a float compare reduced to a flag does not): with the sign cleared, a NaN is
// above the infinity's pattern, so adding the largest significand carries into the top bit.
template <class Out>
bool any_nan(const Out* out, std::size_t n) {
    using Bits = std::conditional_t<sizeof(Out) == 8, std::uint64_t, std::uint32_t>;
    static_assert(sizeof(Bits) == sizeof(Out) && std::numeric_limits<Out>::is_iec559);
    constexpr Bits magnitude = ~Bits{0} >> 1;  // all but the sign
    constexpr Bits significand = (Bits{1} << (std::numeric_limits<Out>::digits - 1)) - 1;
    Bits acc = 0;
    for (std::size_t i = 0; i < n; ++i) {
        Bits bits;
        std::memcpy(&bits, out + i, sizeof bits);
        acc |= static_cast<Bits>((bits & magnitude) + significand);
    }
    return (acc >> (8 * sizeof(Bits) - 1)) != 0;
}

// Offset of the first NaN in out[0, n), or n: a schedule refused that step (kinds.hpp,
// `may_reject`); no valid step gives NaN.
template <class Out>
std::size_t first_nan_in(const Out* out, std::size_t n) {
    if (!any_nan(out, n)) return n;
    std::size_t i = 0;
    while (!std::isnan(out[i])) ++i;
    return i;
}

// Lowers `first` to `i` unless it already holds a smaller index.
inline void keep_min(std::atomic<std::size_t>& first, std::size_t i) {
    std::size_t seen = first.load();
    while (i < seen && !first.compare_exchange_weak(seen, i)) {
    }
}

// How a call ended: `index` is the position of the first invalid step, or of the first
// step a schedule refused.
struct Outcome {
    enum Status { ok, invalid_step, refused_step, interrupted } status = ok;
    std::size_t index = 0;
};

// When steps are checked, relative to writing `out`.
enum class Check {
    before_writing,  // all steps first: `out` is untouched when one is invalid
    while_writing,   // each block just before it is evaluated: one pass over memory,
                     // but `out` holds partial results when a step is invalid
};

struct Options {
    unsigned max_threads = 1;
    Check check = Check::before_writing;
    const Interrupt* interrupt = nullptr;
};

// Index of the first negative (or NaN, or infinite) step, or n when all are valid.
template <class Step>
std::size_t first_invalid_step(const Step* steps, std::size_t n, const Options& opt,
                               bool& interrupted) {
    std::atomic<std::size_t> first{n};
    interrupted = !parallel_for(
        n, opt.max_threads,
        [&](std::size_t begin, std::size_t end) {
            for (std::size_t b = begin; b < end; b += check_block) {
                const std::size_t m = std::min(check_block, end - b);
                const std::size_t k = first_invalid_in(steps + b, m);
                if (k != m) return keep_min(first, b + k);
            }
        },
        1, opt.interrupt);
    return first.load();
}

// Many schedules at a few steps (every group at the current step): the cost is the
// dispatch on each schedule's kind, mispredicted when kinds are mixed. Schedules are
// taken in blocks whose results stay in cache (kind_block results, 128 KiB of float64), and within
// a block one kind at a time, reading that kind's schedules as one array. Longer blocks
// are longer runs through each kind's array, which the memory prefetchers need: with 1e6
// schedules of 16 kinds at one step, 16384 results a block took 15% less time than 2048
// on one thread (7% on two).
inline constexpr std::size_t few_steps = 16;
inline constexpr std::size_t kind_block = 16384;

// One schedule's value at one step among many (the by-kind pass, either mode): a kind
// whose fast formula is its exact one for this config (no libm call: fast_is_exact) runs
// it in its branch-free form, the same bits without a phase test, which the schedules'
// differing phases would mispredict (linear, for one: 7.9 -> 3.6 ns a schedule); else
// `other`, the mode's one-value formula.
template <class K, class Step, class Other>
TML_FAST_INLINE double among_many(const K& k, Step s, const Context& c, const Other& other) {
    if constexpr (has_fast<K, Step>::value) {
        if (fast_is_exact(k)) return k.fast(s, c);
    }
    return other();
}

// Fast mode, one step: the members of one kind in a loop compiled by dispatch::run (so
// that the kernels' fma() is an instruction), a schedule per iteration. GCC does not
// vectorise it (gathering the fields of an array of structs does not pay), so each is
// evaluated alone: the same formula as a single call, so the same bits.
template <class K, class Step, class Out>
void fast_members(const K* items, const ScheduleSet::Member* it, const ScheduleSet::Member* end,
                  Step s, Out* out, const Context& c) {
    constexpr std::size_t chunk = 256;
    double values[chunk];
    while (it < end) {
        const std::size_t m = std::min<std::size_t>(chunk, static_cast<std::size_t>(end - it));
        const ScheduleSet::Member* first = it;
        double* v = values;
        dispatch::run([=] {
            for (std::size_t j = 0; j < m; ++j) {
                const K& k = items[first[j].index];
                v[j] = among_many(k, s, c, [&] { return fast_value(k, s, c); });
            }
        });
        for (std::size_t j = 0; j < m; ++j) out[first[j].g] = static_cast<Out>(values[j]);
        it += m;
    }
}

template <class Step, class Out>
void evaluate_by_kind(const ScheduleSet& set, std::size_t begin, std::size_t end, const Step* steps,
                      std::size_t n, Out* out, const Context& c) {
    // One step, exact: schedules sharing a shape share their libm calls (LibmMemo).
    LibmMemo memo;
    Context one_step = c;
    one_step.memo = &memo;
    for_each_kind([&](auto tag) {
        using K = typename decltype(tag)::type;
        const auto& members = set.members_of_kind(kind_index<K>);
        if (members.empty()) return;
        const K* items = set.pool().of<K>().data();
        // Members are in set order: the block's are one run, found by bisection.
        auto it = begin == 0 ? members.begin()
                             : std::lower_bound(members.begin(), members.end(), begin,
                                                [](const ScheduleSet::Member& m, std::size_t g) {
                                                    return m.g < g;
                                                });
        if constexpr (has_fast<K, Step>::value) {
            if (set.runs_fast() && n == 1) {
                const auto stop = std::lower_bound(
                    it, members.end(), end,
                    [](const ScheduleSet::Member& m, std::size_t g) { return m.g < g; });
                const ScheduleSet::Member* base = members.data();
                return fast_members(items, base + (it - members.begin()),
                                    base + (stop - members.begin()), steps[0], out, c);
            }
        }
        if (n == 1) {
            // One step, exact (or fast mode for a kind with no fast formula, whose exact
            // one it runs anyway): the formula inline, member after member (fill's n == 1
            // case without a call per member), branch-free where that is exact too.
            const Step s = steps[0];
            for (; it != members.end() && it->g < end; ++it) {
                const K& k = items[it->index];
                out[it->g] =
                    static_cast<Out>(among_many(k, s, one_step, [&] { return k(s, one_step); }));
            }
        } else if (set.runs_fast()) {
            for (; it != members.end() && it->g < end; ++it)
                fill_fast(items[it->index], steps, n, out + std::size_t{it->g} * n, c);
        } else {
            for (; it != members.end() && it->g < end; ++it)
                fill(items[it->index], steps, n, out + std::size_t{it->g} * n, c);
        }
    });
}

namespace detail {
// Where evaluate_from reads its steps: an array, or a range made a block at a time.
template <class Step>
struct ArraySteps {
    using type = Step;
    static constexpr bool all_valid = false;  // checked as they are read
    const Step* steps;
    const Step* block(std::size_t i, std::size_t, Step*) const { return steps + i; }
};
// start + k * stride for k < n, every one in [0, 2**63 - 1] (the caller checks the first
// and the last): never stored whole, so a range costs no memory traffic for its steps.
struct RangeSteps {
    using type = std::int64_t;
    static constexpr bool all_valid = true;
    std::int64_t start, stride;
    const std::int64_t* block(std::size_t i, std::size_t m, std::int64_t* buffer) const {
        // In unsigned arithmetic: each value is in range, i * stride may not be alone. An
        // induction (a running sum) vectorises; a 64-bit multiply per step does not.
        // The stride as a local: read through `this`, it would be read again after every
        // store (buffer might alias it), and the loop would not vectorise.
        const auto step = static_cast<std::uint64_t>(stride);
        auto value = static_cast<std::uint64_t>(start) + static_cast<std::uint64_t>(i) * step;
        for (std::size_t k = 0; k < m; ++k) {
            buffer[k] = static_cast<std::int64_t>(value);
            value += step;
        }
        return buffer;
    }
};

// The first step below `limit` that some schedule of the set refuses (its value is NaN),
// or `limit`. Every step below `limit` is valid. Only a float step of 2**63 or more can be
// refused (no exact cycle holds it; a sequence's stage sees a step no larger), so only
// those are evaluated, one at a time (ScheduleSet::at): `out` is not written.
template <class Source>
std::size_t first_refused_before(const ScheduleSet& set, const Source& source, std::size_t limit) {
    using Step = typename Source::type;
    constexpr std::size_t block = 256;
    Step buffer[block];
    for (std::size_t i = 0; i < limit; i += block) {
        const std::size_t m = std::min(block, limit - i);
        const Step* src = source.block(i, m, buffer);
        for (std::size_t k = 0; k < m; ++k) {
            if (!(static_cast<double>(src[k]) >= two_63)) continue;
            for (std::size_t g = 0; g < set.size(); ++g)
                if (std::isnan(set.at(g, src[k]))) return i + k;
        }
    }
    return limit;
}

// The call's error when step `bad` is invalid: that step, unless one before it is refused
// (a float step a cycle cannot place), which is then the first offending step. The batch
// loops find refusals only in what they evaluated, and they stop at an invalid step, so
// the steps before it are looked at again (on this error path only).
template <class Source>
Outcome invalid_step_error(const ScheduleSet& set, const Source& source, std::size_t bad) {
    if constexpr (std::is_floating_point_v<typename Source::type>) {
        if (set.may_reject()) {
            const std::size_t refused = first_refused_before(set, source, bad);
            if (refused != bad) return {Outcome::refused_step, refused};
        }
    }
    return {Outcome::invalid_step, bad};
}

template <class Source, class Out>
Outcome evaluate_from(const ScheduleSet& set, const Source& source, std::size_t n, Out* out,
                      const Options& opt) {
    using Step = typename Source::type;
    const std::size_t groups = set.size();
    if (n == 0) return {};
    // Few steps (one step for many schedules, say) are cheaper to check once up front.
    const bool checked =
        !Source::all_valid && opt.check == Check::while_writing && groups > 0 && n >= check_block;
    if constexpr (!Source::all_valid) {
        if (!checked) {
            bool interrupted = false;
            const std::size_t bad = first_invalid_step(source.steps, n, opt, interrupted);
            if (interrupted) return {Outcome::interrupted, 0};
            if (bad != n) return invalid_step_error(set, source, bad);
        }
    }
    if (groups == 0) return {};
    const Context context = set.context();
    // Only a float step can be refused (>= 2**63: no exact cycle); an int step never is.
    const bool refusals = std::is_floating_point_v<Step> && set.may_reject();
    const bool fast = set.runs_fast();
    std::atomic<std::size_t> first_bad{n}, first_refused{n};
    bool completed;
    if (n <= few_steps && groups > 1) {
        Step few[few_steps];
        const Step* steps = source.block(0, n, few);
        completed = parallel_for(
            groups, opt.max_threads,
            [&](std::size_t begin, std::size_t end) {
                const std::size_t per_block = std::max<std::size_t>(1, kind_block / n);
                for (std::size_t g = begin; g < end; g += per_block) {
                    const std::size_t stop = std::min(end, g + per_block);
                    evaluate_by_kind(set, g, stop, steps, n, out, context);
                    if (refusals) {  // rare: find the smallest step index refused
                        const Out* block = out + g * n;
                        const std::size_t m = (stop - g) * n;
                        for (std::size_t k = first_nan_in(block, m); k < m; ++k)
                            if (std::isnan(block[k])) keep_min(first_refused, k % n);
                    }
                }
            },
            set.cost() * n, opt.interrupt);
    } else {
        completed = parallel_for(
            groups * n, opt.max_threads,
            [&](std::size_t begin, std::size_t end) {
                // A chunk runs through groups in order and stops at its first invalid step;
                // the smallest of those is the first invalid step index, since every index
                // is seen in group 0 by the chunk that holds it.
                std::size_t g = begin / n;
                std::size_t i = begin % n;
                Step buffer[Source::all_valid ? check_block : 1];
                while (begin < end) {
                    const std::size_t len = std::min(n - i, end - begin);
                    for (std::size_t b = 0; b < len; b += check_block) {
                        const std::size_t m = std::min(check_block, len - b);
                        const Step* src = source.block(i + b, m, buffer);
                        if (checked) {
                            const std::size_t k = first_invalid_in(src, m);
                            if (k != m) return keep_min(first_bad, i + b + k);
                        }
                        Out* dst = out + begin + b;
                        visit(set.pool(), set[g], [&](const auto& kernel) {
                            if (fast)
                                fill_fast(kernel, src, m, dst, context);
                            else
                                fill(kernel, src, m, dst, context);
                        });
                        if (refusals) {
                            const std::size_t k = first_nan_in(dst, m);
                            if (k != m) keep_min(first_refused, i + b + k);
                        }
                    }
                    begin += len;
                    ++g;
                    i = 0;
                }
            },
            set.cost(), opt.interrupt);
    }
    if (!completed) return {Outcome::interrupted, 0};
    if (first_bad.load() != n) return invalid_step_error(set, source, first_bad.load());
    if (first_refused.load() != n) return {Outcome::refused_step, first_refused.load()};
    return {};
}
}  // namespace detail

// out[g * n + i] = schedule g at steps[i], for every g in the set and i < n. A float
// Out is the double result rounded once.
template <class Step, class Out>
Outcome evaluate(const ScheduleSet& set, const Step* steps, std::size_t n, Out* out,
                 const Options& opt) {
    return detail::evaluate_from(set, detail::ArraySteps<Step>{steps}, n, out, opt);
}

// The same at the steps start + i * stride, i < n (a Python range), each of which the
// caller has checked is in [0, 2**63 - 1] (the first and the last are enough). The steps
// are made a block at a time where they are used: no array of them is read or written.
template <class Out>
Outcome evaluate_range(const ScheduleSet& set, std::int64_t start, std::int64_t stride,
                       std::size_t n, Out* out, const Options& opt) {
    return detail::evaluate_from(set, detail::RangeSteps{start, stride}, n, out, opt);
}

}  // namespace tml
