"""What keeps the response page safe on the open internet: form tokens, rate limits, the link
scanner rule, and log-safe names for clients. All in memory, per server process.

- **Form token (CSRF).** Every form carries ``<ms>.<mac>``: an HMAC (under a key derived from the
  survey-token secret) of the survey id and the time the page was served. A POST is recorded
  only with a genuine, unexpired form token for the same survey, so another site cannot make a
  browser submit an answer, and a POST needs a GET of the page first. Browsers' ``Origin`` and
  ``Sec-Fetch-Site`` headers are checked too. There is no session and no cookie to steal.
- **Rate limits.** A fixed one-minute window per client address and per survey.
- **Link scanners.** Mail gateways fetch (and sometimes render) every link in an email. A GET
  never records anything; the page's script posts the clicked answer at once, and such an
  automatic post is held until its page is ``scanner_window`` old and dropped when that survey's
  page was fetched for ``scanner_answers`` or more different answers within it. A person's own
  press of the button always records.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections import OrderedDict, deque


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class FormTokens:
    """Signed, expiring form tokens bound to a survey."""

    def __init__(self, secrets: list[bytes], max_age_seconds: float = 12 * 3600) -> None:
        self._keys = [hmac.digest(k, b"nps-web-form-token", "sha256") for k in secrets]
        self.max_age = max_age_seconds

    def _mac(self, key: bytes, survey_id: str, ms: int) -> str:
        return _b64(hmac.digest(key, f"{survey_id}|{ms}".encode(), "sha256")[:18])

    def issue(self, survey_id: str, now: float | None = None) -> str:
        ms = int((time.time() if now is None else now) * 1000)
        return f"{ms}.{self._mac(self._keys[0], survey_id, ms)}"

    def check(self, token: str, survey_id: str, now: float | None = None) -> tuple[bool, float | None]:
        """(valid, issued at in seconds). Valid = genuine for this survey; the age is checked by
        the caller (an expired form is a friendly page, not an attack)."""
        try:
            ms_text, mac = token.split(".", 1)
            ms = int(ms_text)
        except (ValueError, AttributeError):
            return False, None
        if not any(hmac.compare_digest(self._mac(k, survey_id, ms), mac) for k in self._keys):
            return False, None
        return True, ms / 1000

    def expired(self, issued: float, now: float | None = None) -> bool:
        return (time.time() if now is None else now) - issued > self.max_age


class RateLimiter:
    """At most ``limit`` hits per key per fixed window."""

    def __init__(self, limit: int, window_seconds: float = 60.0, max_keys: int = 200_000) -> None:
        self.limit, self.window, self.max_keys = limit, window_seconds, max_keys
        self._hits: dict[str, tuple[int, int]] = {}

    def hit(self, key: str, now: float | None = None) -> bool:
        """Count a hit; False when the key is over its limit for this window."""
        w = int((time.monotonic() if now is None else now) // self.window)
        win, n = self._hits.get(key, (w, 0))
        if win != w:
            n = 0
        n += 1
        if len(self._hits) >= self.max_keys and key not in self._hits:
            self._hits = {k: v for k, v in self._hits.items() if v[0] == w}  # drop past windows
        self._hits[key] = (w, n)
        return n <= self.limit


class ScannerWatch:
    """Which answers of a survey were fetched lately (to spot a client fetching them all)."""

    def __init__(self, window_seconds: float = 1.0, answers: int = 3, max_surveys: int = 100_000) -> None:
        self.window, self.answers, self.max_surveys = window_seconds, answers, max_surveys
        self._seen: OrderedDict[str, deque] = OrderedDict()

    def fetched(self, survey_id: str, answer: int | None, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        q = self._seen.pop(survey_id, None) or deque(maxlen=64)
        q.append((now, answer))
        self._seen[survey_id] = q
        while len(self._seen) > self.max_surveys:
            self._seen.popitem(last=False)

    def looks_scanned(self, survey_id: str, around: float, now: float | None = None) -> bool:
        """True when the survey was fetched for ``answers`` or more different answers within
        ``window`` seconds of ``around`` (a monotonic time)."""
        q = self._seen.get(survey_id)
        if not q:
            return False
        near = {a for t, a in q if abs(t - around) <= self.window}
        return len(near) >= self.answers


def client_tag(address: str, key: bytes) -> str:
    """A short keyed hash of a client address: lets logs correlate attempts without storing IPs."""
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()[:10]
