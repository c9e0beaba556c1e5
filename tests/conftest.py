"""Shared test setup: Hypothesis profiles.

Two profiles, both without a per-example deadline (a first call may import torch or
start threads, which says nothing about the code under test):

- `dev` (default): enough examples to catch a broken formula in seconds;
- `ci` (selected when the environment has `CI=true`): several times more examples,
  still bounded (no shrinking budget beyond Hypothesis' own, no example database), so
  a CI run stays within a few minutes.

`HYPOTHESIS_PROFILE=<name>` selects a profile explicitly.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=300, deadline=None)
settings.register_profile(
    "ci",
    max_examples=2000,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)

_default = "ci" if os.environ.get("CI", "").strip().lower() == "true" else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _default))
