"""The hub side and the user side agree on the built-in schema's name without importing each other."""

from __future__ import annotations

import subprocess
import sys

from profiler.models import spec
from spawner import database
from tests.support import REPO_ROOT


def test_both_sides_name_the_same_built_in_schema():
    assert database.BUILTIN_SCHEMA == spec.BUILTIN_SCHEMA == "builtin"


def test_the_hub_side_never_imports_the_user_side():
    script = ("import sys, spawner.database; "
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('profiler', 'widgets')))")
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
