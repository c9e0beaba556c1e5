"""Cost of one scheduler step with many parameter groups: LRShim against the baselines.

Float learning rates, each contender on its own optimizer with the same G parameter
groups and schedules (one function per contender in `CONTENDERS`):

- LRShim: `tml.optimizers.optimizer.LRShim`, one compiled call per step for all groups.
- LambdaLR: `torch.optim.lr_scheduler.LambdaLR` with one plain-Python function per
  group computing the same schedule (the groups' base lr is 1.0, so `1.0 * f(step)`
  is exactly `f(step)`).
- per-group compute_lr: a torch scheduler calling `compute_lr` once per group per
  step, the design of the original tml `LRShim`.
- bare loop: `for group, lr in zip(groups, lrs): group["lr"] = lr` with the learning
  rates precomputed: the least any scheduler must do.

Tensor learning rates, a float32 0-d tensor per group on `--device` (`tensor_contenders`):

- packed: `LRShim(..., pack_tensor_lrs=True)`, the groups' lrs views into one buffer.
- tensor: `LRShim` writing the groups' own tensors in place.
- LambdaLR (tensor): LambdaLR on those tensors (a multiply, a fill_ and a clone a group).
- LRShim (float): the float-lr step again, timed alongside, for the packed/float ratio.

Before timing, every contender is stepped in lockstep and the learning rates of all
groups at every step are compared bitwise with LRShim's (float lrs) or with
`compute_lr`'s as float32 holds them (tensor lrs); any difference makes the script exit
1. Targets (printed; a miss exits non-zero only with --check-targets): at 10,000 groups
LRShim is at least 8x faster than LambdaLR and within 2.5x of the bare loop; at 10
groups it takes at most 0.15x of LambdaLR's time (6.67x faster); with tensor lrs at
10,000 groups the packed step is within 2x of the float step and at least 50x faster
than LambdaLR, the unpacked one at least 5x faster than LambdaLR. Timing, statistics and
checks are bench/harness.py's (interleaved repeats, ratios of the minimum).

Run: .venv/bin/python bench/bench_lrshim.py [--quick] [--cold] [--groups 10 1000]
[--device cuda] [--json PATH]
"""

from __future__ import annotations

import bisect
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

import harness
from harness import Bench, Timing, measure

harness.use_source_tree()

import torch  # noqa: E402 - after the source-tree fallback
from torch.optim.lr_scheduler import LambdaLR, LRScheduler  # noqa: E402

from tml.optimizers import LRShim, compute_lr  # noqa: E402

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
            return lr / ramp * step  # type: ignore[no-any-return]
        if step > end:
            return final  # type: ignore[no-any-return]
        return final + (lr - final) * 0.5 * (1.0 + math.cos(math.pi * (step - ramp) / (end - ramp)))  # type: ignore[no-any-return]

    return cosine


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


# ---------------------------------------------------------------------------
# The contenders: one function each, (case) -> (optimizer, scheduler)


@dataclass
class Case:
    """One benchmark case: G groups and their configs.

    `table` holds their learning rates precomputed for the first `len(table)` steps
    (for the bare loop).
    """

    groups: int
    configs: list[Config]
    table: list[list[float]]


class Stepper(Protocol):
    def step(self) -> None: ...


Built = tuple[torch.optim.Optimizer, Stepper]


def lrshim(case: Case) -> Built:
    """The package's scheduler: every group's lr from one compiled call per step."""
    optimizer = make_optimizer(case.groups)
    return optimizer, LRShim(optimizer, case.configs)


def lambda_lr(case: Case) -> Built:
    """Torch's LambdaLR with one plain-Python function per group."""
    optimizer = make_optimizer(case.groups)
    return optimizer, LambdaLR(optimizer, [python_schedule(c) for c in case.configs])


class PerGroupComputeLR(LRScheduler):
    """The original tml LRShim's design: `compute_lr` called once per group per step."""

    def __init__(self, optimizer: torch.optim.Optimizer, configs: list[Config]) -> None:
        self.configs = configs
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:  # type: ignore[override]
        return [compute_lr(config, self.last_epoch) for config in self.configs]


def per_group_compute_lr(case: Case) -> Built:
    """A torch scheduler calling `compute_lr` per group per step."""
    optimizer = make_optimizer(case.groups)
    return optimizer, PerGroupComputeLR(optimizer, case.configs)


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


def bare_loop(case: Case) -> Built:
    """Precomputed learning rates assigned in a Python loop: the floor of any scheduler."""
    optimizer = make_optimizer(case.groups)
    return optimizer, BareLoop(optimizer, case.table)


CONTENDERS: dict[str, Callable[[Case], Built]] = {
    "LRShim": lrshim,
    "LambdaLR": lambda_lr,
    "per-group compute_lr": per_group_compute_lr,
    "bare loop": bare_loop,
}
OURS = "LRShim"


@dataclass(frozen=True)
class Comparison:
    """A row of the table: LRShim against `other`, with its target at some G.

    mode "speedup": other / LRShim (x faster), target a minimum; "over": LRShim / other,
    target a maximum. `target(G)` is None where the row is not graded.
    """

    other: str
    mode: str
    target: Callable[[int], float | None] = lambda _groups: None
    unit: str = ""


COMPARISONS = (
    # At 10 groups: at most 0.15x of LambdaLR's time.
    Comparison("LambdaLR", "speedup", lambda g: 8.0 if g >= 10_000 else 6.67 if g <= 10 else None),
    Comparison("per-group compute_lr", "speedup"),
    Comparison("bare loop", "over", lambda g: 2.5 if g >= 10_000 else None, "floor"),
)


def build(groups: int, table_steps: int) -> dict[str, Built]:
    configs = make_configs(groups)
    table = [[compute_lr(c, step) for c in configs] for step in range(table_steps)]
    case = Case(groups, configs, table)
    built = {name: make(case) for name, make in CONTENDERS.items()}
    for optimizer, _ in built.values():
        # No grads, so nothing moves; the schedulers see that optimizer.step() came first.
        optimizer.step()
    return built


def lrs_of(optimizer: torch.optim.Optimizer) -> list[Any]:
    """Each group's lr as a float (a 0-d tensor lr read as its value)."""
    return [
        group["lr"].item() if isinstance(group["lr"], torch.Tensor) else group["lr"]
        for group in optimizer.param_groups
    ]


def verify(bench: Bench, built: dict[str, Built], groups: int, steps: int) -> dict[str, str]:
    """Steps every contender in lockstep; checks every group's lr at every step bitwise.

    `built` must be fresh (at step 0) with a bare-loop table of more than `steps` steps.
    """
    seen: dict[str, list[list[Any]]] = {name: [] for name in built}
    for step in range(steps + 1):
        if step:
            for _, scheduler in built.values():
                scheduler.step()
        for name, (optimizer, _) in built.items():
            seen[name].append(lrs_of(optimizer))
    want = np.array(seen[OURS], dtype=np.float64)
    agreement = {}
    for name, lrs in seen.items():
        bad = [type(x).__name__ for row in lrs for x in row if type(x) is not float]
        what = f"G={groups}, steps 0..{steps}: {name} (at: step, group)"
        if bad:
            agreement[name] = bench.checks.fail(what, f"lr of type {bad[0]}, not float")
        elif name != OURS:
            agreement[name] = bench.checks.bitwise(what, np.array(lrs, dtype=np.float64), want)
    return agreement


def time_steps(
    built: dict[str, Built], repeats: int, sample_s: float, cold: bool
) -> dict[str, Timing]:
    """Seconds per step() of each contender, interleaved.

    Warm: each sample times consecutive steps (about `sample_s`), as when stepping in a
    tight loop. Cold: each sample times one step right after writing a buffer larger than
    the caches, as in training, where a forward and backward pass run between two
    scheduler steps.
    """
    steps = {name: scheduler.step for name, (_, scheduler) in built.items()}
    if cold:
        flush = np.zeros(64 * 2**20 // 8)

        def flush_caches() -> None:
            flush.__iadd__(1.0)

        timings, _ = measure(steps, 0.0, repeats=repeats, setup=flush_caches)
    else:
        timings, _ = measure(steps, 0.0, repeats=repeats, sample_s=sample_s)
    return {name: t.scaled(1.0, per="step") for name, t in timings.items()}


# ---------------------------------------------------------------------------
# Tensor learning rates


def make_tensor_optimizer(groups: int, device: torch.device) -> torch.optim.Optimizer:
    """`make_optimizer` on `device`, each group with its own float32 0-d lr tensor 1.0."""
    params = [torch.nn.Parameter(torch.zeros(1, device=device)) for _ in range(groups)]
    optimizer = torch.optim.SGD([params[0]], lr=torch.tensor(1.0, device=device))
    template = {key: value for key, value in optimizer.param_groups[0].items() if key != "params"}
    optimizer.param_groups.extend({"params": [p], **template} for p in params[1:])
    for group in optimizer.param_groups:  # one tensor each, not the shared default
        group["lr"] = torch.tensor(1.0, device=device)
    return optimizer


def tensor_contenders(device: torch.device) -> dict[str, Callable[[Case], Built]]:
    def packed(case: Case) -> Built:
        optimizer = make_tensor_optimizer(case.groups, device)
        return optimizer, LRShim(optimizer, case.configs, pack_tensor_lrs=True)

    def unpacked(case: Case) -> Built:
        optimizer = make_tensor_optimizer(case.groups, device)
        return optimizer, LRShim(optimizer, case.configs)

    def lambda_tensor(case: Case) -> Built:
        optimizer = make_tensor_optimizer(case.groups, device)
        return optimizer, LambdaLR(optimizer, [python_schedule(c) for c in case.configs])

    return {
        "packed": packed,
        "tensor": unpacked,
        "LambdaLR (tensor)": lambda_tensor,
        "LRShim (float)": lrshim,
    }


TENSOR_COMPARISONS = (
    # (ours, other, mode, target at G >= 10,000)
    ("packed", "LambdaLR (tensor)", "speedup", 50.0),
    ("packed", "LRShim (float)", "over", 2.0),
    ("tensor", "LambdaLR (tensor)", "speedup", 5.0),
)


def tensor_lrs_of(optimizer: torch.optim.Optimizer) -> np.ndarray:
    """Each group's lr as float32 holds it, as float64 (tensors read in one copy)."""
    lrs = [group["lr"] for group in optimizer.param_groups]
    if isinstance(lrs[0], torch.Tensor):
        return torch.stack(lrs).cpu().numpy().astype(np.float64)
    return np.array(lrs, dtype=np.float32).astype(np.float64)


def verify_tensor(bench: Bench, built: dict[str, Built], case: Case, steps: int) -> dict[str, str]:
    """Steps every contender in lockstep; checks every lr against compute_lr's (float32)."""
    seen: dict[str, list[np.ndarray]] = {name: [] for name in built}
    for step in range(steps + 1):
        if step:
            for _, scheduler in built.values():
                scheduler.step()
        for name, (optimizer, _) in built.items():
            seen[name].append(tensor_lrs_of(optimizer))
    want = np.array(
        [[compute_lr(c, s) for c in case.configs] for s in range(steps + 1)], dtype=np.float32
    ).astype(np.float64)
    return {
        name: bench.checks.bitwise(
            f"G={case.groups}, steps 0..{steps}: {name} (at: step, group)", np.array(lrs), want
        )
        for name, lrs in seen.items()
    }


def tensor_section(bench: Bench, args: Any, device: torch.device, verify_steps: int) -> None:
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    for groups in args.groups:
        steps = verify_steps if groups <= 1000 else verify_steps // 10
        configs = make_configs(groups)
        case = Case(groups, configs, [])
        built = {name: make(case) for name, make in tensor_contenders(device).items()}
        for optimizer, _ in built.values():
            optimizer.step()
        agreement = verify_tensor(bench, built, case, steps)
        calls: dict[str, Callable[[], Any]] = {}
        for name, (_, scheduler) in built.items():
            if sync is None:
                calls[name] = scheduler.step
            else:  # the work a step queued on the device counts too
                calls[name] = lambda step=scheduler.step, sync=sync: (step(), sync())
        timings, _ = measure(calls, 0.0, repeats=args.repeats_, sample_s=args.sample_s_)
        t = {name: timing.scaled(1.0, per="step") for name, timing in timings.items()}
        for ours, other, mode, target in TENSOR_COMPARISONS:
            section = bench.compare(
                "lrshim-tensor", f"{device} tensor lrs: step()", f"G={groups}", ours, t[ours]
            )
            goal = target if groups >= 10_000 else None
            if mode == "speedup":
                section.speedup(other, t[other], agreement[other], goal)
            else:
                section.over(other, t[other], agreement[other], goal)


def main(argv: Sequence[str] | None = None) -> int:
    parser = harness.parser(__doc__)
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
    bench = Bench("lrshim", args)
    repeats = args.repeats or (3 if args.quick else 25)
    sample_s = 0.002 if args.quick else 0.02
    verify_steps = 30 if args.quick else 300
    mode = "cold caches, one step per sample" if args.cold else "warm, consecutive steps"
    bench.notes.append(f"{repeats} repetitions, {mode}; times per step().")
    bench.extra.update(mode=mode, repeats=repeats)

    for groups in args.groups:
        steps = verify_steps if groups <= 1000 else verify_steps // 10
        # One build serves both: verified in lockstep first, then timed from there on.
        built = build(groups, table_steps=max(64, steps + 1))
        agreement = verify(bench, built, groups, steps)
        t = time_steps(built, repeats, sample_s, args.cold)
        ours = bench.compare("lrshim", "LRShim.step()", f"G={groups}", OURS, t[OURS])
        for c in COMPARISONS:
            agree = agreement[c.other]
            if c.mode == "speedup":
                ours.speedup(c.other, t[c.other], agree, c.target(groups))
            else:
                ours.over(c.other, t[c.other], agree, c.target(groups), unit=c.unit)
    args.repeats_, args.sample_s_ = repeats, sample_s
    tensor_section(bench, args, device, verify_steps)
    status = bench.finish(torch)
    missed = any(r.passed is False for r in bench.rows)
    return status or (1 if missed and args.check_targets else 0)


if __name__ == "__main__":
    sys.exit(main())
