"""The `tml-lr` command (`tml.optimizers.cli.main`, `python -m tml.optimizers`).

Numbers the command prints or writes are checked against `compute_lr` evaluated here
on the configs read straight from the YAML files, never against the command's own
helpers. Errors are checked for the exit status 2, the message (with the YAML path
of the bad field) and the absence of a traceback.
"""

from __future__ import annotations

import csv
import importlib.util
import math
import os
import re
import resource
import stat
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pydantic
import pytest
import yaml

import tml
from tml.optimizers import Schedules, cli, compute_lr
from tml.optimizers._cli import evaluation, loading, render
from tml.optimizers._cli.errors import UserError
from tml.optimizers.cli import main
from tml.optimizers.config import LearningRate

ROOT = Path(__file__).resolve().parents[1]
MULTITASK = ROOT / "examples" / "multitask_lr.yaml"
SINGLE = ROOT / "examples" / "single_lr.yaml"
KINDS = ("constant", "piecewise_constant", "linear_ramp_to_constant", "linear_ramp_to_cosine")


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def multitask_groups() -> dict[str, dict[str, Any]]:
    """Group name -> YAML-shaped config, read from the example with plain PyYAML."""
    data = yaml.safe_load(MULTITASK.read_text(encoding="utf-8"))
    section = data["multi_task_learning_rates"]
    groups = dict(section["tower_learning_rates"])
    groups["backbone"] = section["backbone_learning_rate"]
    return groups


def last_change(cfg: dict[str, Any]) -> int:
    """Step after which the schedule is flat, from the config's own fields."""
    if cfg.get("linear_ramp_to_cosine"):
        return cfg["linear_ramp_to_cosine"]["final_num_steps"]
    if cfg.get("linear_ramp_to_constant"):
        return cfg["linear_ramp_to_constant"]["num_ramp_steps"]
    if cfg.get("piecewise_constant"):
        return cfg["piecewise_constant"]["learning_rate_boundaries"][-1]
    return 0


def table(out: str, header_start: str) -> dict[str, list[str]]:
    """Rows of the printed table whose header line starts with `header_start`."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows: dict[str, list[str]] = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        name, *cells = line.split()
        rows[name] = cells
    return rows


def assert_user_error(code: int, out: str, err: str, *fragments: str) -> None:
    assert code == 2, (out, err)
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


# ----------------------------------------------------------------- the example file


def test_example_summary_matches_compute_lr(capsys: pytest.CaptureFixture[str]) -> None:
    groups = multitask_groups()
    assert len(groups) == 11
    code, out, err = run(capsys, MULTITASK, "--no-plot")
    assert code == 0, err

    # Default range: 10% past the last step where any schedule changes.
    end = math.ceil(max(last_change(c) for c in groups.values()) * 1.1)
    assert f"steps 0 to {end:,}:" in out
    assert "11 schedules" in out

    summary = table(out, "group")
    assert list(summary) == list(groups)  # file order, backbone last
    steps = np.arange(end + 1)
    for name, cfg in groups.items():
        kind, peak, at_step, final, flat_from = summary[name]
        assert kind == next(k for k in KINDS if cfg.get(k) is not None)
        values = compute_lr(cfg, steps)
        assert peak == f"{values.max():.3e}"
        assert int(at_step.replace(",", "")) == int(np.argmax(values))  # first step at the peak
        assert final == f"{compute_lr(cfg, end):.3e}"
        assert int(flat_from.replace(",", "")) == last_change(cfg)


def test_lr_at_chosen_steps(capsys: pytest.CaptureFixture[str]) -> None:
    at = [0, 999, 1000, 4321, 250_000, 2_000_000]
    code, out, err = run(capsys, MULTITASK, "--no-plot", "--at", ",".join(map(str, at)))
    assert code == 0, err
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("lr at step"))
    assert header.split()[3:] == [f"{s:,}" for s in at]
    rows = table(out, "lr at step")
    for name, cfg in multitask_groups().items():
        assert rows[name] == [f"{v:.3e}" for v in compute_lr(cfg, at)]


def test_csv_and_npy_agree_with_compute_lr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path, npy_path = tmp_path / "lr.csv", tmp_path / "lr.npy"
    code, out, err = run(
        capsys, MULTITASK, "--steps", "6000", "--csv", csv_path, "--npy", npy_path, "--no-plot"
    )
    assert code == 0, err
    groups = multitask_groups()
    steps = np.arange(6001)
    expected = np.stack([compute_lr(cfg, steps) for cfg in groups.values()])

    with Path(csv_path).open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["step", *groups]
    body = np.array([[float(x) for x in row] for row in rows[1:]])
    np.testing.assert_array_equal(body[:, 0], steps)
    np.testing.assert_array_equal(body[:, 1:].T, expected)  # text round-trips exactly

    array = np.load(npy_path)
    assert array.shape == (11, 6001)
    assert array.dtype == np.float64
    np.testing.assert_array_equal(array, expected)
    assert f"wrote {csv_path} (6,001 rows)" in out
    assert f"wrote {npy_path}" in out


def test_start_and_every(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    npy_path, csv_path = tmp_path / "lr.npy", tmp_path / "lr.csv"
    args = ["--start", "500", "--steps", "1e4", "--every", "7", "--npy", npy_path]
    code, out, err = run(capsys, MULTITASK, *args, "--csv", csv_path, "--no-plot")
    assert code == 0, err
    steps = np.arange(500, 10_001, 7)
    assert f"steps 500 to {steps[-1]:,} every 7: {steps.size:,} steps" in out
    expected = np.stack([compute_lr(cfg, steps) for cfg in multitask_groups().values()])
    np.testing.assert_array_equal(np.load(npy_path), expected)
    with Path(csv_path).open(newline="", encoding="utf-8") as f:
        first_column = [int(row[0]) for row in list(csv.reader(f))[1:]]
    assert first_column == steps.tolist()


def test_long_csv_is_written_at_a_stride(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "_MAX_CSV_ROWS", 1000)
    monkeypatch.setattr(evaluation, "_BLOCK_VALUES", 3000)  # several blocks: the stride spans them
    monkeypatch.setattr(evaluation, "_CSV_CHUNK_VALUES", 7)  # rows written 7 at a time
    csv_path, npy_path = tmp_path / "lr.csv", tmp_path / "lr.npy"
    code, _, err = run(
        capsys, SINGLE, "--steps", "9999", "--csv", csv_path, "--npy", npy_path, "--no-table"
    )
    assert code == 0
    assert "holds one step in 10" in err
    with Path(csv_path).open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))[1:]
    steps = [int(r[0]) for r in rows]
    assert steps == list(range(0, 10_000, 10))
    cfg = yaml.safe_load(SINGLE.read_text(encoding="utf-8"))
    assert [float(r[1]) for r in rows] == compute_lr(cfg, steps).tolist()
    np.testing.assert_array_equal(np.load(npy_path)[0], compute_lr(cfg, np.arange(10_000)))

    code, _, err = run(capsys, SINGLE, "--steps", "9999", "--csv", csv_path, "--csv-every", "1")
    assert code == 0
    assert err == ""
    with Path(csv_path).open(newline="", encoding="utf-8") as f:
        assert len(list(csv.reader(f))) == 10_001


def test_csv_every_counts_evaluated_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = tmp_path / "lr.csv"
    code, out, err = run(
        capsys, SINGLE, "--steps", "4000", "--every", "13", "--csv-every", "3", "--csv", csv_path
    )
    assert code == 0, err
    with Path(csv_path).open(newline="", encoding="utf-8") as f:
        steps = [int(r[0]) for r in list(csv.reader(f))[1:]]
    assert steps == list(range(0, 4001, 39))
    assert f"({len(steps):,} rows, every 39 steps)" in out


def test_peak_found_across_blocks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tiny blocks: the running peak and the plot columns are merged over many calls.
    monkeypatch.setattr(evaluation, "_BLOCK_VALUES", 37)
    path = write(
        tmp_path,
        """
        up:
          piecewise_constant: {learning_rate_boundaries: [10, 200, 201], learning_rate_values: [1, 2, 3, 0.5]}
        ramp:
          linear_ramp_to_cosine: {learning_rate: 0.1, final_learning_rate: 0.0, num_ramp_steps: 123, final_num_steps: 400}
        flat:
          linear_ramp_to_constant: {learning_rate: 0.3, num_ramp_steps: 50}
        """,
    )
    code, out, err = run(capsys, path, "--no-plot")
    assert code == 0, err
    summary = table(out, "group")
    assert summary["up"][1:3] == [f"{3.0:.3e}", "200"]
    assert summary["ramp"][1:3] == [f"{0.1:.3e}", "123"]
    assert summary["flat"][1:3] == [f"{0.3:.3e}", "50"]  # reached again in later blocks


# ------------------------------------------------------------------- file shapes


def single_group_values(
    capsys: pytest.CaptureFixture[str], path: Path, *args: Any
) -> tuple[str, np.ndarray, str]:
    npy = path.with_suffix(".npy")
    code, out, err = run(capsys, path, "--steps", "300", "--npy", npy, "--no-plot", *args)
    assert code == 0, err
    return table(out, "group").popitem()[0], np.load(npy), out


def test_single_learning_rate_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "single.yaml"
    path.write_text(SINGLE.read_text(encoding="utf-8"), encoding="utf-8")
    name, values, out = single_group_values(capsys, path)
    assert "LearningRate, 1 schedule" in out
    assert name == "learning_rate"
    cfg = yaml.safe_load(SINGLE.read_text(encoding="utf-8"))
    np.testing.assert_array_equal(values[0], compute_lr(cfg, np.arange(301)))


def test_optimizer_config_without_learning_rate_is_constant(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, "sgd: {lr: 0.03, momentum: 0.9}\n")
    name, values, out = single_group_values(capsys, path)
    assert name == "sgd"
    assert "learning_rate unset" in out
    np.testing.assert_array_equal(values, np.full((1, 301), 0.03))


def test_optimizer_config_with_learning_rate(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lr = {"linear_ramp_to_constant": {"learning_rate": 0.02, "num_ramp_steps": 40}}
    path = write(
        tmp_path, yaml.safe_dump({"adagrad": {"lr": 0.5}, "learning_rate": lr}, sort_keys=False)
    )
    name, values, _ = single_group_values(capsys, path)
    assert name == "adagrad"
    np.testing.assert_array_equal(values[0], compute_lr(lr, np.arange(301)))


def test_multi_task_learning_rates_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    towers = {
        "recap.engagement.is_favorited": {"constant": 0.1},
        "is_replied": {
            "piecewise_constant": {
                "learning_rate_boundaries": [100],
                "learning_rate_values": [0.2, 0.02],
            }
        },
    }
    path = write(tmp_path, yaml.safe_dump({"tower_learning_rates": towers}, sort_keys=False))
    npy = tmp_path / "mt.npy"
    code, out, err = run(capsys, path, "--npy", npy, "--no-plot")
    assert code == 0, err
    assert list(table(out, "group")) == list(towers)  # no backbone group without its lr
    # Default range: past the last boundary (100) by 10%, at least 100 steps.
    steps = np.arange(np.load(npy).shape[1])
    assert steps[-1] >= 110
    expected = np.stack([compute_lr(c, steps) for c in towers.values()])
    np.testing.assert_array_equal(np.load(npy), expected)


def test_training_config_with_recap_optimizer_and_env(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The original recap layout: adam with beta_1/beta_2/epsilon (not read: the learning
    # rates come from the multi_task section), values from the environment.
    monkeypatch.setenv("TML_TEST_CTR_LR", "0.004")
    path = write(
        tmp_path,
        """
        training: {num_train_steps: 10}
        optimizer:
          adam: {beta_1: 0.95, beta_2: 0.999, epsilon: 1.0e-07}
          multi_task_learning_rates:
            tower_learning_rates:
              ctr: {linear_ramp_to_constant: {learning_rate: $TML_TEST_CTR_LR, num_ramp_steps: 80}}
            backbone_learning_rate: {constant: 0.001}
          single_task_learning_rate: null
        """,
    )
    npy = tmp_path / "t.npy"
    code, out, err = run(capsys, path, "--steps", "200", "--npy", npy, "--no-plot")
    assert code == 0, err
    assert list(table(out, "group")) == ["ctr", "backbone"]
    steps = np.arange(201)
    ctr = {"linear_ramp_to_constant": {"learning_rate": 0.004, "num_ramp_steps": 80}}
    np.testing.assert_array_equal(
        np.load(npy), np.stack([compute_lr(ctr, steps), np.full(201, 0.001)])
    )


def test_named_mapping_and_section(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        experiment:
          schedules:
            warm: {linear_ramp_to_constant: {learning_rate: 0.5, num_ramp_steps: 10}}
            flat: {constant: 0.25}
        """,
    )
    code, out, err = run(
        capsys, path, "--section", "experiment.schedules", "--no-plot", "--steps", "20"
    )
    assert code == 0, err
    summary = table(out, "group")
    assert list(summary) == ["warm", "flat"]
    assert summary["warm"][1:3] == [f"{0.5:.3e}", "10"]

    code, out, err = run(capsys, path, "--section", "experiment.nope")
    assert_user_error(code, out, err, "--section experiment.nope", "'nope'", "schedules")


TRAIN = ROOT / "examples" / "train_multitask.yaml"


def test_a_section_may_name_a_key_with_dots(capsys: pytest.CaptureFixture[str]) -> None:
    section = "multi_task_learning_rates.tower_learning_rates.is_liked.v2"
    code, out, err = run(capsys, TRAIN, "--section", section, "--no-plot", "--at", "50")
    assert code == 0, err
    expected = yaml.safe_load(TRAIN.read_text(encoding="utf-8"))
    for key in ("multi_task_learning_rates", "tower_learning_rates", "is_liked.v2"):
        expected = expected[key]
    assert table(out, "lr at step")["learning_rate"] == [f"{compute_lr(expected, 50):.3e}"]

    code, out, err = run(capsys, TRAIN, "--section", section.replace("v2", "v3"))
    assert_user_error(
        code, out, err, "no key 'is_liked.v3' nor 'is_liked' at multi_task_learning_rates."
    )


def test_a_section_tries_the_longest_key_first_then_shorter_ones(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        """
        a.b: {c: {constant: 0.25}}
        a: {b: {c.d: {constant: 0.5}}}
        """,
    )
    for section, value in (("a.b.c", 0.25), ("a.b.c.d", 0.5)):
        code, out, err = run(capsys, path, "--section", section, "--no-plot", "--at", "0")
        assert code == 0, err
        assert table(out, "lr at step")["learning_rate"] == [f"{value:.3e}"]


@pytest.mark.parametrize("name", ["learning_rate", "adam", "sgd"])
def test_named_schedules_may_be_named_like_optimizer_fields(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    # Read as an OptimizerConfig for the key learning_rate: "warmup: unknown key".
    path = write(
        tmp_path,
        f"""
        {name}: {{constant: 0.1}}
        warmup: {{linear_ramp_to_constant: {{learning_rate: 0.1, num_ramp_steps: 10}}}}
        """,
    )
    code, out, err = run(capsys, path, "--no-plot", "--steps", "20")
    assert code == 0, err
    assert list(table(out, "group")) == [name, "warmup"]


# ------------------------------------------------------------------ any schedule kind


def test_kinds_and_field_names_come_from_the_models() -> None:
    # Every field of LearningRate is a kind; the help lists them all, whatever they are.
    assert tuple(LearningRate.model_fields) == loading.LR_KINDS
    for kind in LearningRate.model_fields:
        assert kind in loading.ACCEPTED_SHAPES

    # The walk reaches models behind Optional, list, dict and self-reference.
    class Leaf(pydantic.BaseModel):
        leaf_field: int

    class Stage(pydantic.BaseModel):
        num_steps: int | None = None
        schedule: Stage | None = None
        tail: dict[str, list[Leaf | None]] = {}

    class Root(pydantic.BaseModel):
        stages: list[Stage] | None = None

    assert loading.field_names([Root]) == sorted(
        ["stages", "num_steps", "schedule", "tail", "leaf_field"]
    )


def test_did_you_mean_reaches_fields_of_nested_models(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, "piecewise_constant: {learning_rate_boundary: [1]}\n", "pw.yaml")
    code, out, err = run(capsys, write(tmp_path, "adam: {lr: 0.1, beta: [0.9, 0.99]}\n"))
    assert_user_error(code, out, err, "adam.beta: unknown key (did you mean 'betas'?)")
    code, out, err = run(capsys, path)
    assert_user_error(code, out, err, "(did you mean 'learning_rate_boundaries'?)")


def test_summary_has_no_kind_specific_column(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, MULTITASK, "--no-plot")
    assert code == 0, err
    header = next(line for line in out.splitlines() if line.startswith("group"))
    assert header.split() == ["group", "kind", "peak", "peak", "at", "final", "flat", "from"]
    assert "ramp" not in header


def test_periodic_schedule_shows_its_period_and_three_of_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        """
        cyclic_like:
          cyclic: {learning_rate: 0.1, max_learning_rate: 0.5, step_size_up: 500, step_size_down: 1500}
        ramp: {linear_ramp_to_constant: {learning_rate: 1.0, num_ramp_steps: 1000}}
        """,
    )
    code, out, err = run(capsys, path, "--no-plot")
    assert code == 0, err
    # Three periods of 2,000 steps, 10% more: 6,600 (the ramp is flat from 1,000).
    assert "steps 0 to 6,600:" in out
    summary = table(out, "group")
    assert summary["cyclic_like"][-2:] == ["period", "2,000"]
    assert summary["ramp"][-1] == "1,000"


def test_schedule_that_never_settles_says_never(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, "g: {inverse_sqrt: {learning_rate: 0.5, num_warmup_steps: 10}}\n")
    code, out, err = run(capsys, path, "--no-plot", "--steps", "50")
    assert code == 0, err
    assert table(out, "group")["g"][-1] == "never"


class InverseSqrt:
    """A schedule that decays forever: L / sqrt((s + tau) / tau), no breakpoints."""

    flat_from = (None,)
    periods = (None,)
    breakpoints: ClassVar[list[tuple[int, ...]]] = [()]

    def __len__(self) -> int:
        return 1

    def __getitem__(self, g: int) -> Any:
        return lambda s: 1.0 / np.sqrt((np.asarray(s, dtype=np.float64) + 1000.0) / 1000.0)


def test_default_range_of_a_schedule_that_decays_forever() -> None:
    # Under a tenth of its peak once (s + 1000) / 1000 > 100, s > 99,000; probed at
    # powers of two: 131,072. Then 10% more, rounded up to two digits: 150,000.
    rng = evaluation.step_range(InverseSqrt(), 0, 1, None)  # type: ignore[arg-type]
    assert rng.last == 150_000


UNDERFLOWS = {
    # 0.96 per 1,000 steps: 0.0 (an underflow) from step 18,084,038, under a tenth of its
    # peak from 56,404; probed at powers of two: 65,536, and 10% more: 73,000.
    "exponential": (
        "g: {exponential_decay: {learning_rate: 1.0e-3, decay_rate: 0.96, decay_steps: 1000}}",
        "0 to 73,000",
    ),
    "staircase": (
        "g: {exponential_decay: {learning_rate: 1.0, decay_rate: 0.5, decay_steps: 100, "
        "staircase: true, final_learning_rate: 0.0}}",
        "0 to 440",  # 0.5 ** 4 from step 400, a breakpoint: under a tenth from there
    ),
    "a sequence ending in one": (
        """\
        g:
          sequence:
            - num_steps: 100
              schedule: {linear_ramp_to_constant: {learning_rate: 1.0, num_ramp_steps: 100}}
            - schedule: {exponential_decay: {learning_rate: 1.0, decay_rate: 0.5, decay_steps: 1000}}
        """,
        "0 to 7,100",  # 0.5 ** 6.3 at 6,400, the first probe under a tenth
    ),
}


@pytest.mark.parametrize(("text", "steps"), UNDERFLOWS.values(), ids=UNDERFLOWS.keys())
def test_a_decay_that_only_ends_in_an_underflow_changes_forever(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, steps: str
) -> None:
    out = default_range_report(capsys, tmp_path, text, steps)
    assert table(out, "group")["g"][-1] == "never"


def default_range_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, steps: str
) -> str:
    """tml-lr's report on the config `text` with no --steps, checked to span `steps`."""
    code, out, err = run(capsys, write(tmp_path, text), "--no-plot")
    assert code == 0, err
    assert f"steps {steps}:" in out
    return out


def test_a_decay_the_config_ends_keeps_its_end() -> None:
    configs = {
        # 0.0 from step 2 (1.0, 1e-300, 0.0): a drop the config asks for, not an underflow.
        "drop": {
            "exponential_decay": {"learning_rate": 1.0, "decay_rate": 1e-300, "decay_steps": 1}
        },
        # 1e-318 one step before its end, a breakpoint: the end its config sets.
        "poly": {"polynomial_decay": {"learning_rate": 1e-3, "num_steps": 10**9, "power": 35.0}},
        "floor": {
            "exponential_decay": {
                "learning_rate": 1e-3,
                "decay_rate": 0.9,
                "decay_steps": 1,
                "final_learning_rate": 1e-5,
            }
        },
        "linear": {"linear": {"learning_rate": 1.0, "final_learning_rate": 0.0, "num_steps": 10}},
    }
    schedules = Schedules(configs)
    assert evaluation.curve_ends(schedules)[0] == list(schedules.flat_from)
    assert schedules.flat_from == (2, 10**9, 44, 10)


WSC = ROOT / "examples" / "warmup_stable_cosine.yaml"


def warmup_stable_cosine(s: int) -> float:
    """The example's schedule by hand, from the kinds' formulas.

    Linear 0 -> 1e-3 over 2,000 steps, 1e-3 to step 50,000, cosine to 1e-5 over 50,000
    steps; each stage sees its own step, re-zeroed where it starts.
    """
    lo, hi = 0.0, 1.0e-3
    if s < 2000:
        n, t = 2000, float(s)
        return lo + (hi - lo) * (t / n) if 2 * s < n else hi + (lo - hi) * (float(n - s) / n)
    if s < 50_000:
        return 1.0e-3
    p, n, floor = s - 50_000, 50_000, 1.0e-5
    if p <= n:
        return floor + (hi - floor) * 0.5 * (1.0 + math.cos(math.pi * float(p) / n))
    return floor


def test_warmup_stable_cosine_example(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    npy = tmp_path / "wsc.npy"
    code, out, err = run(capsys, WSC, "--no-plot", "--npy", npy)
    assert code == 0, err
    assert "steps 0 to 110,000:" in out  # flat from 100,000, plus 10%
    steps = range(110_001)
    expected = np.array([warmup_stable_cosine(s) for s in steps])
    np.testing.assert_array_equal(np.load(npy)[0], expected)
    (row,) = table(out, "group").values()
    assert row == ["sequence", f"{1e-3:.3e}", "2,000", f"{1e-5:.3e}", "100,000"]


# ---------------------------------------------------------------------- plotting


@pytest.mark.parametrize("block", [1 << 22, 7])  # one compiled call, or blocks across columns
def test_chart_draws_a_step_down(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(evaluation, "_BLOCK_VALUES", block)
    # 1.0 before step 50, 0.5 from it; 100 steps on 10 columns and 3 rows (0, 0.5, 1):
    # columns 0-4 on the top row, column 4 joined down to the 0.5 row, 5-9 on it.
    path = write(
        tmp_path,
        "piecewise_constant: {learning_rate_boundaries: [50], learning_rate_values: [1.0, 0.5]}\n",
    )
    args = ["--steps", "99", "--width", "10", "--height", "3", "--plot", "chart", "--no-table"]
    code, out, _ = run(capsys, path, *args, "--color", "never")
    assert code == 0
    lines = out.splitlines()
    top = next(i for i, line in enumerate(lines) if line.lstrip().startswith("1.0e+00"))
    cells = [line.split("┤", 1)[1] for line in lines[top : top + 3]]
    assert cells == ["AAAAA", "    AAAAAA", ""]  # nothing at 0
    assert "A  learning_rate" in out


@pytest.mark.parametrize("block", [1 << 22, 7])
def test_strips_show_a_ramp(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(evaluation, "_BLOCK_VALUES", block)
    # min(1, step / 50) on steps 0..99, 10 columns: a column shows the highest value of
    # its 10 steps joined to the next column's first, in eighths of the peak.
    path = write(
        tmp_path, "r: {linear_ramp_to_constant: {learning_rate: 1.0, num_ramp_steps: 50}}\n"
    )
    args = ["--steps", "99", "--width", "10", "--plot", "strips", "--no-table"]
    code, out, _ = run(capsys, path, *args)
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("r "))
    highs = np.minimum(1.0, np.minimum(np.arange(10) * 10 + 10, 99) / 50)
    bars = " ▁▂▃▄▅▆▇█"
    assert line.endswith("".join(bars[int(np.rint(h * 8))] for h in highs))


def test_chart_legend_merges_identical_schedules(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, MULTITASK, "--no-table", "--plot", "chart", "--log-y")
    assert code == 0
    assert "log scale" in out
    assert "is_retweeted, is_replied_reply_engaged_by_author, backbone  (same schedule)" in out
    lines = out.splitlines()
    legend = lines[lines.index("  learning rate, log scale:") + 1 :]
    named = {n for line in legend for n in line.split(None, 1)[1].split("  ")[0].split(", ")}
    assert set(multitask_groups()) <= named


def chart_rows(out: str) -> list[str]:
    """The chart's rows, top first: the lines above its step axis."""
    lines = out.splitlines()
    axis = next(i for i, line in enumerate(lines) if line.lstrip().startswith("└"))
    first = next(i for i, line in enumerate(lines) if "┤" in line)
    return lines[first:axis]


def test_log_chart_reaches_down_to_the_smallest_value(capsys: pytest.CaptureFixture[str]) -> None:
    # A ramp from 0 to 1e-3, a cosine down to 1e-5, flat from step 100,000.
    code, out, err = run(capsys, SINGLE, "--log-y", "--no-table", "--width", "60")
    assert code == 0, err
    rows = chart_rows(out)
    assert rows[0].startswith("  1.0e-03 ┤")
    assert rows[-1].startswith("  1.0e-05 ┤")  # the bottom is the final plateau's decade
    # The plateau is drawn there, and only there, up to the last column.
    assert rows[-1].endswith("AAAA")
    assert all(len(row) < len(rows[-1]) for row in rows[:-1])
    assert "  0, which a log scale cannot show, is drawn on the bottom line" in out


def test_log_chart_spans_at_most_ten_decades(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = "exponential_decay: {learning_rate: 1.0e-3, decay_rate: 0.96, decay_steps: 1000}\n"
    path = write(tmp_path, text)  # 1e-3 down to 1e-38 at step 2,000,000
    code, out, err = run(capsys, path, "--log-y", "--no-table", "--steps", "2e6", "--height", "12")
    assert code == 0, err
    rows = chart_rows(out)
    assert rows[0].startswith("  1.0e-03 ┤")
    assert rows[-1].startswith("  1.0e-13 ┤")
    assert "  values under 1.0e-13 are drawn on the bottom line" in out
    _, strips, _ = run(capsys, path, "--log-y", "--no-table", "--steps", "2e6", "--plot", "strips")
    assert "  values under 1.0e-13 are drawn on the bottom line" in strips


def test_auto_plot_and_styles(capsys: pytest.CaptureFixture[str]) -> None:
    _, many, _ = run(capsys, MULTITASK, "--no-table")  # 9 distinct schedules: strips
    assert "bar height" in many
    assert sum(line.startswith(tuple(multitask_groups())) for line in many.splitlines()) == 11
    _, one, _ = run(capsys, SINGLE, "--no-table", "--color", "always")
    assert "A  learning_rate" in one.replace("\x1b[31m", "").replace("\x1b[0m", "")
    assert "\x1b[" in one
    _, plain, _ = run(capsys, SINGLE, "--no-table", "--color", "never")
    assert "\x1b[" not in plain
    _, none, _ = run(capsys, SINGLE, "--no-table", "--no-plot")
    assert "learning rate" not in none
    assert "┤" not in none


def test_ascii_fallback_when_the_output_cannot_encode_box_drawing() -> None:
    class AsciiStream:
        encoding = "ascii"

        def isatty(self) -> bool:
            return True

    style = render.plot_style("auto", AsciiStream())  # type: ignore[arg-type]
    chars = "".join([style.vertical, style.tick_left, style.corner, style.horizontal, style.bars])
    chars.encode("ascii")


def test_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "lr.png"
    code, out, err = run(capsys, MULTITASK, "--png", png, "--no-plot", "--no-table", "--log-y")
    assert code == 0, err
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000
    assert f"wrote {png}" in out


def test_png_without_matplotlib(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "matplotlib",
        "matplotlib.figure",
        "matplotlib.backends",
        "matplotlib.backends.backend_agg",
    ):
        monkeypatch.setitem(sys.modules, name, None)  # import of it raises ImportError
    png = tmp_path / "lr.png"
    code, out, err = run(capsys, MULTITASK, "--png", png)
    assert_user_error(code, out, err, "--png needs matplotlib: pip install matplotlib", "[plot]")
    assert out == ""  # refused before any work
    assert not png.exists()


@pytest.mark.parametrize("name", ["lr.jpg", "lr.PDF", "lr.svg"])
def test_png_needs_a_png_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    # The image is always PNG: a .jpg name would hold PNG data.
    code, out, err = run(capsys, MULTITASK, "--png", tmp_path / name)
    assert_user_error(code, out, err, "--png writes a PNG image: name the file .png")
    assert not (tmp_path / name).exists()


# ------------------------------------------------------------------------ errors


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert_user_error(*run(capsys, path), f"{path}: no such file")
    assert_user_error(*run(capsys, tmp_path), "is a directory")


def test_invalid_yaml_names_line_and_column(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, "constant: [0.1\nother: 2\n")
    assert_user_error(*run(capsys, path), f"{path}:2:", "invalid YAML")


def test_bad_fields_are_reported_with_their_yaml_paths(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        """
        tower_learning_rates:
          ctr:
            linear_ramp_to_cosine:
              learning_rate: 0.1
              final_learning_rate: 0.0
              num_ramp_steps: 100
              final_num_steps: 50
          recap.engagement.is_replied:
            linear_ramp_to_constant: {learning_rate: fast, num_ramp_step: 3}
          cvr: null
        backbone_learning_rate: {constant: -1}
        """,
    )
    code, out, err = run(capsys, path, "--no-plot")
    assert_user_error(
        code,
        out,
        err,
        f"{path}: tower_learning_rates.ctr.linear_ramp_to_cosine: final_num_steps must be greater "
        "than num_ramp_steps",
        'tower_learning_rates["recap.engagement.is_replied"].linear_ramp_to_constant.learning_rate:',
        "(got 'fast')",
        ".linear_ramp_to_constant.num_ramp_step: unknown key (did you mean 'num_ramp_steps'?)",
        ".linear_ramp_to_constant.num_ramp_steps: required field is missing",
        "tower_learning_rates.cvr: expected a mapping, got null",
        "backbone_learning_rate: constant must be a finite number >= 0, got constant=-1",
    )
    assert len(err.strip().splitlines()) == 6  # one line per bad field
    assert out == ""


def test_a_key_that_is_not_a_string_is_named_at_its_mapping(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, "tower_learning_rates: {1: {constant: 0.1}, ctr: {constant: 0.2}}\n")
    code, out, err = run(capsys, path)
    assert_user_error(code, out, err)
    assert err == (
        f"tml-lr: error: {path}: tower_learning_rates: key 1: Input should be a valid string\n"
    )


def test_two_kinds_and_unset_variable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path,
        "adam: {lr: 0.1}\nlearning_rate: {constant: 0.1, linear_ramp_to_constant: {learning_rate: 1, num_ramp_steps: 2}}\n",
    )
    assert_user_error(*run(capsys, path), "learning_rate: exactly one of", "got constant=0.1")

    monkeypatch.delenv("TML_TEST_UNSET", raising=False)
    path = write(tmp_path, "constant: ${TML_TEST_UNSET}\n")
    assert_user_error(*run(capsys, path), "constant:", "TML_TEST_UNSET set?")


def test_unknown_shape_lists_accepted_shapes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, "foo: 1\nbar: {x: 2}\n")
    assert_user_error(
        *run(capsys, path),
        "cannot tell which config this is (keys: foo, bar)",
        "accepted shapes:",
        "LearningRate",
        "OptimizerConfig",
        "MultiTaskLearningRates",
        "mapping name -> LearningRate",
    )
    assert_user_error(*run(capsys, write(tmp_path, "- 1\n- 2\n")), "expected a mapping, got list")
    assert_user_error(*run(capsys, write(tmp_path, "")), "the file is empty")


def test_the_training_example_reads_its_schedules_beside_optimizer(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # examples/train_multitask.yaml: optimizer:, multi_task_learning_rates:, model: and
    # training: side by side; the schedules are what training uses.
    example = MULTITASK.with_name("train_multitask.yaml")
    npy = tmp_path / "t.npy"
    code, out, err = run(capsys, example, "--no-plot", "--npy", npy, "--steps", "400")
    assert code == 0, err
    assert "training config with multi_task_learning_rates, 4 schedules" in out
    data = yaml.safe_load(example.read_text(encoding="utf-8"))["multi_task_learning_rates"]
    configs = [*data["tower_learning_rates"].values(), data["backbone_learning_rate"]]
    assert list(table(out, "group")) == [*data["tower_learning_rates"], "backbone"]
    np.testing.assert_array_equal(np.load(npy), Schedules(configs)(np.arange(401)))


GROWS = "{cosine_restarts: {learning_rate: 1.0, num_steps: 1000, period_multiplier: 2}}"

# Schedules that never settle, and the default range tml-lr shows them over.
NEVER_SETTLE = {
    # Never flat, not periodic, never under a tenth of its peak: through the third restart
    # (7,000), plus 10%.
    "growing restarts": (f"a: {GROWS}\n", "0 to 7,700"),
    # Its peaks halving: until a restart's peak is under a tenth of the first (the 4th
    # restart, at 15,000: 0.0625).
    "decaying restarts": (
        f"a: {GROWS.replace('2}}', '2, peak_decay: 0.5}}')}\nb: {{constant: 0.1}}\n",
        "0 to 17,000",
    ),
    # Under a tenth at the second stage's start, then up again: on to where it stays under.
    "a stage that rises again": (
        """\
        a:
          sequence:
            - num_steps: 1000
              schedule: {cosine_decay: {learning_rate: 1.0, num_steps: 1000}}
            - schedule: {inverse_sqrt: {learning_rate: 1.0, num_warmup_steps: 500}}
        """,
        "0 to 110,000",
    ),
    # The second stage's rise peaks just before its end, a breakpoint: seen there (1,100).
    "a rise between breakpoints": (
        """\
        g:
          sequence:
            - num_steps: 100
              schedule: {exponential_decay: {learning_rate: 1.0, decay_rate: 0.01, decay_steps: 10}}
            - num_steps: 1000
              schedule: {linear: {learning_rate: 0.0, final_learning_rate: 1.0, num_steps: 2000}}
            - schedule: {inverse_sqrt: {learning_rate: 0.001, num_warmup_steps: 10}}
        """,
        "0 to 1,300",
    ),
    # Growing restarts after a warm-up and a stable stage: through the third restart, a
    # jump back up to the peak (4,100), not the third breakpoint (1,100).
    "restarts after other stages": (
        f"""\
        g:
          sequence:
            - num_steps: 100
              schedule: {{linear: {{learning_rate: 0.0, final_learning_rate: 1.0, num_steps: 100}}}}
            - num_steps: 1000
              schedule: {{constant: 1.0}}
            - schedule: {GROWS}
        """,
        "0 to 4,600",
    ),
}


@pytest.mark.parametrize(("text", "steps"), NEVER_SETTLE.values(), ids=NEVER_SETTLE.keys())
def test_the_default_range_of_schedules_that_never_settle(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, steps: str
) -> None:
    default_range_report(capsys, tmp_path, text, steps)


def test_a_field_of_another_kind_is_named_as_such(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, "cosine_decay: {learning_rate: 0.1, num_steps: 100, decay_rate: 0.5}\n")
    assert_user_error(
        *run(capsys, path),
        "cosine_decay.decay_rate: unknown key ('decay_rate' is a field of exponential_decay",
        "not cosine_decay)",
    )


def test_a_sequence_stage_error_names_its_path_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The model's messages hold the stage's path for Python callers; the CLI prints the
    # path before the message already.
    path = write(
        tmp_path,
        "sequence:\n"
        "  - num_steps: 10\n"
        "    schedule: {cyclic: {learning_rate: 0.1, max_learning_rate: 0.2, step_size_up: 3,"
        " mode: bad}}\n"
        "  - schedule: {constant: true}\n",
    )
    code, out, err = run(capsys, path)
    assert_user_error(
        code,
        out,
        err,
        "sequence[0].schedule.cyclic.mode: Input should be 'triangular'",
        "sequence[1].schedule: constant must be a number, not a bool",
    )
    assert err.count("sequence[0]") == 1, err


def test_a_near_miss_inside_a_kind_is_one_of_its_fields(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, "cosine_decay: {learning_rate: 0.1, num_step: 10}\n")
    assert_user_error(*run(capsys, path), "num_step: unknown key (did you mean 'num_steps'?)")
    # Not a field of another config ('betas' of Adam, say).
    path = write(tmp_path, "cosine_decay: {learning_rate: 0.1, num_steps: 10, extra: 1}\n")
    code, out, err = run(capsys, path)
    assert_user_error(code, out, err, "cosine_decay.extra: unknown key")
    assert "did you mean" not in err


def test_a_real_field_at_the_wrong_level_is_not_suggested_as_itself(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, "base: {learning_rate: 0.1}\na: {constant: 0.1}\n")
    code, out, err = run(capsys, path)
    assert_user_error(code, out, err, "base.learning_rate: unknown key here", "level missing")
    assert "did you mean 'learning_rate'" not in err


def test_a_learning_rate_section_alone(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # The README's snippets are written under `learning_rate:`, an optimizer config's
    # field: saved alone, that is a schedule, with no algorithm to require.
    text = """\
        learning_rate:
          sequence:
            - num_steps: 20
              schedule: {linear: {learning_rate: 0.0, final_learning_rate: 1.0e-3, num_steps: 20}}
            - schedule: {cosine_decay: {learning_rate: 1.0e-3, num_steps: 80}}
        """
    npy = tmp_path / "a.npy"
    code, out, err = run(capsys, write(tmp_path, text), "--no-plot", "--npy", npy)
    assert code == 0, err
    assert "learning_rate section, 1 schedule" in out
    cfg = yaml.safe_load(textwrap.dedent(text))["learning_rate"]
    np.testing.assert_array_equal(np.load(npy)[0], compute_lr(cfg, np.arange(len(np.load(npy)[0]))))
    bad = write(tmp_path, "learning_rate: {cosine_decay: {learning_rate: -1, num_steps: 5}}\n")
    assert_user_error(*run(capsys, bad), "learning_rate.cosine_decay: learning_rate must be")


def test_recap_layout_needs_exactly_one_lr_section(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(
        tmp_path, "adam: {}\nmulti_task_learning_rates: null\nsingle_task_learning_rate: null\n"
    )
    assert_user_error(
        *run(capsys, path), "exactly one of multi_task_learning_rates, single_task_learning_rate"
    )
    path = write(tmp_path, "single_task_learning_rate: {constant: 0.1}\nweight_decay: 0.1\n")
    assert_user_error(*run(capsys, path), "weight_decay: unknown key")


def test_a_default_range_too_long_for_one_pass_is_strided(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # 10% past 1e8 steps is 1.1e8: over the limit, so the default range takes the least
    # stride that fits and says so; an explicit --steps that long is still refused.
    path = write(
        tmp_path,
        "linear_ramp_to_cosine: {learning_rate: 0.1, final_learning_rate: 0.001, "
        "num_ramp_steps: 1000, final_num_steps: 100000000}\n",
    )
    code, out, err = run(capsys, path, "--no-plot")
    assert code == 0, err
    assert "steps 0 to 110,000,000 every 2: 55,000,001 steps" in out
    assert "the default range is evaluated every 2 steps" in err
    assert_user_error(*run(capsys, path, "--steps", "200000000"), "pass --every 3 (or more)")


def test_bad_options(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert_user_error(*run(capsys, SINGLE, "--steps", "1.5"), "--steps", "not a whole step")
    assert_user_error(*run(capsys, SINGLE, "--steps", "-3"), "--steps")
    assert_user_error(*run(capsys, SINGLE, "--steps", "-3"), "steps are >= 0, got -3")
    # A count's limit whatever the sign: not "steps are >= 0" for a stride or a width.
    assert_user_error(*run(capsys, SINGLE, "--every", "0"), "--every: must be >= 1, got 0")
    assert_user_error(*run(capsys, SINGLE, "--every", "-2"), "--every: must be >= 1, got -2")
    assert_user_error(*run(capsys, SINGLE, "--width", "-3"), "--width: must be >= 1, got -3")
    assert_user_error(*run(capsys, SINGLE, "--section", ""), "--section: expected a key")
    assert_user_error(*run(capsys, SINGLE, "--start", "50", "--steps", "10"), "before --start 50")
    assert_user_error(*run(capsys, SINGLE, "--steps", "1e12"), "--every 10001 (or more)")
    missing_dir = tmp_path / "no" / "such" / "dir"
    assert_user_error(*run(capsys, SINGLE, "--csv", missing_dir / "a.csv"), "cannot write")
    assert_user_error(*run(capsys, SINGLE, "--npy", missing_dir / "a.npy"), "cannot write")
    assert main(["--help"]) == 0
    assert "accepted shapes" in capsys.readouterr().out


@pytest.mark.parametrize("steps", [100_000_000, 199_999_999, 200_000_000, 5 * 10**9, 10**12])
def test_the_suggested_stride_fits(capsys: pytest.CaptureFixture[str], steps: int) -> None:
    # Both ends count: steps 0 to N at stride K are N // K + 1 steps.
    code, out, err = run(capsys, SINGLE, "--steps", steps, "--no-plot")
    assert_user_error(code, out, err, f"{evaluation.MAX_STEPS:,} this tool evaluates")
    match = re.search(r"--every (\d+) \(or more\)", err)
    assert match, err
    stride = int(match.group(1))
    schedules = Schedules({"a": {"constant": 0.5}})
    assert evaluation.step_range(schedules, 0, stride, steps).count <= evaluation.MAX_STEPS
    with pytest.raises(UserError):  # and it is the smallest that fits
        evaluation.step_range(schedules, 0, stride - 1, steps)


def test_the_step_limit_is_documented_and_the_examples_respect_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--help"]) == 0
    assert f"at most {evaluation.MAX_STEPS:,} steps" in " ".join(capsys.readouterr().out.split())
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    cli_section = readme[readme.index("### The command line: `tml-lr`") :]
    cli_section = cli_section[: cli_section.index("\n## ")]
    assert f"at most {evaluation.MAX_STEPS:,} steps" in " ".join(cli_section.split())
    examples = re.findall(r"--steps (\S+)", f"{cli.__doc__}{cli_section}")
    assert examples
    for text in examples:  # every documented --steps runs at stride 1
        evaluation.step_range(Schedules({"a": {"constant": 0.5}}), 0, 1, int(text))


# ---------------------------------------------------------------------- as a program


def test_python_dash_m(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(Path(tml.__file__).resolve().parents[1]), COLUMNS="100")
    csv_path = tmp_path / "lr.csv"
    done = subprocess.run(
        [sys.executable, "-m", "tml.optimizers", str(MULTITASK), "--csv", str(csv_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "is_video_playback_50" in done.stdout
    assert csv_path.stat().st_size > 0

    bad = subprocess.run(
        [sys.executable, "-m", "tml.optimizers", str(tmp_path / "missing.yaml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2
    assert "no such file" in bad.stderr
    assert "Traceback" not in bad.stderr


def program_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(Path(tml.__file__).resolve().parents[1]), COLUMNS="100")


def test_a_full_standard_output_is_one_line() -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    with Path("/dev/full").open("w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "tml.optimizers", str(MULTITASK)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=program_env(),
            timeout=120,
            check=False,
        )
    assert done.returncode == 2, done.stderr
    # One line: nothing left in the buffer to fail again at exit ("Exception ignored").
    assert done.stderr == "tml-lr: error: standard output: cannot write: No space left on device\n"


def test_a_reader_that_leaves_early_ends_the_run_quietly() -> None:
    # `tml-lr ... | head -1`, with more output than a pipe holds.
    args = [str(MULTITASK), "--plot", "chart", "--width", "1000", "--height", "500"]
    with subprocess.Popen(
        [sys.executable, "-m", "tml.optimizers", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=program_env(),
    ) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        assert proc.stdout.readline().startswith(str(MULTITASK).encode())
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=120) == 0, err
    assert err == b""


def test_an_interrupted_run_leaves_no_file_and_keeps_an_old_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Ctrl-C mid-run: neither a .npy whose header promises more nor half a CSV is left."""
    old = tmp_path / "lr.npy"
    old.write_bytes(b"an earlier run's array")

    def interrupted(schedules: Schedules, rng: Any, _columns: int, writer: Any) -> None:
        steps = rng.steps(0, 10)
        writer.write(0, steps, schedules(steps))  # a first block, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "evaluate", interrupted)
    outputs = ["--npy", old, "--csv", tmp_path / "lr.csv"]
    if importlib.util.find_spec("matplotlib") is not None:
        outputs += ["--png", tmp_path / "lr.png"]
    code, out, _ = run(capsys, SINGLE, *outputs)
    assert code == 130
    assert out == ""
    assert [p.name for p in tmp_path.iterdir()] == ["lr.npy"]
    assert old.read_bytes() == b"an earlier run's array"


def test_outputs_replace_old_files_whole(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name in ("lr.csv", "lr.npy"):
        (tmp_path / name).write_text("old", encoding="utf-8")
    code, _, err = run(capsys, SINGLE, "--csv", tmp_path / "lr.csv", "--npy", tmp_path / "lr.npy")
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lr.csv", "lr.npy"]  # no temporary
    assert np.load(tmp_path / "lr.npy").shape[0] == 1
    assert (tmp_path / "lr.csv").read_text(encoding="utf-8").startswith("step,learning_rate\n")
    umask = os.umask(0)
    os.umask(umask)
    for name in ("lr.csv", "lr.npy"):  # as open() would create them
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask


def test_a_link_to_a_file_is_followed_and_a_refused_run_leaves_that_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The link was opened in place: its file was emptied even by a run refused later.
    target = tmp_path / "target.csv"
    target.write_text("keep\n", encoding="utf-8")
    link = tmp_path / "link.csv"
    link.symlink_to(target.name)
    missing = tmp_path / "no" / "x.npy"
    assert_user_error(*run(capsys, SINGLE, "--csv", link, "--npy", missing), "cannot write")
    assert target.read_text(encoding="utf-8") == "keep\n"
    code, _, err = run(capsys, SINGLE, "--csv", link)
    assert code == 0, err
    assert link.is_symlink()  # the link kept, its file replaced whole
    assert target.read_text(encoding="utf-8").startswith("step,learning_rate\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "target.csv"]


def test_a_replaced_file_keeps_its_permissions(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The replacement took the umask's mode: a private (0600) file became readable by all.
    private = tmp_path / "lr.csv"
    private.write_text("old", encoding="utf-8")
    private.chmod(0o600)
    code, _, err = run(capsys, SINGLE, "--csv", private)
    assert code == 0, err
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text(encoding="utf-8").startswith("step,learning_rate\n")


def test_two_outputs_naming_one_file_are_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # One would have replaced the other, and the report said "wrote" for both.
    out = tmp_path / "lr.out"
    code, stdout, err = run(capsys, SINGLE, "--csv", out, "--npy", tmp_path / "." / "lr.out")
    assert_user_error(code, stdout, err, "--csv and --npy both name")
    assert list(tmp_path.iterdir()) == []
    code, _, err = run(capsys, SINGLE, "--csv", os.devnull, "--npy", os.devnull)
    assert code == 0, err  # a device takes both


def test_the_png_destination_is_checked_before_any_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "no" / "such" / "lr.png"
    code, out, err = run(capsys, SINGLE, "--csv", tmp_path / "lr.csv", "--png", png)
    assert_user_error(code, out, err, f"{png}: cannot write: No such file or directory")
    assert out == ""  # no tables printed before the error
    assert list(tmp_path.iterdir()) == []  # nor a CSV written


def test_configs_without_schedules_or_with_repeated_names(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    empty = write(tmp_path, "tower_learning_rates: {}\n", "empty.yaml")
    assert_user_error(*run(capsys, empty), "no learning-rate schedules")
    repeated = write(tmp_path, '1: {constant: 0.1}\n"1": {constant: 0.2}\n', "repeat.yaml")
    assert_user_error(*run(capsys, repeated), "group names repeat: '1'")
    clash = write(
        tmp_path,
        """\
        tower_learning_rates:
          backbone: {constant: 0.1}
          "(backbone)": {constant: 0.2}
        backbone_learning_rate: {constant: 0.3}
        """,
        "clash.yaml",
    )
    assert_user_error(*run(capsys, clash), "group names repeat: '(backbone)'")


def test_start_near_the_largest_step(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, "constant: 0.25\n")
    code, out, err = run(capsys, path, "--start", 2**63 - 8, "--no-plot", "--at", 2**63 - 1)
    assert code == 0, err
    assert "9,223,372,036,854,775,807" in out


# ----------------------------------------------------------- hostile input


def run_limited(*args: Any, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -m tml.optimizers ARGS` with 1 GiB of address space.

    A run that tries to expand a document or read a device whole fails with a
    MemoryError then, instead of taking the machine's memory.
    """
    env = dict(os.environ, PYTHONPATH=str(Path(tml.__file__).resolve().parents[1]), COLUMNS="100")

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))

    return subprocess.run(
        [sys.executable, "-m", "tml.optimizers", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        preexec_fn=limit,
        check=False,
    )


def assert_one_line(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith("tml-lr: error: ")
    assert len(lines[0]) < 300
    for fragment in fragments:
        assert fragment in lines[0]


def billion_laughs() -> str:
    # 338 bytes: 9 anchors, each 9 aliases of the one before, 9**9 strings in all.
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


HOSTILE = {
    # Each one ran out of memory or recursion with a traceback, or ran for minutes.
    "billion_laughs_in_an_error": billion_laughs() + "tower_learning_rates: {t: *i}\n",
    "billion_laughs_as_a_value": billion_laughs() + "constant: *i\n",
    "cyclic": "tower_learning_rates: &t {t: *t}\n",
    "deep_flow": "constant: " + "[" * 100_000 + "]" * 100_000 + "\n",
    "deep_block": "".join(f"{'  ' * k}k{k}:\n" for k in range(2000)),
    "huge_int": "constant: " + "1" * 10_000_000 + "\n",
    "huge_hex_key": "? 0x" + "f" * 100_000 + "\n: {constant: 0.1}\n",  # an explicit key
}
PROBLEMS = {
    "billion_laughs_in_an_error": "YAML nodes with aliases expanded",
    "billion_laughs_as_a_value": "YAML nodes with aliases expanded",
    "cyclic": "alias *t inside its own anchor",
    "deep_flow": "nesting",
    "deep_block": "more than 100 levels of nesting",
    "huge_int": "an integer literal of 10,000,000 digits",
    "huge_hex_key": "an integer literal of 100,000 digits",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_documents_get_one_line(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, HOSTILE[name])
    assert_one_line(run_limited(path), str(path), PROBLEMS[name])


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_endless_devices_as_the_config(device: str) -> None:
    if not Path(device).exists():
        pytest.skip(f"no {device}")
    assert_one_line(run_limited(device, timeout=30), f"{device}: larger than 64 MiB")


def test_messages_about_big_values_stay_short(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    long_text = "lr" * 500_000
    path = write(tmp_path, f"constant: {long_text}\nnum: 1\n")
    code, out, err = run(capsys, path)
    assert_user_error(code, out, err, "constant: ", "(got 'lrlrlr")
    assert max(len(line) for line in err.splitlines()) < 300
    # A key of a million characters, in a path and in the list of keys.
    path = write(tmp_path, f"? {long_text}\n: 1\nother: 2\n")  # a key past YAML's 1024
    code, out, err = run(capsys, path)
    assert_user_error(code, out, err, "cannot tell which config this is (keys: lrlr")
    assert max(len(line) for line in err.splitlines()) < 300


def test_yaml_repr_walks_with_a_budget() -> None:
    leaf: Any = ["x"] * 9
    for _ in range(12):  # 9**13 strings if expanded: no walk that expands it ends
        leaf = [leaf] * 9
    tracemalloc.start()
    try:
        text = loading.yaml_repr({"a": leaf})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # 60 characters at most: 57 of the text, then "...". "{'a': " and 13 brackets are
    # 19; seven "'x', " are 35 more, and the eighth 'x' ends at 57.
    assert text == "{'a': [[[[[[[[[[[[['x', 'x', 'x', 'x', 'x', 'x', 'x', 'x'..."
    assert peak < 100_000
    assert loading.yaml_repr(int("9" * 4000)) == "<integer of 13,288 bits>"
    assert loading.yaml_repr("ab" * 10**6, width=10) == "'ababab..."
    assert loading.yaml_repr({"k": None, "t": True}) == "{'k': null, 't': true}"


@pytest.mark.parametrize("option", ["--height", "--width"])
def test_plot_size_is_capped(capsys: pytest.CaptureFixture[str], option: str) -> None:
    code, out, err = run(capsys, SINGLE, option, "1e9")
    assert_user_error(code, out, err, f"argument {option}: at most")
    assert len(err.splitlines()) == 1
    code, out, err = run(capsys, SINGLE, option, 20, "--no-table")
    assert code == 0, err


def test_at_lists_are_capped(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, SINGLE, "--at", ",".join(["1"] * 1001))
    assert_user_error(code, out, err, "argument --at: at most 1,000 steps")


@pytest.mark.parametrize("text", ["", "5,,6", "5,6,", " , "])
def test_at_lists_refuse_an_empty_item(capsys: pytest.CaptureFixture[str], text: str) -> None:
    code, out, err = run(capsys, SINGLE, "--at", text)
    assert_user_error(code, out, err, "argument --at: expected steps separated by commas")


@pytest.mark.parametrize("steps", [10, 100_000])  # the error when flushed at close, or on a write
@pytest.mark.parametrize("option", ["--npy", "--csv"])
def test_full_disk(capsys: pytest.CaptureFixture[str], option: str, steps: int) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    code, out, err = run(capsys, SINGLE, option, "/dev/full", "--steps", steps)
    assert_user_error(code, out, err, "/dev/full: cannot write: No space left on device")
    assert len(err.splitlines()) == 1


def test_outputs_that_cannot_be_created(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a_file = tmp_path / "file.txt"
    a_file.write_text("x", encoding="utf-8")
    for option in ("--csv", "--npy"):
        code, out, err = run(capsys, SINGLE, option, a_file / "lr.out")
        assert_user_error(code, out, err, f"{a_file / 'lr.out'}: cannot write: Not a directory")
        assert len(err.splitlines()) == 1


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into read-only dirs"
)
def test_csv_into_a_read_only_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code, out, err = run(capsys, SINGLE, "--csv", locked / "lr.csv")
    finally:
        locked.chmod(0o755)
    assert_user_error(code, out, err, "lr.csv: cannot write: Permission denied")
    assert len(err.splitlines()) == 1


# ------------------------------------------------------------ environment variables


def test_no_env_reads_variables_as_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TML_TEST_LR", "0.25")
    path = write(tmp_path, "constant: $TML_TEST_LR\n")
    code, out, err = run(capsys, path, "--no-plot", "--at", "0")
    assert code == 0, err
    assert table(out, "lr at step")["learning_rate"] == [f"{0.25:.3e}"]
    code, out, err = run(capsys, path, "--no-env")
    assert_user_error(code, out, err, "(got '$TML_TEST_LR')", "--no-env leaves $TML_TEST_LR")


def test_environment_values_cannot_add_keys_or_rename_groups(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Substituted into the text, this value made the file a LearningRate with two kinds.
    monkeypatch.setenv("TML_TEST_LR", "0.1\n  linear_ramp_to_constant: {learning_rate: 1}")
    monkeypatch.setenv("TML_TEST_NAME", "renamed")
    path = write(tmp_path, "$TML_TEST_NAME:\n  constant: $TML_TEST_LR\n")
    code, out, err = run(capsys, path)
    assert_user_error(code, out, err, '["$TML_TEST_NAME"].constant: ', "(got '0.1\\n  linear_ramp")
    assert "exactly one of" not in err
    assert len(err.splitlines()) == 1


ONE_CYCLE_WSD = ROOT / "examples" / "one_cycle_wsd.yaml"


def test_one_cycle_and_wsd_example(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Groups named after kinds (`cyclic: {cyclic: ...}`) are a mapping of schedules.
    npy = tmp_path / "lr.npy"
    code, out, err = run(capsys, ONE_CYCLE_WSD, "--no-plot", "--npy", npy)
    assert code == 0, err
    assert "mapping name -> LearningRate, 4 schedules" in out
    summary = table(out, "group")
    assert summary["one_cycle"][-1] == "9,999"  # the minimum from T - 1 on (cos anneal)
    assert summary["cyclic"][-2:] == ["period", "2,000"]
    assert summary["warmup_stable_decay"][-1] == "10,000"
    configs = yaml.safe_load(ONE_CYCLE_WSD.read_text(encoding="utf-8"))
    values = np.load(npy)
    steps = np.arange(values.shape[1])
    for g, config in enumerate(configs.values()):
        np.testing.assert_array_equal(values[g], compute_lr(config, steps))


def test_a_learning_rate_whose_kind_holds_fields_is_still_one_schedule(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(
        tmp_path, "cyclic: {learning_rate: 0.1, max_learning_rate: 0.5, step_size_up: 5}\n"
    )
    code, out, err = run(capsys, path, "--no-plot")
    assert code == 0, err
    assert ": LearningRate, 1 schedule" in out
