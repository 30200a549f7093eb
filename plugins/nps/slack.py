"""Slack for the on-call team and the CS team: the ``nps_slack`` connection (type *Slack Incoming
Webhook*, the webhook URL or token as password), through Airflow's Slack provider
(``apache-airflow-providers-slack``, the optional extra ``slack``).

- ``SlackTransport`` is a transport of the exactly-once ledger (``nps.ledger.send_once``): one
  webhook post per batch, sent through the provider's ``SlackWebhookHook`` with the client's own
  retries off (the ledger decides what is sent again). 200 → sent; 429/5xx or a refused
  connection → not posted, sent again; another 4xx → failed; a timeout → uncertain (the ledger
  waits for its grace period before posting again, since Slack gives no evidence to reconcile).
- ``post_new_cases`` posts one summary of the cases a close-the-loop run opened (send key
  ``slack/cases/<run_id>``): once per run, whatever is retried, cleared or killed.
- Without the connection nothing is posted; with the connection but without the provider the
  task logs an error naming the extra to install and carries on (the emails are unaffected).

Nothing customer-identifying goes to Slack beyond what a case already shows staff: the case id,
account, survey type, score, owner and due time; never an address or a comment.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nps.email.base import Batch, PermanentSendError, Recipient, TransientSendError, UncertainSendError
from nps.email.render import MessageTemplate

log = logging.getLogger(__name__)

SLACK_CONN_ID = "nps_slack"
SCOPE = "slack"
KIND = "slack"
INSTALL_HINT = "pip install 'nps-program[slack]' (apache-airflow-providers-slack)"


def provider_installed() -> bool:
    try:
        import airflow.providers.slack.hooks.slack_webhook  # noqa: F401
    except ImportError:
        return False
    return True


def configured(conn_id: str = SLACK_CONN_ID) -> bool:
    """True when the Slack connection exists and the provider can use it (else logged, once per call)."""
    from nps.hooks.base import lookup_connection

    if lookup_connection(conn_id) is None:
        return False
    if not provider_installed():
        log.error("the Slack connection %s exists but the Slack provider is not installed: %s; nothing is posted",
                  conn_id, INSTALL_HINT)
        return False
    return True


def escape(text: Any) -> str:
    """Slack mrkdwn escaping (``&``, ``<``, ``>``): names cannot become links or mentions."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackTransport:
    """A ledger transport posting each batch's text to a Slack incoming webhook (see the module doc)."""

    name = "slack"

    def __init__(self, conn_id: str = SLACK_CONN_ID, *, timeout: int = 15) -> None:
        self.conn_id = conn_id
        self.timeout = timeout
        self._client = None

    def __repr__(self) -> str:  # never shows the webhook URL
        return f"SlackTransport(conn_id={self.conn_id!r})"

    def client(self):
        if self._client is None:
            from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

            # retry_handlers=[]: the ledger retries; the client's own retry could post twice.
            self._client = SlackWebhookHook(slack_webhook_conn_id=self.conn_id, timeout=self.timeout,
                                            retry_handlers=[]).get_conn()
        return self._client

    def send(self, batch: Batch) -> str | None:
        import socket
        from urllib.error import URLError

        body = {"text": batch.template.text}
        try:
            resp = self.client().send_dict(body)
        except TimeoutError as err:
            raise UncertainSendError(f"Slack {batch.batch_id}: no answer ({type(err).__name__}); it may have been posted") from None
        except URLError as err:
            if isinstance(err.reason, ConnectionRefusedError | socket.gaierror):
                raise TransientSendError(f"Slack {batch.batch_id}: {err.reason}; nothing was posted") from None
            if isinstance(err.reason, TimeoutError):
                raise UncertainSendError(f"Slack {batch.batch_id}: no answer; it may have been posted") from None
            raise UncertainSendError(f"Slack {batch.batch_id}: {err.reason}") from None
        status = int(resp.status_code)
        if status == 200:
            return f"slack-{hashlib.sha256(batch.template.text.encode()).hexdigest()[:12]}"
        detail = f"Slack {batch.batch_id}: HTTP {status} {str(resp.body)[:200]}"
        if status == 429 or status >= 500:
            raise TransientSendError(detail)
        raise PermanentSendError(detail)


# -- close the loop: the run's new cases ---------------------------------------------------------
@dataclass
class SlackResult:
    posted: int = 0
    cases: int = 0
    overdue: int = 0
    ledger: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def new_cases_text(cases: list[dict[str, Any]], overdue: int, *, run_id: str, timezone: str) -> str:
    """The Slack message (mrkdwn) for a run's new cases, most urgent (earliest due) first."""
    from datetime import UTC
    from zoneinfo import ZoneInfo

    n = len(cases)
    lines = [f":rotating_light: *NPS: {n} new case{'s' if n != 1 else ''}* for the account owners (run {escape(run_id)})"]
    for c in cases:
        due = c["due_at"].replace(tzinfo=UTC).astimezone(ZoneInfo(timezone)).strftime("%a %Y-%m-%d %H:%M %Z")
        lines.append(f"• *{escape(c['case_id'])}* {escape(c['account_name'] or c['account_id'])}: "
                     f"{escape(c['survey_type']).upper()} {int(c['score'])} ({escape(c['category'])}), "
                     f"owner {escape(c['owner_name'] or 'none')}, due {due}")
    if overdue:
        lines.append(f"{overdue} open case{'s are' if overdue != 1 else ' is'} past due.")
    return "\n".join(lines)


def post_new_cases(wh, config, transport, *, now: datetime, run_id: str, conn_id: str = SLACK_CONN_ID) -> SlackResult:
    """Post the cases this run opened to Slack, once per run, through the ledger (``slack/cases/<run_id>``)."""
    from nps.ledger import send_once

    result = SlackResult()
    cases = wh.query(wh.read_sql("slack/new_cases"), {"source": f"run {run_id}"})
    result.cases = len(cases)
    if not cases:
        return result
    result.overdue = int(wh.scalar(wh.read_sql("slack/overdue_count"), {"now": now}) or 0)
    text = new_cases_text(cases, result.overdue, run_id=run_id, timezone=config.followups.timezone)
    key = f"slack/cases/{run_id}"
    batch = Batch(
        batch_id=f"slack.cases.{hashlib.sha256(run_id.encode()).hexdigest()[:8]}",
        template=MessageTemplate("slack.cases", "en", "new cases", text, ""),
        recipients=[Recipient(send_key=key, survey_id=key.replace("/", "."), email=f"slack:{conn_id}", name="Slack",
                              substitutions={})],
        folder=f"slack_{now:%Y-%m-%dT%H%M}",
    )
    lr = send_once(wh, [batch], transport, scope=SCOPE, kind=KIND, run_id=run_id,
                   grace_minutes=config.dispatch.reconcile_grace_minutes)
    result.posted = lr.sent
    result.ledger = lr.as_dict()
    log.info("slack: %d new cases of run %s: %s", result.cases, run_id, lr.line())
    return result


__all__ = ["SLACK_CONN_ID", "SlackResult", "SlackTransport", "configured", "new_cases_text", "post_new_cases",
           "provider_installed"]
