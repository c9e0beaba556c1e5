// Run a batch loop compiled for the best instruction set this CPU has.
//
//     tml::dispatch::run([=] {
//         for (std::size_t i = 0; i < n; ++i) out[i] = tml::fast::cos_0_pi(a * x[i]);
//     });
//
// The wheel is built for baseline x86-64 (SSE2; never -march=native), where a vectorised
// loop does 2 doubles per instruction. `run` instantiates the lambda's body three
// times, in function templates carrying __attribute__((target("avx512f,fma"))),
// target("avx2,fma") and no target, each also `flatten`: the lambda and every inline
// function it calls (the fast_math kernels) are inlined into that function and compiled,
// and vectorised, for its instruction set: 8, 4 or 2 doubles at a time. The CPU is asked
// once which one to use (__builtin_cpu_supports, which also checks that the OS saves the
// wider registers); the two upper levels need FMA too (every AVX2 CPU but a few has it).
// A loop's results are bitwise the same at every level (fast_math.hpp says why), so the
// choice changes only its speed; run_at runs a chosen level, and set_level_cap lowers the
// level every `run` uses, for tests. has_fma says whether the level in use computes
// fast_math's fma() in one instruction: fast mode runs its kernels only there, and the
// exact formulas at the baseline (ScheduleSet::runs_fast), so that level does change
// fast mode's values. `call` is `run` for one value: a kernel called outside a loop
// (one step, a cycle's constants) goes through it, or its fma() would be a library call.
//
// Why not __attribute__((target_clones("avx512f", "avx2", "default"))) on the loop
// function: it works with GCC 12 under -flto and -fvisibility=hidden, but Clang (14)
// refuses it on function templates, which the kinds' batch loops are; it needs ifunc,
// which only glibc has (not musl, macOS or Windows); and both compilers export the clone
// resolver from the shared library despite hidden visibility. Target attributes with
// flatten work on templates and lambdas in GCC and Clang, under -flto and hidden
// visibility (nothing is exported), on any x86-64 OS. Elsewhere (not x86, or another
// compiler) `run` calls the lambda as it is: one level, whatever the build flags give.
//
// Writing a loop that vectorises (check with -fopt-info-vec-optimized: each level's
// function should report its loop "vectorized using 16/32/64 byte vectors"):
// - a counted for loop over an index, one store per element, no call that is not
//   inlined (libm included), no early exit;
// - compute every phase of the formula for every element and choose with
//   tml::fast::less_mask / select, not `if` or a ternary with a computed arm (GCC turns
//   those into branches it will not vectorise; see fast_math.hpp); a phase computed on
//   arguments outside its domain gives garbage that the choice discards;
// - integer steps to double with the exact two-half trick of numeric.hpp's as_double
//   (SSE2 and AVX2 cannot convert int64 to double);
// - the body compiled with the core's -ffp-contract=off: the upper levels have FMA, and
//   GCC (which fuses by default, -std=c++17 or not) or Clang fusing the loop's own
//   a * b + c would make their results differ from the baseline's.
#pragma once

#include <atomic>
#include <optional>
#include <type_traits>

// A function that must stay a call: `run`'s flatten inlines everything else it reaches.
#if defined(__GNUC__) || defined(__clang__)
#define TML_NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define TML_NOINLINE __declspec(noinline)
#else
#define TML_NOINLINE
#endif

namespace tml::dispatch {

enum class Isa { baseline = 0, avx2 = 1, avx512 = 2 };

inline const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::avx512:
            return "avx512";
        case Isa::avx2:
            return "avx2";
        default:
            return "baseline";
    }
}

// TML_DISPATCH_X86 is 1 where run dispatches (GCC or Clang on x86, not clang-cl, whose
// MSVC runtime lacks the CPU model __builtin_cpu_supports reads), else 0.
#if (defined(__GNUC__) || defined(__clang__)) && !defined(_MSC_VER) && \
    (defined(__x86_64__) || defined(__i386__))
#define TML_DISPATCH_X86 1

// What this CPU (and OS) supports, asked once.
inline Isa best() {
    static const Isa isa = [] {
        __builtin_cpu_init();
        if (!__builtin_cpu_supports("fma")) return Isa::baseline;
        if (__builtin_cpu_supports("avx512f")) return Isa::avx512;
        if (__builtin_cpu_supports("avx2")) return Isa::avx2;
        return Isa::baseline;
    }();
    return isa;
}

namespace detail {
template <class F>
__attribute__((target("avx512f,fma"), flatten)) void run_avx512(const F& f) {
    f();
}
template <class F>
__attribute__((target("avx2,fma"), flatten)) void run_avx2(const F& f) {
    f();
}
template <class F>
__attribute__((flatten)) void run_baseline(const F& f) {
    f();
}
}  // namespace detail

// Runs f compiled for `isa`, or for the best level below it that this CPU has: a test can
// run the same loop at every level and compare.
template <class F>
void run_at(Isa isa, const F& f) {
    const Isa have = best();
    if (static_cast<int>(isa) > static_cast<int>(have)) isa = have;
    switch (isa) {
        case Isa::avx512:
            detail::run_avx512(f);
            break;
        case Isa::avx2:
            detail::run_avx2(f);
            break;
        default:
            detail::run_baseline(f);
            break;
    }
}

#else
#define TML_DISPATCH_X86 0

inline Isa best() { return Isa::baseline; }

template <class F>
void run_at(Isa, const F& f) {
    f();
}
#endif

// The highest level `run` uses: best() unless a test lowers it (set_level_cap). A loop's
// results are the same at every level, so this changes only its speed (and, at the
// baseline, whether fast mode runs its kernels: has_fma); it exists so that tests of a
// whole package call can compare the levels. Process-wide, read on every call.
inline std::atomic<int>& level_cap() {
    static std::atomic<int> cap{static_cast<int>(Isa::avx512)};
    return cap;
}
inline void set_level_cap(Isa isa) { level_cap().store(static_cast<int>(isa)); }

// The level `run` uses now: best(), or the cap where that is lower.
inline Isa level() {
    const int cap = level_cap().load(std::memory_order_relaxed);
    const Isa have = best();
    return static_cast<int>(have) < cap ? have : static_cast<Isa>(cap);
}

template <class F>
void run(const F& f) {
    run_at(level(), f);
}

// f() compiled as `run` compiles a loop, and its value.
template <class F>
auto call(const F& f) {
    std::optional<std::invoke_result_t<const F&>> r;
    run([&] { r.emplace(f()); });
    return *r;
}

// Whether `run` compiles fast_math's fma() to one instruction: an upper level on x86;
// elsewhere, where the build's target has FMA (GCC says so with __FP_FAST_FMA, Clang on
// Arm with __ARM_FEATURE_FMA: aarch64 and Apple silicon). Without it (MSVC, which defines
// neither, included) fma() is a call to the C library's, correctly rounded but slow.
inline bool has_fma() {
#if TML_DISPATCH_X86
    return level() != Isa::baseline;
#elif defined(__FP_FAST_FMA) || defined(__ARM_FEATURE_FMA)
    return true;
#else
    return false;
#endif
}

}  // namespace tml::dispatch
