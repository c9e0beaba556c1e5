"""Optimizer and learning-rate configs, with the names and YAML shape of the original tml.

A learning rate is exactly one kind (`LearningRate`): the four kinds of the original
tml (`constant`, `piecewise_constant`, `linear_ramp_to_constant`,
`linear_ramp_to_cosine`) and the kinds of torch, optax, Hugging Face and Keras
schedules. Each kind's fields are declared once, in the compiled core; every model here
is checked against that declaration when its class is created, and validated when a
config is built by the same compiled code that evaluates it, so a config that
constructs is a config that evaluates.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import pydantic
import pydantic_core

from tml import _core
from tml.core.config import BaseConfig

__all__ = [
    "AdagradConfig",
    "AdamConfig",
    "CosineDecay",
    "CosineRestarts",
    "Cyclic",
    "ExponentialDecay",
    "InverseSqrt",
    "InverseTimeDecay",
    "LearningRate",
    "Linear",
    "LinearRampToConstant",
    "LinearRampToCosine",
    "MultiTaskLearningRates",
    "MultistepDecay",
    "OneCycle",
    "OptimizerAlgorithmConfig",
    "OptimizerConfig",
    "PiecewiseConstant",
    "PolynomialDecay",
    "SequenceStage",
    "SgdConfig",
    "WarmupStableDecay",
    "get_optimizer_algorithm_config",
]


def _not_bool(value: Any) -> Any:
    # pydantic's lax mode reads True as 1.0; a bool is no learning rate or step count
    # (and the compiled reader, which raw dict configs go through, refuses it too).
    if isinstance(value, (bool, np.bool_)):
        msg = f"must be a number, not a bool, got {value!r}"
        raise ValueError(msg)
    return value


def _count_text(value: Any) -> Any:
    # YAML 1.1 leaves `num_steps: 1e5` a string; the compiled reader (raw dict configs)
    # reads such a string as int() or else float() would, in ASCII, and so does this:
    # pydantic then takes an integral float (1e5) and refuses a fractional one.
    if isinstance(value, str) and value.isascii():
        for parse in (int, float):
            try:
                number = parse(value)
            except ValueError:
                continue
            # float() makes inf of a number it does not spell so (an integer past int()'s
            # 4,300 digits): named as written, not as that inf.
            if number in (math.inf, -math.inf) and "i" not in value.lower():
                shown = value if len(value) <= 40 else f"{value[:37]}..."
                msg = f"must be a finite number, got {shown!r}"
                raise ValueError(msg)
            return number
    if isinstance(value, (bytes, bytearray)):  # pydantic would read b"10"; the reader not
        msg = f"must be an integer, not {type(value).__name__}, got {value!r}"
        raise ValueError(msg)
    return value


def _positive_zero(value: float) -> float:
    # A rate of -0.0 is 0.0 on every path: no rate makes a schedule return a negative
    # zero. (A step of -0.0 still does where the reference's formula does: a ramp's
    # L / R * -0.0.)
    return value + 0.0


def _ordered(value: Any) -> Any:
    # pydantic's lax mode reads a set as a list, in hash order: the values of a
    # piecewise_constant would come out reordered (YAML's !!set gives one). The compiled
    # reader refuses it too.
    if isinstance(value, (set, frozenset)):
        msg = f"must be a list (in order), not a {type(value).__name__}, got {value!r}"
        raise ValueError(msg)
    return value


Rate = Annotated[
    float, pydantic.BeforeValidator(_not_bool), pydantic.AfterValidator(_positive_zero)
]
Real = Annotated[float, pydantic.BeforeValidator(_not_bool)]
# An Adam beta: torch refuses one outside [0, 1) when the optimizer is built; a config
# refuses it when loaded, with the others.
_Beta = Annotated[Real, pydantic.Field(ge=0.0, lt=1.0)]
Steps = Annotated[int, pydantic.BeforeValidator(_count_text), pydantic.BeforeValidator(_not_bool)]
StepList = Annotated[list[Steps], pydantic.BeforeValidator(_ordered)]
RateList = Annotated[list[Rate], pydantic.BeforeValidator(_ordered)]


def _numpy_bool(value: Any) -> Any:
    # The compiled reader takes numpy's bool as a bool (a flag read from an array, say);
    # StrictBool alone refuses it.
    return bool(value) if isinstance(value, np.bool_) else value


Flag = Annotated[pydantic.StrictBool, pydantic.BeforeValidator(_numpy_bool)]


def _one_of(group: str, description: str) -> Any:
    return pydantic.Field(None, description=description, json_schema_extra={"one_of": group})


# The path a core error starts with: `constant`, `cosine_decay.num_steps`,
# `sequence[1].schedule.cyclic.mode`.
_ERROR_PATH = re.compile(r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[\d+\])*) ")


def error_path(message: str) -> tuple[tuple[str | int, ...], int] | None:
    """The path a core error message starts with, as a pydantic loc, and where it ends."""
    match = _ERROR_PATH.match(message)
    if match is None:
        return None
    parts = re.findall(r"[A-Za-z_]\w*|\[\d+\]", match.group(1))
    return tuple(int(p[1:-1]) if p.startswith("[") else p for p in parts), match.end(1)


def _compile_checked(model: BaseConfig, config: Any, drop: int) -> None:
    """Compiles `config` (`model`, or it wrapped); an error is a ValidationError at its field.

    The core's message starts with the field's path from `config`; raised from a model
    validator as a ValidationError, pydantic puts that path (less its first `drop`
    parts, the kind's name where `config` wraps the model in it) after the model's own
    location, so `loc` ends at the field (load_config_from_yaml's YAML path).
    """
    try:
        _core.ScheduleSet([config])
    except ValueError as e:
        path = error_path(str(e))
        if path is None:
            raise
        loc = path[0][drop:]
        error = {"type": "value_error", "loc": loc, "input": model, "ctx": {"error": e}}
        raise pydantic_core.ValidationError.from_exception_data(
            type(model).__name__,
            [error],  # type: ignore[list-item]
        ) from None


def _path_text(loc: tuple[str | int, ...]) -> str:
    """A pydantic loc as the core writes a path: `sequence[1].schedule.linear`."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _stage_paths(value: Any, handler: pydantic.ValidatorFunctionWrapHandler) -> Any:
    """Validates a `sequence`'s stages; a stage's error names its path from the sequence.

    A stage's kind is validated as its own model, whose message starts at the kind
    (`cosine_decay.num_steps must be ...`) or names no field (pydantic's own, "Extra
    inputs are not permitted"); its loc says where the stage sits. Each message is
    given the whole path, `sequence[1].schedule.cosine_decay.num_steps`, as a dict
    config's error has it (SPEC 7.2), the error keeping its type and loc; each
    enclosing sequence replaces the path with its longer one.
    """
    try:
        return handler(value)
    except pydantic_core.ValidationError as e:
        errors: list[Any] = []
        for error in e.errors(include_url=False):
            loc, ctx = error["loc"], error.get("ctx") or {}
            kind: Any = error["type"]
            path = _path_text(("sequence", *loc))
            if not loc:  # the list itself: pydantic's loc is the whole path
                pass
            elif kind == "value_error":  # the core's message, or a validator's
                text = str(ctx["error"])
                found = error_path(text)
                if found is not None and loc[len(loc) - len(found[0]) :] == found[0]:
                    text = text[found[1] :]
                else:  # a validator's "must be a list ...": the field is loc's last part
                    text = " " + text
                ctx = {"error": ValueError(path + text)}
            else:  # pydantic's message, or one a nested sequence prefixed
                message = ctx["message"] if "path" in ctx else error["msg"]
                ctx = {"path": path, "message": message}
                kind = pydantic_core.PydanticCustomError(kind, "{path}: {message}", ctx)
            errors.append({"type": kind, "loc": loc, "input": error["input"], "ctx": ctx})
        raise pydantic_core.ValidationError.from_exception_data(e.title, errors) from None


class _Kind(BaseConfig):
    """A schedule kind's fields; validated by compiling the kind."""

    _kind: ClassVar[str] = ""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        _check_against_core(cls._kind, cls.model_fields)
        _KIND_MODELS[cls._kind] = cls

    @pydantic.model_validator(mode="after")
    def _compile(self) -> _Kind:
        _compile_checked(self, {self._kind: self}, drop=1)
        return self


# Each kind's model, by kind name, filled as the classes are created.
_KIND_MODELS: dict[str, type[_Kind]] = {}


def _check_against_core(kind: str, fields: dict[str, Any]) -> None:
    """Raises TypeError when a model's fields differ from the core's declaration of `kind`.

    Names, order, required-ness and defaults must agree: the model is what users and
    type checkers see, the core is what evaluates.
    """
    declared = _core.kind_fields().get(kind)
    if declared is None:
        msg = f"config model for {kind!r}: the core declares no such kind"
        raise TypeError(msg)
    want = [(f["name"], f["required"], f["default"]) for f in declared["fields"]]
    have = [
        (name, info.is_required(), None if info.is_required() else info.default)
        for name, info in fields.items()
    ]
    if have != want:
        msg = f"config model for {kind!r} declares {have}; the core declares {want}"
        raise TypeError(msg)


class PiecewiseConstant(_Kind):
    """`learning_rate_values[i]`, i = number of boundaries <= step (bisect right).

    Example: boundaries `[1000, 5000]`, values `[0.1, 0.01, 0.001]` gives 0.1 below
    step 1000, 0.01 from step 1000, 0.001 from step 5000.
    """

    _kind: ClassVar[str] = "piecewise_constant"
    learning_rate_boundaries: StepList = pydantic.Field(
        description="Steps where the value changes, strictly increasing integers."
    )
    learning_rate_values: RateList = pydantic.Field(
        description="One more value than boundaries, each finite and >= 0."
    )


class LinearRampToConstant(_Kind):
    """`min(learning_rate, learning_rate / num_ramp_steps * step)`."""

    _kind: ClassVar[str] = "linear_ramp_to_constant"
    learning_rate: Rate = pydantic.Field(description="Value after the ramp, finite and >= 0.")
    num_ramp_steps: Steps = pydantic.Field(description="Steps to reach learning_rate, >= 1.")


class LinearRampToCosine(_Kind):
    """Linear ramp to `learning_rate`, then a half cosine down to `final_learning_rate`.

    step < R: `learning_rate / R * step`; R <= step <= T:
    `F + (L - F) * 0.5 * (1 + cos(pi * (step - R) / (T - R)))`; step > T: `F`.
    """

    _kind: ClassVar[str] = "linear_ramp_to_cosine"
    learning_rate: Rate = pydantic.Field(description="Peak value, reached at num_ramp_steps.")
    final_learning_rate: Rate = pydantic.Field(description="Value from final_num_steps on.")
    num_ramp_steps: Steps = pydantic.Field(description="Length of the linear ramp, >= 1.")
    final_num_steps: Steps = pydantic.Field(description="End of the cosine, > num_ramp_steps.")


class Linear(_Kind):
    """From `learning_rate` to `final_learning_rate` in `num_steps` steps, then constant.

    t = step: `L + (F - L) * (t / N)` while 2 * t < N, `F + (L - F) * ((N - t) / N)` up
    to N (each half computed from its own end), then `F`. torch's `LinearLR` and
    optax's `linear_schedule` with absolute values.
    """

    _kind: ClassVar[str] = "linear"
    learning_rate: Rate = pydantic.Field(description="Value at step 0 (L).")
    final_learning_rate: Rate = pydantic.Field(description="Value from num_steps on (F).")
    num_steps: Steps = pydantic.Field(description="Length of the line (N), >= 1.")


class ExponentialDecay(_Kind):
    """`L * decay_rate ** (step / decay_steps)`, bounded by `final_learning_rate`.

    With `staircase`, the exponent is the whole number of periods, `step // decay_steps`.
    With `final_learning_rate` F: `max(value, F)` when decay_rate < 1 (a floor),
    `min(value, F)` when decay_rate > 1 (a cap, then required). torch's
    `ExponentialLR` (decay_steps 1) and `StepLR` (staircase), optax and Keras
    `exponential_decay`.
    """

    _kind: ClassVar[str] = "exponential_decay"
    learning_rate: Rate = pydantic.Field(description="Value at step 0 (L).")
    decay_rate: Real = pydantic.Field(description="Factor per decay_steps steps, > 0.")
    decay_steps: Steps = pydantic.Field(description="Steps per factor of decay_rate, >= 1.")
    staircase: Flag = pydantic.Field(False, description="Decay in whole periods.")
    final_learning_rate: Rate | None = pydantic.Field(
        None, description="Floor (decay_rate < 1) or cap (decay_rate > 1, required)."
    )


class MultistepDecay(_Kind):
    """`L * gamma ** k`, k = number of milestones <= step (torch's `MultiStepLR`)."""

    _kind: ClassVar[str] = "multistep_decay"
    learning_rate: Rate = pydantic.Field(description="Value before the first milestone (L).")
    milestones: StepList = pydantic.Field(
        description="Steps where the value is multiplied by gamma: strictly increasing, >= 1."
    )
    gamma: Real = pydantic.Field(description="Factor at each milestone, > 0.")


class PolynomialDecay(_Kind):
    """`(L - F) * (1 - step / N) ** power + F` below N, then F (torch's `PolynomialLR`)."""

    _kind: ClassVar[str] = "polynomial_decay"
    learning_rate: Rate = pydantic.Field(description="Value at step 0 (L).")
    final_learning_rate: Rate = pydantic.Field(0.0, description="Value from N on (F <= L).")
    num_steps: Steps = pydantic.Field(description="Length of the decay (N), >= 1.")
    power: Real = pydantic.Field(1.0, description="Exponent, > 0.")


class CosineDecay(_Kind):
    """`F + (L - F) * 0.5 * (1 + cos(pi * step / N))` up to N, then F.

    torch's `CosineAnnealingLR` up to `T_max` (torch's curve is periodic after it),
    optax's `cosine_decay_schedule`. F > L gives a cosine warm-up.
    """

    _kind: ClassVar[str] = "cosine_decay"
    learning_rate: Rate = pydantic.Field(description="Value at step 0 (L).")
    final_learning_rate: Rate = pydantic.Field(0.0, description="Value from N on (F).")
    num_steps: Steps = pydantic.Field(description="Length of the cosine (N), >= 1.")


class InverseSqrt(_Kind):
    """A linear warm-up, then `L / sqrt((step - W + timescale) / timescale)`.

    Hugging Face's `inverse_sqrt` schedule (timescale defaults to the warm-up length).
    """

    _kind: ClassVar[str] = "inverse_sqrt"
    learning_rate: Rate = pydantic.Field(description="Peak value, reached at W (L).")
    num_warmup_steps: Steps = pydantic.Field(0, description="Length of the warm-up (W), >= 0.")
    timescale: Steps | None = pydantic.Field(
        None, description="Steps over which the decay acts, >= 1; W when unset (required if W = 0)."
    )


class InverseTimeDecay(_Kind):
    """`L / (1 + decay_rate * step / decay_steps)` (Keras / optax inverse time decay)."""

    _kind: ClassVar[str] = "inverse_time_decay"
    learning_rate: Rate = pydantic.Field(description="Value at step 0 (L).")
    decay_rate: Real = pydantic.Field(description="Rate of the decay, >= 0.")
    decay_steps: Steps = pydantic.Field(description="Steps per unit of the decay, >= 1.")
    staircase: Flag = pydantic.Field(False, description="Decay in whole periods.")


class CosineRestarts(_Kind):
    """Cosine cycles that restart at their peak (SGDR; torch's `CosineAnnealingWarmRestarts`).

    Cycle i lasts `num_steps * period_multiplier ** i` steps and decays from
    `max(L * peak_decay ** i, F)` to F; after `num_cycles` cycles F holds.
    """

    _kind: ClassVar[str] = "cosine_restarts"
    learning_rate: Rate = pydantic.Field(description="Peak of the first cycle (L).")
    final_learning_rate: Rate = pydantic.Field(0.0, description="End of each cycle (F <= L).")
    num_steps: Steps = pydantic.Field(description="Length of the first cycle, >= 1.")
    period_multiplier: Steps = pydantic.Field(1, description="Growth of each cycle's length, >= 1.")
    peak_decay: Real = pydantic.Field(1.0, description="Each peak times this, in (0, 1].")
    num_cycles: Steps | None = pydantic.Field(
        None, description="Cycles before F holds; unset: forever."
    )


class OneCycle(_Kind):
    """torch's `OneCycleLR`: up from `L / div_factor` to L, then down to the minimum.

    The minimum, `L / div_factor / final_div_factor`, holds after `total_steps - 1`.
    """

    _kind: ClassVar[str] = "one_cycle"
    learning_rate: Rate = pydantic.Field(description="The peak (torch's max_lr).")
    total_steps: Steps = pydantic.Field(description="Steps of the cycle, >= 1.")
    pct_start: Real = pydantic.Field(0.3, description="Fraction spent rising, in (0, 1).")
    anneal: Literal["cos", "linear"] = pydantic.Field("cos", description="Shape of each phase.")
    div_factor: Real = pydantic.Field(25.0, description="Start at L / div_factor, > 0.")
    final_div_factor: Real = pydantic.Field(1e4, description="End at the start / this, > 0.")
    three_phase: Flag = pydantic.Field(False, description="Back to the start before the end.")


class Cyclic(_Kind):
    """torch's `CyclicLR`: triangles between L and `max_learning_rate`, forever."""

    _kind: ClassVar[str] = "cyclic"
    learning_rate: Rate = pydantic.Field(description="The base (torch's base_lr).")
    max_learning_rate: Rate = pydantic.Field(description="The top (torch's max_lr), >= L.")
    step_size_up: Steps = pydantic.Field(description="Steps up, >= 1.")
    step_size_down: Steps | None = pydantic.Field(
        None, description="Steps down; step_size_up if unset."
    )
    mode: Literal["triangular", "triangular2", "exp_range"] = pydantic.Field(
        "triangular",
        description="triangular2 halves each cycle; exp_range scales by gamma ** step.",
    )
    gamma: Real = pydantic.Field(1.0, description="exp_range factor per step, in (0, 1].")


class WarmupStableDecay(_Kind):
    """A linear warm-up to L, L for a while, then a decay to F (Hugging Face's WSD)."""

    _kind: ClassVar[str] = "warmup_stable_decay"
    learning_rate: Rate = pydantic.Field(description="The stable value (L).")
    final_learning_rate: Rate = pydantic.Field(0.0, description="Value after the decay (F <= L).")
    num_warmup_steps: Steps = pydantic.Field(description="Length of the warm-up, >= 0.")
    num_stable_steps: Steps = pydantic.Field(description="Steps held at L, >= 0.")
    num_decay_steps: Steps = pydantic.Field(description="Length of the decay, >= 1.")
    decay_shape: Literal["cosine", "linear", "sqrt"] = pydantic.Field(
        "cosine", description="Shape of the decay."
    )


class SequenceStage(BaseConfig):
    """One stage of a `sequence`: a schedule and how many steps it runs.

    The stage sees the step counted from its own start. The last stage runs forever
    and has no `num_steps`.
    """

    num_steps: Steps | None = pydantic.Field(None, description="Steps of this stage, >= 1.")
    schedule: LearningRate = pydantic.Field(description="The stage's schedule, any kind.")


class LearningRate(BaseConfig):
    """A learning-rate schedule: set exactly one kind.

    Example (YAML)::

        linear_ramp_to_cosine:
          learning_rate: 0.001
          final_learning_rate: 0.00001
          num_ramp_steps: 1000
          final_num_steps: 100000

        # or a sequence of stages, each seeing the step from its own start
        sequence:
          - num_steps: 2000
            schedule: {linear: {learning_rate: 0.0, final_learning_rate: 1.0e-3, num_steps: 2000}}
          - schedule: {cosine_decay: {learning_rate: 1.0e-3, num_steps: 98000}}
    """

    constant: Rate | None = _one_of("lr", "A constant learning rate, finite and >= 0.")
    piecewise_constant: PiecewiseConstant | None = _one_of("lr", "Steps of constants.")
    linear_ramp_to_constant: LinearRampToConstant | None = _one_of("lr", "Ramp, then constant.")
    linear_ramp_to_cosine: LinearRampToCosine | None = _one_of("lr", "Ramp, then cosine.")
    linear: Linear | None = _one_of("lr", "A line from L to F, then F.")
    exponential_decay: ExponentialDecay | None = _one_of("lr", "Exponential decay.")
    multistep_decay: MultistepDecay | None = _one_of("lr", "A factor at each milestone.")
    polynomial_decay: PolynomialDecay | None = _one_of("lr", "Polynomial decay.")
    cosine_decay: CosineDecay | None = _one_of("lr", "A half cosine from L to F, then F.")
    inverse_sqrt: InverseSqrt | None = _one_of("lr", "Warm-up, then inverse square root.")
    inverse_time_decay: InverseTimeDecay | None = _one_of("lr", "Inverse time decay.")
    cosine_restarts: CosineRestarts | None = _one_of("lr", "Cosine cycles with restarts.")
    one_cycle: OneCycle | None = _one_of("lr", "torch's one-cycle policy.")
    cyclic: Cyclic | None = _one_of("lr", "torch's cyclic learning rate.")
    warmup_stable_decay: WarmupStableDecay | None = _one_of("lr", "Warm-up, stable, decay.")
    sequence: (
        Annotated[
            list[SequenceStage],
            pydantic.BeforeValidator(_ordered),
            pydantic.WrapValidator(_stage_paths),
        ]
        | None
    ) = _one_of("lr", "Stages of any kinds in turn.")

    @pydantic.model_validator(mode="after")
    def _compile(self) -> LearningRate:
        _compile_checked(self, self, drop=0)
        return self


SequenceStage.model_rebuild()


def _check_learning_rate_fields() -> None:
    """LearningRate has one field per kind of the core, in the core's order."""
    kinds = list(_core.kind_fields())
    if list(LearningRate.model_fields) != kinds:
        msg = f"LearningRate's fields {list(LearningRate.model_fields)} differ from the core's kinds {kinds}"
        raise TypeError(msg)


_check_learning_rate_fields()
_core._register_models(LearningRate, _KIND_MODELS)


class OptimizerAlgorithmConfig(BaseConfig):
    """Fields common to every optimizer algorithm."""

    lr: Rate = pydantic.Field(ge=0.0, allow_inf_nan=False, description="Base learning rate.")


class AdamConfig(OptimizerAlgorithmConfig):
    """`torch.optim.Adam` arguments.

    Each of `betas` must be in [0, 1), as torch requires. `eps` must be positive: Adam
    divides by `sqrt(v) + eps`, and with 0 a parameter whose gradients so far were all
    zero (an unused embedding row) becomes NaN (0 / 0).
    """

    betas: tuple[_Beta, _Beta] = (0.9, 0.999)
    eps: Real = pydantic.Field(1e-7, gt=0.0, allow_inf_nan=False)


class SgdConfig(OptimizerAlgorithmConfig):
    """`torch.optim.SGD` arguments."""

    momentum: Real = pydantic.Field(0.0, ge=0.0, allow_inf_nan=False)


class AdagradConfig(OptimizerAlgorithmConfig):
    """`torch.optim.Adagrad` arguments.

    `eps` is torch's default, 1e-10, where the original config had 0 (its
    `build_optimizer` built SGD whatever was set, so that 0 never ran); it must be
    positive: Adagrad divides by `sqrt(sum of squared gradients) + eps`, and with 0 a
    parameter whose gradients so far were all zero (an unused embedding row, a zero
    input feature) becomes NaN at the first step.
    """

    eps: Real = pydantic.Field(1e-10, gt=0.0, allow_inf_nan=False)


class OptimizerConfig(BaseConfig):
    """One optimizer algorithm and its learning-rate schedule.

    When `learning_rate` is unset, the algorithm's `lr` is used as a constant.
    """

    learning_rate: LearningRate | None = pydantic.Field(
        None, description="Learning-rate schedule; the algorithm's lr when unset."
    )
    adam: AdamConfig | None = _one_of("optimizer", "Adam.")
    sgd: SgdConfig | None = _one_of("optimizer", "SGD.")
    adagrad: AdagradConfig | None = _one_of("optimizer", "Adagrad.")


class MultiTaskLearningRates(BaseConfig):
    """Per-task-tower schedules plus one for every other parameter (the backbone)."""

    tower_learning_rates: dict[str, LearningRate] = pydantic.Field(
        description="Learning rate of each task tower, by task name."
    )
    backbone_learning_rate: LearningRate | None = pydantic.Field(
        None, description="Learning rate of every parameter outside the towers."
    )


def get_optimizer_algorithm_config(optimizer_config: OptimizerConfig) -> OptimizerAlgorithmConfig:
    """The algorithm config that is set (adam, sgd or adagrad).

    Raises:
        ValueError: none, or more than one, is set (possible on a config built with
            `model_construct`, or on a config object of the original tml code).
    """
    chosen = [
        (name, algorithm)
        for name in ("adam", "sgd", "adagrad")
        if (algorithm := getattr(optimizer_config, name, None)) is not None
    ]
    if len(chosen) != 1:
        got = ", ".join(name for name, _ in chosen) or "none set"
        msg = f"optimizer_config must set exactly one of adam, sgd, adagrad; got {got}"
        raise ValueError(msg)
    return chosen[0][1]  # type: ignore[no-any-return]
