"""The README's Python examples run as written (a new user's first try)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_readme_python_examples_run(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    if not README.exists():
        pytest.skip("no README.md beside the tests (installed elsewhere)")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 4
    # One session, in the order shown; `...` stands for the user's training step.
    code = "import torch\n" + "\n".join(blocks)
    code = code.replace('"examples/', f'"{ROOT.as_posix()}/examples/')
    script = tmp_path / "readme.py"
    script.write_text(code, encoding="utf-8")
    env = {"PYTHONPATH": str(Path(tml.__file__).resolve().parents[1])}
    proc = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        cwd=tmp_path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "sched.pt").exists()
