"""The CRM webhook: every case event (opened, answer changed, owner alerted, escalated, status)
POSTed once to the CRM as signed JSON.

The events are the rows of ``ops.followup_case_history``; ``ops.crm_webhook_events`` is their
ledger (``case/<case_id>/<seq>``): claimed, marked ``sending`` (committed) before the request,
``sent`` on a 2xx, ``failed`` on a 4xx (with the reason; a rerun after the fix posts it again).
429, 5xx and a refused connection are retried with exponential backoff (``max_retries``); a
request whose answer never came (a timeout) stays ``sending`` and is posted again by the next run
under the same ``X-NPS-Event-Key``, which the receiver deduplicates on, so the CRM applies each
event once.

Every request carries ``X-NPS-Timestamp`` and ``X-NPS-Signature: sha256=<hex>``, the HMAC-SHA256
of ``<timestamp>.<body>`` with the connection's secret (the receiver recomputes it and rejects
stale timestamps). The connection ``nps_crm_webhook``: host = the URL (or host + schema + port and
extra ``endpoint``), password = the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nps.warehouse import Warehouse

log = logging.getLogger(__name__)


class WebhookRejected(RuntimeError):
    """The CRM answered 4xx: posting again cannot help until the cause is fixed."""


class WebhookUnavailable(RuntimeError):
    """The CRM was unreachable or kept failing (429/5xx) after the retries: a later run tries again."""


class WebhookUncertain(RuntimeError):
    """The request went out and no answer came: the event is posted again under the same key."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class CrmWebhookClient:
    """POSTs one event at a time; counts ``requests`` and ``retries``."""

    def __init__(self, url: str, secret: str, *, timeout: float = 10.0, max_retries: int = 5,
                 backoff_base: float = 1.0, backoff_max: float = 60.0, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"CRM webhook URL {url!r} must start with https:// or http://")
        if not secret:
            raise ValueError("the CRM webhook secret is empty (the connection's password)")
        self.url, self._secret, self.timeout, self.max_retries = url, secret, timeout, max_retries
        self.backoff_base, self.backoff_max, self.sleep, self.clock = backoff_base, backoff_max, sleep, clock
        self.requests = self.retries = 0

    def __repr__(self) -> str:  # never shows the secret
        return f"CrmWebhookClient(url={self.url!r})"

    def post(self, event_key: str, payload: dict[str, Any]) -> int:
        body = json.dumps(payload, sort_keys=True, default=str).encode("utf-8")
        attempt = 0
        while True:
            ts = str(int(self.clock()))
            req = urllib.request.Request(self.url, data=body, method="POST", headers={
                "Content-Type": "application/json", "X-NPS-Event-Key": event_key, "X-NPS-Timestamp": ts,
                "X-NPS-Signature": sign(self._secret, ts, body), "User-Agent": "nps-close-the-loop/1"})
            self.requests += 1
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - URL checked above
                    return int(resp.status)
            except urllib.error.HTTPError as err:
                status = int(err.code)
                if status == 429 or status >= 500:
                    if attempt >= self.max_retries:
                        raise WebhookUnavailable(f"CRM webhook answered HTTP {status} to {event_key} "
                                                 f"{attempt + 1} times") from None
                else:
                    text = err.read()[:300].decode("utf-8", "replace")
                    raise WebhookRejected(f"CRM webhook rejected {event_key}: HTTP {status}: {text}") from None
            except urllib.error.URLError as err:
                if isinstance(err.reason, TimeoutError):
                    raise WebhookUncertain(f"CRM webhook request for {event_key} timed out after {self.timeout}s") from None
                if not isinstance(err.reason, ConnectionRefusedError) or attempt >= self.max_retries:
                    raise WebhookUnavailable(f"CRM webhook at {self.url} unreachable for {event_key}: {err.reason}") from None
            except TimeoutError:
                raise WebhookUncertain(f"CRM webhook request for {event_key} timed out after {self.timeout}s") from None
            except (ConnectionError, OSError) as err:
                raise WebhookUncertain(f"CRM webhook connection for {event_key} closed before an answer: "
                                       f"{type(err).__name__}") from None
            self.retries += 1
            self.sleep(min(self.backoff_base * 2**attempt, self.backoff_max))
            attempt += 1


@dataclass
class WebhookResult:
    claimed: int = 0
    posted: int = 0
    failed: int = 0
    uncertain: int = 0
    unavailable: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _payload(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_key": r["event_key"], "case_id": r["case_id"], "event": r["event"], "happened_at": r["happened_at"],
        "from_status": r["from_status"], "to_status": r["to_status"], "detail": r["detail"],
        "case": {"status": r["case_status"], "survey_id": r["survey_id"], "account_id": r["account_id"],
                 "contact_id": r["contact_id"], "owner_name": r["owner_name"], "survey_type": r["survey_type"],
                 "score": r["score"], "category": r["category"], "due_at": r["due_at"],
                 "escalation_level": r["escalation_level"]},
    }


def _set(wh: Warehouse, key: str, **values: Any) -> None:
    cols = ", ".join(f"{k} = :{k}" for k in values)
    extra = ", attempts = attempts + 1" if values.get("status") == "sending" else ""
    with wh.begin() as conn:
        wh.run_sql(conn, f"UPDATE ops.crm_webhook_events SET {cols}{extra} WHERE event_key = :event_key",
                   {**values, "event_key": key})


def post_case_events(wh: Warehouse, client, *, now: datetime, run_id: str, dry_run: bool = False) -> WebhookResult:
    """Post every case event not yet delivered, oldest first (see the module doc).

    Stops at the first event the CRM is unavailable for (the order of a case's events matters);
    a rejected event is recorded and the others go on."""
    from nps.clock import utcnow

    result = WebhookResult()
    if dry_run:
        result.claimed = int(wh.scalar("SELECT COUNT(*) FROM ops.followup_case_history AS h WHERE NOT EXISTS ("
                                       "SELECT 1 FROM ops.crm_webhook_events AS e WHERE e.case_id = h.case_id "
                                       "AND e.seq = h.seq)") or 0)
        return result
    with wh.begin() as conn:
        result.claimed = wh.run_file(conn, "followups/crm_claim", {"now": now, "run_id": run_id})
    rejected_cases: set[str] = set()
    for r in wh.query(wh.read_sql("followups/crm_pending")):
        if r["case_id"] in rejected_cases:
            continue  # a case's later events wait for its rejected one
        key = r["event_key"]
        _set(wh, key, status="sending", attempt_at=utcnow())  # committed before the request
        try:
            status = client.post(key, _payload(r))
        except WebhookRejected as err:
            _set(wh, key, status="failed", error=str(err)[:2000])
            result.failed += 1
            result.errors.append(str(err))
            rejected_cases.add(r["case_id"])
            log.error("%s", err)
            continue
        except WebhookUncertain as err:
            _set(wh, key, error=str(err)[:2000])  # stays sending: posted again under the same key
            result.uncertain += 1
            result.errors.append(str(err))
            log.warning("%s", err)
            break
        except WebhookUnavailable as err:
            _set(wh, key, status="pending", error=str(err)[:2000])
            result.unavailable += 1
            result.errors.append(str(err))
            log.warning("%s", err)
            break
        _set(wh, key, status="sent", sent_at=utcnow(), response_status=status, error=None)
        result.posted += 1
    log.info("CRM webhook: %d events claimed, %d posted, %d rejected, %d uncertain, %d waiting for the CRM",
             result.claimed, result.posted, result.failed, result.uncertain, result.unavailable)
    return result


__all__ = ["CrmWebhookClient", "WebhookRejected", "WebhookResult", "WebhookUncertain", "WebhookUnavailable",
           "post_case_events", "sign"]
