// Accuracy, determinism and speed of the fast-mode kernels (csrc/tml/fast_math.hpp)
// run through the dispatcher (csrc/tml/dispatch.hpp). A standalone program, no Python:
//
//   g++ -O3 -std=c++17 -ffp-contract=off -Icsrc bench/fast_math_check.cpp -o /tmp/fmc
//   /tmp/fmc            # full: 1e7 random arguments per function, ~1 min on a quiet core
//   /tmp/fmc --quick    # < 3 s; what a test script calls; exit status 1 if a check fails
//
// The flags are the package's Release build: baseline x86-64, no -march, no -ffast-math,
// no FMA contraction (the kernels' fma() calls are their only fused multiply-adds); the
// wider instruction sets, with FMA, come from the dispatcher, as they do in the package. -O3
// because GCC 12 at -O2 vectorises none of these loops (its "very cheap" cost model refuses a loop
// that needs an epilogue); Clang vectorises at -O2 too. clang++ builds it the same way and gives
// the same results (compare the checksums). Add -fopt-info-vec-optimized to see each level's loops
// "vectorized using 16/32/64 byte vectors".
//
// What it checks, printing one table per part, and exiting 1 if anything fails:
// 1. Special values: exact results derived by hand (exp2 of integers, log2 of powers
//    of 2, pow's 0 and 1 cases, the underflow and overflow edges).
// 2. Accuracy: the max error in ulps of every kernel over dense sweeps of the hard
//    regions and random arguments, against the x87 long double libm (a 64-bit
//    significand, so a reference ~2**11 times sharper than double: errors come out in
//    fractions of an ulp) and against glibc's double libm, the exact path's functions
//    (whole ulps between the two doubles). Each domain has the bound documented in
//    fast_math.hpp; a larger error fails.
// 3. Determinism: every argument of part 2 evaluated at each instruction-set level this
//    CPU has (baseline SSE2, where fma() is the C library's, AVX2, AVX-512), and one
//    value at a time as compiled for the baseline (exp2, pow_unit and pow_from_log2 in
//    their one-value forms, <One>, branches where the loops blend), must give bitwise the
//    same doubles.
// 4. Speed: ns per element of a 1e7-element loop (5e5 with --quick) computing the
//    argument from the index as a schedule does and storing the result: the libm loop,
//    the fast kernel at each level, and the "fill floor", a loop storing a constant (the
//    cost of writing the output at all; here into an already touched buffer, so page
//    faults are not in any figure). Minimum over repetitions. Speed never fails.
// 5. Two schedule kinds written as fast mode will write them (linear_ramp_to_cosine, and
//    polynomial_decay with pow_unit): the fast mode's error budget, 4 ulp of max(learning_rate,
//    final_learning_rate), against the exact formula over random configurations, and
//    ns per step against the exact loop and the fill floor.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tml/dispatch.hpp"
#include "tml/fast_math.hpp"

namespace {

namespace fast = tml::fast;
using tml::dispatch::Isa;
using Clock = std::chrono::steady_clock;

constexpr double pi = 3.141592653589793;  // Python's math.pi
constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double nan = std::numeric_limits<double>::quiet_NaN();

bool g_failed = false;

// ---------------------------------------------------------------------------------------
// Error measures.

// The spacing of doubles at the exact value `ref` (the ulp the bounds are stated in);
// 2**-1074 for subnormal and zero results.
long double ulp_at(long double ref) {
    const long double a = std::fabs(ref);
    if (a < 0x1p-1022L) return 0x1p-1074L;
    int e;
    std::frexp(a, &e);  // a = m * 2**e, m in [0.5, 1)
    return std::ldexp(1.0L, e - 53);
}

// |v - ref| in ulps of ref; 0 when both are the same infinity or both NaN.
double err_ulps(double v, long double ref) {
    if (std::isnan(v) || std::isnan(ref)) return std::isnan(v) && std::isnan(ref) ? 0.0 : inf;
    if (std::isinf(ref) || std::isinf(v)) return static_cast<long double>(v) == ref ? 0.0 : inf;
    return static_cast<double>(std::fabs(static_cast<long double>(v) - ref) / ulp_at(ref));
}

// How many doubles apart a and b are (0 when bitwise equal or both NaN).
double ulp_distance(double a, double b) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0.0 : inf;
    const auto ordered = [](double x) {  // monotonic map of doubles to integers
        std::int64_t i;
        std::memcpy(&i, &x, sizeof i);
        return i < 0 ? std::numeric_limits<std::int64_t>::min() - i : i;
    };
    const std::int64_t ia = ordered(a), ib = ordered(b);
    // Both within +-2**63 of 0 and of opposite signs only near 0: no overflow in practice.
    return static_cast<double>(
        ia > ib ? static_cast<std::uint64_t>(ia) - static_cast<std::uint64_t>(ib)
                : static_cast<std::uint64_t>(ib) - static_cast<std::uint64_t>(ia));
}

std::uint64_t bits(double x) {
    std::uint64_t u;
    std::memcpy(&u, &x, sizeof u);
    return u;
}

// ---------------------------------------------------------------------------------------
// Bulk evaluation through the dispatcher, as the package's batch loops will call the
// kernels: one counted loop, one store per element.

enum class Kernel { cos, exp2, log2, pow, pow_unit, pow_log2 };

const char* kernel_name(Kernel k) {
    switch (k) {
        case Kernel::cos:
            return "cos_0_pi";
        case Kernel::exp2:
            return "exp2";
        case Kernel::log2:
            return "log2";
        case Kernel::pow:
            return "pow_pos";
        case Kernel::pow_unit:
            return "pow_unit";
        default:
            return "pow_from_log2";
    }
}

// Arguments of one accuracy domain: a[i] (and b[i], c[i] for pow_from_log2's hi, lo).
struct Args {
    std::vector<double> a, b, c;
    void add(double x, double y = 0.0, double z = 0.0) {
        a.push_back(x);
        b.push_back(y);
        c.push_back(z);
    }
    std::size_t size() const { return a.size(); }
};

void evaluate(Kernel k, Isa isa, const Args& args, std::vector<double>& out) {
    const std::size_t n = args.size();
    out.assign(n, 0.0);
    const double* a = args.a.data();
    const double* b = args.b.data();
    const double* c = args.c.data();
    double* o = out.data();
    switch (k) {
        case Kernel::cos:
            tml::dispatch::run_at(isa, [=] {
                for (std::size_t i = 0; i < n; ++i) o[i] = fast::cos_0_pi(a[i]);
            });
            break;
        case Kernel::exp2:
            tml::dispatch::run_at(isa, [=] {
                for (std::size_t i = 0; i < n; ++i) o[i] = fast::exp2(a[i]);
            });
            break;
        case Kernel::log2:
            tml::dispatch::run_at(isa, [=] {
                for (std::size_t i = 0; i < n; ++i) o[i] = fast::log2(a[i]);
            });
            break;
        case Kernel::pow:
            tml::dispatch::run_at(isa, [=] {
                for (std::size_t i = 0; i < n; ++i) o[i] = fast::pow_pos(a[i], b[i]);
            });
            break;
        case Kernel::pow_unit:
            tml::dispatch::run_at(isa, [=] {
                for (std::size_t i = 0; i < n; ++i) o[i] = fast::pow_unit(a[i], b[i]);
            });
            break;
        case Kernel::pow_log2:
            tml::dispatch::run_at(isa, [=] {
                for (std::size_t i = 0; i < n; ++i)
                    o[i] = fast::pow_from_log2(fast::DoubleDouble{b[i], c[i]}, a[i]);
            });
            break;
    }
}

// The levels this CPU runs, baseline first.
std::vector<Isa> levels() {
    std::vector<Isa> out{Isa::baseline};
    if (static_cast<int>(tml::dispatch::best()) >= static_cast<int>(Isa::avx2))
        out.push_back(Isa::avx2);
    if (tml::dispatch::best() == Isa::avx512) out.push_back(Isa::avx512);
    return out;
}

// ---------------------------------------------------------------------------------------
// 1. Special values.

void check_special() {
    struct Case {
        std::string what;
        double got, want;
    };
    std::vector<Case> cases;
    std::size_t checked = 0;
    const auto add = [&](std::string what, double got, double want) {
        cases.push_back({std::move(what), got, want});
    };
    // exp2 of an integer k is 2**k exactly (r = 0, so the polynomial gives 1); below
    // -1074 the tie 2**-1075 rounds to even (0), beyond 1023 it overflows.
    for (int k = -1074; k <= 1023; ++k, ++checked) {
        const double want = std::ldexp(1.0, k);
        if (fast::exp2(k) != want) add("exp2(" + std::to_string(k) + ")", fast::exp2(k), want);
    }
    add("exp2(-1075)", fast::exp2(-1075.0), 0.0);
    add("exp2(-1100)", fast::exp2(-1100.0), 0.0);
    add("exp2(-1e300)", fast::exp2(-1e300), 0.0);
    add("exp2(-inf)", fast::exp2(-inf), 0.0);
    add("exp2(1024)", fast::exp2(1024.0), inf);
    add("exp2(inf)", fast::exp2(inf), inf);
    add("exp2(nan)", fast::exp2(nan), nan);
    add("exp2(-1074.5)", fast::exp2(-1074.5), 0x1p-1074);  // 2**-1074.5 rounds up to 2**-1074
    // log2 of a power of 2 is its exponent exactly (m = 1, f = 0), subnormals included.
    for (int k = -1074; k <= 1023; ++k, ++checked) {
        const double got = fast::log2(std::ldexp(1.0, k));
        if (got != k) add("log2(2**" + std::to_string(k) + ")", got, k);
    }
    add("log2(0)", fast::log2(0.0), -inf);
    add("log2(inf)", fast::log2(inf), inf);
    add("log2(-1)", fast::log2(-1.0), nan);
    add("log2(nan)", fast::log2(nan), nan);
    add("log2(max)", fast::log2(std::numeric_limits<double>::max()),
        1024.0);  // 1024 - 2**-53 rounds to 1024
    // pow: C's pow on the cases the schedules meet.
    add("pow_pos(0, 2.5)", fast::pow_pos(0.0, 2.5), 0.0);
    add("pow_pos(0, 0)", fast::pow_pos(0.0, 0.0), 1.0);
    add("pow_pos(0.3, 0)", fast::pow_pos(0.3, 0.0), 1.0);
    add("pow_pos(1, 1e19)", fast::pow_pos(1.0, 1e19), 1.0);
    add("pow_pos(0, -1)", fast::pow_pos(0.0, -1.0), inf);
    add("pow_pos(0.5, 3)", fast::pow_pos(0.5, 3.0), 0.125);
    add("pow_pos(2, 10)", fast::pow_pos(2.0, 10.0), 1024.0);
    add("pow_pos(0.5, 1074)", fast::pow_pos(0.5, 1074.0), 0x1p-1074);
    add("pow_pos(0.5, 1076)", fast::pow_pos(0.5, 1076.0), 0.0);
    add("pow_pos(2, 1024)", fast::pow_pos(2.0, 1024.0), inf);
    add("pow_pos(0.99, 1e19)", fast::pow_pos(0.99, 1e19), 0.0);
    add("pow_pos(1.01, 1e19)", fast::pow_pos(1.01, 1e19), inf);
    add("pow_pos(0.99, 1e300)", fast::pow_pos(0.99, 1e300), 0.0);
    add("pow_pos(nan, 2)", fast::pow_pos(nan, 2.0), nan);
    add("pow_unit(0, 2.5)", fast::pow_unit(0.0, 2.5), 0.0);
    add("pow_unit(0, 0)", fast::pow_unit(0.0, 0.0), 1.0);
    add("pow_unit(0.3, 0)", fast::pow_unit(0.3, 0.0), 1.0);
    add("pow_unit(1, 1e19)", fast::pow_unit(1.0, 1e19), 1.0);
    add("pow_unit(0.5, 3)", fast::pow_unit(0.5, 3.0), 0.125);
    add("pow_unit(0.5, 1076)", fast::pow_unit(0.5, 1076.0), 0.0);
    add("pow_from_log2(log2(0.5), 2)", fast::pow_from_log2(fast::log2_precise(0.5), 2.0), 0.25);
    add("pow_from_log2(log2(0), 1)", fast::pow_from_log2(fast::log2_precise(0.0), 1.0), 0.0);
    // The choice helpers: masks are all ones or zero; select picks bitwise.
    const auto as_num = [](fast::Mask m) { return m == ~fast::Mask{0} ? 1.0 : m == 0 ? 0.0 : nan; };
    add("less_mask(1, 2)", as_num(fast::less_mask(std::int64_t{1}, std::int64_t{2})), 1.0);
    add("less_mask(2, 2)", as_num(fast::less_mask(std::int64_t{2}, std::int64_t{2})), 0.0);
    add("less_mask(2**62, -2**53)",
        as_num(fast::less_mask(std::int64_t{1} << 62, -(std::int64_t{1} << 53))), 0.0);
    add("less_mask(0.5, 1.5)", as_num(fast::less_mask(0.5, 1.5)), 1.0);
    add("less_mask(1.5, 1.5)", as_num(fast::less_mask(1.5, 1.5)), 0.0);
    add("less_mask(-0.0, 0.0)", as_num(fast::less_mask(-0.0, 0.0)), 0.0);
    add("less_mask(-1e-300, 0.0)", as_num(fast::less_mask(-1e-300, 0.0)), 1.0);
    add("less_mask(inf, 1e308)", as_num(fast::less_mask(inf, 1e308)), 0.0);
    add("select(all ones, -0.0, 1)", fast::select(~fast::Mask{0}, -0.0, 1.0), -0.0);
    add("select(0, 1, nan)", fast::select(0, 1.0, nan), nan);
    // cos: the ends and the zero crossing's sign (cos of the double nearest pi/2 is
    // 6.1e-17, positive).
    add("cos_0_pi(0)", fast::cos_0_pi(0.0), 1.0);
    add("cos_0_pi(pi)", fast::cos_0_pi(pi), -1.0);
    add("cos_0_pi(pi/2)", fast::cos_0_pi(pi / 2), std::cos(pi / 2));
    add("cos_0_pi(nan)", fast::cos_0_pi(nan), nan);

    std::size_t bad = 0;
    for (const Case& c : cases) {
        ++checked;
        const bool ok = bits(c.got) == bits(c.want) || (std::isnan(c.got) && std::isnan(c.want));
        if (!ok) {
            std::printf("  FAIL %-32s got %a, want %a\n", c.what.c_str(), c.got, c.want);
            ++bad;
        }
    }
    std::printf("special values: %zu checked against hand-derived values: %s\n\n", checked,
                bad ? "FAILED" : "all exact");
    if (bad) g_failed = true;
}

// ---------------------------------------------------------------------------------------
// 2. and 3. Accuracy and determinism.

struct Domain {
    Kernel kernel;
    std::string name;   // what the arguments are
    double bound;       // max error vs the reference, in ulps (of the result, or see abs_of_1)
    bool abs_of_1;      // error in ulps of 1.0 (2**-52) instead of ulps of the result
    double min_result;  // results smaller in magnitude are not counted; 0: all are
    Args args;
    std::function<long double(std::size_t)> ref;  // high-precision value at i
    std::function<double(std::size_t)> libm;      // glibc's double value at i
};

struct Result {
    double max_err = 0;
    double arg_of_max = 0;
    double max_libm = 0;
    std::size_t counted = 0;
    bool deterministic = true;
    std::uint64_t checksum = 0xcbf29ce484222325u;  // FNV-1a of every result's bits
};

Result measure(Domain& d, const std::vector<Isa>& isas) {
    Result r;
    std::vector<double> out, other;
    evaluate(d.kernel, isas.front(), d.args, out);
    for (std::size_t j = 1; j < isas.size(); ++j) {
        evaluate(d.kernel, isas[j], d.args, other);
        if (std::memcmp(out.data(), other.data(), out.size() * sizeof(double)) != 0) {
            r.deterministic = false;
        }
    }
    // And the one-value forms, as scalar calls make them, compiled here for the baseline:
    // fma() is the C library's there, which must round as the instruction does. (cos_0_pi
    // has one form, the same code as the loops'.)
    for (std::size_t i = 0; i < d.args.size(); ++i) {
        const double a = d.args.a[i], b = d.args.b[i], c = d.args.c[i];
        double one = out[i];
        switch (d.kernel) {
            case Kernel::cos:
                one = fast::cos_0_pi(a);
                break;
            case Kernel::exp2:
                one = fast::exp2<fast::One>(a);
                break;
            case Kernel::pow_unit:
                one = fast::pow_unit<fast::One>(a, b);
                break;
            case Kernel::pow_log2:
                one = fast::pow_from_log2<fast::One>(fast::DoubleDouble{b, c}, a);
                break;
            default:
                break;
        }
        if (bits(one) != bits(out[i])) r.deterministic = false;
    }
    for (std::size_t i = 0; i < d.args.size(); ++i) {
        r.checksum = (r.checksum ^ bits(out[i])) * 0x100000001b3u;
        const long double ref = d.ref(i);
        if (std::fabs(ref) < d.min_result) continue;
        ++r.counted;
        double e;
        if (d.abs_of_1) {
            e = static_cast<double>(std::fabs(static_cast<long double>(out[i]) - ref) / 0x1p-52L);
            if (std::isnan(e)) e = std::isnan(out[i]) && std::isnan(ref) ? 0.0 : inf;
        } else {
            e = err_ulps(out[i], ref);
        }
        if (e > r.max_err) {
            r.max_err = e;
            r.arg_of_max = d.args.a[i];
        }
        r.max_libm = std::max(r.max_libm, d.abs_of_1 ? std::fabs(out[i] - d.libm(i)) / 0x1p-52
                                                     : ulp_distance(out[i], d.libm(i)));
    }
    return r;
}

// Evenly spaced doubles and runs of consecutive doubles: the sweeps.
void sweep(Args& args, double lo, double hi, std::size_t n) {
    for (std::size_t i = 0; i <= n; ++i)
        args.add(lo + (hi - lo) * (static_cast<double>(i) / static_cast<double>(n)));
}
void around(Args& args, double x, std::size_t n) {  // n doubles each side of x
    double up = x, down = x;
    args.add(x);
    for (std::size_t i = 0; i < n; ++i) {
        up = std::nextafter(up, inf);
        down = std::nextafter(down, -inf);
        args.add(up);
        args.add(down);
    }
}

Domain make_domain(Kernel k, const char* name, double bound, bool abs_of_1 = false,
                   double min_result = 0.0) {
    Domain d;
    d.kernel = k;
    d.name = name;
    d.bound = bound;
    d.abs_of_1 = abs_of_1;
    d.min_result = min_result;
    return d;
}

// The domains and their bounds, as documented in fast_math.hpp. One random draw per
// statement, so that every compiler makes the same arguments.
std::vector<Domain> domains(std::size_t n_random, std::size_t n_sweep) {
    std::mt19937_64 rng(20261129);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const auto uniform = [&](double lo, double hi) { return lo + (hi - lo) * unit(rng); };
    const std::size_t n_run = n_sweep / 20;  // consecutive doubles around a hard point
    std::vector<Domain> ds;

    // cos_0_pi: the schedules' own arguments pi * (i / N), every double near the zero
    // crossing at pi/2, near both ends and pi/4 (where pi/2 - x stops being exact), random
    // x, and the largest error a denser search (2.6e7 points) found, 1.1106 ulp.
    {
        Domain d =
            make_domain(Kernel::cos, "x in [0, pi]: pi*i/N, near 0, pi/4, pi/2, 3pi/4, pi", 2.0);
        around(d.args, 3.1415215226897932, 16);
        for (std::size_t i = 0; i <= n_sweep; ++i)
            d.args.add(pi * (static_cast<double>(i) / static_cast<double>(n_sweep)));
        around(d.args, pi / 2, n_run);
        around(d.args, 0.0, n_run);
        around(d.args, pi, n_run);
        around(d.args, pi / 4, n_run);
        around(d.args, 3 * pi / 4, n_run);
        for (std::size_t i = 0; i < n_random; ++i) d.args.add(uniform(0.0, pi));
        ds.push_back(std::move(d));
    }
    // exp2: normal results over the whole range, near integers and half-integers.
    {
        Domain d =
            make_domain(Kernel::exp2, "x in [-1022, 1024): normal results", 2.0, false, 0x1p-1022);
        sweep(d.args, -1022.0, 1023.999, n_sweep);
        around(d.args, 0.5, n_run);
        around(d.args, -0.5, n_run);
        around(d.args, 0.0, n_run);
        around(d.args, 1023.0, n_run);
        for (std::size_t i = 0; i < n_random; ++i) d.args.add(uniform(-1022.0, 1024.0));
        for (std::size_t i = 0; i < n_random / 4; ++i) d.args.add(uniform(-60.0, 0.0));
        ds.push_back(std::move(d));
    }
    {
        Domain d = make_domain(Kernel::exp2, "x in [-1080, -1022): subnormal results", 1.0);
        sweep(d.args, -1080.0, -1022.0, n_sweep / 10);
        for (std::size_t i = 0; i < n_random / 10; ++i) d.args.add(uniform(-1080.0, -1022.0));
        ds.push_back(std::move(d));
    }
    // log2: near 1 (result -> 0), across binades, subnormals.
    {
        Domain d = make_domain(Kernel::log2, "x > 0: near 1, all binades, subnormal", 2.0);
        around(d.args, 1.0, 2 * n_run);
        sweep(d.args, 0.5, 2.0, n_sweep);
        for (std::size_t i = 0; i < n_random; ++i) d.args.add(std::exp2(uniform(-1022.0, 1024.0)));
        for (std::size_t i = 0; i < n_random / 10; ++i) d.args.add(uniform(0.0, 0x1p-1022));
        ds.push_back(std::move(d));
    }
    // pow_pos on polynomial decay, (1 - t/N) ** p: relative error on results down to
    // 2**-8, absolute error (in ulps of 1) on all results with any power.
    {
        Domain d = make_domain(Kernel::pow, "(1 - t/N)**p, p in (0, 8]: results in [2**-8, 1]", 2.0,
                               false, 0x1p-8);
        for (std::size_t i = 0; i < n_random; ++i) {
            const double big_n = std::floor(std::exp2(uniform(1.0, 40.0)));
            const double t = std::floor(uniform(0.0, big_n));
            const double p = i % 4 == 0 ? std::floor(uniform(1.0, 4.0)) : uniform(0.0, 8.0);
            d.args.add(1.0 - t / big_n, p);
        }
        ds.push_back(std::move(d));
    }
    {
        Domain d = make_domain(Kernel::pow, "b in [0, 1], y in (0, 1e4]: all results, abs error",
                               1.0, true);
        for (std::size_t i = 0; i < n_random; ++i) {
            const double base = unit(rng);
            d.args.add(base, std::exp2(uniform(-20.0, 13.3)));
        }
        ds.push_back(std::move(d));
    }
    {
        Domain d = make_domain(Kernel::pow_unit,
                               "b in [0, 1], y in [0, 1e4]: all results, abs error", 2.0, true);
        for (std::size_t i = 0; i < n_random; ++i) {
            const double base = i % 2 ? unit(rng) : 1.0 - std::floor(unit(rng) * 1e6) / 1e6;
            const double y =
                i % 3 == 0 ? std::floor(1.0 + 3.0 * unit(rng)) : std::exp2(uniform(-20.0, 13.3));
            d.args.add(base, y);
        }
        ds.push_back(std::move(d));
    }
    // The constant-base uses with log2(b) from log2_precise: r ** k (k to 1e19, r < 1, and
    // r > 1 up to results of 2**64), gamma ** t, d ** i.
    {
        Domain d =
            make_domain(Kernel::pow_log2, "r**k, gamma**t, d**i (log2_precise): normal results",
                        2.0, false, 0x1p-1022);
        for (std::size_t i = 0; i < n_random; ++i) {
            double base, y;
            switch (i % 4) {
                case 0:  // exponential decay r < 1, k = t / D up to 1e19
                    base = uniform(0.01, 1.0);
                    y = std::exp2(uniform(-10.0, 63.0));
                    break;
                case 1:  // exponential growth r > 1, to results of at most 2**64
                    base = uniform(1.0, 4.0);
                    y = uniform(0.0, 64.0 / std::log2(base));
                    break;
                case 2:  // gamma ** t, gamma near 1, t up to 1e9
                    base = 1.0 - std::exp2(uniform(-30.0, -3.0));
                    y = std::floor(std::exp2(uniform(0.0, 30.0)));
                    break;
                default:  // d ** i, multistep gamma ** k: small integer exponents
                    base = uniform(0.05, 10.0);
                    y = std::floor(uniform(0.0, 20.0));
                    break;
            }
            const fast::DoubleDouble l = fast::log2_precise(base);
            d.args.add(y, l.hi, l.lo);
        }
        ds.push_back(std::move(d));
    }

    // References: x87 long double libm (64-bit significand) and glibc's double libm.
    for (Domain& d : ds) {
        const double* a = d.args.a.data();
        const double* b = d.args.b.data();
        const double* c = d.args.c.data();
        switch (d.kernel) {
            case Kernel::cos:
                d.ref = [a](std::size_t i) { return std::cos(static_cast<long double>(a[i])); };
                d.libm = [a](std::size_t i) { return std::cos(a[i]); };
                break;
            case Kernel::exp2:
                d.ref = [a](std::size_t i) { return std::exp2(static_cast<long double>(a[i])); };
                d.libm = [a](std::size_t i) { return std::exp2(a[i]); };
                break;
            case Kernel::log2:
                d.ref = [a](std::size_t i) { return std::log2(static_cast<long double>(a[i])); };
                d.libm = [a](std::size_t i) { return std::log2(a[i]); };
                break;
            case Kernel::pow:
            case Kernel::pow_unit:
                d.ref = [a, b](std::size_t i) {
                    return std::pow(static_cast<long double>(a[i]), static_cast<long double>(b[i]));
                };
                d.libm = [a, b](std::size_t i) { return std::pow(a[i], b[i]); };
                break;
            case Kernel::pow_log2:
                // The exact value of 2**(y * (hi + lo)) is not what the schedule means;
                // it means base**y. The base is recovered from hi + lo in long double
                // (exp2 of log2 round trip: relative 2**-63), good to well below an ulp
                // of the double result.
                d.ref = [a, b, c](std::size_t i) {
                    const long double l = static_cast<long double>(b[i]) + c[i];
                    return std::exp2(static_cast<long double>(a[i]) * l);
                };
                d.libm = [a, b, c](std::size_t i) {
                    const long double l = static_cast<long double>(b[i]) + c[i];
                    return std::pow(static_cast<double>(std::exp2(l)), a[i]);
                };
                break;
        }
    }
    return ds;
}

void check_accuracy(bool quick) {
    const std::size_t n_random = quick ? 100000 : 10000000;
    const std::size_t n_sweep = quick ? 100000 : 10000000;
    const std::vector<Isa> isas = levels();
    std::vector<Domain> ds = domains(n_random, n_sweep);

    std::printf(
        "accuracy: max error vs x87 long double libm (ulps of the result unless noted),\n"
        "and vs glibc double libm (ulps apart); results at");
    for (Isa isa : isas) std::printf(" %s", tml::dispatch::isa_name(isa));
    std::printf(" compared bitwise\n\n");
    std::printf("%-14s %-56s %9s %10s %9s %5s %7s %16s %s\n", "kernel", "domain", "samples",
                "max err", "vs glibc", "bound", "levels", "checksum", "result");
    std::printf("%s\n", std::string(128, '-').c_str());
    for (Domain& d : ds) {
        const Result r = measure(d, isas);
        const bool ok = r.max_err <= d.bound && r.deterministic;
        if (!ok) g_failed = true;
        char err[32], glibc[32];
        std::snprintf(err, sizeof err, "%.3f%s", r.max_err, d.abs_of_1 ? " (1)" : "");
        std::snprintf(glibc, sizeof glibc, d.abs_of_1 ? "%.3f" : "%.0f", r.max_libm);
        std::printf("%-14s %-56s %9zu %10s %9s %5.1f %7s %016" PRIx64 " %s\n",
                    kernel_name(d.kernel), d.name.c_str(), r.counted, err, glibc, d.bound,
                    r.deterministic ? "equal" : "DIFFER", r.checksum, ok ? "PASS" : "FAIL");
        if (!ok) std::printf("    worst argument %a\n", r.arg_of_max);
    }
    std::printf(
        "(1) absolute error in ulps of 1.0 (2**-52): what a result <= 1 multiplied by a rate "
        "costs\nlevels: results bitwise equal at every level; checksum: FNV-1a of the results' "
        "bits, to compare builds and machines\n\n");
}

// ---------------------------------------------------------------------------------------
// 4. Speed.

// A step as a double, exactly, with two 32-bit halves (schedule.hpp's as_double): this
// vectorises on SSE2 and AVX2, which cannot convert an int64 to double.
TML_FAST_INLINE double as_double(std::uint64_t u) {
    const auto exact = [](std::uint64_t below_2_52) {
        double d;
        const std::uint64_t b = below_2_52 | 0x4330000000000000u;
        std::memcpy(&d, &b, sizeof d);
        return d - 0x1p52;
    };
    return exact(u >> 32) * 0x1p32 + exact(u & 0xffffffffu);
}

template <class F>
double time_ns(std::size_t n, int reps, const F& f) {
    double best = inf;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = Clock::now();
        f();
        const auto t1 = Clock::now();
        best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count());
    }
    return best / static_cast<double>(n);
}

volatile double g_sink;

void check_speed(bool quick) {
    const std::size_t n = quick ? 500000 : 10000000;
    const int reps = quick ? 3 : 7;
    std::vector<double> buffer(n, 0.0);  // touched: page faults stay out of the figures
    double* o = buffer.data();
    const double inv_n = 1.0 / static_cast<double>(n);
    const double cos_scale = pi * inv_n;
    const double p = 2.5;
    const double gamma = 0.999999;
    const fast::DoubleDouble log2_gamma = fast::log2_precise(gamma);
    const std::vector<Isa> isas = levels();

    const double fill = time_ns(n, reps, [&] {
        tml::dispatch::run_at(Isa::baseline, [=] {
            for (std::size_t i = 0; i < n; ++i) o[i] = 0.5;
        });
    });

    struct Row {
        const char* name;
        const char* argument;
        double libm;
        std::vector<double> fast;
    };
    std::vector<Row> rows;
    const auto run_fast = [&](auto body) {
        std::vector<double> ns;
        for (Isa isa : isas)
            ns.push_back(time_ns(n, reps, [&] { tml::dispatch::run_at(isa, body); }));
        return ns;
    };

    rows.push_back({"cos_0_pi", "pi * i / n",
                    time_ns(n, reps,
                            [&] {
                                for (std::size_t i = 0; i < n; ++i)
                                    o[i] = std::cos(cos_scale * as_double(i));
                            }),
                    run_fast([=] {
                        for (std::size_t i = 0; i < n; ++i)
                            o[i] = fast::cos_0_pi(cos_scale * as_double(i));
                    })});
    rows.push_back({"exp2", "-64 * i / n",
                    time_ns(n, reps,
                            [&] {
                                for (std::size_t i = 0; i < n; ++i)
                                    o[i] = std::exp2(-64.0 * inv_n * as_double(i));
                            }),
                    run_fast([=] {
                        for (std::size_t i = 0; i < n; ++i)
                            o[i] = fast::exp2(-64.0 * inv_n * as_double(i));
                    })});
    rows.push_back({"log2", "1 - i / n",
                    time_ns(n, reps,
                            [&] {
                                for (std::size_t i = 0; i < n; ++i)
                                    o[i] = std::log2(1.0 - as_double(i) * inv_n);
                            }),
                    run_fast([=] {
                        for (std::size_t i = 0; i < n; ++i)
                            o[i] = fast::log2(1.0 - as_double(i) * inv_n);
                    })});
    rows.push_back({"pow_pos", "(1 - i / n) ** 2.5",
                    time_ns(n, reps,
                            [&] {
                                for (std::size_t i = 0; i < n; ++i)
                                    o[i] = std::pow(1.0 - as_double(i) * inv_n, p);
                            }),
                    run_fast([=] {
                        for (std::size_t i = 0; i < n; ++i)
                            o[i] = fast::pow_pos(1.0 - as_double(i) * inv_n, p);
                    })});
    rows.push_back({"pow_unit", "(1 - i / n) ** 2.5",
                    time_ns(n, reps,
                            [&] {
                                for (std::size_t i = 0; i < n; ++i)
                                    o[i] = std::pow(1.0 - as_double(i) * inv_n, p);
                            }),
                    run_fast([=] {
                        for (std::size_t i = 0; i < n; ++i)
                            o[i] = fast::pow_unit(1.0 - as_double(i) * inv_n, p);
                    })});
    rows.push_back({"pow_from_log2", "0.999999 ** i",
                    time_ns(n, reps,
                            [&] {
                                for (std::size_t i = 0; i < n; ++i)
                                    o[i] = std::pow(gamma, as_double(i));
                            }),
                    run_fast([=] {
                        for (std::size_t i = 0; i < n; ++i)
                            o[i] = fast::pow_from_log2(log2_gamma, as_double(i));
                    })});
    g_sink = o[n / 3];

    std::printf(
        "speed: ns per element, %zu elements, one thread, min of %d runs; fill floor "
        "(store 0.5) %.3f ns\n\n",
        n, reps, fill);
    std::printf("%-14s %-20s %8s", "kernel", "argument", "libm");
    for (Isa isa : isas) std::printf(" %9s", tml::dispatch::isa_name(isa));
    for (Isa isa : isas)
        std::printf(" %13s", (std::string("libm/") + tml::dispatch::isa_name(isa)).c_str());
    std::printf(" %14s\n", "best/fill");
    std::printf("%s\n", std::string(44 + 10 * isas.size() + 14 * isas.size() + 15, '-').c_str());
    for (const Row& r : rows) {
        std::printf("%-14s %-20s %8.3f", r.name, r.argument, r.libm);
        for (double v : r.fast) std::printf(" %9.3f", v);
        for (double v : r.fast) std::printf(" %12.1fx", r.libm / v);
        std::printf(" %13.2fx\n", *std::min_element(r.fast.begin(), r.fast.end()) / fill);
    }
    std::printf("\n");
}

// ---------------------------------------------------------------------------------------
// 5. Two schedule kinds written the way fast mode will write them, against their exact
//    formulas (operation for operation as csrc/tml/schedule.hpp and the README's kinds): the fast
//    mode's budget is |fast - exact| <= 4 ulp of max(learning_rate, final_learning_rate).

// linear_ramp_to_cosine. Exact: slope * s; F + half * (1 + cos((pi * (s - R)) / span)); F.
struct Cosine {
    double L, F;
    std::int64_t R, T;
    double slope, half, span, r;
    Cosine(double l, double f, std::int64_t r_steps, std::int64_t t_steps)
        : L(l),
          F(f),
          R(r_steps),
          T(t_steps),
          slope(l / static_cast<double>(r_steps)),
          half((l - f) * 0.5),
          span(static_cast<double>(t_steps - r_steps)),
          r(static_cast<double>(r_steps)) {}
    double exact(std::int64_t s) const {
        if (s < R) return slope * static_cast<double>(s);
        if (s <= T) return F + half * (1.0 + std::cos((pi * static_cast<double>(s - R)) / span));
        return F;
    }
    // Every phase for every step, then a choice by masks; the cos argument is the exact
    // path's own (a divide, not a multiply by pi / span, which would move x by an ulp).
    void fast_fill(Isa isa, const std::int64_t* steps, std::size_t n, double* out) const {
        const Cosine k = *this;
        tml::dispatch::run_at(isa, [=] {
            for (std::size_t i = 0; i < n; ++i) {
                const std::int64_t s = steps[i];
                const double t = as_double(static_cast<std::uint64_t>(s));
                const double ramp = k.slope * t;
                // t - R is the exact path's double(s - R) wherever the cosine phase is
                // chosen (both exact below 2**53). In the ramp phase x < 0: cos_0_pi gives
                // a value there that the choice discards (never clamp x with a ternary:
                // see fast_math.hpp).
                const double x = (pi * (t - k.r)) / k.span;
                const double cosine = k.F + k.half * (1.0 + fast::cos_0_pi(x));
                out[i] = fast::select(fast::less_mask(s, k.R), ramp,
                                      fast::select(fast::less_mask(k.T, s), k.F, cosine));
            }
        });
    }
};

// polynomial_decay. Exact: s < N: (L - F) * (1.0 - t / N) ** p + F; else F.
struct Polynomial {
    double L, F, p;
    std::int64_t N;
    double range, nd;
    Polynomial(double l, double f, double pw, std::int64_t n)
        : L(l), F(f), p(pw), N(n), range(l - f), nd(static_cast<double>(n)) {}
    double exact(std::int64_t s) const {
        if (s < N) return range * std::pow(1.0 - static_cast<double>(s) / nd, p) + F;
        return F;
    }
    void fast_fill(Isa isa, const std::int64_t* steps, std::size_t n, double* out) const {
        const Polynomial k = *this;
        tml::dispatch::run_at(isa, [=] {
            for (std::size_t i = 0; i < n; ++i) {
                const std::int64_t s = steps[i];
                const double t = as_double(static_cast<std::uint64_t>(s));
                const double decay = k.range * fast::pow_unit(1.0 - t / k.nd, k.p) + k.F;
                out[i] = fast::select(fast::less_mask(s, k.N), decay, k.F);
            }
        });
    }
};

// ulps of the schedule's scale max(L, F).
double scale_ulps(double a, double b, double scale) {
    return std::fabs(a - b) / static_cast<double>(ulp_at(scale));
}

void check_kinds(bool quick) {
    const std::size_t n = quick ? 300000 : 10000000;
    const int reps = quick ? 3 : 7;
    const std::vector<Isa> isas = levels();
    std::vector<std::int64_t> steps(n);
    for (std::size_t i = 0; i < n; ++i) steps[i] = static_cast<std::int64_t>(i);
    std::vector<double> exact(n), got(n), other(n);
    const auto ni = static_cast<std::int64_t>(n);

    // Accuracy over random configurations (rates across binades, the largest just below a
    // power of 2, where an ulp of it is smallest relative to it); speed on the first.
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const int configs = quick ? 3 : 12;
    double worst_cos = 0, worst_poly = 0;
    bool same = true;
    for (int c = 0; c < configs; ++c) {
        const double lr = c == 0 ? 1.999e-3 : std::exp2(-20.0 * unit(rng));
        const double fr = c % 3 == 2 ? lr * 2.5 : lr * unit(rng) * 0.1;  // also F > L
        const std::int64_t r =
            1 + static_cast<std::int64_t>(unit(rng) * 0.3 * static_cast<double>(ni));
        const std::int64_t t =
            r + 1 + static_cast<std::int64_t>(unit(rng) * static_cast<double>(ni));
        const double pw =
            c == 0 ? 2.5 : (c % 2 ? std::floor(1.0 + 3.0 * unit(rng)) : 8.0 * unit(rng));
        const Cosine ck(lr, fr, r, t);
        const Polynomial pk(lr, std::min(fr, lr), pw, t);
        const double scale = std::max(lr, fr);
        for (Isa isa : isas) {
            ck.fast_fill(isa, steps.data(), n, isa == Isa::baseline ? got.data() : other.data());
            if (isa != Isa::baseline && std::memcmp(got.data(), other.data(), n * 8) != 0)
                same = false;
        }
        for (std::size_t i = 0; i < n; ++i)
            worst_cos = std::max(worst_cos, scale_ulps(got[i], ck.exact(steps[i]), scale));
        for (Isa isa : isas) {
            pk.fast_fill(isa, steps.data(), n, isa == Isa::baseline ? got.data() : other.data());
            if (isa != Isa::baseline && std::memcmp(got.data(), other.data(), n * 8) != 0)
                same = false;
        }
        for (std::size_t i = 0; i < n; ++i)
            worst_poly = std::max(
                worst_poly, scale_ulps(got[i], pk.exact(steps[i]), std::max(lr, std::min(fr, lr))));
    }
    const bool ok = worst_cos <= 4.0 && worst_poly <= 4.0 && same;
    if (!ok) g_failed = true;

    // Speed: steps 0..n-1, R = n/10, T = 9n/10 (80% cos), as bench_kernel.py's cosine.
    const Cosine ck(1e-3, 1e-5, ni / 10, 9 * ni / 10);
    const Polynomial pk(1e-3, 1e-5, 2.5, ni);
    double* o = got.data();
    const double fill = time_ns(n, reps, [&] {
        tml::dispatch::run_at(Isa::baseline, [=] {
            for (std::size_t i = 0; i < n; ++i) o[i] = 0.5;
        });
    });
    const double cos_exact = time_ns(n, reps, [&] {
        for (std::size_t i = 0; i < n; ++i) o[i] = ck.exact(steps[i]);
    });
    const double poly_exact = time_ns(n, reps, [&] {
        for (std::size_t i = 0; i < n; ++i) o[i] = pk.exact(steps[i]);
    });
    std::printf(
        "kinds: a fast batch loop (mask and select) vs the exact formula, int64 steps; "
        "%d configs x %zu steps,\nall levels bitwise equal: %s; ns per step, %zu steps, "
        "one thread; fill floor %.3f ns\n\n",
        configs, n, same ? "yes" : "NO", n, fill);
    std::printf("%-24s %13s %6s %8s", "kind", "max err (2)", "bound", "exact");
    for (Isa isa : isas) std::printf(" %9s", tml::dispatch::isa_name(isa));
    std::printf(" %14s %10s\n", "exact/best", "best/fill");
    std::printf("%s\n", std::string(56 + 10 * isas.size() + 26, '-').c_str());
    const auto row = [&](const char* name, double err, double exact_ns, auto fill_fast) {
        std::vector<double> ns;
        for (Isa isa : isas) ns.push_back(time_ns(n, reps, [&] { fill_fast(isa); }));
        const double best = *std::min_element(ns.begin(), ns.end());
        std::printf("%-24s %13.3f %6.1f %8.3f", name, err, 4.0, exact_ns);
        for (double v : ns) std::printf(" %9.3f", v);
        std::printf(" %13.1fx %9.2fx\n", exact_ns / best, best / fill);
    };
    row("linear_ramp_to_cosine", worst_cos, cos_exact,
        [&](Isa isa) { ck.fast_fill(isa, steps.data(), n, o); });
    row("polynomial_decay p=2.5", worst_poly, poly_exact,
        [&](Isa isa) { pk.fast_fill(isa, steps.data(), n, o); });
    std::printf("(2) max |fast - exact| in ulps of max(learning_rate, final_learning_rate)%s\n\n",
                ok ? "" : "  FAILED");
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--quick") == 0) {
            quick = true;
        } else {
            std::fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
            return 2;
        }
    }
    std::printf("fast_math_check%s: best level on this CPU: %s\n\n", quick ? " --quick" : "",
                tml::dispatch::isa_name(tml::dispatch::best()));
    check_special();
    check_accuracy(quick);
    check_speed(quick);
    check_kinds(quick);
    std::printf("%s\n", g_failed ? "FAILED" : "all checks passed");
    return g_failed ? 1 : 0;
}
