"""Import an independent reference library for a test: skip where it is missing, fail under CI.

The reference libraries (nodepy, sympy, mpmath) are the project's independent check of its
numbers, so CI (``CI=true``, as ``.ci/run`` is run) must never skip those tests silently: there a
missing library is an error naming the install command.  A developer without them gets a skip.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def reference(name: str) -> ModuleType:
    """``pytest.importorskip(name)``, except that under ``CI=true`` a failed import fails the test."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        try:
            return importlib.import_module(name)
        except ImportError as exc:
            pytest.fail(
                f"reference library {name!r} cannot be imported under CI ({exc}); "
                "install the dev extra: python -m pip install -e '.[dev,ml]'",
                pytrace=False,
            )
    return pytest.importorskip(name)
