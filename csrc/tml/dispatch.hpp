// Run a batch loop compiled for the best instruction set this CPU has.
//
//     tml::dispatch::run([&] {
//         for (std::size_t i = 0; i < n; ++i) out[i] = tml::fast::cos_0_pi(a * x[i]);
//     });
//
// The wheel is built for baseline x86-64 (SSE2; never -march=native), where a vectorised
// kernel does 2 doubles per instruction. `run` instantiates the lambda three times, in
// function templates carrying __attribute__((target("avx512f"))), target("avx2") and no
// target, each also `flatten`, so the lambda's body and every inline function it calls
// (the fast_math kernels) are inlined into that function and compiled, and vectorised,
// for its instruction set: 8, 4 or 2 doubles at a time. The CPU is asked once which to
// use (__builtin_cpu_supports, which also checks that the OS saves the wider registers).
// The results are bitwise the same at every level (fast_math.hpp says why), so the
// choice changes only the speed.
//
// Why not __attribute__((target_clones(...))) on the loop function: Clang (14) refuses it
// on function templates, which the kinds' batch loops are; it needs ifunc, which only
// glibc has (not musl, macOS, Windows); and both GCC 12 and Clang export the clone
// resolver from a shared library even under -fvisibility=hidden. This header needs none
// of that: target attributes and flatten work on templates and lambdas in GCC and Clang,
// under -flto and hidden visibility, on any x86-64 OS.
//
// Elsewhere (not x86, or another compiler) `run` calls the lambda as it is: one level,
// whatever the build flags give.
//
// Keep the loop simple for the vectoriser: a counted for loop over an index, one store
// per element, selects as ternaries rather than if/else returns, no call that is not
// inlined (libm included), and integer steps converted to double with the exact two-half
// trick of schedule.hpp's as_double (SSE2 and AVX2 cannot convert int64 to double).
#pragma once

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

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define TML_DISPATCH_X86 1

// What this CPU (and OS) supports, asked once.
inline Isa best() {
    static const Isa isa = [] {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f")) return Isa::avx512;
        if (__builtin_cpu_supports("avx2")) return Isa::avx2;
        return Isa::baseline;
    }();
    return isa;
}

namespace detail {
template <class F>
__attribute__((target("avx512f"), flatten)) void run_avx512(const F& f) {
    f();
}
template <class F>
__attribute__((target("avx2"), flatten)) void run_avx2(const F& f) {
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

template <class F>
void run(const F& f) {
    run_at(best(), f);
}

}  // namespace tml::dispatch
