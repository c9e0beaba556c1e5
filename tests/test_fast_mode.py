"""Fast mode (`exact=False`): within its stated bound of the exact values, deterministic.

The bound (README, "Fast mode"): |fast - exact| <= 4 ulp of the schedule's largest rate
(its largest `learning_rate`, `final_learning_rate`, `max_learning_rate`, table value or
one_cycle's starting `learning_rate / div_factor` and final value, that divided by
`final_div_factor`,
stages included). The exact values are the package's default mode, itself checked
bitwise against the plain-Python oracle by tests/test_kinds.py and tests/test_parity.py.

- every kind over at least 1e7 random (config, step) pairs, a few compiled calls each,
  plus float steps, plus Hypothesis configs (extreme rates and lengths) at their edges;
- the kinds without a libm cos or pow call give bitwise the exact values;
- a step gives the same bits alone (both scalar paths) as in an array, at every
  instruction-set level with FMA and thread count; without FMA (the SSE2 baseline) fast
  mode gives the exact values;
- the cos kernel against math.cos over a dense sweep of [0, pi];
- the mode is kept by pickling, repr, ==, `Schedules[g]` and compute_lr; a non-bool
  `exact` is refused; `tml-lr --fast` runs.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.kinds import EXAMPLES, edge_steps
from tests.oracle import KINDS
from tests.strategies import KIND_STRATEGIES
from tml import _core
from tml.optimizers import Schedule, Schedules, compute_lr, get_num_threads, set_num_threads
from tml.optimizers.cli import main as cli_main

Config = dict[str, Any]

BOUND_ULPS = 4  # the documented bound, in ulps of the schedule's largest rate
PAIRS_PER_KIND = 10_000_000
RATE_KEYS = ("learning_rate", "final_learning_rate", "max_learning_rate")

# Kinds (and modes of kinds) whose formula has no libm cos or pow: sqrt and division are
# IEEE's correctly rounded operations, and 2.0 ** c is exact for an integer c, so fast
# mode must give the exact bits.
NO_LIBM_KINDS = (
    "constant",
    "piecewise_constant",
    "linear_ramp_to_constant",
    "linear",
    "multistep_decay",
    "inverse_sqrt",
    "inverse_time_decay",
)


def no_libm_call(config: Config) -> bool:
    """Whether fast mode must give this config's exact bits."""
    kind, body = next((k, v) for k, v in config.items() if v is not None)
    if kind in NO_LIBM_KINDS:
        return True
    if kind == "polynomial_decay":
        return float(body.get("power", 1.0)) == 1.0
    if kind == "one_cycle":
        return body.get("anneal", "cos") == "linear"
    if kind == "warmup_stable_decay":
        return body.get("decay_shape", "cosine") in ("linear", "sqrt")
    if kind == "cyclic":
        return body.get("mode", "triangular") in ("triangular", "triangular2")
    if kind == "sequence":
        return all(no_libm_call(stage["schedule"]) for stage in body)
    return False


def largest_rate(node: Any) -> float:
    """The largest learning rate anywhere in a YAML-shaped config (0.0 if none)."""
    best = 0.0
    if isinstance(node, dict):
        cycle = node.get("one_cycle")
        if isinstance(cycle, dict):  # from L / div_factor to that / final_div_factor
            start = float(cycle["learning_rate"]) / float(cycle.get("div_factor", 25.0))
            best = max(start, start / float(cycle.get("final_div_factor", 1e4)))
        for key, value in node.items():
            if value is None:
                continue
            if key in (*RATE_KEYS, "constant") and not isinstance(value, (dict, list)):
                best = max(best, float(value))
            elif key == "learning_rate_values":
                best = max([best, *(float(v) for v in value)])
            else:
                best = max(best, largest_rate(value))
    elif isinstance(node, list):
        for item in node:
            best = max(best, largest_rate(item))
    return best


def ulp(x: np.ndarray) -> np.ndarray:
    """The spacing of doubles at x >= 0, also at the largest double.

    2**(e - 52) for x in [2**e, 2**(e + 1)); the smallest subnormal for 0 and subnormals.
    """
    _, e = np.frexp(x)  # x = m * 2**e, m in [0.5, 1)
    return np.maximum(np.ldexp(1.0, e - 53), 5e-324)


def ulps_of_scale(fast: np.ndarray, exact: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """|fast - exact| in ulps of each row's scale (rows: schedules, columns: steps)."""
    spacing = ulp(scales.astype(np.float64)).reshape(-1, *([1] * (fast.ndim - 1)))
    with np.errstate(invalid="ignore"):
        diff = np.abs(fast - exact)
    same = fast.view(np.uint64) == exact.view(np.uint64)  # inf == inf, NaN == NaN too
    return np.where(same, 0.0, diff / spacing)


def bits(x: Any) -> bytes:
    return np.asarray(x, dtype=np.float64).tobytes()


@contextmanager
def isa_cap(level: str) -> Iterator[None]:
    before = _core._set_isa_cap(level)
    try:
        yield
    finally:
        _core._set_isa_cap(before)


# ---------------------------------------------------------------------------
# Random configs of every kind, drawn with numpy (a few thousand a second): lengths
# around a scale, so that steps in [0, 4 * scale] cross every phase; rates over many
# binades, their significands anywhere (just below a power of 2 too, where an ulp of
# the rate is smallest relative to it).


def _rate(rng: np.random.Generator, low: float = -12.0, high: float = 2.0) -> float:
    return float(2.0 ** rng.uniform(low, high))


def _count(rng: np.random.Generator, scale: int, low: int = 1) -> int:
    return int(rng.integers(low, max(low + 1, scale) + 1))


def _draw(kind: str, rng: np.random.Generator, scale: int) -> Config:
    a, b = _rate(rng), _rate(rng)
    high, low = max(a, b), min(a, b)
    if kind == "constant":
        return {"constant": a}
    if kind == "piecewise_constant":
        k = int(rng.integers(0, 6))
        bounds = sorted({int(x) for x in rng.integers(0, 3 * scale + 1, k)})
        return {
            "piecewise_constant": {
                "learning_rate_boundaries": bounds,
                "learning_rate_values": [_rate(rng) for _ in range(len(bounds) + 1)],
            }
        }
    if kind == "linear_ramp_to_constant":
        return {
            "linear_ramp_to_constant": {"learning_rate": a, "num_ramp_steps": _count(rng, scale)}
        }
    if kind == "linear_ramp_to_cosine":
        ramp = _count(rng, scale)
        return {
            "linear_ramp_to_cosine": {
                "learning_rate": a,
                "final_learning_rate": b if rng.random() < 0.8 else 0.0,
                "num_ramp_steps": ramp,
                "final_num_steps": ramp + _count(rng, 2 * scale),
            }
        }
    if kind == "linear":
        return {
            "linear": {
                "learning_rate": a,
                "final_learning_rate": b,
                "num_steps": _count(rng, 2 * scale),
            }
        }
    if kind == "exponential_decay":
        body: dict[str, Any] = {
            "decay_steps": _count(rng, scale),
            "staircase": bool(rng.random() < 0.3),
        }
        side = rng.random()
        if side < 0.6:  # decay, sometimes to a floor
            body |= {"learning_rate": high, "decay_rate": float(10.0 ** -rng.uniform(1e-4, 3))}
            if rng.random() < 0.5:
                body["final_learning_rate"] = low
        elif side < 0.7:
            body |= {"learning_rate": a, "decay_rate": 1.0}
        else:  # growth to a cap
            body |= {
                "learning_rate": low,
                "final_learning_rate": high,
                "decay_rate": float(1.0 + 10.0 ** -rng.uniform(0, 4)),
            }
        return {"exponential_decay": body}
    if kind == "multistep_decay":
        k = int(rng.integers(1, 6))
        milestones = sorted({int(x) for x in rng.integers(1, 3 * scale + 1, k)})
        gamma = float(rng.uniform(0.05, 1.5))
        return {"multistep_decay": {"learning_rate": a, "milestones": milestones, "gamma": gamma}}
    if kind == "polynomial_decay":
        power = float(rng.choice([1.0, 2.0, 3.0, 0.5, rng.uniform(0.05, 8.0)]))
        return {
            "polynomial_decay": {
                "learning_rate": high,
                "final_learning_rate": low if rng.random() < 0.7 else 0.0,
                "num_steps": _count(rng, 2 * scale),
                "power": power,
            }
        }
    if kind == "cosine_decay":  # F > L allowed: a cosine rising
        return {
            "cosine_decay": {
                "learning_rate": a,
                "final_learning_rate": b,
                "num_steps": _count(rng, 2 * scale),
            }
        }
    if kind == "inverse_sqrt":
        warmup = _count(rng, scale, low=0)
        body = {"learning_rate": a, "num_warmup_steps": warmup}
        if warmup == 0 or rng.random() < 0.5:
            body["timescale"] = _count(rng, scale)
        return {"inverse_sqrt": body}
    if kind == "inverse_time_decay":
        return {
            "inverse_time_decay": {
                "learning_rate": a,
                "decay_rate": float(rng.uniform(0.0, 5.0)),
                "decay_steps": _count(rng, scale),
                "staircase": bool(rng.random() < 0.3),
            }
        }
    if kind == "cosine_restarts":
        return {
            "cosine_restarts": {
                "learning_rate": high,
                "final_learning_rate": low if rng.random() < 0.7 else 0.0,
                "num_steps": _count(rng, max(1, scale // 4)),
                "period_multiplier": int(rng.choice([1, 1, 2, 3])),
                "peak_decay": float(rng.choice([1.0, rng.uniform(0.05, 1.0)])),
                "num_cycles": None if rng.random() < 0.5 else int(rng.integers(1, 8)),
            }
        }
    if kind == "one_cycle":
        three = bool(rng.random() < 0.4)
        return {
            "one_cycle": {
                "learning_rate": a,
                "total_steps": _count(rng, 2 * scale, low=100),
                "pct_start": float(rng.uniform(0.05, 0.45)),
                "anneal": "cos" if rng.random() < 0.7 else "linear",
                # below 1 too: it starts above learning_rate, its largest value then
                "div_factor": float(
                    rng.uniform(1.0, 100.0) if rng.random() < 0.8 else rng.uniform(0.01, 1.0)
                ),
                "final_div_factor": float(10.0 ** rng.uniform(0, 5)),
                "three_phase": three,
            }
        }
    if kind == "cyclic":
        body = {
            "learning_rate": low,
            "max_learning_rate": high,
            "step_size_up": _count(rng, max(1, scale // 4)),
            "mode": str(rng.choice(["triangular", "triangular2", "exp_range", "exp_range"])),
            "gamma": float(1.0 - 10.0 ** -rng.uniform(1, 7)) if rng.random() < 0.9 else 1.0,
        }
        if rng.random() < 0.5:
            body["step_size_down"] = _count(rng, max(1, scale // 4))
        return {"cyclic": body}
    if kind == "warmup_stable_decay":
        return {
            "warmup_stable_decay": {
                "learning_rate": high,
                "final_learning_rate": low if rng.random() < 0.7 else 0.0,
                "num_warmup_steps": _count(rng, scale, low=0),
                "num_stable_steps": _count(rng, scale, low=0),
                "num_decay_steps": _count(rng, 2 * scale),
                "decay_shape": str(rng.choice(["cosine", "cosine", "linear", "sqrt"])),
            }
        }
    if kind == "sequence":
        inner = [k for k in KINDS if k != "sequence"]
        count = int(rng.integers(2, 4))
        stages: list[dict[str, Any]] = []
        for j in range(count):
            stage: dict[str, Any] = {"schedule": _draw(str(rng.choice(inner)), rng, scale)}
            if j + 1 < count:
                stage["num_steps"] = _count(rng, scale)
            stages.append(stage)
        return {"sequence": stages}
    raise AssertionError(kind)


def _int_steps(rng: np.random.Generator, scale: int, n: int) -> np.ndarray:
    """Sorted steps in [0, 4 * scale] (as a training run's), a few far ones at the end."""
    steps = np.sort(rng.integers(0, 4 * scale + 1, n, dtype=np.int64))
    steps[-4:] = [2**40 + 7, 2**53 + 1, 2**62 + 3, 2**63 - 1]
    return steps


# Scales of the lengths, each with configs x steps pairs: 10 x 1000 x 1000 = 1e7.
SCALES = (3, 30, 300, 3_000, 30_000, 300_000, 3_000_000, 30_000_000, 2**40, 2**50)
CONFIGS_PER_SCALE = 1000


def _kind_seed(kind: str) -> int:
    return 20_240 + KINDS.index(kind)


def check_bound(configs: list[Config], steps: np.ndarray, what: str) -> float:
    """Asserts the bound for every config at every step; returns the max error in ulps."""
    exact = Schedules(configs)(steps)
    fast = Schedules(configs, exact=False)(steps)
    scales = np.array([largest_rate(c) for c in configs])
    err = ulps_of_scale(fast, exact, scales)
    worst = float(err.max()) if err.size else 0.0
    if worst > BOUND_ULPS:
        g, i = np.unravel_index(int(np.argmax(err)), err.shape)
        pytest.fail(
            f"{what}: |fast - exact| = {worst:.2f} ulp of the largest rate at step "
            f"{steps.reshape(-1)[i]!r} of {configs[g]!r}: fast {fast[g].reshape(-1)[i]!r}, "
            f"exact {exact[g].reshape(-1)[i]!r}"
        )
    return worst


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_within_the_bound_over_1e7_random_pairs(kind: str) -> None:
    rng = np.random.default_rng(_kind_seed(kind))
    pairs = 0
    for scale in SCALES:
        configs = [_draw(kind, rng, scale) for _ in range(CONFIGS_PER_SCALE)]
        steps = _int_steps(rng, scale, PAIRS_PER_KIND // len(SCALES) // CONFIGS_PER_SCALE)
        check_bound(configs, steps, f"{kind} (scale {scale})")
        pairs += len(configs) * steps.size
    assert pairs >= PAIRS_PER_KIND


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_within_the_bound_at_float_steps(kind: str) -> None:
    rng = np.random.default_rng(_kind_seed(kind) + 1)
    for scale in SCALES[:8]:
        configs = [_draw(kind, rng, scale) for _ in range(100)]
        steps = np.sort(rng.uniform(0.0, 4.0 * scale, 500))
        steps[:3] = [0.0, -0.0, 0.5]
        steps[-3:] = [2.0**53 - 0.5, 2.0**53 + 2.0, 2.0**62]
        check_bound(configs, steps, f"{kind} float steps (scale {scale})")


@given(data=st.data())
def test_hypothesis_configs_within_the_bound_at_their_edges(data: st.DataObject) -> None:
    # Extreme rates (0, subnormal, near the largest float), lengths up to 2**53, every
    # mode; steps at every boundary, restart and phase end, near 2**53 and 2**63.
    kind = data.draw(st.sampled_from(KINDS))
    config = data.draw(KIND_STRATEGIES[kind])
    edges = edge_steps(config)
    ints = np.array([s for s in edges if isinstance(s, int)], dtype=np.int64)
    floats = np.array([s for s in edges if isinstance(s, float) and s < 2.0**63])
    exact_schedule, fast_schedule = Schedule(config), Schedule(config, exact=False)
    scale = np.array([largest_rate(config)])
    for steps in (ints, floats):
        exact, fast = exact_schedule(steps), fast_schedule(steps)
        err = ulps_of_scale(fast[None], exact[None], scale)
        assert err.max() <= BOUND_ULPS, (config, steps[np.argmax(err)], err.max())
        if no_libm_call(config):
            assert bits(fast) == bits(exact), config


# ---------------------------------------------------------------------------
# Kinds without a libm call: bitwise the exact values


def no_libm_examples() -> list[Config]:
    configs = [c for kind in KINDS for c in EXAMPLES[kind] if no_libm_call(c)]
    rng = np.random.default_rng(7)
    for kind in (*NO_LIBM_KINDS, "polynomial_decay", "one_cycle", "cyclic", "warmup_stable_decay"):
        for scale in SCALES:
            drawn = [_draw(kind, rng, scale) for _ in range(200)]
            configs += [c for c in drawn if no_libm_call(c)][:40]
    return configs


def test_kinds_without_a_libm_call_give_the_exact_bits() -> None:
    configs = no_libm_examples()
    assert {next(iter(c)) for c in configs} >= {*NO_LIBM_KINDS, "cyclic", "one_cycle"}
    rng = np.random.default_rng(8)
    for scale in SCALES:
        ints = _int_steps(rng, scale, 3000)
        floats = np.sort(rng.uniform(0.0, 4.0 * scale, 3000))
        for steps in (ints, floats):
            exact = Schedules(configs)(steps)
            fast = Schedules(configs, exact=False)(steps)
            assert bits(fast) == bits(exact)
    for config in configs[::10]:
        exact_schedule, fast_schedule = Schedule(config), Schedule(config, exact=False)
        for step in edge_steps(config):
            try:
                want = exact_schedule(step)
            except ValueError:
                continue
            assert bits(fast_schedule(step)) == bits(want), (config, step)


def test_fast_mode_differs_where_it_should() -> None:
    # A check that fast mode is on at all: the cos kernel is not libm's, and some of
    # the cosine's values differ by an ulp.
    config = EXAMPLES["linear_ramp_to_cosine"][0]
    steps = np.arange(200_000)
    assert bits(Schedule(config, exact=False)(steps)) != bits(Schedule(config)(steps))


# ---------------------------------------------------------------------------
# One step alone and in an array; every level and thread count


def all_examples() -> list[Config]:
    return [c for kind in KINDS for c in EXAMPLES[kind]]


@pytest.mark.parametrize("level", ["avx512", "baseline"])
def test_a_step_alone_gives_the_bits_it_gives_in_an_array(level: str) -> None:
    # At the baseline (no FMA) every path gives the exact values: a scalar path that ran
    # the kernels there would differ from the arrays.
    with isa_cap(level):
        without_fma = _core._isa() == "baseline"
        for config in all_examples():
            fast = Schedule(config, exact=False)
            many = Schedules([config, config], exact=False)
            edges = edge_steps(config)
            for steps in (
                [s for s in edges if isinstance(s, int)],
                [s for s in edges if isinstance(s, float) and s < 2.0**63],
            ):
                array = fast(np.array(steps))
                if without_fma:
                    assert bits(array) == bits(Schedule(config)(np.array(steps))), config
                singles = np.array([fast(s) for s in steps])
                assert bits(singles) == bits(array), config
                # compute_lr's scalar path reads the config each call, a path of its own
                scalars = np.array([compute_lr(config, s, exact=False) for s in steps])
                assert bits(scalars) == bits(array), config
                # Schedules at one step: the by-kind pass over many schedules; and one
                # schedule taken from a set, called alone
                columns = np.array([many(s)[1] for s in steps])
                assert bits(columns) == bits(array), config
                taken = np.array([many[1](s) for s in steps])
                assert bits(taken) == bits(array), config
                rounded = fast(np.array(steps), dtype=np.float32)
                with np.errstate(over="ignore"):  # rates near the largest double
                    assert rounded.tobytes() == array.astype(np.float32).tobytes(), config


# Counts the process's calls to the C library's fma (loaded first with LD_PRELOAD).
FMA_COUNTER_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
static unsigned long calls;
static double (*real_fma)(double, double, double);
double fma(double a, double b, double c) {
    ++calls;
    if (!real_fma) real_fma = (double (*)(double, double, double))dlsym(RTLD_NEXT, "fma");
    return real_fma(a, b, c);
}
unsigned long tml_fma_calls(void) { return calls; }
"""

# Every path that evaluates a schedule, in both modes, with the counter's total per path.
FMA_PATHS = r"""
import ctypes, sys
import numpy as np
counter = ctypes.CDLL(sys.argv[1])
counter.tml_fma_calls.restype = ctypes.c_ulong
from tests.kinds import EXAMPLES, edge_steps
from tests.oracle import KINDS
from tml.optimizers import Schedule, Schedules, compute_lr
totals = {}
def count(path, f):
    before = counter.tml_fma_calls()
    f()
    totals[path] = totals.get(path, 0) + counter.tml_fma_calls() - before
rng = np.random.default_rng(0)
sparse = np.sort(rng.integers(0, 10**6, 500))
for kind in KINDS:
    for config in EXAMPLES[kind]:
        ints = [s for s in edge_steps(config) if isinstance(s, int)][:40]
        floats = [s for s in edge_steps(config) if isinstance(s, float) and s < 2.0**63][:40]
        for exact in (False, True):
            one = Schedule(config, exact=exact)
            many = Schedules([config, config], exact=exact)
            count(f"Schedule(step) exact={exact}", lambda: [one(s) for s in ints + floats])
            count(f"compute_lr(cfg, step) exact={exact}",
                  lambda: [compute_lr(config, s, exact=exact) for s in ints + floats])
            count(f"Schedules(step) exact={exact}", lambda: [many(s) for s in ints + floats])
            count(f"Schedules[g](step) exact={exact}", lambda: [many[1](s) for s in ints])
            count(f"arrays exact={exact}", lambda: (one(np.array(ints)), one(np.array(floats)),
                                                    one(np.array(ints[:3])), one(sparse),
                                                    one(range(0, 10**6, 997))))
print(sum(totals.values()), {k: v for k, v in totals.items() if v})
"""


def test_the_kernels_never_call_the_library_fma(tmp_path: Path) -> None:
    # Where the level has FMA, every kernel call is compiled for it (dispatch::run or
    # dispatch::call): a path that reached a kernel any other way would give the same
    # bits through the C library's fma, a call per operation (14 for one cosine), and
    # the exact path needs no fma at all.
    compiler = shutil.which("cc") or shutil.which("gcc")
    if not sys.platform.startswith("linux") or compiler is None:
        pytest.skip("needs Linux (LD_PRELOAD) and a C compiler")
    if _core._isa() == "baseline":
        pytest.skip("this CPU has no FMA: fast mode runs the exact formulas")
    shim = tmp_path / "libfmacount.so"
    source = tmp_path / "fmacount.c"
    source.write_text(FMA_COUNTER_C)
    subprocess.run(
        [compiler, "-O2", "-shared", "-fPIC", "-o", str(shim), str(source), "-ldl"], check=True
    )
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, LD_PRELOAD=str(shim))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, "-c", FMA_PATHS, str(shim)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    total, _, where = done.stdout.strip().partition(" ")
    assert total == "0", where


def test_refused_and_invalid_steps_are_refused_as_in_exact_mode() -> None:
    restarts = EXAMPLES["cosine_restarts"][0]
    for exact in (True, False):
        with pytest.raises(ValueError, match="below 2\\*\\*63"):
            Schedule(restarts, exact=exact)(2.0**63)
        with pytest.raises(ValueError, match=r"steps\[1\] = 1e\+19"):
            Schedule(restarts, exact=exact)(np.array([0.0, 1e19]))
        with pytest.raises(ValueError, match=r"steps\[2\] = -1"):
            Schedule(restarts, exact=exact)(np.array([0, 1, -1]))


def mixed_configs(count: int, seed: int) -> list[Config]:
    rng = np.random.default_rng(seed)
    return [_draw(KINDS[i % len(KINDS)], rng, int(rng.choice(SCALES[:7]))) for i in range(count)]


def test_results_are_the_same_at_every_level_and_thread_count() -> None:
    # The same bits at every level with FMA (AVX2, AVX-512) and thread count. At the
    # baseline (SSE2, no FMA) fast mode runs the exact formulas: the exact bits.
    configs = mixed_configs(64, seed=3)
    steps = np.sort(np.random.default_rng(4).integers(0, 12_000_000, 40_000))
    floats = steps + 0.25
    fast = Schedules(configs, exact=False)
    exact = Schedules(configs)

    def results(s: Schedules) -> dict[str, bytes]:
        return {"ints": bits(s(steps)), "floats": bits(s(floats)), "one": bits(s(777))}

    wanted = results(fast)
    without_fma = results(exact)
    if _core._isa() != "baseline":
        assert wanted["ints"] != without_fma["ints"]  # the kernels ran
    threads = get_num_threads()
    levels = ["baseline", "avx2", "avx512"]
    try:
        for level in levels:
            with isa_cap(level):
                expected = without_fma if _core._isa() == "baseline" else wanted
                for n in (1, 2, 3):
                    set_num_threads(n)
                    assert results(fast) == expected, (level, n)
                    # One schedule alone, and one step: the same paths as a set's.
                    assert bits(Schedule(configs[5], exact=False)(steps)) == bits(
                        expected_row(expected["ints"], 5, len(steps))
                    ), (level, n)
    finally:
        set_num_threads(threads)
    assert _core._isa() in levels


def expected_row(packed: bytes, g: int, n: int) -> np.ndarray:
    return np.frombuffer(packed, dtype=np.float64).reshape(-1, n)[g]


def test_the_isa_cap_is_checked() -> None:
    with pytest.raises(ValueError, match="'baseline', 'avx2' or 'avx512'"):
        _core._set_isa_cap("sse9")


# ---------------------------------------------------------------------------
# The cos kernel itself


def test_cos_kernel_within_2_ulp_of_math_cos_over_0_to_pi() -> None:
    # A dense sweep, and the regions where cos is hardest: near 0, pi/2 (cos -> 0,
    # relative error matters) and pi.
    sweep = np.linspace(0.0, math.pi, 1_000_001)
    near = np.concatenate(
        [
            math.pi / 2 + np.linspace(-1e-6, 1e-6, 20_001),
            np.linspace(0.0, 1e-4, 10_001),
            math.pi - np.linspace(0.0, 1e-4, 10_001),
            [math.pi / 4, 3 * math.pi / 4, math.pi / 2, math.pi, 0.0],
        ]
    )
    x = np.concatenate([sweep, near])
    got = _core._fast_cos(x)
    want = np.array([math.cos(v) for v in x.tolist()])
    ulps = np.abs(got - want) / np.spacing(np.abs(want))
    assert ulps.max() <= 2.0, (x[np.argmax(ulps)], ulps.max())
    assert got[-1] == 1.0  # cos(0): exact
    assert got[-2] == -1.0  # cos(pi): exact
    for level in ("baseline", "avx2", "avx512"):
        with isa_cap(level):
            assert bits(_core._fast_cos(x)) == bits(got), level


# ---------------------------------------------------------------------------
# The mode as part of the API


COSINE: Config = {
    "cosine_decay": {"learning_rate": 0.1, "final_learning_rate": 0.0, "num_steps": 100}
}


def test_exact_is_the_default_and_a_property() -> None:
    assert Schedule(COSINE).exact is True
    assert Schedule(COSINE, exact=False).exact is False
    assert Schedule(COSINE, exact=np.bool_(False)).exact is False
    assert Schedules([COSINE]).exact is True
    assert Schedules({"a": COSINE}, exact=False).exact is False
    # The value a fast schedule gives: the exact formula within the bound.
    want = 0.05 * (1.0 + math.cos(math.pi * 33 / 100))
    got = Schedule(COSINE, exact=False)(33)
    assert abs(got - want) <= BOUND_ULPS * np.spacing(0.1)


def test_pickle_repr_eq_and_getitem_keep_the_mode() -> None:
    fast = Schedule(COSINE, exact=False)
    again = pickle.loads(pickle.dumps(fast))
    assert type(again) is Schedule
    assert again.exact is False
    assert again == fast
    assert bits(again(np.arange(150))) == bits(fast(np.arange(150)))
    assert pickle.loads(pickle.dumps(Schedule(COSINE))).exact is True
    assert fast != Schedule(COSINE)
    assert repr(fast).endswith(", exact=False)")
    assert "exact" not in repr(Schedule(COSINE))
    assert eval(repr(fast), {"Schedule": Schedule}) == fast  # our own repr

    many = Schedules({"a": COSINE, "b": {"constant": 0.5}}, exact=False)
    clone = pickle.loads(pickle.dumps(many, protocol=2))
    assert clone.exact is False
    assert clone.names == ("a", "b")
    assert "exact=False" in repr(many)
    assert many["a"] == fast
    assert many[0].exact is False
    assert Schedules([COSINE])[0].exact is True
    # A Schedule given as a config contributes its config; the mode is the call's.
    assert Schedule(fast).exact is True
    assert Schedules([fast]).exact is True


def test_compute_lr_exact_argument() -> None:
    steps = np.arange(0, 120)
    fast_values = Schedule(COSINE, exact=False)(steps)
    exact_values = Schedule(COSINE)(steps)
    assert bits(compute_lr(COSINE, steps, exact=False)) == bits(fast_values)
    assert bits(compute_lr(COSINE, steps)) == bits(exact_values)
    assert bits(compute_lr(COSINE, steps, exact=True)) == bits(exact_values)
    for s in (33, 33.0, 57):
        want = fast_values[int(s)]
        assert compute_lr(COSINE, s, exact=False) == want  # the compiled scalar path
        assert compute_lr(COSINE, np.int64(s), exact=False) == want  # the general path
        assert compute_lr(COSINE, s, exact=None) == exact_values[int(s)]
    # A compiled Schedule keeps its mode unless `exact` asks for the other one.
    fast = Schedule(COSINE, exact=False)
    assert compute_lr(fast, 33) == fast_values[33]
    assert compute_lr(fast, 33, exact=False) == fast_values[33]
    assert compute_lr(fast, 33, exact=True) == exact_values[33]
    assert compute_lr(Schedule(COSINE), 33, exact=False) == fast_values[33]
    assert bits(compute_lr(fast, steps, exact=True)) == bits(exact_values)


@pytest.mark.parametrize("bad", [0, 1, "False", None, [], 0.0])
def test_a_non_bool_exact_is_refused(bad: Any) -> None:
    message = r"exact must be True or False, got exact="
    with pytest.raises(TypeError, match=message):
        Schedule(COSINE, exact=bad)
    with pytest.raises(TypeError, match=message):
        Schedules([COSINE], exact=bad)
    if bad is not None:  # None is compute_lr's default: the config's own mode
        message = r"exact must be True, False or None, got exact="
        with pytest.raises(TypeError, match=message + re_repr(bad)):
            compute_lr(COSINE, 3, exact=bad)  # the compiled scalar path hands it on
        with pytest.raises(TypeError, match=message):
            compute_lr(COSINE, [3, 4], exact=bad)
    with pytest.raises(TypeError, match="exact must be True or False"):
        _core.ScheduleSet([COSINE], exact=bad)


def re_repr(value: Any) -> str:
    import re

    return re.escape(repr(value))


@pytest.mark.parametrize("level", ["avx512", "baseline"])
def test_cli_fast_runs(tmp_path: Path, level: str) -> None:
    config = tmp_path / "lr.yaml"
    config.write_text(
        "cosine_decay: {learning_rate: 0.1, final_learning_rate: 0.001, num_steps: 1000}\n"
    )
    npy = tmp_path / "lr.npy"
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), isa_cap(level):
        status = cli_main([str(config), "--fast", "--no-plot", "--npy", str(npy)])
        kernels = _core._fast_kernels()
    assert status == 0, err.getvalue()
    # Without FMA (the baseline level on x86) fast mode runs the exact formulas: the
    # summary says so rather than claim the kernels ran.
    if level == "baseline" and platform.machine().lower() in ("x86_64", "amd64"):
        assert not kernels
    mode = "(fast mode)" if kernels else "(fast mode: no FMA here, exact values)"
    assert mode in out.getvalue()
    values = np.load(npy)
    cfg = {"cosine_decay": {"learning_rate": 0.1, "final_learning_rate": 0.001, "num_steps": 1000}}
    expected: Callable[[Any], Any] = Schedule(cfg, exact=kernels is False)
    assert bits(values[0]) == bits(expected(np.arange(values.shape[1])))
