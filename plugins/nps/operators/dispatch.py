"""Send the invitations of a data interval's cohort, exactly once, through the send ledger."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from airflow.sdk import BaseOperatorLink

from nps.assets import INVITATIONS
from nps.operators.base import NpsBaseOperator, as_bool, json_summary

SENDGRID_ACTIVITY_URL = "https://app.sendgrid.com/email_activity"


def _naive_utc(ts):
    from datetime import datetime

    ts = ts.astimezone(UTC) if ts.tzinfo else ts
    return datetime(ts.year, ts.month, ts.day, ts.hour, ts.minute, ts.second, ts.microsecond)


def preview_invitations(wh, config, signer, interval_start) -> dict[str, Any]:
    """A dry run: every invitation of the interval that would be sent, rendered, counted; nothing
    is claimed or sent. Returns ``would_send``, ``batches``, ``by_template`` and the ledger's
    ``statuses`` for the interval."""
    from nps.dispatch import _build_batch, plan_batches
    from nps.email.render import merge

    params = {"interval_start": _naive_utc(interval_start)}
    rows = wh.query(wh.read_sql("dispatch/preview"), params)
    plan = plan_batches(rows, config.dispatch.batch_size)
    templates: dict[tuple[str, str], Any] = {}
    by_template: Counter[str] = Counter()
    for n, (key, members) in enumerate(plan):
        # The batch the real send would build (same names, tokens and locale), never handed over.
        batch = _build_batch(config, signer, templates, f"preview-{n}", key, members, folder="")
        tmpl = batch.template
        for r in batch.recipients:
            # Render each message as the transport would, so a template error shows in the dry run.
            for part in (tmpl.subject, tmpl.text, tmpl.html):
                merge(part, r.substitutions)
            by_template[f"{key[0]}.{tmpl.locale}"] += 1
    statuses = {r["status"]: int(r["n"]) for r in wh.query(wh.read_sql("dispatch/status_counts"), params)}
    return {
        "would_send": sum(by_template.values()),
        "batches": len(plan),
        "by_template": dict(sorted(by_template.items())),
        "statuses": statuses,
    }


class SentEmailsLink(BaseOperatorLink):
    """Where the interval's invitations went: the outbox folder (a local file URL) or SendGrid's
    activity feed."""

    name = "Sent emails"

    def get_link(self, operator, *, ti_key) -> str:
        return getattr(operator, "sent_emails_url", "") or ""


class DispatchSurveysOperator(NpsBaseOperator):
    """Claim, reconcile and send the invitations of the run's data interval (``nps.dispatch``).

    Every email goes through the ledger ``ops.survey_invitations`` (claimed before it is sent), so
    clearing, retrying or re-triggering the task never sends an invitation twice.

    :param data_interval_start: / :param data_interval_end: override the run's interval (templated;
        the same rule as ``SelectCohortOperator``, which must have selected that interval).
    :param dry_run: select nothing new, claim nothing, send nothing: render every invitation that
        would go out and report the counts; the task then ends *skipped*, so the
        ``nps_invitations`` asset is not emitted (templated, e.g. ``"{{ params.dry_run }}"``).
    :param transport: force ``sendgrid``, ``smtp`` or ``outbox`` (templated); default: the SendGrid
        connection if it exists, else SMTP, else the outbox (``nps.hooks.EmailTransportHook``).
    :param sendgrid_conn_id: / :param smtp_conn_id: / :param token_conn_id: the connections.
    :param outbox_dir: the outbox folder (templated; default ``NPS_OUTBOX_DIR`` or ``data/outbox``).

    Returns the dispatch counts (claimed, sent, batches, uncertain, failed, ledger statuses), the
    interval and the transport. A rejected batch (4xx) or a configuration error fails without
    retries; throttling or an uncertain send fails with a retryable error.
    """

    template_fields: Sequence[str] = (
        *NpsBaseOperator.template_fields,
        "data_interval_start", "data_interval_end", "dry_run", "transport", "outbox_dir",
        "sendgrid_conn_id", "smtp_conn_id", "token_conn_id",
    )
    operator_extra_links = (SentEmailsLink(),)
    ui_color = "#fdf0d5"

    def __init__(
        self,
        *,
        data_interval_start: Any = None,
        data_interval_end: Any = None,
        dry_run: bool | str = False,
        transport: str | None = None,
        sendgrid_conn_id: str = "nps_sendgrid",
        smtp_conn_id: str = "nps_smtp",
        token_conn_id: str = "nps_survey_token",
        outbox_dir: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("outlets", [INVITATIONS])
        super().__init__(**kwargs)
        self.data_interval_start = data_interval_start
        self.data_interval_end = data_interval_end
        self.dry_run = dry_run
        self.transport = transport
        self.sendgrid_conn_id = sendgrid_conn_id
        self.smtp_conn_id = smtp_conn_id
        self.token_conn_id = token_conn_id
        self.outbox_dir = outbox_dir
        self.sent_emails_url = ""

    def execute(self, context) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from nps.dispatch import DispatchFailed, SendsPending, dispatch_invitations, folder_name
        from nps.email.transports import TransportConfigError
        from nps.hooks.base import ConnectionMissingError
        from nps.hooks.token import SurveyTokenHook
        from nps.tokens import TokenError

        config = self.program_config()
        interval = self.resolve_interval(context, self.data_interval_start, self.data_interval_end)
        dry_run = as_bool(self.dry_run, "dry_run")
        try:
            signer = SurveyTokenHook(self.token_conn_id).get_signer()
            transport = None if dry_run else self.email_transport(config)
        except (ConnectionMissingError, TransportConfigError, TokenError) as err:
            raise self.fail_fast(err) from None

        with self.warehouse_hook.warehouse() as wh:
            if dry_run:
                preview = preview_invitations(wh, config, signer, interval.start)
                summary = json_summary({"dry_run": True, "interval": interval.as_dict(), **preview})
                self.log.info(
                    "dry run of %s: %d invitations would be sent in %d batches (%s); nothing claimed or sent",
                    interval.describe(), preview["would_send"], preview["batches"],
                    ", ".join(f"{k}: {v}" for k, v in preview["by_template"].items()) or "none",
                )
                context["ti"].xcom_push(key="return_value", value=summary)
                raise AirflowSkipException("dry run: nothing sent, the nps_invitations asset is not emitted")
            try:
                result = dispatch_invitations(wh, config, signer, transport, interval.start, self.run_id(context))
            except DispatchFailed as err:
                raise self.fail_fast(err) from None
            except SendsPending as err:
                raise self.reschedule(err) from None
        if transport.name == "outbox":
            self.sent_emails_url = (transport.root / folder_name(result.interval_start)).resolve().as_uri()
        elif transport.name == "sendgrid":
            self.sent_emails_url = SENDGRID_ACTIVITY_URL
        return json_summary({**result.as_dict(), "dry_run": False, "interval": interval.as_dict()})
