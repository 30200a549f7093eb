"""Load what landed in the landing area: SendGrid event batches and survey response files."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nps.operators.base import NpsBaseOperator, json_summary

_FILE_KEYS = ("path", "kind", "status", "reason", "archived_to", "rows_read", "rows_loaded", "rows_quarantined",
              "rows_duplicate")


def summarise(results) -> dict[str, Any]:
    """Totals and one compact line per file (``nps.ingest.audit.FileResult``), JSON-ready."""
    files = [{k: r.as_dict()[k] for k in _FILE_KEYS} for r in results]
    totals = {k: sum(f[k] for f in files) for k in ("rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate")}
    return json_summary({"files": files, **totals, "rejected": sum(f["status"] == "rejected" for f in files)})


class _IngestOperator(NpsBaseOperator):
    template_fields: Sequence[str] = (*NpsBaseOperator.template_fields, "landing_uri")
    ui_color = "#e3f4f4"

    def __init__(self, *, landing_uri: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.landing_uri = landing_uri

    def landing(self):
        from nps.ingest.landing import Landing

        return Landing(self.landing_uri or None)


class IngestEventsOperator(_IngestOperator):
    """Load SendGrid Event Webhook batches (``<landing>/events/*.json``) into ``ops.email_events``,
    the ledger's delivery state and ``ops.suppressions``; each file version once.

    :param landing_uri: the landing area (templated; a folder or an object-storage URI; default
        ``NPS_LANDING_URI`` or ``data/landing``).

    Returns ``{"files": [...], "rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate",
    "rejected"}``. A file that cannot be parsed is set aside with its reason and counted in
    ``rejected``; it does not fail this task (``check_rejected_files`` does, after the others load).
    """

    def execute(self, context) -> dict[str, Any]:
        from nps.ingest.events import ingest_events

        with self.warehouse_hook.warehouse() as wh:
            results = ingest_events(wh, self.landing())
        summary = summarise(results)
        self.log.info("event files: %d, events loaded: %d, duplicates: %d, rejected files: %d",
                      len(summary["files"]), summary["rows_loaded"], summary["rows_duplicate"], summary["rejected"])
        return summary


class IngestResponsesOperator(_IngestOperator):
    """Load response files (``<landing>/responses/*.csv|jsonl``): verify tokens, validate with Great
    Expectations, load ``ops.raw_responses``, quarantine bad rows with their reason, one audit row
    per file (rows read = loaded + quarantined + duplicates); each file version once.

    :param landing_uri: the landing area (templated; default ``NPS_LANDING_URI`` or ``data/landing``).
    :param token_conn_id: the survey-token connection that verifies the answers' tokens.

    Returns the same summary as ``IngestEventsOperator``.
    """

    template_fields: Sequence[str] = (*_IngestOperator.template_fields, "token_conn_id")

    def __init__(self, *, token_conn_id: str = "nps_survey_token", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token_conn_id = token_conn_id

    def execute(self, context) -> dict[str, Any]:
        from nps.hooks.base import ConnectionMissingError
        from nps.hooks.token import SurveyTokenHook
        from nps.ingest.load import ingest_responses

        config = self.program_config()
        try:
            secrets = SurveyTokenHook(self.token_conn_id).get_secrets()
        except ConnectionMissingError as err:
            raise self.fail_fast(err) from None
        with self.warehouse_hook.warehouse() as wh:
            # Every secret of a rotation verifies (nps.tokens splits the comma-separated list).
            results = ingest_responses(wh, self.landing(), secret=",".join(secrets), config=config)
        summary = summarise(results)
        self.log.info("response files: %d, rows read %d = loaded %d + quarantined %d + duplicates %d; rejected files: %d",
                      len(summary["files"]), summary["rows_read"], summary["rows_loaded"], summary["rows_quarantined"],
                      summary["rows_duplicate"], summary["rejected"])
        return summary


class LandingHasFilesOperator(_IngestOperator):
    """A cheap listing of the landing area: skips itself, and so the rest of the run, when no
    file waits (processed files leave the folder, so a file there means new work). Returns the
    number of waiting files."""

    ui_color = "#f0f0f0"

    def execute(self, context) -> int:
        from airflow.sdk.exceptions import AirflowSkipException

        from nps.ingest.landing import KINDS

        landing = self.landing()
        landing.ensure()
        waiting = sum(len(landing.pending(kind)) for kind in KINDS)
        if not waiting:
            raise AirflowSkipException("nothing waits in the landing area")
        self.log.info("%d files wait in %s", waiting, landing)
        return waiting


class PublishResponsesOperator(NpsBaseOperator):
    """Emits the responses asset (default ``nps_responses``) when the ingestion task
    ``responses_task_id`` loaded at least one new response; otherwise skips itself, so the marts
    rebuild only when there is something new. Returns the number of new responses."""

    template_fields: Sequence[str] = ()
    ui_color = "#f0f0f0"

    def __init__(self, *, responses_task_id: str = "ingest_responses", **kwargs: Any) -> None:
        from nps.assets import RESPONSES

        kwargs.setdefault("outlets", [RESPONSES])
        super().__init__(**kwargs)
        self.responses_task_id = responses_task_id

    def execute(self, context) -> int:
        from airflow.sdk.exceptions import AirflowSkipException

        summary = context["ti"].xcom_pull(task_ids=self.responses_task_id) or {}
        loaded = int(summary.get("rows_loaded") or 0)
        if loaded <= 0:
            raise AirflowSkipException("no new responses: the asset is not emitted")
        return loaded


class CheckRejectedFilesOperator(NpsBaseOperator):
    """Fails, naming each file and its reason, when the ingestion tasks ``task_ids`` set files
    aside as unparseable (after the other files loaded); retrying does not help, fixing the file
    and dropping it again does. Returns the number of files the tasks processed."""

    template_fields: Sequence[str] = ()
    ui_color = "#f0f0f0"

    def __init__(self, *, task_ids: Sequence[str] = ("ingest_events", "ingest_responses"), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.task_ids = list(task_ids)

    def execute(self, context) -> int:
        from airflow.sdk.exceptions import AirflowFailException

        from nps.ingest.summary import rejected_message

        files = []
        for task_id in self.task_ids:
            files += (context["ti"].xcom_pull(task_ids=task_id) or {}).get("files", [])
        message = rejected_message(files)
        if message:
            raise AirflowFailException(message)
        return len(files)
