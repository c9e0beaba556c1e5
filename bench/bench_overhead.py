"""Per-call overhead of the compiled API, for every schedule kind of every kind.

For each kind the installed package accepts (the others are listed as skipped), one
config written from its formula (`kinds.config(kind, 10_000)`), evaluated at a step in its
busiest region (`kinds.probe_step`), all contenders of a kind timed interleaved:

- `Schedule(cfg)(step)` (int step) against `math.cos(0.5)`, the cost of any C function
  call with one argument (target <= 2x), and, for the cosine kinds, against a plain
  Python closure of the formula with the config's constants bound (target <= 0.5x);
- `compute_lr(LearningRate, step)` against the original tml `compute_lr` on the same
  object (its if-chain of attribute reads, then the formula in Python; target <= 1x);
- `Schedule(cfg)(np.arange(10))` against `np.cos(a * k)` on the same array (<= 0.6x);
- `Schedules` of 100 configs of the kind at one step against `np.cos(a * k)` on 100
  elements (<= 0.4x), and once more with 100 configs of mixed kinds. The configs are
  scaled copies (one shape, distinct rates: a multi-task model's towers), whose libm
  calls at one step are shared (LibmMemo in csrc/tml/kinds.hpp); the mixed set is timed
  again with distinct shapes (each config's regions at its own scale), where no two
  schedules share a call: that row has no target, as its time is mostly those libm calls
  (bench/README.md says why).

Then two scaling tables, per call and per element, so that one sees where the fixed
cost ends and the per-element cost begins: `Schedule(cfg)(np.arange(n))` and
`Schedules(G configs)(step)` for n, G in 1, 10, 100, 1e3, 1e4, next to `np.cos(a * k)`
on as many elements.

Every result is checked bitwise against the package's own (`Schedule(cfg)(step)`, itself
checked against the original-style reference); a disagreement exits 1, a missed target
prints FAIL. Timing, statistics and checks are bench/harness.py's; the small calls are
timed inline in timeit loops (`harness.Stmt`).

Run: .venv/bin/python bench/bench_overhead.py [--quick] [--kinds KIND ...] [--json PATH]
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import harness
import kinds
from harness import Bench, Stmt, measure

harness.use_source_tree()

from tml.optimizers import Schedule, Schedules, compute_lr  # noqa: E402
from tml.optimizers.config import LearningRate  # noqa: E402

N = 10_000  # the configs' scale: their regions fall inside steps 0..N-1
A = math.pi / N  # the `a` of the np.cos(a * k) baselines
SIZES = (1, 10, 100, 1_000, 10_000)
FACTORS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4)  # learning-rate scales: distinct configs

OVER_CALL = 2.0  # Schedule(cfg)(step) / math.cos(0.5)
OVER_CLOSURE = 0.5  # Schedule(cfg)(step) / closure, cosine kinds
OVER_ORIGINAL = 1.0  # compute_lr(LearningRate, step) / original compute_lr
OVER_NP10 = 0.6  # Schedule(cfg)(arange(10)) / np.cos(a * k), 10 elements
OVER_NP100 = 0.4  # Schedules(100)(step) / np.cos(a * k), 100 elements

SECTION = "per-kind"
SCALING_ARRAY = "scaling-array"
SCALING_GROUPS = "scaling-groups"
TITLES = {
    SCALING_ARRAY: "Schedule(cfg)(np.arange(n)), min time per call and per element",
    SCALING_GROUPS: "Schedules(G configs)(step), min time per call and per element",
}


def label(n: int) -> str:
    return str(n) if n < 1000 else harness.fmt_size(n)


def package_values(configs: Sequence[Mapping[str, Any]], step: int) -> np.ndarray:
    """The package's own value of each config at `step`, one `Schedule` call each."""
    cache: dict[str, float] = {}
    out = np.empty(len(configs))
    for i, c in enumerate(configs):
        key = repr(c)
        if key not in cache:
            cache[key] = Schedule(c)(step)
        out[i] = cache[key]
    return out


def group_configs(kind_list: Sequence[str], g: int) -> list[dict[str, Any]]:
    """G configs cycling through `kind_list`, each a scaled copy (distinct learning rates)."""
    return [
        kinds.scaled(kinds.config(kind_list[i % len(kind_list)], N), FACTORS[i % len(FACTORS)])
        for i in range(g)
    ]


def distinct_configs(kind_list: Sequence[str], g: int) -> list[dict[str, Any]]:
    """G configs cycling through `kind_list`, each at its own scale: no two alike in shape."""
    return [
        kinds.scaled(
            kinds.config(kind_list[i % len(kind_list)], N + 37 * i), FACTORS[i % len(FACTORS)]
        )
        for i in range(g)
    ]


def bench_kind(bench: Bench, kind: str, sample_s: float, repeats: int) -> None:
    """Every per-call comparison of one kind, its contenders interleaved."""
    check = bench.checks
    cfg = kinds.config(kind, N)
    lr = LearningRate.model_validate(cfg)
    step = kinds.probe_step(kind, N)
    schedule = Schedule(lr)
    want = schedule(step)  # the package's value, which everything else must equal
    if type(want) is not float:
        check.fail(f"{kind} Schedule(cfg)(step)", f"returned {type(want).__name__}, not float")
    k10, k100 = np.arange(10), np.arange(100)
    configs100 = group_configs([kind], 100)
    schedules100 = Schedules(configs100)
    ns: dict[str, Any] = {
        "schedule": schedule,
        "step": step,
        "cos": math.cos,
        "x": 0.5,
        "compute_lr": compute_lr,
        "lr": lr,
        "original": kinds.original_compute_lr,
        "np": np,
        "a": A,
        "k10": k10,
        "k100": k100,
        "schedules100": schedules100,
    }
    stmts = {
        "Schedule": "schedule(step)",
        "math.cos": "cos(x)",
        "compute_lr": "compute_lr(lr, step)",
        "original": "original(lr, step)",
        "Schedule 10": "schedule(k10)",
        "np.cos 10": "np.cos(a * k10)",
        "Schedules 100": "schedules100(step)",
        "np.cos 100": "np.cos(a * k100)",
    }
    cosine = kind in kinds.COSINE_KINDS
    if cosine:
        ns["closure"] = kinds.closure(kind, lr)
        stmts["closure"] = "closure(step)"
    t, got = measure(
        {name: Stmt(code, ns) for name, code in stmts.items()},
        0.0,
        sample_s=sample_s,
        repeats=repeats,
    )

    # math.cos and np.cos compute no schedule: their rows show (and say) the check of
    # our side instead.
    what = f"{kind}: original compute_lr vs Schedule(cfg)(step)"
    ref = check.bitwise(what, got["original"], want)
    scalar = bench.compare(SECTION, kind, "int step", "Schedule(cfg)(step)", t["Schedule"])
    scalar.over("math.cos(0.5)", t["math.cos"], f"{ref} (ours vs reference)", OVER_CALL)
    if cosine:
        agree = check.bitwise(f"{kind}: closure vs Schedule(cfg)(step)", got["closure"], want)
        scalar.over("closure", t["closure"], agree, OVER_CLOSURE)

    agree = check.bitwise(f"{kind}: compute_lr vs Schedule(cfg)(step)", got["compute_lr"], want)
    if type(got["compute_lr"]) is not float:
        agree = check.fail(f"{kind}: compute_lr", f"returned {type(got['compute_lr']).__name__}")
    both = agree if ref == "bitwise" else ref  # ours and the original, each vs the package
    row = bench.compare(SECTION, kind, "int step", "compute_lr(cfg, step)", t["compute_lr"])
    row.over("original compute_lr", t["original"], both, OVER_ORIGINAL, unit="ref")

    each = np.array([schedule(int(s)) for s in k10])
    what = f"{kind}: Schedule(cfg)(arange(10)) vs its scalars"
    agree = check.bitwise(what, got["Schedule 10"], each)
    row = bench.compare(SECTION, kind, "10 steps", "Schedule(cfg)(arange(10))", t["Schedule 10"])
    row.over("np.cos(a * k), 10 el.", t["np.cos 10"], f"{agree} (ours vs scalars)", OVER_NP10)

    each = package_values(configs100, step)
    agree = check.bitwise(f"{kind}: Schedules(100)(step) vs Schedule", got["Schedules 100"], each)
    row = bench.compare(SECTION, kind, "G=100", "Schedules(100)(step)", t["Schedules 100"])
    row.over("np.cos(a * k), 100 el.", t["np.cos 100"], f"{agree} (ours vs scalars)", OVER_NP100)


def bench_mixed(bench: Bench, accepted: Sequence[str], sample_s: float, repeats: int) -> None:
    """Schedules of 100 configs of every accepted kind, in turn, at one step.

    Twice: scaled copies of one config per kind, then configs of distinct shapes.
    """
    step = N // 2
    sets = {
        f"mixed ({len(accepted)} kinds)": group_configs(accepted, 100),
        f"mixed ({len(accepted)} kinds), distinct shapes": distinct_configs(accepted, 100),
    }
    ns: dict[str, Any] = {"step": step, "np": np, "a": A, "k": np.arange(100)}
    stmts = {"np.cos": Stmt("np.cos(a * k)", ns)}
    for i, (case, configs) in enumerate(sets.items()):
        ns[f"s{i}"] = Schedules(configs)
        stmts[case] = Stmt(f"s{i}(step)", ns)
    t, got = measure(stmts, 0.0, sample_s=sample_s, repeats=repeats)
    for i, (case, configs) in enumerate(sets.items()):
        what = f"{case}: Schedules(100)(step) vs Schedule"
        agree = bench.checks.bitwise(what, got[case], package_values(configs, step))
        row = bench.compare(SECTION, case, "G=100", "Schedules(100)(step)", t[case])
        # The target is the issue's, on dispatch: the scaled copies. With distinct shapes
        # every cos or pow is a libm call of its own (bench/README.md), so no target.
        target = OVER_NP100 if i == 0 else None
        row.over("np.cos(a * k), 100 el.", t["np.cos"], f"{agree} (ours vs scalars)", target)


def bench_scaling(bench: Bench, accepted: Sequence[str], sample_s: float, repeats: int) -> None:
    """Per call and per element, as n and G grow; each size's contenders interleaved."""
    cosine = "linear_ramp_to_cosine" if "linear_ramp_to_cosine" in accepted else accepted[-1]
    array_kinds = list(dict.fromkeys(["constant", cosine]))
    array_kinds = [k for k in array_kinds if k in accepted]
    step = N // 2
    for n in SIZES:
        steps = np.arange(n)
        ns: dict[str, Any] = {"np": np, "a": A, "k": steps}
        stmts = {"np.cos(a * k)": Stmt("np.cos(a * k)", ns)}
        want: dict[str, np.ndarray] = {}
        for kind in array_kinds:
            schedule = Schedule(kinds.config(kind, N))
            ns[f"s_{kind}"] = schedule
            stmts[kind] = Stmt(f"s_{kind}(k)", ns)
            want[kind] = np.array([schedule(int(s)) for s in steps])
        t, got = measure(stmts, 0.0, sample_s=sample_s, repeats=repeats)
        for name, timing in t.items():
            agree = ""
            if name in want:
                agree = bench.checks.bitwise(
                    f"{name}: Schedule(cfg)(arange({n}))", got[name], want[name]
                )
            bench.point(SCALING_ARRAY, name, label(n), timing, elements=n, agreement=agree)

    group_sets = {"constant": ["constant"], f"mixed ({len(accepted)} kinds)": list(accepted)}
    group_sets = {k: v for k, v in group_sets.items() if all(x in accepted for x in v)}
    for g in SIZES:
        ns = {"np": np, "a": A, "k": np.arange(g), "step": step}
        stmts = {"np.cos(a * k)": Stmt("np.cos(a * k)", ns)}
        configs_of = {}
        for i, (name, kind_list) in enumerate(group_sets.items()):
            configs_of[name] = group_configs(kind_list, g)
            ns[f"g{i}"] = Schedules(configs_of[name])
            stmts[name] = Stmt(f"g{i}(step)", ns)
        t, got = measure(stmts, 0.0, sample_s=sample_s, repeats=repeats)
        for name, timing in t.items():
            agree = ""
            if name in configs_of:
                each = package_values(configs_of[name], step)
                agree = bench.checks.bitwise(f"{name}: Schedules({g})(step)", got[name], each)
            bench.point(SCALING_GROUPS, name, label(g), timing, elements=g, agreement=agree)


def print_body(data: Mapping[str, Any]) -> None:
    rows = [r for r in data["rows"] if r["section"] == SECTION]
    print("Ratios (ours / other, min times):")
    print("\n".join(harness.matrix_table(rows, "kind")))
    print()
    print("\n".join(harness.rows_table(data["rows"])))
    for name, x in ((SCALING_ARRAY, "n"), (SCALING_GROUPS, "G")):
        points = [p for p in data["series"] if p["series"] == name]
        if points:
            print(f"\n{TITLES[name]}:")
            print("\n".join(harness.series_table(points, x)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = harness.parser(__doc__)
    parser.add_argument(
        "--kinds", nargs="+", choices=kinds.KINDS, metavar="KIND", help="only these kinds"
    )
    parser.add_argument(
        "--only", action="append", choices=("kinds", "scaling"), help="only this section"
    )
    args = parser.parse_args(argv)
    bench = Bench("overhead", args, series_titles=dict(TITLES))
    sample_s, repeats = (0.002, 5) if args.quick else (0.02, 15)
    accepted = []
    for kind in kinds.KINDS:
        reason = kinds.supported(kind)
        if reason is not None:
            bench.skip(kind, f"not accepted ({reason})")
        elif args.kinds is None or kind in args.kinds:
            accepted.append(kind)
    bench.extra.update(accepted=accepted, n=N, a=A, sample_s=sample_s, repeats=repeats)
    bench.notes.append(
        f"{repeats} interleaved repetitions of about {sample_s * 1e3:g} ms each per contender; "
        f"configs of kinds.config(kind, {N}) at kinds.probe_step; ratios use min times."
    )
    sections = args.only or ("kinds", "scaling")
    if accepted and "kinds" in sections:
        for kind in accepted:
            try:
                bench_kind(bench, kind, sample_s, repeats)
            except (AttributeError, TypeError, ValueError) as e:
                # A kind just added to the package whose field names differ from those
                # kinds.py writes: a failed check, not a crash mid-table.
                bench.checks.fail(f"{kind}: the benchmark could not run", repr(e))
        bench_mixed(bench, accepted, sample_s, repeats)
    if accepted and "scaling" in sections:
        bench_scaling(bench, accepted, sample_s, repeats)
    return bench.finish(None, print_body)


if __name__ == "__main__":
    sys.exit(main())
