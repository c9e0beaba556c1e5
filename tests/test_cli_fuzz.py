"""Fuzzing `tml-lr`: whatever the file and the options, exit 0 or 2 and never a traceback.

Hypothesis builds YAML documents from random nested structures (keys drawn from the
config models' own field names, so many documents get past shape recognition into
validation and evaluation), random YAML-ish token soup (anchors, aliases, tags,
brackets), random bytes, and random option lists drawn from the parser's own options.
Each example runs `main` in this process under `tracemalloc` and checks:

- the exit status is 0 or 2 (an uncaught exception fails the test with its traceback);
- on status 2, stderr starts with `tml-lr: error:` and holds no traceback;
- the peak of Python and NumPy allocations stays under `MEMORY_BOUND`.

Examples are bounded (a tenth of the profile's `max_examples`: 30 in `dev`, so the
file runs in a few seconds), and so are the inputs: step values in the option pool
and integers in documents stay small enough that a valid config evaluates in
milliseconds, with a few out-of-range values that must be refused.
"""

from __future__ import annotations

import io
import os
import tracemalloc
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tml.optimizers._cli import loading
from tml.optimizers.cli import build_parser, main
from tml.optimizers.config import LearningRate, MultiTaskLearningRates, OptimizerConfig

EXAMPLES = max(20, settings.default.max_examples // 10)
MEMORY_BOUND = 128 * 2**20
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder for the files, and the working directory while the tests run.

    An option list may name a relative output file (`--csv strips`).
    """
    path = tmp_path_factory.mktemp("fuzz")
    saved = os.environ.get("TML_FUZZ_SET")
    os.environ["TML_FUZZ_SET"] = "0.5"
    cwd = Path.cwd()
    os.chdir(path)
    try:
        yield path
    finally:
        os.chdir(cwd)
        if saved is None:
            os.environ.pop("TML_FUZZ_SET", None)
        else:
            os.environ["TML_FUZZ_SET"] = saved


def invoke(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    tracemalloc.start()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(argv)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    stderr = err.getvalue()
    assert code in (0, 2), (argv, code, stderr[-2000:])
    assert "Traceback" not in stderr
    if code == 2:
        assert stderr.startswith("tml-lr: error: "), (argv, stderr[-2000:])
    assert peak < MEMORY_BOUND, (argv, peak)
    return code, out.getvalue(), stderr


# ----------------------------------------------------------------------- documents

FIELD_NAMES = loading.field_names([LearningRate, OptimizerConfig, MultiTaskLearningRates])
KEYS = st.sampled_from(
    sorted({*FIELD_NAMES, "optimizer", "multi_task_learning_rates", "single_task_learning_rate"})
) | st.text(max_size=8)
NUMBERS = (
    st.integers(-3, 10**6)
    | st.sampled_from([2**53, 2**53 + 1, 2**63, -(2**63), 10**30])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.floats(0.0, 1.0)
)
SCALARS = (
    st.none()
    | st.booleans()
    | NUMBERS
    | st.text(max_size=12)
    | st.sampled_from(["$TML_FUZZ_SET", "${TML_FUZZ_UNSET}", "$USER", "1e-3", "0x10", "1_000"])
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=24,
)


def _kind_fields(kind: str) -> list[str]:
    models = list(loading._models_in(LearningRate.model_fields[kind].annotation))
    return sorted(models[0].model_fields) if models else []


@st.composite
def schedules(draw: st.DrawFn) -> Any:
    """A LearningRate-shaped dict of any kind, its fields mostly plausible numbers."""
    kind = draw(st.sampled_from(loading.LR_KINDS))
    fields = _kind_fields(kind)
    if not fields:
        return {kind: draw(NUMBERS | SCALARS)}
    plausible = st.integers(1, 5000) | st.floats(0.0, 1.0) | st.lists(st.integers(1, 5000))
    body = {name: draw(plausible | VALUES) for name in fields if draw(st.integers(0, 9)) > 0}
    return {kind: body}


@st.composite
def documents(draw: st.DrawFn) -> Any:
    """A document of one of the shapes tml-lr reads, or anything at all."""
    groups = st.dictionaries(KEYS, schedules(), min_size=1, max_size=4)
    shapes = [
        schedules(),
        groups,
        st.fixed_dictionaries(
            {"tower_learning_rates": groups}, optional={"backbone_learning_rate": schedules()}
        ),
        st.fixed_dictionaries(
            {"adam": st.fixed_dictionaries({"lr": NUMBERS})},
            optional={"learning_rate": schedules()},
        ),
        st.fixed_dictionaries(
            {"optimizer": st.fixed_dictionaries({"multi_task_learning_rates": VALUES})}
        ),
        VALUES,
    ]
    return draw(st.one_of(shapes))


TOKENS = st.sampled_from(
    [
        *("&a ", "&b ", "*a", "*b", "<<: ", "? ", "- ", ": ", ", ", "\n", "  ", "\t"),
        *("[", "]", "{", "}", "'", '"', "#", "---\n", "...\n", "%YAML 1.1\n", "|\n", ">\n"),
        *("!!int ", "!!str ", "!!float ", "!!binary ", "!!python/object:os.system ", "!x "),
        *("constant", "piecewise_constant", "tower_learning_rates", "0.1", "1e9", "-1"),
        *("$TML_FUZZ_SET", "${", "\x00", "\x85", "\ufeff", "é"),
    ]
)
TOKEN_SOUP = st.lists(TOKENS, max_size=60).map("".join)


def _write(workdir: Path, name: str, data: bytes) -> Path:
    path = workdir / name
    path.write_bytes(data)
    return path


@FUZZ
@given(document=documents(), extra=st.lists(st.sampled_from(["--no-plot", "--no-table"])))
def test_documents(workdir: Path, document: Any, extra: list[str]) -> None:
    path = _write(workdir, "doc.yaml", yaml.safe_dump(document).encode("utf-8"))
    code, out, _ = invoke([str(path), "--steps", "3000", "--color", "never", *extra])
    if code == 0:
        assert "schedule" in out


@FUZZ
@given(
    text=TOKEN_SOUP
    | st.tuples(VALUES.map(yaml.safe_dump), TOKEN_SOUP, st.integers(0, 200)).map(
        lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :]  # a valid document, then soup inside
    )
)
def test_yaml_token_soup(workdir: Path, text: str) -> None:
    path = _write(workdir, "soup.yaml", text.encode("utf-8"))
    invoke([str(path), "--steps", "500", "--no-plot"])


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes(workdir: Path, data: bytes) -> None:
    invoke([str(_write(workdir, "bytes.yaml", data)), "--steps", "500"])


# ------------------------------------------------------------------------- options

OPTIONS = sorted(
    option
    for action in build_parser()._actions
    for option in action.option_strings
    if option not in ("--png",)  # matplotlib: half a second a figure, tested elsewhere
)
OPTION_VALUES = st.sampled_from(
    [
        *("0", "1", "7", "99", "1000", "5e3", "2_000", "1e12", "9" * 40, "-3", "1.5", "nan"),
        *("inf", "", " ", "0,5,10", "1,,2", "a.b", "adam", "auto", "chart", "strips", "never"),
        *("always", "--", "-", "/dev/full", "/nonexistent/dir/x", "\x00", "é"),
    ]
)


@FUZZ
@given(
    args=st.lists(st.sampled_from(OPTIONS) | OPTION_VALUES, max_size=8),
    config=st.sampled_from(["multitask", "single", "missing", "none", "dir"]),
    outputs=st.lists(st.sampled_from(["csv", "npy"]), max_size=2),
)
def test_option_lists(workdir: Path, args: list[str], config: str, outputs: list[str]) -> None:
    root = Path(__file__).resolve().parents[1] / "examples"
    paths = {
        "multitask": [str(root / "multitask_lr.yaml")],
        "single": [str(root / "single_lr.yaml")],
        "missing": [str(workdir / "missing.yaml")],
        "none": [],
        "dir": [str(workdir)],
    }[config]
    argv = [*paths, *args]
    for kind in outputs:
        argv += [f"--{kind}", str(workdir / f"out.{kind}")]
    if not any(a in ("--steps", "--every") for a in args):
        argv += ["--steps", "2000"]  # the examples' default range is 330,000 steps
    invoke(argv)
