"""What the response page needs, read once at start: the token secret, the landing folder and the
program config. Nothing else (no warehouse, no Airflow).

- the token secret: ``NPS_TOKEN_SECRET`` (one secret, or several separated by commas or newlines
  while rotating: the first signs, all verify); when it is unset and Airflow is installed, the
  ``nps_survey_token`` connection's password (what ``make survey-web`` uses locally);
- the landing folder: ``NPS_LANDING_URI`` (a local path or ``file://``; default ``data/landing``),
  the same place ``nps_ingest_responses`` reads;
- the program config: ``NPS_PROGRAM_CONFIG`` (default ``include/config/program.yaml``) for the
  sender's name, ``program.comment_max_chars``, ``program.locales`` and the ``web:`` section.

``NPS_WEB_ROTATE_SECONDS`` (default 5) is how often answer files are closed and handed to
ingestion. ``NPS_WEB_FAKE_NOW_FILE`` is for the demo only: a file holding the simulated time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from nps.config import ProgramConfig, load_config
from nps.tokens import split_secrets


class SettingsError(RuntimeError):
    """The page cannot start: a setting is missing or wrong."""


def _secret_from_airflow() -> str | None:
    try:
        from nps.hooks import token_secret
    except ImportError:
        return None
    try:
        return token_secret()
    except Exception:  # noqa: BLE001 - no Airflow metadata here: the env var is the way
        return None


def landing_folder(uri: str | None = None) -> Path:
    from nps.ingest.landing import landing_uri

    uri = uri or landing_uri()
    if uri.startswith("file://"):
        uri = uri.removeprefix("file://")
    if "://" in uri:
        raise SettingsError(
            f"NPS_LANDING_URI={uri!r}: the response page writes to a local or mounted folder (it syncs each "
            "answer to disk before saying thank you); mount the bucket, or point it at a shared volume that "
            "ingestion reads"
        )
    return Path(uri)


@dataclass
class Settings:
    secret: str = field(repr=False)
    landing: Path
    config: ProgramConfig
    rotate_seconds: float = 5.0
    fake_now_file: Path | None = None
    scanner_window_seconds: float = 1.0
    scanner_answers: int = 3

    @property
    def secrets(self) -> list[bytes]:
        return split_secrets(self.secret)

    def now(self) -> datetime:
        """Naive UTC now (the demo's simulated time when a fake-now file is set)."""
        if self.fake_now_file is not None:
            try:
                text = self.fake_now_file.read_text(encoding="utf-8").strip()
            except OSError:
                text = ""
            if text:
                dt = datetime.fromisoformat(text)
                return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo else dt
        return datetime.now(UTC).replace(tzinfo=None)

    @classmethod
    def from_env(cls, config: ProgramConfig | None = None) -> Settings:
        secret = os.environ.get("NPS_TOKEN_SECRET") or _secret_from_airflow()
        if not secret:
            raise SettingsError("no survey token secret: set NPS_TOKEN_SECRET (the same secret the "
                                "nps_survey_token connection holds)")
        split_secrets(secret)  # fails early and clearly on a short secret
        fake = os.environ.get("NPS_WEB_FAKE_NOW_FILE")
        return cls(
            secret=secret,
            landing=landing_folder(),
            config=config or load_config(),
            rotate_seconds=float(os.environ.get("NPS_WEB_ROTATE_SECONDS") or 5.0),
            fake_now_file=Path(fake) if fake else None,
        )
