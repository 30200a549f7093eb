"""The test suite's CI switch: PostgreSQL tests fail instead of skipping when CI is set true."""

from __future__ import annotations

import pytest

from tests.conftest import in_ci


@pytest.mark.parametrize(("value", "expected"), [
    ("1", True), ("true", True), ("TRUE", True), ("yes", True), (" Yes ", True),
    ("", False), ("0", False), ("false", False), ("no", False),
])
def test_ci_is_true_for_1_true_yes(monkeypatch, value, expected):
    monkeypatch.setenv("CI", value)
    assert in_ci() is expected
