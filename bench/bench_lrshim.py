"""Cost of one scheduler step with many parameter groups: LRShim against the baselines.

Float learning rates, each on its own optimizer with the same G parameter groups and
schedules:

- LRShim: `tml.optimizers.LRShim`, one compiled call per step for all groups.
- LambdaLR: `torch.optim.lr_scheduler.LambdaLR` with one plain-Python function per
  group computing the same schedule (the groups' base lr is 1.0, so `1.0 * f(step)`
  is exactly `f(step)`).
- per-group compute_lr: a torch scheduler calling `compute_lr` once per group per
  step, the design of the original tml `LRShim`.
- bare loop: `for group, lr in zip(groups, lrs): group["lr"] = lr` with the learning
  rates precomputed: the least any scheduler must do.

Tensor learning rates (a float32 0-d tensor per group, on `--device`):

- packed: `LRShim(..., pack_tensor_lrs=True)`, the groups' lrs views into one buffer.
- tensor: `LRShim` writing the groups' own tensors in place.
- LambdaLR: as above, on the tensors (a multiply, a fill_ and a clone per group).
- float: the float-lr LRShim step again, timed in the same run, for the packed/float
  ratio.

Before timing, every implementation is stepped in lockstep and the learning rates of
all groups are compared with `compute_lr` (bitwise; tensors as float32 holds them); the
script fails if any differ. Targets (printed, not asserted; pass --check-targets to make
a miss exit non-zero): at 10,000 groups LRShim is at least 8x faster than LambdaLR and
within 2.5x of the bare loop; at 10 groups it takes at most 0.15x of LambdaLR's time;
with tensor lrs at 10,000 groups the packed step is within 2x of the float step and at
least 50x faster than LambdaLR, the unpacked one at least 5x faster than LambdaLR.

Run: .venv/bin/python bench/bench_lrshim.py [--quick] [--groups 10 1000] [--device cuda]
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

from tml.optimizers import LRShim, compute_lr

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


def make_tensor_optimizer(groups: int, device: torch.device) -> torch.optim.Optimizer:
    """`make_optimizer` on `device`, each group with its own float32 0-d lr tensor 1.0."""
    params = [torch.nn.Parameter(torch.zeros(1, device=device)) for _ in range(groups)]
    optimizer = torch.optim.SGD([params[0]], lr=torch.tensor(1.0, device=device))
    template = {key: value for key, value in optimizer.param_groups[0].items() if key != "params"}
    optimizer.param_groups.extend({"params": [p], **template} for p in params[1:])
    for group in optimizer.param_groups:  # one tensor each, not the shared default
        group["lr"] = torch.tensor(1.0, device=device)
    return optimizer


def build_tensor(groups: int, device: torch.device) -> dict[str, tuple[torch.optim.Optimizer, Any]]:
    configs = make_configs(groups)
    impls: dict[str, tuple[torch.optim.Optimizer, Any]] = {}
    opt = make_tensor_optimizer(groups, device)
    impls["packed"] = (opt, LRShim(opt, configs, pack_tensor_lrs=True))
    opt = make_tensor_optimizer(groups, device)
    impls["tensor"] = (opt, LRShim(opt, configs))
    opt = make_tensor_optimizer(groups, device)
    impls["LambdaLR"] = (opt, LambdaLR(opt, [python_schedule(c) for c in configs]))
    opt = make_optimizer(groups)
    impls["float"] = (opt, LRShim(opt, configs))
    for optimizer, _ in impls.values():
        optimizer.step()
    return impls


def tensor_lrs_of(optimizer: torch.optim.Optimizer) -> list[str]:
    lrs = [group["lr"] for group in optimizer.param_groups]
    if not isinstance(lrs[0], torch.Tensor):
        return [float.hex(float(np.float32(lr))) for lr in lrs]
    return [float.hex(v) for v in torch.stack(lrs).cpu().tolist()]  # one copy to the host


def verify_tensor(groups: int, steps: int, device: torch.device) -> None:
    """Steps the tensor implementations in lockstep; asserts compute_lr's values."""
    configs = make_configs(groups)
    impls = build_tensor(groups, device)
    for step in range(steps + 1):
        if step:
            for _, scheduler in impls.values():
                scheduler.step()
        want = [float.hex(float(np.float32(compute_lr(c, step)))) for c in configs]
        for name, (optimizer, _) in impls.items():
            got = tensor_lrs_of(optimizer)
            if got != want:
                g = next(i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b)
                raise AssertionError(
                    f"G={groups} step {step}: {name} gives lr {float.fromhex(got[g])!r} for "
                    f"group {g}, compute_lr (as float32) {float.fromhex(want[g])!r}"
                )


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
    sync: Callable[[], None] = lambda: None,
) -> dict[str, list[float]]:
    """Seconds per step, one entry per repetition; implementations interleaved.

    Warm: each repetition times a run of consecutive steps (at least 10, about
    `budget_s`), as when stepping in a tight loop. Cold: each repetition times one step
    right after writing a buffer larger than the caches, as in training, where a forward
    and backward pass run between two scheduler steps. `sync` waits for the device, so
    the work a step queued there is counted.
    """
    calls: dict[str, int] = {}
    for name, (_, scheduler) in impls.items():  # size the inner loop to ~budget_s
        start = time.perf_counter()
        scheduler.step()
        sync()
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
                sync()
                start = time.perf_counter()
                for _ in range(n):
                    step()
                sync()
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
    parser.add_argument("--device", default="cpu", help="where the tensor lrs live (cpu, cuda)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device")
    repeats = args.repeats or (3 if args.quick else 25)
    budget = 0.002 if args.quick else 0.02
    verify_steps = 30 if args.quick else 300

    print(f"torch {torch.__version__}, Python {sys.version.split()[0]}, tensor lrs on {device}")
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
        if groups <= 10 and 1 / speedup > 0.15:
            misses.append(f"G={groups}: LRShim/LambdaLR = {1 / speedup:.3f}x > 0.15x")

    misses += tensor_section(args.groups, device, repeats, budget, args.cold, verify_steps)
    print("\nall implementations gave compute_lr's learning rates, bitwise")
    print("targets: " + ("all met" if not misses else "MISSED: " + "; ".join(misses)))
    return 1 if misses and args.check_targets else 0


def tensor_section(
    group_counts: list[int],
    device: torch.device,
    repeats: int,
    budget: float,
    cold: bool,
    verify_steps: int,
) -> list[str]:
    """Times the tensor-lr implementations; returns the targets missed."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    print(f"\nfloat32 tensor lrs on {device}, per step() in microseconds (min / median)\n")
    header = (
        f"{'G':>6} | {'packed':>17} | {'tensor':>17} | {'LambdaLR':>17} | {'float':>17} | "
        f"{'LambdaLR/packed':>15} | {'LambdaLR/tensor':>15} | {'packed/float':>12}"
    )
    print(header)
    print("-" * len(header))
    misses: list[str] = []
    for groups in group_counts:
        verify_tensor(groups, verify_steps if groups <= 1000 else verify_steps // 10, device)
        impls = build_tensor(groups, device)
        samples = time_steps(impls, repeats, budget, cold, sync)
        best = {name: min(s) for name, s in samples.items()}
        median = {name: statistics.median(s) for name, s in samples.items()}

        def cell(
            name: str, best: dict[str, float] = best, median: dict[str, float] = median
        ) -> str:
            return f"{best[name] * 1e6:>8.2f}/{median[name] * 1e6:<8.2f}"

        vs_packed = median["LambdaLR"] / median["packed"]
        vs_tensor = median["LambdaLR"] / median["tensor"]
        packed_float = median["packed"] / median["float"]
        print(
            f"{groups:>6} | {cell('packed')} | {cell('tensor')} | {cell('LambdaLR')} | "
            f"{cell('float')} | {vs_packed:>14.1f}x | {vs_tensor:>14.1f}x | {packed_float:>11.2f}x"
        )
        if groups >= 10000 and packed_float > 2:
            misses.append(f"G={groups}: packed/float = {packed_float:.2f}x > 2x")
        if groups >= 10000 and vs_packed < 50:
            misses.append(f"G={groups}: LambdaLR/packed = {vs_packed:.1f}x < 50x")
        if groups >= 10000 and vs_tensor < 5:
            misses.append(f"G={groups}: LambdaLR/tensor = {vs_tensor:.1f}x < 5x")
    return misses


if __name__ == "__main__":
    sys.exit(main())
