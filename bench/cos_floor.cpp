// The libm floors of the kernel benchmark (std::cos, std::pow), loaded by bench_kernel.py
// through ctypes.
//
// Built by the script at run time with `g++ -O2 -ffp-contract=off -pthread -shared
// -fPIC`, the flags the package ships with: no -ffast-math, so std::cos is glibc's
// scalar libm cos (the one the package and Python's math.cos call), never libmvec.
// Each function writes every element of a caller-owned buffer (a fresh numpy array,
// as the package's output is) on `threads` std::threads, contiguous slices, the
// calling thread taking the first slice; threads == 0 means hardware_concurrency.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

namespace {

constexpr double pi = 3.141592653589793;  // Python's math.pi

unsigned resolve(unsigned threads) {
    if (threads > 0) return threads;
    const unsigned n = std::thread::hardware_concurrency();
    return n > 0 ? n : 1;
}

template <class Body>
void split(std::size_t n, unsigned threads, const Body& body) {
    const std::size_t parts = std::max<std::size_t>(1, std::min<std::size_t>(resolve(threads), n));
    const std::size_t slice = (n + parts - 1) / parts;
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < parts; ++t) {
        const std::size_t begin = std::min(n, t * slice);
        const std::size_t end = std::min(n, begin + slice);
        pool.emplace_back([&body, begin, end] { body(begin, end); });
    }
    body(std::size_t{0}, std::min(n, slice));
    for (auto& th : pool) th.join();
}

}  // namespace

extern "C" {

unsigned floor_default_threads() { return resolve(0); }

// The std::cos floor: out[i] = std::cos((pi * (s - R)) / (T - R)) for R <= s <= T,
// 0.0 elsewhere. Exactly the cos calls the cosine kind must make, with the same
// arguments, and nothing else of its formula.
void cos_floor_args(const std::int64_t* steps, double* out, std::size_t n, std::int64_t R,
                    std::int64_t T, unsigned threads) {
    const double span = static_cast<double>(T - R);
    split(n, threads, [=](std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i) {
            const std::int64_t s = steps[i];
            out[i] = (s >= R && s <= T) ? std::cos((pi * static_cast<double>(s - R)) / span) : 0.0;
        }
    });
}

// The whole linear_ramp_to_cosine formula, hand-written for int64 steps, with no input
// validation: what a bespoke C++ loop costs. Bitwise equal to the reference.
void cos_floor_formula(const std::int64_t* steps, double* out, std::size_t n, double L, double F,
                       std::int64_t R, std::int64_t T, unsigned threads) {
    const double slope = L / static_cast<double>(R);
    const double half_range = (L - F) * 0.5;
    const double span = static_cast<double>(T - R);
    split(n, threads, [=](std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i) {
            const std::int64_t s = steps[i];
            double v;
            if (s < R)
                v = slope * static_cast<double>(s);
            else if (s <= T)
                v = F + half_range * (1.0 + std::cos((pi * static_cast<double>(s - R)) / span));
            else
                v = F;
            out[i] = v;
        }
    });
}

// The libm floors of the kinds: their libm call over arguments that
// the script computed beforehand, in the formula's own operation order, NaN on the steps where the
// kind makes no call. out[i] = f(x[i]) there, 0.0 elsewhere. Reading a double per step costs what
// reading the int64 step does; the arguments' few flops are left out.
void cos_floor_of(const double* x, double* out, std::size_t n, unsigned threads) {
    split(n, threads, [=](std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i) {
            const double a = x[i];
            out[i] = a == a ? std::cos(a) : 0.0;
        }
    });
}

// std::pow(x[i], other) when x_is_base, else std::pow(other, x[i]) (a fixed base, as in
// `r ** k`); 0.0 where x[i] is NaN.
void pow_floor_of(const double* x, double* out, std::size_t n, double other, int x_is_base,
                  unsigned threads) {
    split(n, threads, [=](std::size_t begin, std::size_t end) {
        if (x_is_base) {
            for (std::size_t i = begin; i < end; ++i) {
                const double a = x[i];
                out[i] = a == a ? std::pow(a, other) : 0.0;
            }
        } else {
            for (std::size_t i = begin; i < end; ++i) {
                const double a = x[i];
                out[i] = a == a ? std::pow(other, a) : 0.0;
            }
        }
    });
}

}  // extern "C"
