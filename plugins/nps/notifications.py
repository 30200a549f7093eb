"""Failure notifications for every program DAG, through Airflow's own notifier classes.

``FailureNotifier`` is a ``BaseNotifier`` the DAGs set as ``on_failure_callback`` of their tasks. When
a task fails for good it says what the on-call engineer needs and nothing more: DAG, task, run, try
number, the first line of the error and the task's log URL. Never a secret or a full customer
address: e-mail addresses are shortened to ``a***@domain``, URL passwords masked, and Airflow's own
secrets masker is applied to what is left.

Where it goes, decided when a task fails (connections are read then, never at parse time):
- the SMTP connection ``nps_alerts_smtp`` (else the invitations' relay ``nps_smtp``), to
  ``NPS_ALERT_EMAIL`` (comma-separated), through the SMTP provider's ``SmtpNotifier``;
- the Slack connection ``nps_alerts_slack`` (else the program's ``nps_slack``; type Slack Incoming
  Webhook), through the Slack provider's ``SlackWebhookNotifier`` when that provider is installed
  (the optional extra ``slack``);
- neither: in the embedded project (``NPS_EMBEDDED=1``) a file in the outbox (``alerts/``);
  anywhere else an error in the scheduler's task log naming what to configure.
A notification that cannot be delivered never hides the task's own failure.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)

ALERT_SMTP_CONN_ID = "nps_alerts_smtp"
ALERT_SLACK_CONN_ID = "nps_alerts_slack"
SLACK_CONN_ID = "nps_slack"
ALERT_EMAIL_ENV = "NPS_ALERT_EMAIL"
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def redact(text: str) -> str:
    """``text`` without full e-mail addresses, URL passwords or secrets Airflow knows of."""
    text = _URL_PASSWORD.sub(r"\1***@", text)
    text = _EMAIL.sub(r"\1***@\2", text)
    try:
        from airflow.sdk.log import redact as airflow_redact

        text = str(airflow_redact(text))
    except Exception:  # noqa: BLE001 - no masker outside a task: the two rules above still hold
        pass
    return text


def first_line(error: Any) -> str:
    text = str(error or "").strip() or type(error).__name__
    line = text.splitlines()[0]
    return redact(f"{type(error).__name__}: {line}" if isinstance(error, BaseException) else line)[:500]


@dataclass(frozen=True)
class Failure:
    dag_id: str
    task_id: str
    run_id: str
    try_number: int
    error: str
    log_url: str

    @property
    def subject(self) -> str:
        return f"[nps] {self.dag_id}.{self.task_id} failed (try {self.try_number})"

    @property
    def text(self) -> str:
        return (f"{self.subject}\nDAG: {self.dag_id}\nTask: {self.task_id}\nRun: {self.run_id}\n"
                f"Try: {self.try_number}\nError: {self.error}\nLog: {self.log_url}\n"
                "What to do: README.md, On-call runbook, \"Failure notifications\".\n")

    @property
    def slack_text(self) -> str:
        """The Slack message (mrkdwn, escaped): the same facts, the log as a link."""
        def esc(v) -> str:
            return str(v).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

        log_link = f"<{esc(self.log_url)}|Task log>" if self.log_url else "no log URL"
        return (f":red_circle: *{esc(self.subject)}*\nDAG: `{esc(self.dag_id)}`  Task: `{esc(self.task_id)}`  "
                f"Try: {self.try_number}\nRun: `{esc(self.run_id)}`\nError: {esc(self.error)}\n{log_link}\n"
                "What to do: README.md, On-call runbook, \"Failure notifications\".")

    @property
    def html(self) -> str:
        from html import escape

        rows = "".join(f"<tr><th align=left>{k}</th><td>{escape(str(v))}</td></tr>" for k, v in (
            ("DAG", self.dag_id), ("Task", self.task_id), ("Run", self.run_id), ("Try", self.try_number),
            ("Error", self.error)))
        return (f"<p>{escape(self.subject)}</p><table>{rows}</table>"
                f'<p><a href="{escape(self.log_url)}">Task log</a></p>'
                "<p>What to do: README.md, On-call runbook, &quot;Failure notifications&quot;.</p>")


def failure_from_context(context: Any) -> Failure:
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    dag_id = getattr(ti, "dag_id", None) or getattr(dag, "dag_id", "?")
    try:
        log_url = str(ti.log_url)
    except Exception:  # noqa: BLE001 - a task instance without the property (older Airflow, tests)
        log_url = ""
    return Failure(
        dag_id=str(dag_id),
        task_id=str(getattr(ti, "task_id", "?")),
        run_id=str(context.get("run_id") or getattr(ti, "run_id", "?")),
        try_number=int(getattr(ti, "try_number", 0) or 0),
        error=first_line(context.get("exception")),
        log_url=log_url,
    )


class FailureNotifier(BaseNotifier):
    """``on_failure_callback`` of the program's tasks (see the module docstring)."""

    template_fields = ()

    def __init__(self, *, to: str | list[str] | None = None, smtp_conn_id: str = ALERT_SMTP_CONN_ID,
                 fallback_smtp_conn_id: str = "nps_smtp", slack_conn_id: str = ALERT_SLACK_CONN_ID,
                 fallback_slack_conn_id: str = SLACK_CONN_ID, from_email: str | None = None, outbox_dir: str | Path | None = None) -> None:
        super().__init__()
        self.to = to
        self.smtp_conn_id = smtp_conn_id
        self.fallback_smtp_conn_id = fallback_smtp_conn_id
        self.slack_conn_id = slack_conn_id
        self.fallback_slack_conn_id = fallback_slack_conn_id
        self.from_email = from_email
        self.outbox_dir = outbox_dir

    def recipients(self) -> list[str]:
        raw = self.to if self.to is not None else os.environ.get(ALERT_EMAIL_ENV, "")
        items = raw if isinstance(raw, list) else re.split(r"[,\s]+", raw)
        return [r for r in (i.strip() for i in items) if r]

    def notify(self, context: Any) -> list[str]:
        """Deliver the notification; returns the channels it went to (``smtp``, ``slack``, ``outbox``)."""
        from nps.hooks.base import embedded, lookup_connection

        failure = failure_from_context(context)
        sent: list[str] = []
        smtp_conn = next((c for c in (self.smtp_conn_id, self.fallback_smtp_conn_id) if lookup_connection(c)), None)
        to = self.recipients()
        if smtp_conn and to:
            from airflow.providers.smtp.notifications.smtp import SmtpNotifier

            SmtpNotifier(to=to, from_email=self.from_email or os.environ.get("NPS_ALERT_FROM") or "airflow-nps@localhost",
                         subject=failure.subject, html_content=failure.html, smtp_conn_id=smtp_conn).notify(context)
            sent.append("smtp")
        slack_conn = next((c for c in (self.slack_conn_id, self.fallback_slack_conn_id) if lookup_connection(c)), None)
        if slack_conn:
            try:
                from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier
            except ImportError:
                log.error("connection %s exists but the Slack provider is not installed: pip install "
                          "'nps-program[slack]' (apache-airflow-providers-slack)", slack_conn)
            else:
                SlackWebhookNotifier(slack_webhook_conn_id=slack_conn, text=failure.slack_text).notify(context)
                sent.append("slack")
        if not sent:
            if embedded():
                self.to_outbox(failure)
                sent.append("outbox")
            else:
                log.error("no failure-notification channel: add the connection %s (SMTP) with %s, or %s (Slack); %s",
                          self.smtp_conn_id, ALERT_EMAIL_ENV, self.fallback_slack_conn_id, failure.text.replace("\n", " | "))
        log.info("failure notification for %s.%s try %d: %s", failure.dag_id, failure.task_id, failure.try_number,
                 ", ".join(sent) or "not delivered")
        return sent

    def to_outbox(self, failure: Failure) -> Path:
        from nps.email.outbox import outbox_dir

        root = Path(self.outbox_dir) if self.outbox_dir else outbox_dir()
        folder = root / "alerts"
        folder.mkdir(parents=True, exist_ok=True)
        msg = EmailMessage()
        msg["Subject"] = failure.subject
        msg["From"] = "airflow-nps@localhost"
        msg["To"] = ", ".join(self.recipients()) or "on-call@localhost"
        msg.set_content(failure.text)
        path = folder / f"{failure.dag_id}.{failure.task_id}.{re.sub(r'[^A-Za-z0-9_.-]+', '_', failure.run_id)}.try{failure.try_number}.eml"
        path.write_bytes(bytes(msg))
        return path


def failure_notifier(**kwargs: Any) -> FailureNotifier:
    """The notifier the program's DAGs put in ``default_args["on_failure_callback"]``."""
    return FailureNotifier(**kwargs)
