"""A missing reference library skips locally and fails under CI (never a silent skip in CI)."""

from __future__ import annotations

import pytest
from references import reference


def test_missing_reference_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot be imported under CI.*pip install"):
        reference("no_such_reference_library")


def test_missing_reference_skips_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        reference("no_such_reference_library")


def test_present_reference_is_returned(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert reference("nodepy").__name__ == "nodepy"
