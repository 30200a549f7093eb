"""Signed survey tokens: what every link in an invitation carries.

A token names the survey (``survey_id``), its type and, for one-click answer links, the answer.
It is ``v1.<payload>.<signature>``: the payload is URL-safe base64 of ``survey_id|type|answer``
and the signature is HMAC-SHA256 of the payload under the program's secret, so it cannot be
forged or altered without the secret. The secret lives in the Airflow connection
``nps_survey_token`` (password) or the environment; never in the repository.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

VERSION = "v1"
SURVEY_TYPES = ("nps", "csat", "ces")


class TokenError(ValueError):
    """A token that is malformed, forged or altered."""


@dataclass(frozen=True)
class SurveyToken:
    survey_id: str
    survey_type: str
    answer: int | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _secret_bytes(secret: str | bytes) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    if len(key) < 16:
        raise TokenError("the token secret must be at least 16 characters long")
    return key


class TokenSigner:
    """Signs and verifies survey tokens with one secret (reuse one instance: it caches the key)."""

    def __init__(self, secret: str | bytes) -> None:
        self._key = _secret_bytes(secret)
        self._mac = hmac.new(self._key, digestmod=hashlib.sha256)

    def _sign(self, payload: str) -> str:
        mac = self._mac.copy()
        mac.update(payload.encode("ascii"))
        return _b64(mac.digest())

    def sign(self, survey_id: str, survey_type: str, answer: int | None = None) -> str:
        if survey_type not in SURVEY_TYPES:
            raise TokenError(f"unknown survey type {survey_type!r}")
        if "|" in survey_id:
            raise TokenError("survey_id may not contain '|'")
        raw = f"{survey_id}|{survey_type}|{'' if answer is None else int(answer)}"
        payload = _b64(raw.encode("utf-8"))
        return f"{VERSION}.{payload}.{self._sign(payload)}"

    def verify(self, token: str) -> SurveyToken:
        """Return the token's content, or raise TokenError saying why it is not genuine."""
        if not isinstance(token, str) or not token:
            raise TokenError("missing token")
        parts = token.strip().split(".")
        if len(parts) != 3 or parts[0] != VERSION:
            raise TokenError("malformed token (expected v1.<payload>.<signature>)")
        _, payload, signature = parts
        try:
            expected = self._sign(payload)
        except UnicodeEncodeError:
            raise TokenError("malformed token (non-ASCII characters)") from None
        if not hmac.compare_digest(expected, signature):
            raise TokenError("invalid signature: the token was forged or altered")
        try:
            survey_id, survey_type, answer = _unb64(payload).decode("utf-8").split("|")
        except ValueError:
            raise TokenError("malformed token payload") from None
        if survey_type not in SURVEY_TYPES:
            raise TokenError(f"token names an unknown survey type {survey_type!r}")
        return SurveyToken(survey_id, survey_type, int(answer) if answer else None)
