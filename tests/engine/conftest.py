"""Shared setup for the engine tests: Hypothesis profiles and an importable project root.

Profiles (choose with the environment variable ``HYPOTHESIS_PROFILE``, default ``dev``):

- ``dev``: 60 examples per property, quick enough for the edit-test loop.
- ``ci``: 500 examples per property, no deadline, derandomized so a CI failure reproduces
  on every machine (``HYPOTHESIS_PROFILE=ci pytest tests/engine``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
if str(PROJECT_ROOT) not in sys.path:  # lets the tests import tests.engine.strategies from any cwd
    sys.path.insert(0, str(PROJECT_ROOT))

settings.register_profile(
    "dev",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "ci",
    max_examples=500,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
