// Numbers as the Python reference sees them: int steps that stay exact until they meet
// a float, exact comparisons of float steps with integers, and Python's float repr for
// error messages. No Python here.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

namespace tml {

// Cycle lengths of cosine_restarts grow as N * m**i and can pass 2**64 before the cycle
// holding a step is found; 128-bit integers hold every length that matters (< 2**117).
#if defined(__SIZEOF_INT128__)
__extension__ typedef unsigned __int128 uint128;
#else
#error "tml needs 128-bit integers (GCC or Clang)"
#endif

// Integer config fields (lengths, milestones, boundaries) must be exact in float64 so
// that a fractional step compares with them exactly; 2**53 is far beyond any run.
inline constexpr std::int64_t max_config_int = std::int64_t{1} << 53;
inline constexpr std::int64_t max_step = std::numeric_limits<std::int64_t>::max();
inline constexpr double two_63 = 0x1p63;         // the first double above every int64 step
inline constexpr double pi = 3.141592653589793;  // Python's math.pi, the double nearest to pi

// An integer config field (|value| <= 2**53) kept both as an integer (compared with
// integer steps) and as the double it converts to exactly (compared with float steps,
// used where the reference multiplies).
struct Count {
    std::int64_t i = 0;
    double d = 0.0;
    Count() = default;
    explicit Count(std::int64_t v) : i(v), d(static_cast<double>(v)) {}
};

// A step as the double the reference multiplies by: an int step is rounded once to
// nearest, as Python's int-to-float conversion (and static_cast) does. Written as two
// exact halves and one rounding add, which vectorises on any x86-64 (the int64-to-double
// instruction needs AVX-512DQ); for a branchy formula that does not vectorise anyway the
// single conversion instruction is as good. For non-negative integers: the high 32 bits
// go into 2**84's significand and the low 32 into 2**52's, so (2**84 + hi * 2**32) -
// (2**84 + 2**52) is exact and adding 2**52 + lo rounds s once.
inline double as_double(std::int64_t s) {
    const auto u = static_cast<std::uint64_t>(s);
    const auto from_bits = [](std::uint64_t b) {
        double d;
        std::memcpy(&d, &b, sizeof d);
        return d;
    };
    const double hi = from_bits((u >> 32) | 0x4530000000000000u);
    const double lo = from_bits((u & 0xffffffffu) | 0x4330000000000000u);
    return (hi - 0x1.00000001p84) + lo;
}
inline double as_double(double s) { return s; }

// Step comparisons with integer fields, exact as Python's int/float comparisons are.
// For Count fields (|n| <= 2**53) the double compare is exact. For larger integers (sums
// of fields, cycle starts) a float step t >= 0 compares through floor(t): for an integer
// n, t < n exactly when floor(t) < n.
inline bool before(std::int64_t s, const Count& c) { return s < c.i; }
inline bool before(double s, const Count& c) { return s < c.d; }
inline bool not_after(std::int64_t s, const Count& c) { return s <= c.i; }
inline bool not_after(double s, const Count& c) { return s <= c.d; }

inline bool before_int(std::int64_t s, std::int64_t n) { return s < n; }
inline bool before_int(double t, std::int64_t n) {  // t finite and >= 0
    if (t >= two_63) return false;
    return static_cast<std::int64_t>(t) < n;
}

// A float step's position from an integer start at or below it (a cycle's or a stage's
// start): the exact difference, rounded once. Below 2**53 this is Python's `t - start`
// bit for bit (the difference is exact there); above, Python would round `start` first,
// which can put the step outside its own cycle. t is finite, >= start and < 2**63.
inline double position(double t, std::int64_t start) {
    if (t < 0x1p53) return t - static_cast<double>(start);
    return static_cast<double>(static_cast<std::int64_t>(t) - start);  // t is an integer
}

// The integer part of a float step below 2**63, as Python's math.floor gives it.
inline std::int64_t floor_step(double t) { return static_cast<std::int64_t>(t); }
inline std::int64_t floor_step(std::int64_t s) { return s; }

// `step - n` as the reference computes it: an exact integer for int steps (rounded once
// to double where it meets a float), float minus float(n) for float steps.
inline double since(std::int64_t s, const Count& c) { return static_cast<double>(s - c.i); }
inline double since(double s, const Count& c) { return s - c.d; }

// Python's repr of a float: the shortest text that reads back as `v`, in Python's
// layout (0.1, 100.0, 1e-05, 1e+16, inf, nan), so messages show values as users wrote them.
inline std::string repr(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (v == 0.0) return std::signbit(v) ? "-0.0" : "0.0";
    char buf[40];
    int digits = 1;
    for (; digits <= 17; ++digits) {
        std::snprintf(buf, sizeof buf, "%.*e", digits - 1, v);
        if (std::strtod(buf, nullptr) == v) break;
    }
    // buf is "[-]d.ddde[+-]xx": split into sign, digit string and decimal exponent.
    std::string text(buf);
    const bool negative = text[0] == '-';
    if (negative) text.erase(0, 1);
    const auto e = text.find('e');
    const int exponent = std::atoi(text.c_str() + e + 1);
    std::string mantissa = text.substr(0, e);
    if (mantissa.size() > 1) mantissa.erase(1, 1);  // drop the '.'
    std::string out;
    if (exponent < -4 || exponent >= 16) {
        out = mantissa.substr(0, 1);
        if (mantissa.size() > 1) out += "." + mantissa.substr(1);
        char exp_text[16];
        std::snprintf(exp_text, sizeof exp_text, "e%c%02d", exponent < 0 ? '-' : '+',
                      exponent < 0 ? -exponent : exponent);
        out += exp_text;
    } else if (exponent < 0) {
        out = "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + mantissa;
    } else {
        const auto point = static_cast<std::size_t>(exponent) + 1;
        if (mantissa.size() <= point) {
            out = mantissa + std::string(point - mantissa.size(), '0') + ".0";
        } else {
            out = mantissa.substr(0, point) + "." + mantissa.substr(point);
        }
    }
    return negative ? "-" + out : out;
}
inline std::string repr(std::int64_t v) { return std::to_string(v); }
inline std::string repr(std::uint64_t v) { return std::to_string(v); }
inline std::string repr(bool v) { return v ? "True" : "False"; }

}  // namespace tml
