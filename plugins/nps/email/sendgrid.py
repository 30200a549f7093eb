"""The project's SendGrid hook, on the official ``sendgrid`` client (v3 Mail Send).

Why not the Airflow SendGrid provider: its ``send_email`` logs instead of raising, cannot point at
another host and never retries. This hook:

- posts one request per batch: the template's subject and content once, and one personalization
  per recipient with its ``substitutions`` and ``custom_args`` (``survey_id``, ``send_key``), so
  N invitations of one template and locale cost ceil(N / 1000) requests;
- sets a request timeout (the client has none by default) and an overridable ``host`` (tests, proxies);
- retries 429 and 5xx with exponential backoff (honouring ``Retry-After`` when given);
- fails a 4xx naming the batch and SendGrid's error messages (never the addresses);
- treats a timeout as *uncertain* (the request may have been accepted), not as a failure;
- switches ``mail_settings.sandbox_mode`` on by configuration.
- can encode a batch's request ahead (``prepare``): ``nps.dispatch`` does it while the previous
  request is on the wire, so the sending thread only writes bytes.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import re
import time
import urllib.error
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from nps.email.base import Batch, PermanentSendError, TransientSendError, UncertainSendError
from nps.email.render import list_unsubscribe_headers

log = logging.getLogger(__name__)


class _NoRequestDumps(logging.Filter):
    """The sendgrid client's HTTP layer logs each request's headers (the API key) and payload
    (addresses, survey tokens) at DEBUG: drop its DEBUG records whatever log level is configured."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


_client_log = logging.getLogger("python_http_client.client")
if not any(type(f).__name__ == "_NoRequestDumps" for f in _client_log.filters):
    _client_log.addFilter(_NoRequestDumps())

DEFAULT_HOST = "https://api.sendgrid.com"
MAX_PERSONALIZATIONS = 1000


def build_payload(batch: Batch, *, sandbox: bool = False) -> dict[str, Any]:
    """The exact v3 /mail/send JSON body for one batch."""
    if len(batch.recipients) > MAX_PERSONALIZATIONS:
        raise PermanentSendError(f"batch {batch.label}: more than {MAX_PERSONALIZATIONS} recipients")
    t = batch.template
    personalizations = []
    for r in batch.recipients:
        to: dict[str, str] = {"email": r.email}
        if r.name:
            to["name"] = r.name
        p: dict[str, Any] = {
            "to": [to],
            "substitutions": r.substitutions,
            "custom_args": {"survey_id": r.survey_id, "send_key": r.send_key},
        }
        # SendGrid does not substitute tags in headers: each recipient gets its own URL.
        headers = list_unsubscribe_headers(t, r.substitutions)
        if headers:
            p["headers"] = headers
        personalizations.append(p)
    payload: dict[str, Any] = {
        "from": {"email": batch.sender_email, "name": batch.sender_name},
        "subject": t.subject,
        "personalizations": personalizations,
        "content": [{"type": "text/plain", "value": t.text}, {"type": "text/html", "value": t.html}],
        "custom_args": {"batch_id": batch.batch_id},
        "categories": batch.categories or ["nps-invitation", t.survey_type],
    }
    if batch.attachments:
        payload["attachments"] = [
            {"content": base64.b64encode(a.content).decode("ascii"), "type": a.mime_type, "filename": a.filename,
             **({"disposition": "inline", "content_id": a.content_id} if a.content_id else {"disposition": "attachment"})}
            for a in batch.attachments
        ]
    if sandbox:
        payload["mail_settings"] = {"sandbox_mode": {"enable": True}}
    return payload


def encode(payload: dict[str, Any]) -> bytes:
    """The request body as sent: compact JSON in UTF-8 (what the client's ``json.dumps`` sent, without spaces)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


_ADDRESS = re.compile(r"[^\s\[\]<>()\"',;:]+@[^\s\[\]<>()\"',;:]+")


def redact_addresses(text: str) -> str:
    """``text`` with every email address replaced by ``<address>`` (SendGrid's errors may name one)."""
    return _ADDRESS.sub("<address>", text)


def _errors(body: bytes | str | None) -> str:
    """SendGrid's error messages from a response body, without echoing the request or any address."""
    try:
        data = json.loads(body or b"{}")
        msgs = [f"{e.get('field') or '-'}: {e.get('message')}" for e in data.get("errors", [])]
        text = "; ".join(msgs) or str(data)[:300]
    except (ValueError, TypeError, AttributeError):
        text = (body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body))[:300]
    return redact_addresses(text)


class SendGridHook:
    """Sends batches through SendGrid; counts the HTTP requests it made (``requests``, ``retries``)."""

    name = "sendgrid"

    def __init__(
        self,
        api_key: str,
        *,
        host: str = DEFAULT_HOST,
        timeout: float = 30.0,
        max_retries: int = 5,
        sandbox: bool = False,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import sendgrid

        if not api_key:
            raise PermanentSendError("SendGrid API key is empty (the nps_sendgrid connection's password)")
        self.client = sendgrid.SendGridAPIClient(api_key=api_key, host=host.rstrip("/"))
        self.host = host
        self.timeout = timeout
        self.max_retries = max_retries
        self.sandbox = sandbox
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.sleep = sleep
        self.requests = 0
        self.retries = 0

    def __repr__(self) -> str:  # never shows the key
        return f"SendGridHook(host={self.host!r}, sandbox={self.sandbox})"

    def _delay(self, attempt: int, headers: Any) -> float:
        retry_after = None
        try:
            retry_after = float(headers.get("Retry-After")) if headers is not None and headers.get("Retry-After") else None
        except (TypeError, ValueError):
            retry_after = None
        delay = retry_after if retry_after is not None else self.backoff_base * 2**attempt
        return min(delay, self.backoff_max)

    def post(self, payload: dict[str, Any] | bytes, label: str) -> str | None:
        """POST /v3/mail/send with retries (``payload``: the JSON body, or it encoded); returns ``X-Message-Id``."""
        from python_http_client.exceptions import HTTPError

        body = payload if isinstance(payload, bytes) else encode(payload)
        attempt = 0
        while True:
            self.requests += 1
            try:
                resp = self._post_body(body)
            except HTTPError as err:
                status = int(err.status_code)
                if status == 429 or status >= 500:
                    if attempt >= self.max_retries:
                        raise TransientSendError(
                            f"SendGrid answered HTTP {status} to batch {label} {attempt + 1} times; giving up for now"
                        ) from None
                    delay = self._delay(attempt, err.headers)
                    log.warning("SendGrid HTTP %d for batch %s; retry %d in %.1fs", status, label, attempt + 1, delay)
                    self.retries += 1
                    attempt += 1
                    self.sleep(delay)
                    continue
                raise PermanentSendError(
                    f"SendGrid rejected batch {label}: HTTP {status}: {_errors(err.body)}"
                ) from None
            except TimeoutError as err:
                raise UncertainSendError(f"SendGrid request for batch {label} timed out after {self.timeout}s: {err}") from None
            except urllib.error.URLError as err:
                if isinstance(err.reason, TimeoutError):
                    raise UncertainSendError(f"SendGrid request for batch {label} timed out after {self.timeout}s") from None
                if isinstance(err.reason, ConnectionRefusedError) and attempt < self.max_retries:
                    delay = self._delay(attempt, None)
                    self.retries += 1
                    attempt += 1
                    self.sleep(delay)
                    continue
                if isinstance(err.reason, ConnectionRefusedError):
                    raise TransientSendError(f"SendGrid at {self.host} refused the connection for batch {label}") from None
                raise UncertainSendError(f"SendGrid request for batch {label} failed: {err.reason}") from None
            except (ConnectionError, http.client.HTTPException) as err:
                # The request went out, then the connection died before the answer: it may have
                # been accepted, so the ledger must wait for evidence rather than send again.
                raise UncertainSendError(
                    f"SendGrid connection for batch {label} closed before an answer: {type(err).__name__}"
                ) from None
            if resp.status_code not in (200, 202):
                raise UncertainSendError(f"SendGrid answered HTTP {resp.status_code} to batch {label}")
            headers = resp.headers
            return headers.get("X-Message-Id") if headers is not None else None

    def _post_body(self, body: bytes):
        """One POST of an encoded JSON body through the client (its headers, URL and error
        classes): the client's own ``post`` would encode the body again."""
        import urllib.request

        from python_http_client.client import Response

        endpoint = self.client.client.mail.send
        request = urllib.request.Request(
            endpoint._build_url(None), data=body, method="POST",
            headers={**endpoint.request_headers, "Content-Type": "application/json"},
        )
        return Response(endpoint._make_request(urllib.request.build_opener(), request, timeout=self.timeout))

    def prepare(self, batch: Batch) -> Batch:
        """The batch with its request body built and encoded ahead (``Batch.prepared``), so the
        thread that sends it only writes it (``nps.dispatch`` prepares batch k+1 while k is on the wire)."""
        body = encode(build_payload(batch, sandbox=self.sandbox))
        return replace(batch, prepared=(self.sandbox, batch.batch_id, len(batch.recipients), body))

    def send(self, batch: Batch) -> str | None:
        p = batch.prepared
        if isinstance(p, tuple) and len(p) == 4 and p[:3] == (self.sandbox, batch.batch_id, len(batch.recipients)):
            return self.post(p[3], batch.label)
        return self.post(build_payload(batch, sandbox=self.sandbox), batch.label)
