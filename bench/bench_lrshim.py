"""Cost of one scheduler step with many parameter groups: LRShim against the baselines.

Compared, each on its own optimizer with the same G parameter groups and schedules:

- LRShim: `tml.optimizers.optimizer.LRShim`, one compiled call per step for all groups.
- LambdaLR: `torch.optim.lr_scheduler.LambdaLR` with one plain-Python function per
  group computing the same schedule (the groups' base lr is 1.0, so `1.0 * f(step)`
  is exactly `f(step)`).
- per-group compute_lr: a torch scheduler calling `compute_lr` once per group per
  step, the design of the original tml `LRShim`.
- bare loop: `for group, lr in zip(groups, lrs): group["lr"] = lr` with the learning
  rates precomputed: the least any scheduler must do.

Before timing, every implementation is stepped in lockstep and the learning rates of
all groups are compared bitwise; the script fails if any differ. Targets (printed, not
asserted; pass --check-targets to make a miss exit non-zero): at 10,000 groups LRShim is
at least 8x faster than LambdaLR and within 2.5x of the bare loop; at 10 groups it is no
slower than LambdaLR.

Run: .venv/bin/python bench/bench_lrshim.py [--quick] [--groups 10 1000]
"""

from __future__ import annotations

import argparse
import bisect
import gc
import math
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from tml.optimizers import compute_lr
from tml.optimizers.optimizer import LRShim

Config = dict[str, Any]


def make_configs(groups: int) -> list[Config]:
    """G schedules cycling through the four kinds, with varied parameters.

    Ramps and cosines are short enough that the verification steps cross every branch.
    """
    configs: list[Config] = []
    for g in range(groups):
        peak = 0.001 * (1 + g % 13)
        ramp = 5 + g % 31
        kind = g % 4
        if kind == 0:
            configs.append({"constant": peak})
        elif kind == 1:
            configs.append(
                {
                    "piecewise_constant": {
                        "learning_rate_boundaries": [ramp, 3 * ramp, 7 * ramp],
                        "learning_rate_values": [peak, peak / 2, peak / 4, peak / 8],
                    }
                }
            )
        elif kind == 2:
            configs.append(
                {"linear_ramp_to_constant": {"learning_rate": peak, "num_ramp_steps": ramp}}
            )
        else:
            configs.append(
                {
                    "linear_ramp_to_cosine": {
                        "learning_rate": peak,
                        "final_learning_rate": peak / 100,
                        "num_ramp_steps": ramp,
                        "final_num_steps": ramp + 40 + g % 97,
                    }
                }
            )
    return configs


def python_schedule(config: Config) -> Callable[[int], float]:
    """The schedule as one plain-Python function, in the reference order of operations."""
    if "constant" in config:
        value = config["constant"]
        return lambda _step: value
    if "piecewise_constant" in config:
        boundaries = config["piecewise_constant"]["learning_rate_boundaries"]
        values = config["piecewise_constant"]["learning_rate_values"]
        return lambda step: values[bisect.bisect_right(boundaries, step)]
    if "linear_ramp_to_constant" in config:
        c = config["linear_ramp_to_constant"]
        lr, ramp = c["learning_rate"], c["num_ramp_steps"]
        return lambda step: min(lr, lr / ramp * step)
    c = config["linear_ramp_to_cosine"]
    lr, final = c["learning_rate"], c["final_learning_rate"]
    ramp, end = c["num_ramp_steps"], c["final_num_steps"]

    def cosine(step: int) -> float:
        if step < ramp:
            return lr / ramp * step
        if step > end:
            return final
        return final + (lr - final) * 0.5 * (1.0 + math.cos(math.pi * (step - ramp) / (end - ramp)))

    return cosine


class PerGroupComputeLR(LRScheduler):
    """The original tml LRShim's design: `compute_lr` called once per group per step."""

    def __init__(self, optimizer: torch.optim.Optimizer, configs: list[Config]) -> None:
        self.configs = configs
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        return [compute_lr(config, self.last_epoch) for config in self.configs]


def make_optimizer(groups: int) -> torch.optim.Optimizer:
    """SGD with `groups` groups of one parameter each, every lr 1.0.

    `add_param_group` checks each new group against all earlier ones (quadratic in G:
    a minute at G=10,000), so the groups after the first are copies of the first one's
    settings with their own parameter: the same dicts torch would have built.
    """
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(groups)]
    optimizer = torch.optim.SGD([params[0]], lr=1.0)
    template = {key: value for key, value in optimizer.param_groups[0].items() if key != "params"}
    optimizer.param_groups.extend({"params": [p], **template} for p in params[1:])
    return optimizer


class BareLoop:
    """Assigns precomputed learning rates; `table[e % len(table)]` at step e."""

    def __init__(self, optimizer: torch.optim.Optimizer, table: list[list[float]]) -> None:
        self.groups = optimizer.param_groups
        for group in self.groups:
            # Every torch scheduler adds initial_lr to each group; it grows the dicts
            # (10 keys to 11 for SGD: a bigger hash table), which makes stores slower
            # when the dicts are cold, so the floor is measured on groups that have it.
            group.setdefault("initial_lr", group["lr"])
        self.table = table
        self.epoch = 0
        for group, lr in zip(self.groups, table[0], strict=True):
            group["lr"] = lr

    def step(self) -> None:
        self.epoch += 1
        for group, lr in zip(self.groups, self.table[self.epoch % len(self.table)], strict=True):
            group["lr"] = lr


def build(groups: int, table_steps: int) -> dict[str, tuple[torch.optim.Optimizer, Any]]:
    configs = make_configs(groups)
    impls: dict[str, tuple[torch.optim.Optimizer, Any]] = {}
    opt = make_optimizer(groups)
    impls["LRShim"] = (opt, LRShim(opt, configs))
    opt = make_optimizer(groups)
    impls["LambdaLR"] = (opt, LambdaLR(opt, [python_schedule(c) for c in configs]))
    opt = make_optimizer(groups)
    impls["per-group compute_lr"] = (opt, PerGroupComputeLR(opt, configs))
    table = [[compute_lr(c, step) for c in configs] for step in range(table_steps)]
    opt = make_optimizer(groups)
    impls["bare loop"] = (opt, BareLoop(opt, table))
    for optimizer, _ in impls.values():
        # No grads, so nothing moves; the schedulers see that optimizer.step() came first.
        optimizer.step()
    return impls


def lrs_of(optimizer: torch.optim.Optimizer) -> list[str]:
    # float.hex compares bitwise (0.0 vs -0.0 included) and fails loudly on non-floats.
    return [float.hex(group["lr"]) for group in optimizer.param_groups]


def verify(groups: int, steps: int) -> None:
    """Steps every implementation in lockstep and asserts identical learning rates."""
    impls = build(groups, table_steps=steps + 1)
    for step in range(steps + 1):
        if step:
            for _, scheduler in impls.values():
                scheduler.step()
        expected = lrs_of(impls["LRShim"][0])
        for name, (optimizer, _) in impls.items():
            got = lrs_of(optimizer)
            if got != expected:
                g = next(i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b)
                raise AssertionError(
                    f"G={groups} step {step}: {name} gives lr {float.fromhex(got[g])!r} for "
                    f"group {g}, LRShim gives {float.fromhex(expected[g])!r}"
                )


def time_steps(
    impls: dict[str, tuple[torch.optim.Optimizer, Any]],
    repeats: int,
    budget_s: float,
    cold: bool,
) -> dict[str, list[float]]:
    """Seconds per step, one entry per repetition; implementations interleaved.

    Warm: each repetition times a run of consecutive steps (at least 10, about
    `budget_s`), as when stepping in a tight loop. Cold: each repetition times one step
    right after writing a buffer larger than the caches, as in training, where a forward
    and backward pass run between two scheduler steps.
    """
    calls: dict[str, int] = {}
    for name, (_, scheduler) in impls.items():  # size the inner loop to ~budget_s
        start = time.perf_counter()
        scheduler.step()
        one = max(time.perf_counter() - start, 1e-7)
        calls[name] = 1 if cold else max(10, min(20000, int(budget_s / one)))
    flush = np.zeros(64 * 2**20 // 8) if cold else None
    samples: dict[str, list[float]] = {name: [] for name in impls}
    enabled = gc.isenabled()
    gc.disable()  # a collection inside one timed loop would dominate it
    try:
        for _ in range(repeats):
            for name, (_, scheduler) in impls.items():
                if flush is not None:
                    flush += 1.0
                step = scheduler.step
                n = calls[name]
                start = time.perf_counter()
                for _ in range(n):
                    step()
                samples[name].append((time.perf_counter() - start) / n)
    finally:
        if enabled:
            gc.enable()
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few repetitions, smoke run")
    parser.add_argument("--groups", type=int, nargs="+", default=[10, 1000, 10000])
    parser.add_argument("--repeats", type=int, default=None, help="timed repetitions")
    parser.add_argument(
        "--cold", action="store_true", help="time single steps after flushing the caches"
    )
    parser.add_argument("--check-targets", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 25)
    budget = 0.002 if args.quick else 0.02
    verify_steps = 30 if args.quick else 300

    print(f"torch {torch.__version__}, Python {sys.version.split()[0]}")
    mode = "cold caches, one step per sample" if args.cold else "warm, consecutive steps"
    print(f"{repeats} repetitions, {mode}; per step() in microseconds (min / median)\n")
    header = (
        f"{'G':>6} | {'LRShim':>17} | {'LambdaLR':>17} | {'per-group compute_lr':>20} | "
        f"{'bare loop':>17} | {'LambdaLR/LRShim':>15} | {'compute_lr/LRShim':>17} | "
        f"{'LRShim/bare':>11}"
    )
    print(header)
    print("-" * len(header))
    misses: list[str] = []
    for groups in args.groups:
        verify(groups, verify_steps if groups <= 1000 else verify_steps // 10)
        impls = build(groups, table_steps=64)
        samples = time_steps(impls, repeats, budget, args.cold)
        best = {name: min(s) for name, s in samples.items()}
        median = {name: statistics.median(s) for name, s in samples.items()}

        def cell(
            name: str, best: dict[str, float] = best, median: dict[str, float] = median
        ) -> str:
            return f"{best[name] * 1e6:>8.2f}/{median[name] * 1e6:<8.2f}"

        # Ratios of medians: robust to one lucky repetition of either side.
        speedup = median["LambdaLR"] / median["LRShim"]
        vs_compute = median["per-group compute_lr"] / median["LRShim"]
        vs_bare = median["LRShim"] / median["bare loop"]
        print(
            f"{groups:>6} | {cell('LRShim')} | {cell('LambdaLR')} | "
            f"{cell('per-group compute_lr'):>20} | {cell('bare loop')} | {speedup:>14.2f}x | "
            f"{vs_compute:>16.2f}x | {vs_bare:>10.2f}x"
        )
        if groups >= 10000 and speedup < 8:
            misses.append(f"G={groups}: LambdaLR/LRShim = {speedup:.2f}x < 8x")
        if groups >= 10000 and vs_bare > 2.5:
            misses.append(f"G={groups}: LRShim/bare = {vs_bare:.2f}x > 2.5x")
        if groups <= 10 and speedup < 1:
            misses.append(f"G={groups}: LambdaLR/LRShim = {speedup:.2f}x < 1x")

    print("\nall implementations gave bitwise identical learning rates")
    print("targets: " + ("all met" if not misses else "MISSED: " + "; ".join(misses)))
    return 1 if misses and args.check_targets else 0


if __name__ == "__main__":
    sys.exit(main())
