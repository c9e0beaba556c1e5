"""The `tml-lr` command (`tml.optimizers.cli.main`, `python -m tml.optimizers`).

Numbers the command prints or writes are checked against `compute_lr` evaluated here
on the configs read straight from the YAML files, never against the command's own
helpers. Errors are checked for the exit status 2, the message (with the YAML path
of the bad field) and the absence of a traceback.
"""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import tml
from tml.optimizers import cli, compute_lr
from tml.optimizers.cli import main

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
        kind, ramp, peak, at_step, final, flat_from = summary[name]
        assert kind == next(k for k in KINDS if cfg.get(k) is not None)
        values = compute_lr(cfg, steps)
        assert peak == f"{values.max():.3e}"
        assert int(at_step.replace(",", "")) == int(np.argmax(values))  # first step at the peak
        assert final == f"{compute_lr(cfg, end):.3e}"
        assert int(flat_from.replace(",", "")) == last_change(cfg)
        ramp_cfg = cfg.get("linear_ramp_to_constant") or cfg.get("linear_ramp_to_cosine")
        assert ramp == (f"{ramp_cfg['num_ramp_steps']:,}" if ramp_cfg else "-")


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
    monkeypatch.setattr(cli, "_BLOCK_VALUES", 3000)  # several blocks: the stride spans them
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


def test_peak_found_across_blocks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tiny blocks: the running peak and the plot columns are merged over many calls.
    monkeypatch.setattr(cli, "_BLOCK_VALUES", 37)
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
    assert summary["up"][2:4] == [f"{3.0:.3e}", "200"]
    assert summary["ramp"][2:4] == [f"{0.1:.3e}", "123"]
    assert summary["flat"][2:4] == [f"{0.3:.3e}", "50"]  # reached again in later blocks


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
    assert summary["warm"][2:4] == [f"{0.5:.3e}", "10"]

    code, out, err = run(capsys, path, "--section", "experiment.nope")
    assert_user_error(code, out, err, "--section experiment.nope", "'nope'", "schedules")


# ---------------------------------------------------------------------- plotting


@pytest.mark.parametrize("block", [1 << 22, 7])  # one compiled call, or blocks across columns
def test_chart_draws_a_step_down(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(cli, "_BLOCK_VALUES", block)
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
    monkeypatch.setattr(cli, "_BLOCK_VALUES", block)
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

    style = cli._plot_style("auto", AsciiStream())  # type: ignore[arg-type]
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
    assert_user_error(code, out, err, "--png needs matplotlib: pip install 'tml-optimizers[plot]'")
    assert out == ""  # refused before any work
    assert not png.exists()


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


def test_bad_options(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert_user_error(*run(capsys, SINGLE, "--steps", "1.5"), "--steps", "not a whole step")
    assert_user_error(*run(capsys, SINGLE, "--steps", "-3"), "--steps")
    assert_user_error(*run(capsys, SINGLE, "--every", "0"), "--every")
    assert_user_error(*run(capsys, SINGLE, "--start", "50", "--steps", "10"), "before --start 50")
    assert_user_error(*run(capsys, SINGLE, "--steps", "1e12"), "--every 10000")
    missing_dir = tmp_path / "no" / "such" / "dir"
    assert_user_error(*run(capsys, SINGLE, "--csv", missing_dir / "a.csv"), "cannot write")
    assert_user_error(*run(capsys, SINGLE, "--npy", missing_dir / "a.npy"), "cannot write")
    assert main(["--help"]) == 0
    assert "accepted shapes" in capsys.readouterr().out


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
