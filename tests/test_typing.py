"""The public API's types, as a user's type checker sees them.

A small usage file is checked with mypy (strict) and its `reveal_type` notes are
compared with the types the API promises: a float for a scalar step, a float64 array
for array steps, a tensor for tensor steps.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")
pytest.importorskip("torch")

USAGE = """
import numpy as np
import torch
from tml.optimizers import Schedule, Schedules, compute_lr
from tml.optimizers.config import LearningRate

cfg = LearningRate(constant=0.1)
s = Schedule({"constant": 0.1})
many = Schedules({"a": {"constant": 0.1}})
reveal_type(compute_lr(cfg, 5))                        # scalar
reveal_type(compute_lr(cfg, 5.5))                      # float scalar
reveal_type(compute_lr(cfg, np.arange(3)))             # array
reveal_type(compute_lr(cfg, [1, 2]))                   # list
reveal_type(compute_lr(cfg, range(3)))                 # range
reveal_type(compute_lr(cfg, torch.arange(3)))          # tensor
reveal_type(compute_lr(cfg, 5, dtype=np.float32))      # scalar with dtype
reveal_type(s(5))                                      # Schedule scalar
reveal_type(s(np.arange(3)))                           # Schedule array
reveal_type(s(torch.arange(3)))                        # Schedule tensor
reveal_type(many(5))                                   # Schedules scalar
reveal_type(many(np.arange(3)))                        # Schedules array
reveal_type(many(torch.arange(3)))                     # Schedules tensor
reveal_type(many.names)
reveal_type(s.flat_from)
"""

EXPECTED = [
    "float",
    "float",
    "numpy.ndarray[tuple[Any, ...], numpy.dtype[numpy.float64]]",
    "numpy.ndarray[tuple[Any, ...], numpy.dtype[numpy.float64]]",
    "numpy.ndarray[tuple[Any, ...], numpy.dtype[numpy.float64]]",
    "torch._tensor.Tensor",
    "numpy.floating[Any]",
    "float",
    "numpy.ndarray[tuple[Any, ...], numpy.dtype[numpy.float64]]",
    "torch._tensor.Tensor",
    "numpy.ndarray[tuple[Any, ...], numpy.dtype[numpy.float64]]",
    "numpy.ndarray[tuple[Any, ...], numpy.dtype[numpy.float64]]",
    "torch._tensor.Tensor",
    "tuple[Any, ...] | None",
    "int | None",
]


def test_revealed_types_of_the_public_api(tmp_path: Path) -> None:
    usage = tmp_path / "usage.py"
    usage.write_text(textwrap.dedent(USAGE), encoding="utf-8")
    stdout, stderr, status = mypy_api.run(
        [
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            "--config-file",
            "",
            str(usage),
        ]
    )
    revealed = re.findall(r'Revealed type is "(.*)"', stdout)
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    assert not errors, stdout + stderr
    assert status == 0, stdout + stderr
    assert revealed == EXPECTED, stdout
