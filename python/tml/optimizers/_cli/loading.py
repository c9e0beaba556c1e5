"""Reading the YAML file of `tml-lr` and recognising which config it holds.

The file is read by `tml.core.config.load_config_from_yaml` (its size, alias and
nesting limits and its environment substitution), then the shape of the document is
recognised and each part validated by its model. Every problem becomes a `UserError`
line naming the YAML path of the bad field; every piece of user data in a message is
cut to a few dozen characters *before* it is rendered, so no document, however
large or aliased, costs more than that to report.

Schedule kinds are never listed here: they are the fields of `LearningRate`, and the
field names offered by "did you mean" are found by walking the models' annotations.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import itertools
import json
import re
import textwrap
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pydantic
import yaml

from tml.core.config import BaseConfig, load_config_from_yaml
from tml.optimizers._cli.errors import UserError
from tml.optimizers.config import (
    LearningRate,
    MultiTaskLearningRates,
    OptimizerConfig,
    error_path,
    get_optimizer_algorithm_config,
)

__all__ = [
    "ACCEPTED_SHAPES",
    "LR_KINDS",
    "Groups",
    "field_names",
    "groups_from_data",
    "load_groups",
    "read_yaml",
    "yaml_path",
    "yaml_repr",
]

_MAX_ERRORS_SHOWN = 20
# User data in a message (a value, a key) is cut to this many characters.
_REPR_WIDTH = 60

# Every field of LearningRate is a schedule kind (one_of="lr").
LR_KINDS: tuple[str, ...] = tuple(LearningRate.model_fields)
_ALGORITHMS = tuple(name for name in OptimizerConfig.model_fields if name != "learning_rate")
_MULTI_TASK_KEYS = tuple(MultiTaskLearningRates.model_fields)
# The original recap optimizer config's learning-rate sections (no model of ours).
_RECAP_LR_KEYS = ("multi_task_learning_rates", "single_task_learning_rate")
_OPTIMIZER_KEYS = tuple(OptimizerConfig.model_fields)


def _accepted_shapes() -> str:
    kinds = textwrap.fill(
        "one of " + ", ".join(LR_KINDS),
        width=88,
        initial_indent="  - a LearningRate: ",
        subsequent_indent="    ",
    )
    return f"""\
accepted shapes:
{kinds}
  - an OptimizerConfig: one of {", ".join(_ALGORITHMS)}, and optionally learning_rate
    (or learning_rate alone)
  - a MultiTaskLearningRates: tower_learning_rates (task -> LearningRate) and optionally
    backbone_learning_rate
  - an optimizer config with multi_task_learning_rates or single_task_learning_rate
    (the recap layout; its {"/".join(_ALGORITHMS)} section is not needed and not read)
  - a training config with multi_task_learning_rates or single_task_learning_rate
    beside its optimizer: section (whose other sections are not read)
  - a training config whose optimizer: section is one of the optimizer shapes above
  - a mapping name -> LearningRate
  (--section a.b picks a part of a larger file)"""


ACCEPTED_SHAPES = _accepted_shapes()

M = TypeVar("M", bound=pydantic.BaseModel)


class _Document(BaseConfig):
    """The whole YAML document, unvalidated.

    Read through `load_config_from_yaml` so the limits and the environment
    substitution are exactly the package's, then validated part by part.
    """

    data: Any = None

    @pydantic.model_validator(mode="before")
    @classmethod
    def _wrap(cls, data: Any) -> dict[str, Any]:
        return {"data": data}


@dataclass(frozen=True)
class Groups:
    """The schedules found in a file: names in file order, configs and what the file was."""

    names: tuple[str, ...]
    configs: tuple[LearningRate, ...]
    shape: str


# ---------------------------------------------------------------- the models' fields


def _models_in(annotation: Any) -> Iterator[type[pydantic.BaseModel]]:
    """Every pydantic model named in an annotation (`X | None`, `list[X]`, `dict[str, X]`...)."""
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def field_names(roots: Sequence[type[pydantic.BaseModel]]) -> list[str]:
    """Names of the fields of `roots` and of every model reachable through their fields."""
    seen: set[type[pydantic.BaseModel]] = set()
    names: set[str] = set()
    stack = list(roots)
    while stack:
        model = stack.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            names.add(name)
            if info.alias:
                names.add(info.alias)
            stack.extend(_models_in(info.annotation))
    return sorted(names)


@functools.cache
def _kind_fields(kind: str) -> frozenset[str]:
    """The fields of one kind's model (none for `constant`, whose value is the config)."""
    annotation = LearningRate.model_fields[kind].annotation
    models = list(_models_in(annotation))
    return frozenset(name for model in models for name in model.model_fields)


@functools.cache
def _known_field_names() -> list[str]:
    roots = (LearningRate, OptimizerConfig, MultiTaskLearningRates)
    return sorted({*field_names(roots), *_RECAP_LR_KEYS})


# --------------------------------------------------------- user data in messages


class _Full(Exception):
    """The text budget of `yaml_repr` is spent."""


def _int_text(value: int) -> str:
    # str() of a huge int is quadratic (and refused past 4300 digits): say its size.
    if value.bit_length() > 4 * _REPR_WIDTH:
        return f"<integer of {value.bit_length():,} bits>"
    return str(value)


def yaml_repr(value: Any, width: int = _REPR_WIDTH) -> str:
    """User data as short flow-style text, at most `width` characters.

    The value is walked with a character budget and the walk stops as soon as the
    budget is spent: an aliased document of billions of nodes, or a 10 MB string,
    costs no more than a small one. Strings are Python reprs (quotes show where they
    start and end).
    """
    out: list[str] = []
    budget = width + 1  # one more than fits: the cut is then known to be needed

    def emit(text: str) -> None:
        nonlocal budget
        out.append(text[:budget])
        budget -= len(text)
        if budget <= 0:
            raise _Full

    def walk(item: Any) -> None:
        if item is None:
            emit("null")
        elif isinstance(item, bool):
            emit("true" if item else "false")
        elif isinstance(item, int):
            emit(_int_text(item))
        elif isinstance(item, str):
            emit(repr(item[: width + 1]) if len(item) > width else repr(item))
        elif isinstance(item, dict):
            emit("{")
            for i, (key, sub) in enumerate(item.items()):
                emit(", " if i else "")
                walk(key)
                emit(": ")
                walk(sub)
            emit("}")
        elif isinstance(item, (list, tuple)):
            emit("[")
            for i, sub in enumerate(item):
                emit(", " if i else "")
                walk(sub)
            emit("]")
        elif isinstance(item, (bytes, bytearray)):
            emit(repr(bytes(item[: width + 1])))
        else:  # floats, dates, sets: small by nature
            emit(str(item)[: width + 1])

    with contextlib.suppress(_Full):
        walk(value)
    text = "".join(out)
    return text if len(text) <= width else text[: width - 3] + "..."


def _key_text(key: Any) -> str:
    """A mapping key as text for a path, cut to a few dozen characters."""
    if isinstance(key, str):
        return key if len(key) <= _REPR_WIDTH else key[: _REPR_WIDTH - 3] + "..."
    return yaml_repr(key)


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def yaml_path(loc: Sequence[Any]) -> str:
    """`('tower_learning_rates', 'a.b', 'constant')` -> `tower_learning_rates["a.b"].constant`.

    Keys that are not plain identifiers (task names with dots, say) are quoted so the
    path stays unambiguous; list positions are `[i]`. Long keys are cut.
    """
    out = ""
    for item in loc:
        if isinstance(item, int) and not isinstance(item, bool):
            out += f"[{item}]"
            continue
        text = _key_text(item)
        if _PLAIN_KEY.match(text):
            out += ("." if out else "") + text
        else:
            out += f"[{json.dumps(text)}]"
    return out or "(top level)"


def _keys_text(mapping: dict[Any, Any], most: int = 8) -> str:
    keys = [_key_text(k) for k in itertools.islice(mapping, most)]
    return ", ".join(keys) + (", ..." if len(mapping) > most else "")


# ---------------------------------------------------------------- pydantic errors

# What load_config_from_yaml leaves of a $VAR / ${VAR} the environment does not define.
_UNSET_VARIABLE = re.compile(r"\$(?:(\w+)|\{(\w+)\})")
# The last item of pydantic's loc for a bad key of a mapping (the key is the one before).
_KEY_MARKER = "[key]"


def _error_message(error: Any, substitute_env: bool) -> str:
    """A pydantic error dict as a short sentence that names the value where it helps."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    # A sequence stage's pydantic message, which config.py prefixed with the stage's path
    # for Python callers: here the path is printed before it already.
    msg = str(ctx["message"] if "path" in ctx and "message" in ctx else error.get("msg", ""))
    loc = error.get("loc", ())
    value = error.get("input")
    if kind == "extra_forbidden":
        key = _key_text(loc[-1]) if loc else ""
        kind = loc[-2] if len(loc) >= 2 and loc[-2] in LR_KINDS else None
        owners = [k for k in LR_KINDS if k != kind and key in _kind_fields(k)]
        if kind is not None and owners:  # another kind's field
            return f"unknown key ({key!r} is a field of {', '.join(owners[:3])}, not {kind})"
        if key in _known_field_names():  # a real field, at the wrong level
            return f"unknown key here ({key!r} belongs one level down or up: is a level missing?)"
        # Inside a kind, a near miss is one of that kind's fields, not any config's.
        candidates = sorted(_kind_fields(kind)) if kind is not None else _known_field_names()
        close = difflib.get_close_matches(key, candidates, n=1)
        return "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
    if kind == "missing":
        return "required field is missing"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping, got {yaml_repr(value)}"
    msg = msg.removeprefix("Value error, ")
    # The kernel's messages start with the field's path ("linear_ramp_to_cosine.
    # final_num_steps must be ..."), which the end of loc repeats: the message keeps the
    # field's name only (_location prints loc without it).
    path = error_path(msg)
    if kind == "value_error" and path is not None and _ends_with(loc, path[0]):
        msg = f"{path[0][-1]}{msg[path[1] :]}"
    if loc[-1:] == (_KEY_MARKER,) and len(loc) >= 2:  # a bad key: it is the value
        return f"key {yaml_repr(loc[-2])}: {msg}"
    if kind != "value_error" and not isinstance(value, (dict, list, tuple)):
        msg += f" (got {yaml_repr(value)})"
        unset = _UNSET_VARIABLE.fullmatch(value) if isinstance(value, str) else None
        if unset:
            name = unset.group(1) or unset.group(2)
            if substitute_env:
                msg += f"; is the environment variable {name} set?"
            else:
                msg += f"; --no-env leaves ${name} unsubstituted"
    return msg


def _ends_with(loc: Sequence[Any], path: Sequence[Any]) -> bool:
    return len(path) <= len(loc) and tuple(loc[len(loc) - len(path) :]) == tuple(path)


def _location(error: Any) -> tuple[Any, ...]:
    """Where an error is shown: its loc, less the field a kernel message names itself.

    A bad key of a mapping (a task named 1, not "1") is shown at the mapping, and the
    message names the key.
    """
    loc = tuple(error.get("loc", ()))
    if loc[-1:] == (_KEY_MARKER,):
        return loc[:-2]
    path = error_path(str(error.get("msg", "")).removeprefix("Value error, "))
    if error.get("type") == "value_error" and path is not None and _ends_with(loc, path[0]):
        return loc[:-1]
    return loc


def _error_lines(
    e: pydantic.ValidationError, prefix: tuple[Any, ...], source: str, substitute_env: bool
) -> list[str]:
    errors = e.errors()
    lines = [
        f"{source}: {yaml_path((*prefix, *_location(err)))}: {_error_message(err, substitute_env)}"
        for err in errors[:_MAX_ERRORS_SHOWN]
    ]
    if len(errors) > _MAX_ERRORS_SHOWN:
        lines.append(f"{source}: ... and {len(errors) - _MAX_ERRORS_SHOWN} more errors")
    return lines


# ---------------------------------------------------------------------- reading


def read_yaml(path: str, substitute_env: bool = True) -> Any:
    """The parsed YAML document at `path`, environment variables substituted.

    Raises:
        UserError: the file cannot be read, is not UTF-8 or not valid YAML, or exceeds
            a limit of `load_config_from_yaml` (size, aliases, nesting).
    """
    try:
        return load_config_from_yaml(_Document, path, substitute_env=substitute_env).data
    except FileNotFoundError:
        msg = f"{path}: no such file"
        raise UserError(msg) from None
    except IsADirectoryError:
        msg = f"{path}: is a directory, not a YAML file"
        raise UserError(msg) from None
    except UnicodeDecodeError as e:
        msg = f"{path}: not a UTF-8 text file ({e.reason} at byte {e.start})"
        raise UserError(msg) from None
    except OSError as e:
        msg = f"{path}: cannot read: {e.strerror or e}"
        raise UserError(msg) from None
    except yaml.YAMLError as e:
        where = ""
        mark = getattr(e, "problem_mark", None)
        if mark is not None:
            where = f":{mark.line + 1}:{mark.column + 1}"
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        context = getattr(e, "context", None)
        detail = f"{problem} ({context})" if context else str(problem)
        msg = f"{path}{where}: invalid YAML: {detail}"
        raise UserError(msg) from None
    except ValueError as e:  # a limit of the loader; the message names file and place
        raise UserError(str(e)) from None


# -------------------------------------------------------------- recognising shapes


class _Reader:
    """Validation of the parts of one file, with its name for messages."""

    def __init__(self, source: str, substitute_env: bool) -> None:
        self.source = source
        self.substitute_env = substitute_env

    def lines(self, e: pydantic.ValidationError, prefix: tuple[Any, ...]) -> list[str]:
        return _error_lines(e, prefix, self.source, self.substitute_env)

    def validate(self, model: type[M], data: Any, prefix: tuple[Any, ...]) -> M:
        """Validates `data` into `model`; errors become one line each, with the YAML path."""
        try:
            return model.model_validate(data)
        except pydantic.ValidationError as e:
            raise UserError(*self.lines(e, prefix)) from None


def _select(data: Any, section: str, source: str) -> tuple[Any, tuple[str, ...]]:
    """The part of `data` at `--section a.b.c`, and its path.

    A key may hold dots itself (a task `is_liked.v2`): at each level the keys that
    match the section's next dotted parts are tried longest first, then shorter ones.
    Each mapping is searched once per way down to it, so the work is bounded by the
    document's size (which the loader bounds), whatever the section.
    """
    deepest: tuple[tuple[str, ...], int, Any] = ((), 0, data)  # where the walk got stuck

    def walk(node: Any, at: int, loc: tuple[str, ...]) -> tuple[Any, tuple[str, ...]] | None:
        nonlocal deepest
        if at > len(section):  # past the end: every part is used
            return node, loc
        if at >= deepest[1]:
            deepest = (loc, at, node)
        if not isinstance(node, dict):
            return None
        keys = [
            key
            for key in node
            if isinstance(key, str)
            and section.startswith(key, at)
            and section[at + len(key) : at + len(key) + 1] in ("", ".")
        ]
        for key in sorted(keys, key=len, reverse=True):
            found = walk(node[key], at + len(key) + 1, (*loc, key))
            if found is not None:
                return found
        return None

    found = walk(data, 0, ())
    if found is not None:
        return found
    loc, at, node = deepest
    where = yaml_path(loc) if loc else "the top level"
    have = _keys_text(node) if isinstance(node, dict) else "not a mapping"
    rest = section[at:]
    missing = repr(_key_text(rest))
    if "." in rest:  # the shortest key tried too
        missing += f" nor {_key_text(rest.split('.', 1)[0])!r}"
    msg = f"{source}: --section {_key_text(section)}: no key {missing} at {where} (keys: {have})"
    raise UserError(msg)


def _looks_like_lr(value: Any) -> bool:
    return isinstance(value, dict) and any(k in value for k in LR_KINDS)


def _named_schedules(data: dict[Any, Any]) -> bool:
    """Whether every value is itself a LearningRate: groups named after kinds.

    `{cyclic: {cyclic: {...}}}` names a group `cyclic`; a LearningRate's kind holds its
    fields (`{cyclic: {learning_rate: ...}}`) or a value (`{constant: 0.1}`).
    """
    return all(_looks_like_lr(value) for value in data.values())


def _has_any(data: dict[Any, Any], keys: Sequence[str]) -> bool:
    return any(k in data for k in keys)


def groups_from_data(
    data: Any, source: str, prefix: tuple[str, ...] = (), *, substitute_env: bool = True
) -> Groups:
    """Recognises the shape of a parsed YAML document and validates it.

    Args:
        data: the parsed document (or the part `--section` picked).
        source: the file name, for messages.
        prefix: the YAML path of `data` in the file, for messages.
        substitute_env: whether `$VAR` was substituted (for the hint on unset ones).

    Raises:
        UserError: unknown shape, or a field is invalid (one line per bad field).
    """
    reader = _Reader(source, substitute_env)
    return _groups(reader, data, prefix)


def _groups(reader: _Reader, data: Any, prefix: tuple[str, ...]) -> Groups:
    source = reader.source
    where = f" at {yaml_path(prefix)}" if prefix else ""
    if data is None:
        raise UserError(f"{source}: the file is empty" if not prefix else f"{source}{where}: empty")
    if not isinstance(data, dict):
        msg = f"{source}{where}: expected a mapping, got {type(data).__name__} {yaml_repr(data)}"
        raise UserError(msg, detail=ACCEPTED_SHAPES)
    if _has_any(data, LR_KINDS) and not _named_schedules(data):
        lr = reader.validate(LearningRate, data, prefix)
        return Groups(("learning_rate",), (lr,), "LearningRate")
    if _has_any(data, _MULTI_TASK_KEYS):
        mt = reader.validate(MultiTaskLearningRates, data, prefix)
        return _multi_task_groups(mt)
    if _has_any(data, _RECAP_LR_KEYS) and isinstance(data.get("optimizer"), dict):
        # A training config: its schedules beside its optimizer: section (the layout of
        # examples/train_multitask.yaml); the other sections are the training script's.
        part = {k: data[k] for k in _RECAP_LR_KEYS if k in data}
        groups = _recap_groups(reader, part, prefix)
        shape = groups.shape.replace("optimizer config", "training config", 1)
        return Groups(groups.names, groups.configs, shape)
    if _has_any(data, _RECAP_LR_KEYS):
        return _recap_groups(reader, data, prefix)
    if set(data) == {"learning_rate"}:
        # An optimizer config's schedule alone (as the README's snippets are written):
        # no algorithm to require.
        lr = reader.validate(LearningRate, data["learning_rate"], (*prefix, "learning_rate"))
        return Groups(("learning_rate",), (lr,), "learning_rate section")
    if _has_any(data, _OPTIMIZER_KEYS) and not (
        _named_schedules(data) and not set(data) <= set(_OPTIMIZER_KEYS)
    ):  # (schedules named learning_rate, adam, ... beside others are named groups)
        opt = reader.validate(OptimizerConfig, data, prefix)
        algorithm = next(name for name in _ALGORITHMS if getattr(opt, name) is not None)
        if opt.learning_rate is not None:
            return Groups((algorithm,), (opt.learning_rate,), f"OptimizerConfig ({algorithm})")
        base_lr = get_optimizer_algorithm_config(opt).lr
        return Groups(
            (algorithm,),
            (LearningRate(constant=base_lr),),
            f"OptimizerConfig ({algorithm}, learning_rate unset: constant {algorithm}.lr)",
        )
    inner = data.get("optimizer")
    if isinstance(inner, dict) and _has_any(inner, (*_OPTIMIZER_KEYS, *_RECAP_LR_KEYS)):
        return _groups(reader, inner, (*prefix, "optimizer"))
    if any(_looks_like_lr(v) for v in data.values()):
        return _named_groups(reader, data, prefix)
    msg = f"{source}{where}: cannot tell which config this is (keys: {_keys_text(data)})"
    raise UserError(msg, detail=ACCEPTED_SHAPES)


def _multi_task_groups(mt: MultiTaskLearningRates, shape: str = "MultiTaskLearningRates") -> Groups:
    names = list(mt.tower_learning_rates)
    configs = list(mt.tower_learning_rates.values())
    if mt.backbone_learning_rate is not None:
        # A task literally named "backbone" keeps its name; the backbone group yields.
        names.append("backbone" if "backbone" not in names else "(backbone)")
        configs.append(mt.backbone_learning_rate)
    return Groups(tuple(names), tuple(configs), shape)


def _recap_groups(reader: _Reader, data: dict[Any, Any], prefix: tuple[str, ...]) -> Groups:
    source = reader.source
    allowed = {*_RECAP_LR_KEYS, *_ALGORITHMS}
    unknown = [k for k in data if k not in allowed]
    if unknown:
        lines = [
            f"{source}: {yaml_path((*prefix, k))}: unknown key in an optimizer config with "
            f"{' / '.join(_RECAP_LR_KEYS)} (allowed: {', '.join(sorted(allowed))})"
            for k in unknown[:_MAX_ERRORS_SHOWN]
        ]
        if len(unknown) > _MAX_ERRORS_SHOWN:
            lines.append(f"{source}: ... and {len(unknown) - _MAX_ERRORS_SHOWN} more unknown keys")
        raise UserError(*lines)
    chosen = [k for k in _RECAP_LR_KEYS if data.get(k) is not None]
    if len(chosen) != 1:
        got = ", ".join(chosen) if chosen else "neither is set"
        msg = (
            f"{source}: {yaml_path(prefix)}: exactly one of {', '.join(_RECAP_LR_KEYS)} "
            f"is required; got {got}"
        )
        raise UserError(msg)
    key = chosen[0]
    if key == "multi_task_learning_rates":
        mt = reader.validate(MultiTaskLearningRates, data[key], (*prefix, key))
        return _multi_task_groups(mt, "optimizer config with multi_task_learning_rates")
    lr = reader.validate(LearningRate, data[key], (*prefix, key))
    return Groups(("single_task",), (lr,), "optimizer config with single_task_learning_rate")


def _named_groups(reader: _Reader, data: dict[Any, Any], prefix: tuple[str, ...]) -> Groups:
    names, configs, lines = [], [], []
    for name, value in data.items():
        try:
            configs.append(LearningRate.model_validate(value))
            names.append(str(name))
        except pydantic.ValidationError as e:
            lines += reader.lines(e, (*prefix, name))
            if len(lines) >= _MAX_ERRORS_SHOWN:
                break
    if lines:
        raise UserError(*lines[:_MAX_ERRORS_SHOWN])
    return Groups(tuple(names), tuple(configs), "mapping name -> LearningRate")


def load_groups(path: str, section: str | None = None, *, substitute_env: bool = True) -> Groups:
    """Reads `path` and returns its schedules (see `ACCEPTED_SHAPES`).

    Raises:
        UserError: the file is missing, not YAML, too large, of unknown shape or invalid.
    """
    data = read_yaml(path, substitute_env)
    prefix: tuple[str, ...] = ()
    if section:
        data, prefix = _select(data, section, path)
    return groups_from_data(data, path, prefix, substitute_env=substitute_env)
