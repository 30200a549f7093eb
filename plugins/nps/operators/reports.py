"""The KPI report stage as operators: render and archive a period's reports, then email them
exactly once per (report, period, recipient) through the ledger (``nps.ledger``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperatorLink

from nps.operators.base import NpsBaseOperator, as_bool, json_summary

KINDS = ("weekly", "monthly", "quarterly")


class ReportArchiveLink(BaseOperatorLink):
    """The archive's ``index.html``: every archived report by period (a local file URL or the
    object-storage URL of ``NPS_REPORTS_URI``)."""

    name = "Report archive"

    def get_link(self, operator, *, ti_key) -> str:
        return getattr(operator, "archive_url", "") or ""


class _ReportOperator(NpsBaseOperator):
    """What both report operators share: the kind, the period and the audience filter.

    :param kind: ``weekly``, ``monthly`` or ``quarterly``.
    :param period_start: the first day of the period to report (templated; e.g.
        ``"{{ params.period_start }}"``). Empty: the period that ended in the run's data interval;
        for a manual run without a logical date, the latest period complete in the published marts.
    :param only: one audience (templated): ``all``, a ``reports.segments`` name or ``owners``.
    :param reports_uri: the archive location (templated; default ``NPS_REPORTS_URI`` or ``data/reports``).
    """

    template_fields: Sequence[str] = (*NpsBaseOperator.template_fields, "period_start", "only", "reports_uri")
    operator_extra_links = (ReportArchiveLink(),)
    ui_color = "#eef6e8"

    def __init__(self, *, kind: str, period_start: str | None = None, only: str | None = None,
                 reports_uri: str | None = None, **kwargs: Any) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind={kind!r}: expected one of {', '.join(KINDS)}")
        super().__init__(**kwargs)
        self.kind = kind
        self.period_start = period_start
        self.only = only
        self.reports_uri = reports_uri
        self.archive_url = ""

    @staticmethod
    def _blank(value: Any) -> str | None:
        text = "" if value is None else str(value).strip()
        return None if text in ("", "None", "null") else text

    def _period(self, wh, context):
        """(period, why) of this run, or AirflowFailException for what a retry cannot fix.

        A manual run never waits for the marts in a retry loop: it fails at once and says why.
        """
        from airflow.sdk.exceptions import AirflowFailException

        from nps.reports.stage import MartsNotReadyError, StageConfigError, period_for_run

        manual = "manual" in str(getattr(context.get("dag_run"), "run_type", "")).lower()
        interval_end = context.get("data_interval_end") if context.get("logical_date") is not None else None
        try:
            period, why = period_for_run(wh, self.kind, interval_end=interval_end,
                                         period_start=self._blank(self.period_start))
        except StageConfigError as err:
            raise AirflowFailException(str(err)) from err
        except MartsNotReadyError as err:
            if manual:
                raise AirflowFailException(str(err)) from err
            raise
        self.log.info("reporting %s %s (%s to %s): %s", self.kind, period.key, period.start, period.end, why)
        return period

    def _store_uri(self) -> str | None:
        return self._blank(self.reports_uri)

    def _set_archive_url(self) -> None:
        from nps.reports.archive import ReportStore

        try:
            url = ReportStore(self._store_uri()).url("index.html")
            if url.startswith("/"):
                from pathlib import Path

                url = Path(url).as_uri()  # a local archive: a file URL the browser opens
            self.archive_url = url
        except Exception:  # noqa: BLE001 - a link is a convenience; the task's log says what failed
            self.archive_url = ""


class RenderReportsOperator(_ReportOperator):
    """Render every report of the period (scorecard, charts, HTML/text/CSV in every recipient
    locale, QBR owner pages for the quarter) and archive it with the archive's ``index.html``.

    Rendering reads only the published ``marts.*``, so a backfill re-creates a past period's report
    exactly. An archive that cannot be written does not fail the task: the summary's
    ``archive_error`` says why, and the emails say so. Returns the counts and ``archive_error``.
    """

    def execute(self, context) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from nps.reports.stage import render_and_archive

        config = self.program_config()
        with self.warehouse_hook.warehouse() as wh:
            period = self._period(wh, context)
            try:
                produced = render_and_archive(wh, config, period, store_uri=self._store_uri(), only=self._blank(self.only))
            except ValueError as err:
                raise AirflowFailException(str(err)) from err
        self._set_archive_url()
        return json_summary(produced.summary())


class SendReportsOperator(_ReportOperator):
    """Email the period's archived reports, exactly once per (report, period, recipient).

    The messages are rebuilt from the archive (what was approved is what is sent). Every message
    goes through the ledger ``ops.message_ledger``: claimed before it is sent, so clearing,
    retrying or backfilling never emails a recipient twice, unless ``resend`` is true (then each
    recipient gets it once more, once per run).

    :param resend: send again to recipients who already got this period's report (templated).
    :param dry_run: send nothing; the task ends *skipped* (templated).
    :param transport: / :param sendgrid_conn_id: / :param smtp_conn_id: / :param outbox_dir: as
        for ``DispatchSurveysOperator`` (``nps.hooks.EmailTransportHook``).
    :param render_task_id: the render task whose ``archive_error`` the emails should mention.

    A malformed recipient address is skipped while everyone else gets the report; the task then
    fails (no retry) naming its config key.
    """

    template_fields: Sequence[str] = (
        *_ReportOperator.template_fields, "resend", "dry_run", "transport", "outbox_dir",
        "sendgrid_conn_id", "smtp_conn_id",
    )

    def __init__(self, *, resend: bool | str = False, dry_run: bool | str = False, transport: str | None = None,
                 sendgrid_conn_id: str = "nps_sendgrid", smtp_conn_id: str = "nps_smtp", outbox_dir: str | None = None,
                 render_task_id: str | None = "render_and_archive", **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", "none_failed_min_one_success")
        super().__init__(**kwargs)
        self.resend = resend
        self.dry_run = dry_run
        self.transport = transport
        self.sendgrid_conn_id = sendgrid_conn_id
        self.smtp_conn_id = smtp_conn_id
        self.outbox_dir = outbox_dir
        self.render_task_id = render_task_id

    def execute(self, context) -> dict[str, Any]:

        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from nps.dispatch import SendsPending
        from nps.reports.stage import send_planned

        if as_bool(self.dry_run, "dry_run"):
            raise AirflowSkipException("dry run: the reports are rendered and archived; nothing is sent")
        config = self.program_config()
        transport = self.email_transport(config)
        rendered = {}
        if self.render_task_id:
            rendered = context["ti"].xcom_pull(task_ids=self.render_task_id) or {}
        with self.warehouse_hook.warehouse() as wh:
            period = self._period(wh, context)
            try:
                result, planned = send_planned(
                    wh, config, period, transport, run_id=self.run_id(context),
                    resend=as_bool(self.resend, "resend"), store_uri=self._store_uri(), only=self._blank(self.only),
                    archive_error=rendered.get("archive_error"),
                )
            except ValueError as err:
                raise AirflowFailException(str(err)) from err
            except SendsPending as err:
                raise self.reschedule(err) from None
        self._set_archive_url()
        if result.failed:
            raise AirflowFailException(
                f"{result.failed} report emails were rejected by {result.transport}: {result.errors[-1]}. Fix the cause, "
                "then clear this task: rejected messages are sent again, the others are not.")
        if result.errors:
            raise RuntimeError(f"{len(result.errors)} report batches not sent (a retry sends the rest; nothing twice): "
                               f"{result.errors[-1]}")
        if planned.skipped:
            raise AirflowFailException(
                f"sent {result.sent} report emails, but skipped {len(planned.skipped)} malformed addresses: "
                f"{', '.join(planned.skipped)}. Fix them in the program config, then trigger with only=<audience>."
            )
        return json_summary({**result.as_dict(), "planned": len(planned.messages), "period": period.key})
