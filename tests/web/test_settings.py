"""The page refuses to start without what it needs, and says what to set."""

from __future__ import annotations

import pytest

from nps.web import settings as web_settings
from nps.web.settings import Settings, SettingsError


def test_no_secret_fails_loudly(monkeypatch, program_config):
    monkeypatch.delenv("NPS_TOKEN_SECRET", raising=False)
    monkeypatch.setattr(web_settings, "_secret_from_airflow", lambda: None)
    with pytest.raises(SettingsError, match="set NPS_TOKEN_SECRET"):
        Settings.from_env(program_config)


def test_short_rotated_secret_fails_loudly(monkeypatch, program_config):
    from nps.tokens import TokenError

    monkeypatch.setenv("NPS_TOKEN_SECRET", "a-long-enough-secret-0123456789,short")
    with pytest.raises(TokenError, match="at least 16"):
        Settings.from_env(program_config)


def test_an_object_store_landing_is_refused_with_a_reason(monkeypatch, program_config):
    monkeypatch.setenv("NPS_LANDING_URI", "s3://bucket/landing")
    with pytest.raises(SettingsError, match="mount the bucket"):
        Settings.from_env(program_config)


def test_from_env(monkeypatch, program_config, tmp_path):
    monkeypatch.setenv("NPS_TOKEN_SECRET", "new-secret-0123456789abcdef\nold-secret-0123456789abcdef")
    monkeypatch.setenv("NPS_LANDING_URI", f"file://{tmp_path}")
    monkeypatch.setenv("NPS_WEB_ROTATE_SECONDS", "1.5")
    s = Settings.from_env(program_config)
    assert (s.landing, s.rotate_seconds, len(s.secrets), s.fake_now_file) == (tmp_path, 1.5, 2, None)
    assert "new-secret" not in repr(s) and "old-secret" not in repr(s)  # never in a repr
