"""Fast-mode benchmark: `exact=False` against the fill floor, the exact path, torch and JAX.

Run from the repository root (the package installed, or built in place with
PYTHONPATH=python; torch and JAX are used when installed):

    .venv/bin/python bench/bench_fast.py                 # full: N = 1e7, G = 1e6
    .venv/bin/python bench/bench_fast.py --quick         # smoke run, seconds
    .venv/bin/python bench/bench_fast.py --json out/fast.json
    .venv/bin/python bench/bench_fast.py --vectorization # which fast loops GCC vectorises

Per kind, over steps 0..N-1 (`kinds.config(kind, N)`), timed interleaved in one run:
`Schedule(cfg, exact=False)(steps)` against the fill floor `np.full(N, 0.5)` (target:
at most 1.5x), against the exact path `Schedule(cfg)(steps)` (target for the cosine
kinds: at least 4x faster), and with `dtype=float32` against `np.full(N, 0.5,
float32)` (at most 1.3x). The cosine kinds against torch's vectorised float64 version
of their formula and JAX's jitted one (at least 5x faster). G mixed schedules of every
kind at one step, fast mode: at most 4 ns per group. Targets are graded at N = 1e7 and
G = 1e6 only.

Every kind is also timed against the same call with no formula: a constant schedule
over the same steps, which reads them and writes a fresh output, the least any fast path
takes on the machine. The "ceiling" rows give the exact path over it for the cosine
kinds: the most that fast mode could gain there, whatever its kernels.

Every compared implementation is checked against the package's exact values within
fast mode's documented bound, 4 ulp of the schedule's largest rate (the max error seen
is printed with each row); float32 results against the float64 ones rounded once,
bitwise. Any disagreement exits 1; a missed target prints FAIL and changes nothing.
bench/README.md ("bench_fast.py") has the method and the latest figures.
"""

from __future__ import annotations

import importlib
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import harness
import kinds
from harness import Bench, Checks, CpuMeter, Timing, fmt_size, measure, measure_one

harness.use_source_tree()

from tml.optimizers import Schedule, Schedules  # noqa: E402 - after the source-tree fallback

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

TARGET_N = 10**7
TARGET_G = 10**6
FILL_TARGET = 1.5  # fast path over the fill floor, at most
# The no-formula floor's label, and its agreement column (a different schedule's values).
NO_FORMULA = "no formula (constant, same steps)"
NOT_COMPARED = "n/a"
FLOAT32_TARGET = 1.3  # float32 output over a float32 fill floor, at most
EXACT_TARGET = 4.0  # cosine kinds: times faster than the exact path, at least
PEER_TARGET = 5.0  # cosine kinds: times faster than torch's and JAX's versions, at least
GROUP_NS_TARGET = 4.0  # ns per group, G mixed schedules at one step, at most
BOUND_ULPS = 4  # fast mode's documented bound, in ulps of the schedule's largest rate
RATE_KEYS = ("learning_rate", "final_learning_rate", "max_learning_rate", "constant")


# ---------------------------------------------------------------------------
# The bound


def largest_rate(node: Any) -> float:
    """The largest learning rate anywhere in a YAML-shaped config (fast mode's scale)."""
    if isinstance(node, dict):
        best = 0.0
        cycle = node.get("one_cycle")
        if isinstance(cycle, dict):  # from L / div_factor to that / final_div_factor
            start = float(cycle["learning_rate"]) / float(cycle.get("div_factor", 25.0))
            best = max(start, start / float(cycle.get("final_div_factor", 1e4)))
        for key, value in node.items():
            if key in RATE_KEYS and isinstance(value, (int, float)):
                best = max(best, float(value))
            elif key == "learning_rate_values":
                best = max([best, *map(float, value)])
            elif value is not None:
                best = max(best, largest_rate(value))
        return best
    if isinstance(node, list):
        return max((largest_rate(item) for item in node), default=0.0)
    return 0.0


def ulp(x: np.ndarray) -> np.ndarray:
    """The spacing of doubles at x >= 0 (the smallest subnormal at 0)."""
    _, e = np.frexp(x)
    return np.maximum(np.ldexp(1.0, e - 53), 5e-324)


def within_bound(checks: Checks, what: str, got: Any, exact: Any, scale: Any) -> str:
    """'bitwise', or 'within 4 ulp (max U)': |got - exact| <= 4 ulp of `scale` (per row)."""
    got_a, want_a = np.asarray(got, dtype=np.float64), np.asarray(exact, dtype=np.float64)
    if got_a.shape != want_a.shape:
        return checks.fail(what, f"shape {got_a.shape}, package {want_a.shape}")
    if harness.same_bits(got_a, want_a):
        return checks.bitwise(what, got_a, want_a)
    scales = np.broadcast_to(
        np.asarray(scale, dtype=np.float64).reshape(-1, *([1] * (got_a.ndim - 1))), got_a.shape
    )
    with np.errstate(invalid="ignore"):
        err = np.where(got_a == want_a, 0.0, np.abs(got_a - want_a) / ulp(scales))
    worst = float(np.max(err))
    if worst <= BOUND_ULPS:
        # Checks records only bitwise and rtol agreement; this is the fast-mode bound.
        return checks._record(what, f"within {BOUND_ULPS} ulp (max {worst:.2g})", True)
    i = int(np.argmax(err))
    detail = (
        f"{worst:.3g} ulp of the largest rate at flat index {i}: got {got_a.flat[i]!r}, "
        f"exact {want_a.flat[i]!r}"
    )
    return checks.fail(what, detail)


# ---------------------------------------------------------------------------
# The cosine kinds in torch and JAX: `kinds.config(kind, n)`'s formula, operation for
# operation as SPEC 7.2 writes it, in float64 on int64 steps, vectorised by the library.


@dataclass(frozen=True)
class Xp:
    """The few array operations the formulas need, in torch or JAX."""

    name: str
    where: Callable[..., Any]
    cos: Callable[[Any], Any]
    float64: Callable[[Any], Any]
    searchsorted_right: Callable[[Any, Any], Any]
    array: Callable[[Sequence[Any]], Any]
    maximum_index: Callable[[Any, int], Any]


def torch_xp(torch: Any) -> Xp:
    return Xp(
        "torch",
        torch.where,
        torch.cos,
        lambda s: s.to(torch.float64),
        lambda a, v: torch.searchsorted(a, v, right=True),
        lambda xs: torch.as_tensor(np.asarray(xs)),  # float64 or int64, as given
        lambda i, most: i.clamp(max=most),
    )


def jax_xp(jnp: Any) -> Xp:
    return Xp(
        "JAX",
        jnp.where,
        jnp.cos,
        lambda s: s.astype(jnp.float64),
        lambda a, v: jnp.searchsorted(a, v, side="right"),
        lambda xs: jnp.asarray(np.asarray(xs)),
        lambda i, most: jnp.minimum(i, most),
    )


def cosine_formula(kind: str, cfg: Mapping[str, Any], xp: Xp) -> Callable[[Any], Any]:
    """The formula of `kinds.config(kind, n)` as a function of an int64 step array."""
    pi = math.pi
    body = cfg[kind]
    if kind == "linear_ramp_to_cosine":
        lr, final = body["learning_rate"], body["final_learning_rate"]
        ramp, end = body["num_ramp_steps"], body["final_num_steps"]
        slope, half, span = lr / ramp, (lr - final) * 0.5, float(end - ramp)

        def ramp_cosine(s: Any) -> Any:
            cosine = final + half * (1.0 + xp.cos((pi * xp.float64(s - ramp)) / span))
            return xp.where(s < ramp, slope * xp.float64(s), xp.where(s <= end, cosine, final))

        return ramp_cosine
    if kind == "cosine_decay":
        lr, final, n = body["learning_rate"], body["final_learning_rate"], body["num_steps"]
        half = (lr - final) * 0.5

        def cosine_decay(s: Any) -> Any:
            return xp.where(s <= n, final + half * (1.0 + xp.cos(pi * xp.float64(s) / n)), final)

        return cosine_decay
    if kind == "cosine_restarts":
        lr, final, first = body["learning_rate"], body["final_learning_rate"], body["num_steps"]
        mult, decay, cycles = body["period_multiplier"], body["peak_decay"], body["num_cycles"]
        starts, lengths, halves = [0], [], []
        for i in range(cycles):
            lengths.append(first * mult**i)
            starts.append(starts[-1] + lengths[-1])
            halves.append((max(lr * decay**i, final) - final) * 0.5)
        after = starts[-1]
        start_a, length_a = xp.array(starts[:-1]), xp.float64(xp.array(lengths))
        half_a = xp.array(halves)

        def restarts(s: Any) -> Any:
            i = xp.maximum_index(xp.searchsorted_right(start_a, s) - 1, cycles - 1)
            position = xp.float64(s - start_a[i])
            value = final + half_a[i] * (1.0 + xp.cos(pi * position / length_a[i]))
            return xp.where(s >= after, final, value)

        return restarts
    if kind == "one_cycle":
        lr, total = body["learning_rate"], body["total_steps"]
        initial = lr / 25.0
        minimum = initial / 1e4
        end1, end2 = float(0.3 * total) - 1, float(total - 1)

        def one_cycle(s: Any) -> Any:
            t = xp.float64(s)
            up = lr + (initial - lr) / 2.0 * (xp.cos(pi * ((t - 0.0) / (end1 - 0.0))) + 1)
            down = minimum + (lr - minimum) / 2.0 * (xp.cos(pi * ((t - end1) / (end2 - end1))) + 1)
            return xp.where(t > end2, minimum, xp.where(t <= end1, up, down))

        return one_cycle
    if kind == "warmup_stable_decay":
        lr, final = body["learning_rate"], body["final_learning_rate"]
        warm, stable = body["num_warmup_steps"], body["num_stable_steps"]
        decay = body["num_decay_steps"]
        hold, end = warm + stable, warm + stable + decay
        slope, half = lr / warm, (lr - final) * 0.5

        def wsd(s: Any) -> Any:
            cosine = final + half * (1.0 + xp.cos(pi * (xp.float64(s - hold) / decay)))
            tail = xp.where(s < end, cosine, final)
            return xp.where(s < warm, slope * xp.float64(s), xp.where(s < hold, lr, tail))

        return wsd
    if kind == "sequence":
        warm, held, tail = body
        w = warm["schedule"]["linear"]
        w_lr, w_final, w_n = w["learning_rate"], w["final_learning_rate"], w["num_steps"]
        rise, fall = w_final - w_lr, w_lr - w_final
        level, hold_end = held["schedule"]["constant"], warm["num_steps"] + held["num_steps"]
        d = tail["schedule"]["cosine_decay"]
        final, n = d["final_learning_rate"], d["num_steps"]
        half = (d["learning_rate"] - final) * 0.5

        def sequence(s: Any) -> Any:
            first = w_lr + rise * (xp.float64(s) / w_n)
            second = w_final + fall * (xp.float64(w_n - s) / w_n)
            ramp = xp.where(2 * s < w_n, first, second)
            local = s - hold_end
            cosine = final + half * (1.0 + xp.cos(pi * xp.float64(local) / n))
            last = xp.where(local <= n, cosine, final)
            return xp.where(s < w_n, ramp, xp.where(s < hold_end, level, last))

        return sequence
    raise ValueError(f"no torch/JAX formula for {kind!r}")


# ---------------------------------------------------------------------------
# One kind over N steps


@dataclass
class Context:
    bench: Bench
    budget_s: float
    min_repeats: int
    torch: Any
    jax: Any
    kinds: list[str]


def bench_kind(ctx: Context, kind: str, n: int) -> None:
    """Fast against the fill floor, the exact path, float32, and torch / JAX."""
    size, graded = fmt_size(n), n == TARGET_N
    steps = np.arange(n, dtype=np.int64)
    cfg = kinds.config(kind, n)
    fast, exact = Schedule(cfg, exact=False), Schedule(cfg)
    # The same call with no formula: a constant schedule reads the same steps and writes
    # the same fresh output. No kind's fast path can be faster on this machine, so
    # exact / this is the most that fast mode could gain here.
    no_formula = Schedule({"constant": 0.5}, exact=False)
    scale = largest_rate(cfg)
    fns: dict[str, Callable[[], Any]] = {
        "fast": lambda: fast(steps),
        "exact": lambda: exact(steps),
        "no formula": lambda: no_formula(steps),
        "fill": lambda: np.full(n, 0.5),
        "fast32": lambda: fast(steps, dtype=np.float32),
        "fast32 range": lambda: fast(range(n), dtype=np.float32),
        "fill32": lambda: np.full(n, 0.5, dtype=np.float32),
    }
    t, got = measure(fns, ctx.budget_s, min_repeats=ctx.min_repeats)
    check, label = ctx.bench.checks, f"{kind} N={size}"
    want = got["exact"]
    agree = within_bound(check, f"{label} fast", got["fast"], want, scale)
    row = ctx.bench.compare("kinds", kind, size, "fast", t["fast"])
    row.over("fill floor np.full", t["fill"], agree, FILL_TARGET if graded else None, unit="floor")
    cosine = kind in kinds.COSINE_KINDS
    target = EXACT_TARGET if graded and cosine else None
    row.speedup("exact path", t["exact"], agree, target)
    row.over(NO_FORMULA, t["no formula"], NOT_COMPARED, None, unit="floor")
    if cosine:
        row = ctx.bench.compare("ceiling", kind, size, "no formula", t["no formula"])
        row.speedup("exact path", t["exact"], NOT_COMPARED, None)
    rounded = got["fast"].astype(np.float32).astype(np.float64)
    agree32 = check.bitwise(f"{label} float32", got["fast32"].astype(np.float64), rounded)
    row = ctx.bench.compare("kinds", kind, size, "fast, float32", t["fast32"])
    target = FLOAT32_TARGET if graded else None
    row.over("fill floor float32", t["fill32"], agree32, target, unit="floor")
    # The same steps as a range, which the core makes where it uses them: no 8-byte step
    # is read, so this row shows the float32 output alone against its floor.
    agree_range = check.bitwise(
        f"{label} float32 range",
        got["fast32 range"].astype(np.float64),
        got["fast32"].astype(np.float64),
    )
    row = ctx.bench.compare("kinds", kind, size, "fast, float32, range(N)", t["fast32 range"])
    row.over("fill floor float32", t["fill32"], agree_range, None, unit="floor")
    fast_t = t["fast"]
    del got, want
    if cosine:
        for xp_module, make in ((ctx.torch, torch_peer), (ctx.jax, jax_peer)):
            if xp_module is not None:
                make(ctx, kind, cfg, steps, fast_t, exact(steps), scale)


def torch_peer(
    ctx: Context, kind: str, cfg: Any, steps: np.ndarray, fast_t: Timing, want: Any, scale: float
) -> None:
    """Torch's vectorised version, timed apart (its OpenMP workers spin into the next call)."""
    torch = ctx.torch
    size, graded = fmt_size(steps.size), steps.size == TARGET_N
    fn = cosine_formula(kind, cfg, torch_xp(torch))
    steps_t = torch.from_numpy(steps)
    cap = 10 if ctx.bench.quick else 200
    # torch's OpenMP workers spin: where the cores are shared (a VM, other processes) its
    # default thread count can be many times slower than one thread. Both are timed and
    # the faster one compared, the fair choice for torch.
    default = torch.get_num_threads()
    timings = []
    for threads in sorted({default, 1}):
        torch.set_num_threads(threads)
        try:
            tt, result = measure_one(
                lambda: fn(steps_t), ctx.budget_s, min_repeats=ctx.min_repeats, max_repeats=cap
            )
        finally:
            torch.set_num_threads(default)
        timings.append((tt.min, threads, tt, result))
    _, threads, tt, result = min(timings, key=lambda x: x[0])
    agree = within_bound(ctx.bench.checks, f"{kind} N={size} torch", result.numpy(), want, scale)
    row = ctx.bench.compare("peers", kind, size, "fast", fast_t)
    what = f"torch ({threads} thread{'s' if threads > 1 else ''}, the faster of 1 and {default})"
    row.speedup(what, tt, agree, PEER_TARGET if graded else None)


def jax_peer(
    ctx: Context, kind: str, cfg: Any, steps: np.ndarray, fast_t: Timing, want: Any, scale: float
) -> None:
    """JAX's jitted version, compiled (and its input moved to the device) before timing."""
    jax, jnp = ctx.jax, ctx.jax.numpy
    size, graded = fmt_size(steps.size), steps.size == TARGET_N
    fn = jax.jit(cosine_formula(kind, cfg, jax_xp(jnp)))
    device_steps = jax.device_put(steps)
    fn(device_steps).block_until_ready()  # compile
    tt, result = measure_one(
        lambda: fn(device_steps).block_until_ready(), ctx.budget_s, min_repeats=ctx.min_repeats
    )
    agree = within_bound(ctx.bench.checks, f"{kind} N={size} JAX", np.asarray(result), want, scale)
    row = ctx.bench.compare("peers", kind, size, "fast", fast_t)
    row.speedup("JAX jit", tt, agree, PEER_TARGET if graded else None)


# ---------------------------------------------------------------------------
# Many schedules at one step


def mixed_configs(g: int, seed: int) -> list[dict[str, Any]]:
    """G configs cycling through the kinds, their lengths and rates varied.

    One step then falls in every phase of some of them.
    """
    rng = np.random.default_rng(seed)
    lengths = rng.integers(160, 200_000, g).tolist()
    factors = rng.uniform(0.1, 2.0, g).tolist()
    names = list(kinds.KINDS)
    return [
        kinds.scaled(kinds.config(names[i % len(names)], lengths[i]), factors[i]) for i in range(g)
    ]


def bench_groups(ctx: Context, g: int, step: int) -> None:
    size = fmt_size(g)
    configs = mixed_configs(g, seed=g)
    meter = CpuMeter()
    fast, exact = Schedules(configs, exact=False), Schedules(configs)
    scales = np.array([largest_rate(c) for c in configs])
    busy = meter.others_share()
    del configs
    t, got = measure(
        {"fast": lambda: fast(step), "exact": lambda: exact(step)},
        ctx.budget_s,
        min_repeats=ctx.min_repeats,
    )
    agree = within_bound(ctx.bench.checks, f"G={size} fast", got["fast"], got["exact"], scales)
    per_group = t["fast"].per_unit(g, "group")
    row = ctx.bench.compare("groups", "mixed kinds, one step", size, "fast", t["fast"])
    row.speedup("exact path", t["exact"], agree)
    row = ctx.bench.compare("groups", "mixed kinds, one step", size, "fast per group", per_group)
    target = 1.0 if g == TARGET_G else None
    ratio = per_group.min / (GROUP_NS_TARGET * 1e-9)
    row.over(f"{GROUP_NS_TARGET:g} ns per group", None, agree, target, unit="target", ratio=ratio)
    ctx.bench.extra.setdefault("groups_build_busy", {})[size] = busy


# ---------------------------------------------------------------------------
# Which fast loops GCC vectorises


KIND_TYPES = (
    "Constant",
    "LinearRampToConstant",
    "LinearRampToCosine",
    "Linear",
    "ExponentialDecay",
    "PolynomialDecay",
    "CosineDecay",
    "InverseTimeDecay",
    "CosineRestarts",
    "OneCycle",
    "Cyclic",
    "WarmupStableDecay",
)


def vectorization_report() -> int:
    """Compiles each kind's fast batch loop with -fopt-info-vec and counts the loops.

    A kind's fast_fill instantiates dispatch.hpp's three levels of each of its loops
    (baseline, AVX2, AVX-512): every one should say "loop vectorized", but for the
    baseline of a loop with a cos or pow kernel (fast mode does not run those there).
    """
    compiler = os.environ.get("CXX", "g++")
    if shutil.which(compiler) is None:
        print(f"--vectorization: {compiler} not found", file=sys.stderr)
        return 2
    kinds_hpp = (ROOT / "csrc" / "tml" / "kinds.hpp").read_text().splitlines()
    line = next(
        i + 1
        for i, text in enumerate(kinds_hpp)
        if "out[k] = static_cast<Out>(f(steps[k]))" in text
    )
    at = re.compile(
        rf"kinds\.hpp:{line}:\d+: (optimized: loop vectorized using (\d+) byte|missed: couldn't vectorize loop)"
    )
    flags = [
        "-O3",
        "-std=c++17",
        "-ffp-contract=off",
        "-fno-fast-math",
        "-fno-math-errno",
        f"-I{ROOT / 'csrc'}",
    ]

    def one(kind: str, step: str, workdir: str) -> tuple[str, str, list[str], int]:
        source = Path(workdir) / f"{kind}_{step.replace(':', '')}.cpp"
        source.write_text(
            '#include "tml/schedule_set.hpp"\n'
            f"void f(const tml::{kind}& k, const {step}* s, std::size_t n, double* out,\n"
            "       const tml::Context& c) { tml::fill_fast(k, s, n, out, c); }\n"
        )
        cmd = [compiler, *flags, "-c", str(source), "-o", os.devnull, "-fopt-info-vec-all"]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        widths, missed = [], 0
        for match in at.finditer(done.stderr):
            if match.group(2):
                widths.append(match.group(2))
            else:
                missed += 1
        return kind, step, widths, missed

    with tempfile.TemporaryDirectory(prefix="tml-vec-") as workdir, ThreadPoolExecutor() as pool:
        jobs = [(k, s) for k in KIND_TYPES for s in ("std::int64_t", "double")]
        results = list(pool.map(lambda ks: one(*ks, workdir), jobs))
    rows = []
    for kind, step, widths, missed in results:
        sizes = ", ".join(f"{w} B" for w in sorted(set(widths), key=int)) or "-"
        rows.append([kind, step, str(len(widths)), str(missed), sizes])
    header = ["kind", "steps", "loops vectorized", "not vectorized", "vector widths"]
    print(f"fast_loop (kinds.hpp:{line}) as {compiler} {' '.join(flags[:5])} compiles it:")
    print("\n".join(harness.table(header, rows)))
    print(
        "\n16/32/64 B: the baseline (SSE2), AVX2 and AVX-512 levels of dispatch::run, with\n"
        "the package's flags (-fno-math-errno lets std::sqrt vectorise). Kinds with no fast\n"
        "formula (piecewise_constant, multistep_decay, inverse_sqrt) run their exact batch form.\n"
        "Not vectorized: the baseline level of each loop with a cos or pow kernel (without FMA\n"
        "fma() is a library call); fast mode runs the exact formulas at that level instead."
    )
    return 0


# ---------------------------------------------------------------------------
# The run

NOTES = """\
Notes: ratios use min times; 'x faster' = other / ours; 'x floor', 'x' = ours / other.
fill floor = np.full(N, 0.5) (float32: with dtype=float32), a fresh array, one thread: the
cost of producing the output. ours and the exact path use every core (tml threads), torch its
own threads, JAX its CPU backend. Agreement: each result against the package's exact values,
'within 4 ulp (max U)' of the config's largest rate (fast mode's documented bound), or bitwise.
Cosine kinds: the fast path against the exact one and the peers; the other kinds are timed
against the fill floor and the exact path only. no formula = a constant schedule over the
same steps (reads them, writes a fresh output): the least any fast path can take here;
'ceiling' rows: how much faster than the exact path that floor is, fast mode's limit."""


def print_body(data: Mapping[str, Any]) -> None:
    print("\n".join(harness.rows_table(data["rows"])))
    print("\n" + NOTES)


def main(argv: Sequence[str] | None = None) -> int:
    parser = harness.parser(__doc__)
    parser.add_argument("--no-peers", action="store_true", help="skip torch and JAX")
    parser.add_argument(
        "--vectorization",
        action="store_true",
        help="compile each kind's fast loop with -fopt-info-vec and report; nothing is timed",
    )
    parser.add_argument("--kinds", nargs="+", choices=kinds.KINDS, help="only these kinds")
    args = parser.parse_args(argv)
    if args.vectorization:
        return vectorization_report()
    bench = Bench("fast", args)
    torch: Any = None
    jax: Any = None
    if not args.no_peers:
        try:
            torch = importlib.import_module("torch")
        except ImportError:
            bench.skip("torch rows", "torch is not installed")
        try:
            jax = importlib.import_module("jax")
            jax.config.update("jax_enable_x64", True)  # float64, as the schedules
            bench.machine_extra.update(jax=jax.__version__)
        except ImportError:
            bench.skip("JAX rows", "jax is not installed")
    n = 10**5 if args.quick else TARGET_N
    g = 10**4 if args.quick else TARGET_G
    if args.quick:
        bench.notes.append("--quick: N = 1e5, G = 1e4; no target is graded.")
    ctx = Context(
        bench=bench,
        budget_s=0.05 if args.quick else 0.4,
        min_repeats=3 if args.quick else 5,
        torch=torch,
        jax=jax,
        kinds=list(args.kinds or kinds.KINDS),
    )
    for kind in ctx.kinds:
        bench_kind(ctx, kind, n)
    bench_groups(ctx, g, step=50_000)
    return bench.finish(torch, print_body)


if __name__ == "__main__":
    sys.exit(main())
