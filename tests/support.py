"""Helpers shared by the test files that run code in a fresh interpreter.

A crash in the compiled code, a hang, or an import that must not happen (torch) would
end or pollute the whole test session; run in a subprocess, it fails one test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import tml

# The directory `tml` was imported from: the child imports the same package (an
# installed one, or the source tree with a module built in place).
PACKAGE_ROOT = str(Path(tml.__file__).resolve().parents[1])


def run_python(
    code: str, *, timeout: float = 120.0, warnings_are_errors: bool = False
) -> subprocess.CompletedProcess[str]:
    """Runs `code` (dedented) in a fresh interpreter; the result says how it ended."""
    env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT)
    flags = ["-W", "error"] if warnings_are_errors else []
    return subprocess.run(
        [sys.executable, *flags, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
