// Fast, vectorisable cos, exp2, log2 and pow for the opt-in fast mode (exact=False).
//
// The exact path calls the platform libm one value at a time, and that call bounds it.
// These kernels replace only those calls. Each is a short, inline, branch-free function
// of doubles: polynomials in fused multiply-adds, integer bit manipulation through
// memcpy, and choices made by bitwise blends or exact multiplies (see "No comparisons"
// below); no libm call, no table, no int64/double conversion instruction (AVX2 has
// none). A counted loop calling them vectorises with GCC 12 at -O3 (the package's
// Release build; at -O2 GCC 12's "very cheap" cost model refuses any loop that needs an
// epilogue) and with Clang at -O2, for AVX2 with FMA (4 doubles an instruction) and
// AVX-512 (8); dispatch.hpp picks the level at run time.
//
// Determinism: every result is a fixed sequence of IEEE double operations, +, -, *, /
// and the fused multiply-adds written as fma() here, each correctly rounded, so it is
// bitwise the same whatever the instruction set the loop was compiled for, and on every
// machine. Only the fma() written here may fuse: Clang, which fuses within an expression
// by default, is told not to inside every function here; GCC fuses by default
// (-ffp-contract=fast, even with -std=c++17) and has no pragma for it, so what includes
// this must be compiled with -ffp-contract=off, as the core is (CMakeLists.txt). Without
// it the results would depend on the level, and the check fails. GCC and Clang give the
// same bits. bench/fast_math_check.cpp checks all of this.
//
// The FMA is what makes these kernels fast: a polynomial step is one instruction, and the
// exact product of two doubles two (Dekker's, without FMA, takes 17). The AVX2 and
// AVX-512 levels compile fma() to one instruction. The SSE2 baseline has none: there it
// is the C library's fma, the same correctly rounded result but a call each, which
// neither vectorises nor beats libm's cos, so fast mode does not run these kernels at
// that level (ScheduleSet::runs_fast: the exact formulas run instead).
//
// sqrt needs no kernel: std::sqrt of a double is IEEE's correctly rounded square root,
// one instruction (sqrtsd, vsqrtpd) that vectorises and is bitwise equal to Python's
// math.sqrt. Keep it in fast mode.
//
// Accuracy, measured by bench/fast_math_check.cpp against the x87 long double libm
// (64-bit significand: errors come out in fractions of an ulp) over dense sweeps of the
// hard regions and 1e7 random arguments; "ulp" is the spacing of doubles at the exact
// result, and the bound is what the check enforces:
//
//   kernel         domain                                             max error  bound
//   cos_0_pi       x in [0, pi]                                       1.11 ulp   2
//   exp2           x in [-1022, 1024), normal results                 0.89 ulp   2
//                  x in [-1080, -1022), subnormal results             0.91 ulp   1
//   log2           x > 0, subnormals too                              0.73 ulp   2
//   pow_pos        (1 - t/N)**p, p in (0, 8], results in [2**-8, 1]   1.03 ulp   2
//                  b in [0, 1], y in (0, 1e4], absolute, ulps of 1.0  0.49       1
//   pow_unit       b in [0, 1], y in [0, 1e4], absolute, ulps of 1.0  0.62       2
//   pow_from_log2  r**k, gamma**t, d**i with log2_precise(b), normal  0.99 ulp   2
//
// Against glibc's double functions (the exact path's) every result there is within 1 ulp.
//
// What the schedules need (the fast mode's budget): |fast - exact| <= 4 ulp of
// max(learning_rate, final_learning_rate). pow and exp2 results are multiplied by a rate:
// their relative error is what counts, or for results <= 1 their absolute error. A cos
// result is multiplied by the amplitude (L - F) / 2 after adding 1, so its absolute
// error counts, near 0 too, which is why cos_0_pi keeps full relative precision near
// pi/2. The check's part 5 runs linear_ramp_to_cosine and polynomial_decay written this
// way against their exact formulas: within 2.0 ulp of max(L, F).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#if defined(__GNUC__) || defined(__clang__)
// Inlining is what lets a loop vectorise: a call to a kernel would be one scalar call per
// value, compiled for the baseline instruction set whatever the caller's target.
#define TML_FAST_INLINE inline __attribute__((always_inline))
#else
#define TML_FAST_INLINE inline
#endif

#if defined(__clang__)
// Clang fuses a * b + c within one expression unless told not to (-ffp-contract=on is its
// default); a fused result differs in the last bit between a loop compiled with FMA and
// one without, and breaks the error-free transformations below.
#define TML_FAST_NO_CONTRACT _Pragma("clang fp contract(off)")
#else
#define TML_FAST_NO_CONTRACT
#endif

namespace tml::fast {

// No comparisons. A loop vectorises only if every `c ? a : b` in it becomes a blend, and
// GCC 12 defeats that in two ways: it sinks an arm's arithmetic into a branch when the
// arm has no other use, or specialises arithmetic on a selected constant (x * (c ? 1 : 0))
// into both branches; under -ftrapping-math (its default, and the core's) it will not
// execute those floating-point operations unconditionally again, so the loop keeps its
// branches and is not vectorised (AVX-512 excepted, with masks). Turning a comparison
// into an integer mask has no SSE2 pattern either. So conditions here are computed as
// integers from bits (a sign bit, a difference of bit patterns), and choices are bitwise
// blends or exact multiplies by 0 and 1: all of it vectorises on SSE2.

// A value as an unevaluated sum hi + lo, |lo| well below one ulp of hi.
struct DoubleDouble {
    double hi;
    double lo;
};

namespace detail {

TML_FAST_INLINE std::uint64_t bits(double x) {
    std::uint64_t u;
    std::memcpy(&u, &x, sizeof u);
    return u;
}

TML_FAST_INLINE double from_bits(std::uint64_t u) {
    double x;
    std::memcpy(&x, &u, sizeof x);
    return x;
}

// For 64-bit patterns below 2**63: 1 if a < b, else 0 (the sign of a - b).
TML_FAST_INLINE std::uint64_t less(std::uint64_t a, std::uint64_t b) { return (a - b) >> 63; }

// 0 -> 0, 1 -> all ones.
TML_FAST_INLINE std::uint64_t mask(std::uint64_t bit) { return std::uint64_t{0} - bit; }

// mask ? a : b, bitwise.
TML_FAST_INLINE double blend(std::uint64_t m, double a, double b) {
    return from_bits((bits(a) & m) | (bits(b) & ~m));
}

// A small non-negative integer (< 2**52) as a double, exactly: 2**52 + n has n in its
// significand.
TML_FAST_INLINE double to_double(std::uint64_t n) {
    TML_FAST_NO_CONTRACT
    return from_bits(n | 0x4330000000000000u) - 0x1p52;
}

inline constexpr std::uint64_t abs_mask = 0x7fffffffffffffffu;
inline constexpr std::uint64_t sign_mask = 0x8000000000000000u;
inline constexpr std::uint64_t inf_bits = 0x7ff0000000000000u;

// 1.5 * 2**52: adding it to |x| < 2**51 leaves x rounded to an integer (ties to even) in
// the low bits of the sum, so (x + magic) - magic is that integer as a double, and
// bits(x + magic) - bits(magic) is it as a two's complement integer.
inline constexpr double round_magic = 0x1.8p52;
inline constexpr std::uint64_t round_magic_bits = 0x4338000000000000u;

TML_FAST_INLINE double round_to_int(double x) {
    TML_FAST_NO_CONTRACT
    return (x + round_magic) - round_magic;
}

// a * b + c rounded once. Every use is written out: nothing else may fuse (see above).
TML_FAST_INLINE double fma(double a, double b, double c) { return std::fma(a, b, c); }

// a * b = p + e exactly (no overflow, no underflow in e): the FMA computes a * b - p
// exactly and rounds it, and that error is a double.
TML_FAST_INLINE DoubleDouble two_prod(double a, double b) {
    TML_FAST_NO_CONTRACT
    const double p = a * b;
    return {p, fma(a, b, -p)};
}

// pi/2 = pio2_hi + pio2_lo + O(2**-107); pio2_hi is Python's math.pi / 2.
inline constexpr double pio2_hi = 0x1.921fb54442d18p0;
inline constexpr double pio2_lo = 0x1.1a62633145c07p-54;

// sin(z) = z + z**3 * S(z**2) on |z| <= pi/2: a Chebyshev fit (mpmath chebyfit, degree 7
// in z**2, on [0, (pi/2 + 1e-6)**2]) of (sin(z) - z) / z**3, rounded to double; fit error
// 3.4e-19 on S, below 0.02 ulp of the result. S's leading coefficient, -1/6, is no double:
// its rounding error sin_c0_lo is added back (times z**3 it would be 0.3 ulp).
inline constexpr double sin_c0 = -0x1.5555555555555p-3;
inline constexpr double sin_c0_lo = -0x1.5555555555555p-57;
inline constexpr double sin_c1 = 0x1.1111111111107p-7;
inline constexpr double sin_c2 = -0x1.a01a01a018aadp-13;
inline constexpr double sin_c3 = 0x1.71de3a545670fp-19;
inline constexpr double sin_c4 = -0x1.ae6455a1d6befp-26;
inline constexpr double sin_c5 = 0x1.6124015b470e4p-33;
inline constexpr double sin_c6 = -0x1.ae5138b98566ep-41;
inline constexpr double sin_c7 = 0x1.89a4857c6d256p-49;

// 2**r = 1 + r * E(r) on |r| <= 1/2: a Chebyshev fit (degree 10) of (2**r - 1) / r;
// fit error 1.3e-17 on E, so below 2**-57 relative on 2**r.
inline constexpr double exp2_c0 = 0x1.62e42fefa39efp-1;
inline constexpr double exp2_c1 = 0x1.ebfbdff82c598p-3;
inline constexpr double exp2_c2 = 0x1.c6b08d704a0c2p-5;
inline constexpr double exp2_c3 = 0x1.3b2ab6fba1ddap-7;
inline constexpr double exp2_c4 = 0x1.5d87fe78a5276p-10;
inline constexpr double exp2_c5 = 0x1.430913096fd9fp-13;
inline constexpr double exp2_c6 = 0x1.ffcbfc670dcd4p-17;
inline constexpr double exp2_c7 = 0x1.62bfd477732acp-20;
inline constexpr double exp2_c8 = 0x1.b524fae6277a5p-24;
inline constexpr double exp2_c9 = 0x1.e6063f722ca05p-28;
inline constexpr double exp2_c10 = 0x1.e9d3fe3963e87p-32;

// log(1 + f) = 2s + s**3 * L(s**2), s = f / (2 + f), |s| <= 3 - 2 sqrt(2): a Chebyshev fit
// (degree 6 in s**2) of (2 atanh(s) - 2s) / s**3; fit error 3.1e-16, below 2**-57 of log.
inline constexpr double log_c0 = 0x1.5555555555558p-1;
inline constexpr double log_c1 = 0x1.99999999952e2p-2;
inline constexpr double log_c2 = 0x1.2492492df14bfp-2;
inline constexpr double log_c3 = 0x1.c71c62e57c0cfp-3;
inline constexpr double log_c4 = 0x1.7462b4ac51915p-3;
inline constexpr double log_c5 = 0x1.39fe603f8739ep-3;
inline constexpr double log_c6 = 0x1.2b584c80de001p-3;

TML_FAST_INLINE double log_poly(double z) {
    TML_FAST_NO_CONTRACT
    const double z2 = z * z;
    return fma(z2 * z2, fma(z2, log_c6, fma(z, log_c5, log_c4)),
               fma(z2, fma(z, log_c3, log_c2), fma(z, log_c1, log_c0)));
}

// 1 / log(2) = invln2_hi + invln2_lo + O(2**-86), invln2_hi with 32 significant bits so
// that its product with a 21-bit number is exact.
inline constexpr double invln2_hi = 0x1.71547652p0;
inline constexpr double invln2_lo = 0x1.705fc2eefa2p-33;

// The double nearest sqrt(1/2): log2 reduces its argument to [this, 2 * this).
inline constexpr std::uint64_t sqrt_half_bits = 0x3fe6a09e667f3bcdu;

}  // namespace detail

// Per-element choices in a batch loop. `c ? a : b` vectorises when both arms are
// constants or values also used elsewhere; when an arm is computed only for the choice
// (a kind's formula for one phase), GCC turns it into a branch (see "No comparisons"
// above) and the loop stays scalar below AVX-512. Compute every phase's value for every
// element and choose with these: integer masks, all ones or all zeros, and a bitwise
// blend, which vectorise on SSE2. Combine masks with &, | and ~.
using Mask = std::uint64_t;

// All ones if a < b. For integer steps and fields, |a - b| < 2**63 (steps >= 0 and fields
// in [-2**53, 2**53] qualify).
TML_FAST_INLINE Mask less_mask(std::int64_t a, std::int64_t b) {
    return detail::mask((static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b)) >> 63);
}

// All ones if a < b, for doubles that are not NaN: the sign of a - b where a - b is not
// zero (-0.0 - 0.0 is -0.0, and -0.0 < 0.0 is false).
TML_FAST_INLINE Mask less_mask(double a, double b) {
    TML_FAST_NO_CONTRACT
    const std::uint64_t d = detail::bits(a - b);
    const std::uint64_t twice = d << 1;  // 0 iff a - b is +-0
    return detail::mask((d >> 63) & ((twice | (std::uint64_t{0} - twice)) >> 63));
}

// m ? a : b, m from the functions above.
TML_FAST_INLINE double select(Mask m, double a, double b) { return detail::blend(m, a, b); }

// floor(x) for x >= 0 (and -0.0), bitwise std::floor's, without its libm call (which GCC
// does not vectorise): below 2**52, x + 2**52 rounds x to an integer (the sum's ulp is 1),
// one is taken off where that rounded up; from 2**52 on, x is an integer already. For the
// staircase kinds' whole number of periods of a float step. NaN in, NaN out.
TML_FAST_INLINE double floor_nonneg(double x) {
    TML_FAST_NO_CONTRACT
    using namespace detail;
    const std::uint64_t ax = bits(x) & abs_mask;
    const double r = (from_bits(ax) + 0x1p52) - 0x1p52;
    const double down = r - to_double(less(ax, bits(r)));  // r > |x|, both >= 0
    // -0.0 stays -0.0, as std::floor leaves it.
    return blend(mask(less(ax, bits(0x1p52))), from_bits(bits(down) | (bits(x) & sign_mask)), x);
}

// Where a kernel runs, its template argument: Lanes, the body of a loop that vectorises,
// where every choice is a bitwise blend (see "No comparisons" above); or One, a value at
// a time (a scalar call, many schedules at one step), where a blend would be done in
// integer registers, each operand moved there and back, and a branch costs less. The
// kernel makes the same operations on the same values either way: the same bits.
struct Lanes {};
struct One {};

// cos(x) for x in [0, pi], the cosine schedules' `pi * p` with p in [0, 1], and a little
// beyond (1e-6: a rounded argument); further out, a finite or NaN garbage value, no trap.
//
// cos(x) = sin(z), z = pi/2 - x in [-pi/2, pi/2], one polynomial with no quadrant to
// choose. z is taken as zh + zl: zh = pio2_hi - x is exact from x = pi/4 on (Sterbenz),
// zl holds its rounding error below that (Fast2Sum, pio2_hi >= x) and pi/2's low part.
// Near x = pi/2, where cos(x) -> 0, z is small and exact: the result keeps full relative
// precision. Near x = 0 and pi the result is +-1 - x**2/2 and the polynomial's tail
// zh**3 * S is up to 0.57 against 1.57: its rounding errors would cost 2 ulp, so it is
// taken to about 2**-104 (w = zh**2 and zh**3 each as an exact hi + lo, the product
// t + t_lo with S exact, the sum zh + t by Fast2Sum) and rounded once with the small
// terms. What is left: S's own rounding, zl's times cos(zh) ~ 1 - w/2 + w**2/24, and the
// last add; 1.11 ulp at most (fast_math_check).
TML_FAST_INLINE double cos_0_pi(double x) {
    TML_FAST_NO_CONTRACT
    using namespace detail;
    const double zh = pio2_hi - x;
    const double zl = ((pio2_hi - zh) - x) + pio2_lo;
    const double w = zh * zh;
    const double w_lo = fma(zh, zh, -w);
    const double z3 = zh * w;
    const double z3_lo = fma(zh, w, -z3) + zh * w_lo;
    double p = fma(w, sin_c7, sin_c6);
    p = fma(w, p, sin_c5);
    p = fma(w, p, sin_c4);
    p = fma(w, p, sin_c3);
    p = fma(w, p, sin_c2);
    p = fma(w, p, sin_c1);
    p = fma(w, p, sin_c0);
    const double cos_zh = fma(w, fma(w, 0x1.5555555555555p-5, -0.5), 1.0);
    const double t = z3 * p;
    const double t_lo = fma(z3, p, -t);
    const double h = zh + t;  // |t| < |zh|
    const double h_lo = (zh - h) + t;
    return h + (h_lo + (t_lo + fma(zl, cos_zh, fma(z3_lo, p, z3 * sin_c0_lo))));
}

// 2**(hi + lo), |lo| <= 2**-40 or so. hi beyond [-1100, 1100] is clamped there, so the
// result is 0 below and inf above; NaN gives NaN. Subnormal results are the exactly
// scaled polynomial rounded once.
template <class Where = Lanes>
TML_FAST_INLINE double exp2(double hi, double lo) {
    TML_FAST_NO_CONTRACT
    using namespace detail;
    constexpr bool one = std::is_same_v<Where, One>;
    if constexpr (one) {
        if (hi != hi) return hi;  // NaN: the blend below gives hi too
    }
    const std::uint64_t h = bits(hi);
    const std::uint64_t beyond = less(bits(1100.0), h & abs_mask);  // inf and NaN too
    const std::uint64_t is_nan = less(inf_bits, h & abs_mask);
    double hc;
    if constexpr (one)
        hc = std::fabs(hi) <= 1100.0 ? hi : std::copysign(1100.0, hi);
    else
        hc = blend(mask(beyond), from_bits((h & sign_mask) | bits(1100.0)), hi);
    const double k = round_to_int(hc);
    const double r = (hc - k) + lo;  // hc - k is exact
    // Horner's scheme for the leading terms (each rounding at its own magnitude keeps
    // the 1 ulp), Estrin's for the tail: the same operations as Horner's throughout but
    // a shorter dependency chain, which is what bounds a loop of these (the out-of-order
    // window holds too few iterations to hide a 60-cycle chain).
    const double r2 = r * r;
    const double tail = fma(r2 * r2, fma(r2, fma(r, exp2_c10, exp2_c9), fma(r, exp2_c8, exp2_c7)),
                            fma(r2, fma(r, exp2_c6, exp2_c5), fma(r, exp2_c4, exp2_c3)));
    const double e = fma(r, fma(r, fma(r, tail, exp2_c2), exp2_c1), exp2_c0);
    const double p = fma(r, e, 1.0);
    // 2**k as 2**k1 * 2**k2 with both halves normal, so that p * 2**k1 is exact and the
    // second multiply rounds once: correct subnormals, 0 and inf without a branch.
    const double k1 = round_to_int(k * 0.5);
    const double k2 = k - k1;
    const auto scale = [](double kk) {
        return from_bits((bits(kk + round_magic) - round_magic_bits + 1023u) << 52);
    };
    if constexpr (one) return (p * scale(k1)) * scale(k2);
    return blend(mask(is_nan), hi, (p * scale(k1)) * scale(k2));
}

template <class Where = Lanes>
TML_FAST_INLINE double exp2(double x) {
    return exp2<Where>(x, 0.0);
}

// log2(x) as hi + lo, |lo| below an ulp of hi, with a relative error below 2**-54.5
// (measured): for pow, whose result is off by log(2) * |y * error| relative. x > 0 (subnormals
// too); x = +-0 gives (-inf, 0), +inf gives (inf, 0), x < 0 and NaN give (NaN, 0).
TML_FAST_INLINE DoubleDouble log2_dd(double x) {
    TML_FAST_NO_CONTRACT
    using namespace detail;
    constexpr double inf = std::numeric_limits<double>::infinity();
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    const std::uint64_t ix0 = bits(x);
    const std::uint64_t biased_exp = (ix0 & abs_mask) >> 52;
    // Subnormals (biased exponent 0) are scaled by 2**52 into the normal range.
    const double tiny = to_double(less(biased_exp, 1));
    const double xs = x * (1.0 + tiny * (0x1p52 - 1.0));
    // x = 2**k * m with m in [sqrt(1/2), sqrt(2)), found on the bits: k is the exponent
    // of bits(x) - bits(sqrt(1/2)) (a logical shift after adding 2**63, as SSE2 has no
    // 64-bit arithmetic shift), m keeps x's significand with its exponent less k.
    const std::uint64_t ix = bits(xs);
    const std::uint64_t d = ix - sqrt_half_bits;
    const double k = (to_double((d + sign_mask) >> 52) - 2048.0) - 52.0 * tiny;
    const double m = from_bits(ix - (d & 0xfff0000000000000u));
    // log(m) = f - h + s * (h + s**2 * L(s**2)), f = m - 1 (exact), s = f / (2 + f),
    // h = f*f/2: the rounding of s only reaches the small last term. The leading part
    // f - h is cut to 21 significant bits (the low 32 bits of its significand cleared),
    // so that its product with the 32-bit invln2_hi is exact; the rest goes to b.
    const double f = m - 1.0;
    const double s = f / (2.0 + f);
    const double z = s * s;
    const double l = log_poly(z);
    const DoubleDouble ff = two_prod(f, f);
    const double h = 0.5 * ff.hi;
    const double a = from_bits(bits(f - h) & 0xffffffff00000000u);
    const double b =
        fma(s, fma(z, l, h), ((f - a) - h) - 0.5 * ff.lo);  // f - a is exact (Sterbenz)
    // log2(x) = k + (a + b) / log(2), summed with two Fast2Sums (|k| >= 1 > |log2(m)|
    // unless k = 0; |b| < |a|), the second leaving lo below an ulp of hi.
    const double p_hi = a * invln2_hi;
    const double p_lo = fma(b, invln2_hi, (a + b) * invln2_lo);
    const double t_hi = k + p_hi;
    const double t_lo = (p_hi - (t_hi - k)) + p_lo;
    const double hi = t_hi + t_lo;
    const double lo = t_lo - (hi - t_hi);
    // Special arguments went through the above as finite numbers (m is always in
    // [sqrt(1/2), sqrt(2)), k finite); their results are set here. +inf and NaN: x itself;
    // +-0: -inf; negative: NaN.
    const std::uint64_t inf_or_nan = less(inf_bits - 1, ix0 & abs_mask);
    const std::uint64_t zero = less(ix0 & abs_mask, 1);
    const std::uint64_t negative = (ix0 >> 63) & (zero ^ 1u);
    const double special = to_double(inf_or_nan | zero | negative);
    const double out_hi = blend(mask(inf_or_nan), x, hi);
    const double add = from_bits((mask(zero) & bits(-inf)) | (mask(negative) & bits(nan)));
    return {out_hi + add, lo * (1.0 - special)};
}

// log2(x) for x > 0, subnormals included; log2(+-0) = -inf, log2(inf) = inf, NaN for
// x < 0 or NaN.
TML_FAST_INLINE double log2(double x) {
    TML_FAST_NO_CONTRACT
    const DoubleDouble l = log2_dd(x);
    return l.hi + l.lo;
}

// b**y from log2(b) as hi + lo: 2**(y * log2(b)) with the product taken exactly, so the
// only errors are log2(b)'s relative error (times |y * log2(b)|) and exp2's. For the
// constant-base uses (r ** k, gamma ** t, d ** i) with log2(b) computed once by
// log2_precise.
//
// y finite; y == 0 gives 1 whatever b (C's pow(b, 0)); log2(b) = -inf (b == 0) gives 0
// for y > 0 and inf for y < 0; NaN in, NaN out.
template <class Where = Lanes>
TML_FAST_INLINE double pow_from_log2(DoubleDouble log2_b, double y) {
    TML_FAST_NO_CONTRACT
    using namespace detail;
    constexpr bool one = std::is_same_v<Where, One>;
    // Past 2**900 (y) or 4096 (|log2(b)|) the result is 0, 1 or inf anyway: clamping them
    // for the error term keeps the split finite, and the error term is dropped where
    // |y * log2(b)| is beyond the exponent range (or infinite, or NaN). NaN is clamped too.
    const auto clamp = [](double v, double limit) {
        if constexpr (one) return std::fabs(v) <= limit ? v : std::copysign(limit, v);
        const std::uint64_t b = bits(v);
        return blend(mask(less(bits(limit), b & abs_mask)),
                     from_bits((b & sign_mask) | bits(limit)), v);
    };
    const double z_hi = y * log2_b.hi;
    const double yc = clamp(y, 0x1p900);
    const double z_err = fma(yc, log2_b.lo, two_prod(yc, clamp(log2_b.hi, 4096.0)).lo);
    // y == 0 (either sign): exponent 0, as y * log2(b) is NaN there for b = 0 and inf.
    if constexpr (one)
        return exp2<One>(y == 0.0 ? 0.0 : z_hi, std::fabs(z_hi) < 2048.0 ? z_err : z_err * 0.0);
    const double keep = to_double(less(bits(z_hi) & abs_mask, bits(2048.0)));
    const std::uint64_t y_zero = less(bits(y) & abs_mask, 1);
    return exp2(blend(mask(y_zero), 0.0, z_hi), z_err * keep);
}

template <class Where = Lanes>
TML_FAST_INLINE double pow_from_log2(double log2_b, double y) {
    return pow_from_log2<Where>(DoubleDouble{log2_b, 0.0}, y);
}

// log2(b) as hi + lo, for pow_from_log2 with a base that is the same for every step:
// computed once, scalar, with the long double libm where long double is wider than
// double (x87's 64-bit significand: relative error about 2**-63, so even y * log2(b)
// near 1075 is off by under 2**-53), else with log2_dd (2**-56).
inline DoubleDouble log2_precise(double b) {
    if constexpr (std::numeric_limits<long double>::digits > std::numeric_limits<double>::digits) {
        const long double l = std::log2(static_cast<long double>(b));
        const double hi = static_cast<double>(l);
        return {hi,
                std::isfinite(hi) ? static_cast<double>(l - static_cast<long double>(hi)) : 0.0};
    } else {
        return log2_dd(b);
    }
}

// b**y for b >= 0 and finite y, e.g. (1 - t/N) ** p (b in [0, 1]). Special values as
// pow_from_log2. log2_dd's relative error reaches the result multiplied by
// |log2(result)|: the relative error grows with |log2(result)| (1.03 ulp for results down
// to 2**-8), while the absolute error of a result <= 1 stays below 0.5 ulp of 1.0, which
// is what a rate multiplying it sees. A constant base should go through log2_precise and
// pow_from_log2 instead, flat at 0.99 ulp.
TML_FAST_INLINE double pow_pos(double b, double y) { return pow_from_log2(log2_dd(b), y); }

// b**y for b in [0, 1] and y >= 0: polynomial decay's (1 - t/N) ** p, where the result is
// multiplied by a rate and only its absolute error counts. About twice as fast as pow_pos:
// log2(b) in plain double (no special values but 0, no double-double) and one rounded
// product. Absolute error 0.62 ulp of 1.0 at most (measured; the check's bound: 2); its
// relative error grows with |log2(result)| like pow_pos's, but faster. b = 0 gives 0 (1 for y = 0);
// b subnormal, > 1, negative or NaN, or y < 0, gives garbage.
template <class Where = Lanes>
TML_FAST_INLINE double pow_unit(double b, double y) {
    TML_FAST_NO_CONTRACT
    using namespace detail;
    const std::uint64_t ib = bits(b);
    const std::uint64_t d = ib - sqrt_half_bits;
    const double k = to_double((d + sign_mask) >> 52) - 2048.0;
    const double m = from_bits(ib - (d & 0xfff0000000000000u));
    const double f = m - 1.0;
    const double s = f / (2.0 + f);
    const double z = s * s;
    const double l = log_poly(z);
    const double h = 0.5 * (f * f);
    const double ln_m = f - (h - s * fma(z, l, h));
    const double log2_b = fma(ln_m, 0x1.71547652b82fep0, k);  // 1 / log(2)
    // b = 0: 0 for y > 0 (exp2 of -inf is 0); y = 0: exponent 0, result 1.
    if constexpr (std::is_same_v<Where, One>) {
        // less(ib, 1), as below: +0.0, and (outside the domain) a negative b.
        const double lb = less(ib, 1) ? -std::numeric_limits<double>::infinity() : log2_b;
        return exp2<One>(y == 0.0 ? 0.0 : y * lb, 0.0);
    }
    const std::uint64_t b_zero = less(ib, 1);
    const std::uint64_t y_zero = less(bits(y) & abs_mask, 1);
    const double lb = blend(mask(b_zero), -std::numeric_limits<double>::infinity(), log2_b);
    return exp2(blend(mask(y_zero), 0.0, y * lb), 0.0);
}

}  // namespace tml::fast
