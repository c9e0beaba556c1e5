# mypy: disable-error-code="no-any-return"
"""Every schedule kind, as the benchmarks use them.

- `KINDS`: the 16 kind names, the four tml kinds first, then LearningRate's field order.
- `config(kind, n, variant="")`: one YAML-shaped config per kind whose regions all fall
  inside steps 0..n-1 (its typical config; `VARIANTS` names a few others), and
  `probe_step(kind, n)`: a step in its busiest region (the cosine part, the decay
  part), where a scalar call does the most work.
- `original_compute_lr`: the original tml `compute_lr` extended to every kind in its own
  style (an if-chain of attribute reads on the config object, then the formula in plain
  Python floats): the scalar baseline and the agreement oracle.
- `closure(kind, lr)`: for the cosine kinds, the formula as a plain Python closure with
  the config's constants bound, the least a Python caller could write.
- `supported(kind)`: whether the installed package accepts a kind (the package grows
  kinds one by one; a benchmark runs those it accepts and lists the others as skipped).

The formulas follow the kinds' exact definition (README) (Python over the step, left to right,
`math.cos`/`math.sqrt`, `**` as C pow), so where the package implements a kind they
must agree with it bitwise.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from typing import Any

TML_KINDS = ("constant", "piecewise_constant", "linear_ramp_to_constant", "linear_ramp_to_cosine")
NEW_KINDS = (
    "linear",
    "exponential_decay",
    "multistep_decay",
    "polynomial_decay",
    "cosine_decay",
    "inverse_sqrt",
    "inverse_time_decay",
    "cosine_restarts",
    "one_cycle",
    "cyclic",
    "warmup_stable_decay",
    "sequence",
)
KINDS = TML_KINDS + NEW_KINDS

SHORT = {
    "constant": "constant",
    "piecewise_constant": "piecewise",
    "linear_ramp_to_constant": "linear ramp",
    "linear_ramp_to_cosine": "cosine",
}

# Kinds whose value at `probe_step` is a cosine: they get the closure comparison.
COSINE_KINDS = (
    "linear_ramp_to_cosine",
    "cosine_decay",
    "cosine_restarts",
    "one_cycle",
    "warmup_stable_decay",
    "sequence",
)


def short(kind: str) -> str:
    """The kernel benchmark's short label of a kind (its own name for the new ones)."""
    return SHORT.get(kind, kind)


# Other configs of a kind, by name, for `config(kind, n, variant)`: its typical config
# (the default) makes the fewest libm calls the kind allows; a variant measures the call.
VARIANTS: dict[str, tuple[str, ...]] = {
    "polynomial_decay": ("power 2",),
    "cyclic": ("triangular2", "exp_range"),
}


def config(kind: str, n: int, variant: str = "") -> dict[str, Any]:
    """A config of `kind` in the YAML shape, every region of it inside steps 0..n-1.

    The four tml kinds keep the kernel benchmark's historical configs (its figures stay
    comparable). Lengths are fractions of n (tenths, sixteenths), so any n >= 160 gives
    a valid config. Each kind's default is its typical config: polynomial_decay with
    power 1.0 (no pow call), cyclic in triangular mode (no pow call); `variant` names
    another one of `VARIANTS[kind]` ("power 2"; "triangular2", "exp_range").
    """
    if variant and variant not in VARIANTS.get(kind, ()):
        raise ValueError(f"unknown variant {variant!r} of kind {kind!r}")
    tenth = n // 10
    body: Any
    if kind == "constant":
        body = 0.05
    elif kind == "piecewise_constant":
        body = {
            "learning_rate_boundaries": [n * k // 8 for k in range(1, 8)],
            "learning_rate_values": [0.1 * 0.7**k for k in range(8)],
        }
    elif kind == "linear_ramp_to_constant":
        body = {"learning_rate": 0.1, "num_ramp_steps": n // 2}
    elif kind == "linear_ramp_to_cosine":
        body = {
            "learning_rate": 0.1,
            "final_learning_rate": 0.001,
            "num_ramp_steps": tenth,
            "final_num_steps": 9 * tenth,
        }
    elif kind == "linear":
        body = {"learning_rate": 0.1, "final_learning_rate": 0.001, "num_steps": 9 * tenth}
    elif kind == "exponential_decay":
        body = {"learning_rate": 0.1, "decay_rate": 0.5, "decay_steps": tenth}
    elif kind == "multistep_decay":
        body = {"learning_rate": 0.1, "milestones": [3 * tenth, 6 * tenth, 8 * tenth], "gamma": 0.1}
    elif kind == "polynomial_decay":
        body = {
            "learning_rate": 0.1,
            "final_learning_rate": 0.001,
            "num_steps": 9 * tenth,
            "power": 2.0 if variant == "power 2" else 1.0,
        }
    elif kind == "cosine_decay":
        body = {"learning_rate": 0.1, "final_learning_rate": 0.001, "num_steps": 9 * tenth}
    elif kind == "inverse_sqrt":
        body = {"learning_rate": 0.1, "num_warmup_steps": tenth}
    elif kind == "inverse_time_decay":
        body = {"learning_rate": 0.1, "decay_rate": 0.5, "decay_steps": tenth}
    elif kind == "cosine_restarts":
        # periods n/16, n/8, n/4, n/2: restarts at n/16, 3n/16, 7n/16, the last ends at 15n/16
        body = {
            "learning_rate": 0.1,
            "final_learning_rate": 0.001,
            "num_steps": n // 16,
            "period_multiplier": 2,
            "peak_decay": 0.9,
            "num_cycles": 4,
        }
    elif kind == "one_cycle":
        body = {"learning_rate": 0.1, "total_steps": 9 * tenth}
    elif kind == "cyclic":
        # exp_range: the amplitude shrinks to about 1/e of its first value by step n
        body = {
            "learning_rate": 0.001,
            "max_learning_rate": 0.1,
            "step_size_up": tenth,
            "mode": variant or "triangular",
        }
        if variant == "exp_range":
            body["gamma"] = 1.0 - 1.0 / n
    elif kind == "warmup_stable_decay":
        body = {
            "learning_rate": 0.1,
            "final_learning_rate": 0.001,
            "num_warmup_steps": tenth,
            "num_stable_steps": 3 * tenth,
            "num_decay_steps": 5 * tenth,
            "decay_shape": "cosine",
        }
    elif kind == "sequence":
        # warm-up, hold, cosine decay: the three-stage schedule of the README's sequence example
        body = [
            {
                "num_steps": tenth,
                "schedule": {
                    "linear": {"learning_rate": 0.0, "final_learning_rate": 0.1, "num_steps": tenth}
                },
            },
            {"num_steps": 3 * tenth, "schedule": {"constant": 0.1}},
            {
                "schedule": {
                    "cosine_decay": {
                        "learning_rate": 0.1,
                        "final_learning_rate": 0.001,
                        "num_steps": 5 * tenth,
                    }
                }
            },
        ]
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return {kind: body}


def probe_step(kind: str, n: int) -> int:
    """A step in the busiest region of `config(kind, n)` (cosine, decay, after a ramp)."""
    if kind in ("warmup_stable_decay", "sequence"):
        return 3 * n // 5  # in the decay (the third stage of the sequence)
    return n // 2


def scaled(cfg: dict[str, Any], factor: float) -> dict[str, Any]:
    """`cfg` with every learning rate multiplied by `factor`.

    A different schedule of the same kind and shape: every ordering between its rates
    (F <= L, M >= L) is kept.
    """
    rates = ("learning_rate", "final_learning_rate", "max_learning_rate")

    def walk(x: Any, key: str | None) -> Any:
        if isinstance(x, dict):
            return {k: walk(v, k) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v, key) for v in x]
        if key in rates or key == "constant" or key == "learning_rate_values":
            return x * factor
        return x

    return walk(cfg, None)


def supported(kind: str, variant: str = "") -> str | None:
    """None when the installed package accepts `kind`, else why not (one line).

    Accepted means that both `LearningRate` and `Schedule` take
    `config(kind, 1600, variant)`.
    """
    from tml.optimizers import Schedule
    from tml.optimizers.config import LearningRate

    cfg = config(kind, 1600, variant)
    try:
        LearningRate.model_validate(cfg)
        Schedule(cfg)
    except Exception as e:  # any refusal means: not implemented in this build
        errors = getattr(e, "errors", None)
        if callable(errors):  # a pydantic ValidationError: its first error, briefly
            first = errors()[0]
            where = ".".join(str(x) for x in first.get("loc", ()))
            return f"{where}: {first.get('msg')}"
        return f"{type(e).__name__}: {str(e).strip().splitlines()[0][:160]}"
    return None


# ---------------------------------------------------------------------------
# The original tml compute_lr, extended to every kind in its own style


def original_compute_lr(lr_config: Any, step: Any) -> float:
    """The original tml `compute_lr`, with its attribute reads and operation order.

    The four tml kinds are the original function, branch for branch (it is the scalar
    baseline, so it keeps the original's shape and cost). The new kinds follow, in
    LearningRate's order, each written the same way: an attribute test on the `LearningRate`,
    then the kind's formula over the sub-config's attributes in plain Python.
    """
    if lr_config.constant is not None:
        return lr_config.constant
    if lr_config.piecewise_constant is not None:
        return lr_config.piecewise_constant.learning_rate_values[
            bisect.bisect_right(lr_config.piecewise_constant.learning_rate_boundaries, step)
        ]
    if lr_config.linear_ramp_to_constant is not None:
        slope = (
            lr_config.linear_ramp_to_constant.learning_rate
            / lr_config.linear_ramp_to_constant.num_ramp_steps
        )
        return min(lr_config.linear_ramp_to_constant.learning_rate, slope * step)
    if lr_config.linear_ramp_to_cosine is not None:
        cfg = lr_config.linear_ramp_to_cosine
        if step < cfg.num_ramp_steps:
            slope = cfg.learning_rate / cfg.num_ramp_steps
            return slope * step
        if step <= cfg.final_num_steps:
            return cfg.final_learning_rate + (cfg.learning_rate - cfg.final_learning_rate) * 0.5 * (
                1.0
                + math.cos(
                    math.pi
                    * (step - cfg.num_ramp_steps)
                    / (cfg.final_num_steps - cfg.num_ramp_steps)
                )
            )
        return cfg.final_learning_rate
    if lr_config.linear is not None:
        cfg = lr_config.linear
        if step < cfg.num_steps:
            if 2 * step < cfg.num_steps:
                return cfg.learning_rate + (cfg.final_learning_rate - cfg.learning_rate) * (
                    float(step) / cfg.num_steps
                )
            return cfg.final_learning_rate + (cfg.learning_rate - cfg.final_learning_rate) * (
                float(cfg.num_steps - step) / cfg.num_steps
            )
        return cfg.final_learning_rate
    if lr_config.exponential_decay is not None:
        cfg = lr_config.exponential_decay
        try:
            value = cfg.learning_rate * cfg.decay_rate ** _exponent(cfg, step)
        except (
            OverflowError
        ):  # `**` is C pow (the kinds' conventions (README)): inf, then capped below
            value = math.inf
        if cfg.final_learning_rate is None:
            return value
        if cfg.decay_rate < 1.0:
            return max(value, cfg.final_learning_rate)
        return min(value, cfg.final_learning_rate)
    if lr_config.multistep_decay is not None:
        cfg = lr_config.multistep_decay
        return cfg.learning_rate * cfg.gamma ** bisect.bisect_right(cfg.milestones, step)
    if lr_config.polynomial_decay is not None:
        cfg = lr_config.polynomial_decay
        if step < cfg.num_steps:
            return (cfg.learning_rate - cfg.final_learning_rate) * (
                1.0 - float(step) / cfg.num_steps
            ) ** cfg.power + cfg.final_learning_rate
        return cfg.final_learning_rate
    if lr_config.cosine_decay is not None:
        cfg = lr_config.cosine_decay
        if step <= cfg.num_steps:
            return cfg.final_learning_rate + (cfg.learning_rate - cfg.final_learning_rate) * 0.5 * (
                1.0 + math.cos(math.pi * float(step) / cfg.num_steps)
            )
        return cfg.final_learning_rate
    if lr_config.inverse_sqrt is not None:
        cfg = lr_config.inverse_sqrt
        if step < cfg.num_warmup_steps:
            return cfg.learning_rate / cfg.num_warmup_steps * float(step)
        tau = cfg.timescale if cfg.timescale is not None else cfg.num_warmup_steps
        return cfg.learning_rate / math.sqrt(float(step - cfg.num_warmup_steps + tau) / tau)
    if lr_config.inverse_time_decay is not None:
        cfg = lr_config.inverse_time_decay
        return cfg.learning_rate / (1.0 + cfg.decay_rate * _exponent(cfg, step))
    if lr_config.cosine_restarts is not None:
        cfg = lr_config.cosine_restarts
        cycle, start, length = _restart_cycle(cfg.num_steps, cfg.period_multiplier, step)
        if cfg.num_cycles is not None and cycle >= cfg.num_cycles:
            return cfg.final_learning_rate
        peak = max(cfg.learning_rate * cfg.peak_decay**cycle, cfg.final_learning_rate)
        return cfg.final_learning_rate + (peak - cfg.final_learning_rate) * 0.5 * (
            1.0 + math.cos(math.pi * (step - start) / length)
        )
    if lr_config.one_cycle is not None:
        return _one_cycle(lr_config.one_cycle, step)
    if lr_config.cyclic is not None:
        cfg = lr_config.cyclic
        up = cfg.step_size_up
        down = cfg.step_size_down if cfg.step_size_down is not None else up
        cycle = _floor(step) // (up + down)
        position = step - cycle * (up + down)
        scale = position / up if position < up else (up + down - position) / down
        if cfg.mode == "triangular":
            factor = 1.0
        elif cfg.mode == "triangular2":
            try:
                factor = 1.0 / 2.0**cycle
            except OverflowError:  # `**` is C pow (the kinds' conventions (README)): 1.0 / inf
                factor = 0.0
        else:  # exp_range
            factor = cfg.gamma ** float(step)
        return cfg.learning_rate + (cfg.max_learning_rate - cfg.learning_rate) * scale * factor
    if lr_config.warmup_stable_decay is not None:
        cfg = lr_config.warmup_stable_decay
        warmup, stable, decay = cfg.num_warmup_steps, cfg.num_stable_steps, cfg.num_decay_steps
        if step < warmup:
            return cfg.learning_rate / warmup * float(step)
        if step < warmup + stable:
            return cfg.learning_rate
        if step < warmup + stable + decay:
            final, lr = cfg.final_learning_rate, cfg.learning_rate
            if cfg.decay_shape == "linear":
                return final + (lr - final) * (float(warmup + stable + decay - step) / decay)
            p = float(step - warmup - stable) / decay
            if cfg.decay_shape == "sqrt":
                return final + (lr - final) * (1.0 - math.sqrt(p))
            return final + (lr - final) * 0.5 * (1.0 + math.cos(math.pi * p))
        return cfg.final_learning_rate
    if lr_config.sequence is not None:
        start = 0
        for stage in lr_config.sequence:
            if stage.num_steps is None or step < start + stage.num_steps:
                return original_compute_lr(stage.schedule, step - start)
            start += stage.num_steps
        raise ValueError("a sequence whose last stage has num_steps")
    raise ValueError(f"No option selected in lr_config, passed {lr_config}")


def _floor(step: Any) -> int:
    """The integer step of a cycle: the step itself, or floor of a float step."""
    return step if isinstance(step, int) else math.floor(step)


def _exponent(cfg: Any, step: Any) -> float:
    """The exponent k of exponential_decay and inverse_time_decay: t / D, or with staircase s // D."""
    if not cfg.staircase:
        return float(step) / cfg.decay_steps
    if isinstance(step, int):
        return float(step // cfg.decay_steps)
    return float(math.floor(float(step) / cfg.decay_steps))


def _restart_cycle(first: int, multiplier: int, step: Any) -> tuple[int, int, int]:
    """(i, S_i, T_i) of cosine_restarts: the cycle holding `step`, its start and length."""
    s = _floor(step)
    if multiplier == 1:
        cycle = s // first
        return cycle, first * cycle, first
    cycle, start, length = 0, 0, first
    while s >= start + length:  # exact integers: S_{i+1} = S_i + T_i, T_{i+1} = m * T_i
        start += length
        length *= multiplier
        cycle += 1
    return cycle, start, length


def _one_cycle(cfg: Any, step: Any) -> float:
    """One_cycle: torch's OneCycleLR, its phase ends, `pct` and anneal expressions; min past the end."""
    total = cfg.total_steps
    initial = cfg.learning_rate / cfg.div_factor
    minimum = initial / cfg.final_div_factor
    if step > total - 1:
        return minimum
    if cfg.three_phase:
        ends = [float(cfg.pct_start * total) - 1, float(2 * cfg.pct_start * total) - 2, total - 1]
        lrs = [(initial, cfg.learning_rate), (cfg.learning_rate, initial), (initial, minimum)]
    else:
        ends = [float(cfg.pct_start * total) - 1, total - 1]
        lrs = [(initial, cfg.learning_rate), (cfg.learning_rate, minimum)]
    start_step = 0.0
    for i, end_step in enumerate(ends):
        if step <= end_step or i == len(ends) - 1:
            pct = (step - start_step) / (end_step - start_step)
            start, end = lrs[i]
            if cfg.anneal == "linear":
                return (end - start) * pct + start
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        start_step = end_step
    raise AssertionError("unreachable: the last phase always matches")


# ---------------------------------------------------------------------------
# Plain closures of the cosine kinds, constants bound


def closure(kind: str, lr: Any) -> Callable[[int], float]:
    """The formula of `lr` (a `LearningRate` of a cosine kind) as a closure of an int step.

    Every constant is read from the config once; sub-expressions are precomputed only
    where Python would compute them first anyway (`(L - F) * 0.5` in `F + (L - F) * 0.5
    * x`), so the closure is bitwise equal to the formula. An int step meets a float
    directly (`pi * s` converts it as `float(s)` does).
    """
    cos, pi = math.cos, math.pi
    if kind == "linear_ramp_to_cosine":
        c = lr.linear_ramp_to_cosine
        lr_, final, ramp, end = (
            c.learning_rate,
            c.final_learning_rate,
            c.num_ramp_steps,
            c.final_num_steps,
        )
        slope, half, span = lr_ / ramp, (lr_ - final) * 0.5, end - ramp

        def ramp_cosine(s: int) -> float:
            if s < ramp:
                return slope * s
            if s <= end:
                return final + half * (1.0 + cos(pi * (s - ramp) / span))
            return final

        return ramp_cosine
    if kind == "cosine_decay":
        c = lr.cosine_decay
        final, half, n = (
            c.final_learning_rate,
            (c.learning_rate - c.final_learning_rate) * 0.5,
            c.num_steps,
        )

        def cosine_decay(s: int) -> float:
            if s <= n:
                return final + half * (1.0 + cos(pi * s / n))
            return final

        return cosine_decay
    if kind == "cosine_restarts":
        c = lr.cosine_restarts
        first, mult, cycles = c.num_steps, c.period_multiplier, c.num_cycles
        lr_, final, decay = c.learning_rate, c.final_learning_rate, c.peak_decay
        # the cycles' starts (the last is the end when num_cycles is set)
        starts, length = [0], first
        while len(starts) <= (cycles if cycles is not None else 64):
            starts.append(starts[-1] + length)
            length *= mult
        halves = [(max(lr_ * decay**i, final) - final) * 0.5 for i in range(len(starts))]
        lengths = [first * mult**i for i in range(len(starts))]
        after = starts[cycles] if cycles is not None else None
        find = bisect.bisect_right

        def restarts(s: int) -> float:
            if after is not None and s >= after:
                return final
            i = find(starts, s) - 1
            return final + halves[i] * (1.0 + cos(pi * (s - starts[i]) / lengths[i]))

        return restarts
    if kind == "one_cycle":
        c = lr.one_cycle
        if c.three_phase or c.anneal != "cos":
            raise ValueError("the closure covers the default two-phase cosine one_cycle")
        total = c.total_steps
        initial = c.learning_rate / c.div_factor
        minimum = initial / c.final_div_factor
        end1, end2 = float(c.pct_start * total) - 1, total - 1
        half1, half2 = (initial - c.learning_rate) / 2.0, (c.learning_rate - minimum) / 2.0
        peak, span1, span2 = c.learning_rate, end1 - 0.0, end2 - end1

        def one_cycle(s: int) -> float:
            if s > end2:
                return minimum
            if s <= end1:
                return peak + half1 * (cos(pi * ((s - 0.0) / span1)) + 1)
            return minimum + half2 * (cos(pi * ((s - end1) / span2)) + 1)

        return one_cycle
    if kind == "warmup_stable_decay":
        c = lr.warmup_stable_decay
        if c.decay_shape != "cosine":
            raise ValueError("the closure covers decay_shape='cosine'")
        warmup, stable, decay = c.num_warmup_steps, c.num_stable_steps, c.num_decay_steps
        lr_, final = c.learning_rate, c.final_learning_rate
        slope, half = lr_ / warmup if warmup else 0.0, (lr_ - final) * 0.5
        hold, end = warmup + stable, warmup + stable + decay

        def wsd(s: int) -> float:
            if s < warmup:
                return slope * s
            if s < hold:
                return lr_
            if s < end:
                return final + half * (1.0 + cos(pi * ((s - hold) / decay)))
            return final

        return wsd
    if kind == "sequence":
        # the three-stage config of `config`: linear warm-up, constant, cosine_decay
        warm, hold, tail = lr.sequence
        w = warm.schedule.linear
        w_lr, w_final, w_n = w.learning_rate, w.final_learning_rate, w.num_steps
        w_up, w_down = w_final - w_lr, w_lr - w_final
        held, hold_end = hold.schedule.constant, warm.num_steps + hold.num_steps
        d = tail.schedule.cosine_decay
        final, half, n = (
            d.final_learning_rate,
            (d.learning_rate - d.final_learning_rate) * 0.5,
            d.num_steps,
        )

        def sequence(s: int) -> float:
            if s < w_n:
                if 2 * s < w_n:
                    return w_lr + w_up * (s / w_n)
                return w_final + w_down * ((w_n - s) / w_n)
            if s < hold_end:
                return held
            if s - hold_end <= n:
                return final + half * (1.0 + cos(pi * (s - hold_end) / n))
            return final

        return sequence
    raise ValueError(f"no closure for kind {kind!r}")
