"""Every kind the core declares is complete everywhere it must appear.

The compiled core lists the kinds and their fields once (`_core.kind_fields()`). A kind
added there must also have: its pydantic model (checked when the class is created), an
oracle branch with the same fields and defaults, a Hypothesis strategy, parity examples,
a row in the README's table of kinds, and a benchmark config. This test names whatever
is missing, so adding a kind is never silently incomplete (DEVELOPING.md's checklist).
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import oracle, strategies
from tests.kinds import EXAMPLES
from tml import _core
from tml.optimizers import Schedule
from tml.optimizers.config import LearningRate

ROOT = Path(__file__).resolve().parents[1]
KINDS = list(_core.kind_fields())


def test_kinds_in_the_same_order_everywhere() -> None:
    assert list(LearningRate.model_fields) == KINDS
    assert list(oracle.KINDS) == KINDS


@pytest.mark.parametrize("kind", KINDS)
def test_oracle_declares_the_core_fields(kind: str) -> None:
    declared = _core.kind_fields()[kind]
    if declared["shape"] != "mapping":  # constant is a value, sequence a list of stages
        assert kind not in oracle.FIELDS
        return
    assert kind in oracle.FIELDS, f"oracle.FIELDS has no entry for {kind!r}"
    core = [(f["name"], None if f["required"] else f["default"]) for f in declared["fields"]]
    mine = [
        (name, None if default is oracle.REQUIRED else default)
        for name, _, default in oracle.FIELDS[kind]
    ]
    assert mine == core


@pytest.mark.parametrize("kind", KINDS)
def test_oracle_strategy_and_examples_cover_the_kind(kind: str) -> None:
    assert kind in strategies.KIND_STRATEGIES, f"tests/strategies.py has no strategy for {kind!r}"
    assert EXAMPLES.get(kind), f"tests/kinds.py has no parity examples for {kind!r}"
    for config in EXAMPLES[kind]:
        assert oracle.kind_of(config) == kind
        value = oracle.reference_lr(oracle.namespace(config), 0)
        assert math.isfinite(value)
        assert Schedule(config).kind == kind


@pytest.mark.parametrize("kind", KINDS)
def test_readme_has_a_row_for_the_kind(kind: str) -> None:
    readme = ROOT / "README.md"
    if not readme.exists():
        pytest.skip("no README.md beside the tests (installed elsewhere)")
    text = readme.read_text(encoding="utf-8")
    assert f"| `{kind}" in text, f"README.md's table of kinds has no row for {kind!r}"


def _bench_kinds() -> Any:
    path = ROOT / "bench" / "kinds.py"
    if not path.exists():
        pytest.skip("no bench/ beside the tests (installed elsewhere)")
    spec = importlib.util.spec_from_file_location("bench_kinds", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_kinds", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("kind", KINDS)
def test_benchmarks_have_a_config_for_the_kind(kind: str) -> None:
    bench = _bench_kinds()
    assert kind in bench.KINDS, f"bench/kinds.py does not list {kind!r}"
    Schedule(bench.config(kind, 10_000))  # a valid config of that kind
