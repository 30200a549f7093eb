"""Close the loop: follow-up decisions and emails, cases, owner alerts, escalation, the digest."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from nps.assets import FOLLOWUPS
from nps.operators.base import NpsBaseOperator, as_bool, json_summary

STEPS = ("case_files", "decide", "send_followups", "owner_alerts", "escalate", "digest", "crm_webhook")
_SENDS = ("send_followups", "owner_alerts", "escalate", "digest", "crm_webhook")


class CloseTheLoopOperator(NpsBaseOperator):
    """One step of closing the loop (``nps.followups``), as of the run's instant.

    :param step: ``case_files`` (apply ``cases/*.csv`` from the landing area, audited),
        ``decide`` (a recorded decision for every counted answer that needs one; opens cases),
        ``send_followups`` (the settled follow-ups through the exactly-once ledger; emits
        ``nps_followups``), ``owner_alerts``, ``escalate``, ``digest`` or ``crm_webhook`` (case events
        to the CRM, signed, once per event key; skipped unless ``followups.crm_webhook.enabled``).
    :param as_of: the run's instant (templated ISO date-time); default the data interval end,
        else the logical date, else when the run was due (asset-triggered and manual runs).
    :param since: ``decide`` only: look at answers loaded since then (templated; default every
        answer that has no decision, changed, or is pending or failed).
    :param dry_run: decide and render, write and send nothing; sending steps end *skipped*
        (templated, e.g. ``"{{ params.dry_run }}"``).
    :param transport: / :param sendgrid_conn_id: / :param smtp_conn_id: / :param token_conn_id: /
        :param outbox_dir: as ``DispatchSurveysOperator``.
    :param landing_uri: the landing area for ``case_files`` (templated; default ``NPS_LANDING_URI``).
    :param slack_conn_id: ``owner_alerts`` also posts the run's new cases to this Slack incoming
        webhook when the connection exists (``nps.slack``; default ``nps_slack``), once per run.

    Returns the step's counts. A rejected email (4xx) fails without retries, naming it; uncertain
    sends reschedule the task until the ledger has evidence (nothing is sent twice).
    """

    template_fields: Sequence[str] = (
        *NpsBaseOperator.template_fields, "as_of", "since", "dry_run", "transport", "outbox_dir", "landing_uri",
        "sendgrid_conn_id", "smtp_conn_id", "token_conn_id", "crm_conn_id", "slack_conn_id",
    )
    ui_color = "#fde2e4"

    def __init__(
        self,
        *,
        step: str,
        as_of: Any = None,
        since: Any = None,
        dry_run: bool | str = False,
        transport: str | None = None,
        sendgrid_conn_id: str = "nps_sendgrid",
        smtp_conn_id: str = "nps_smtp",
        token_conn_id: str = "nps_survey_token",
        outbox_dir: str | None = None,
        landing_uri: str | None = None,
        crm_conn_id: str | None = None,
        slack_conn_id: str = "nps_slack",
        **kwargs: Any,
    ) -> None:
        if step not in STEPS:
            raise ValueError(f"step {step!r}: use one of {', '.join(STEPS)}")
        if step == "send_followups":
            kwargs.setdefault("outlets", [FOLLOWUPS])
        super().__init__(**kwargs)
        self.step = step
        self.as_of = as_of
        self.since = since
        self.dry_run = dry_run
        self.transport = transport
        self.sendgrid_conn_id = sendgrid_conn_id
        self.smtp_conn_id = smtp_conn_id
        self.token_conn_id = token_conn_id
        self.outbox_dir = outbox_dir
        self.landing_uri = landing_uri
        self.crm_conn_id = crm_conn_id
        self.slack_conn_id = slack_conn_id

    def _instant(self, context):
        from nps import marts
        from nps.intervals import IntervalError, parse_instant

        try:
            given = parse_instant(self.as_of, "as_of")
            since = parse_instant(self.since, "since")
        except IntervalError as err:
            raise self.fail_fast(err) from None
        now = given.astimezone(UTC).replace(tzinfo=None) if given and given.tzinfo else given
        now = now or marts.as_of_from_context(context)
        if since is not None and since.tzinfo:
            since = since.astimezone(UTC).replace(tzinfo=None)
        return now, since

    def execute(self, context) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from nps.dispatch import SendsPending

        config = self.program_config()
        now, since = self._instant(context)
        dry_run = as_bool(self.dry_run, "dry_run")
        run_id = self.run_id(context)
        folder = f"followups_{now:%Y-%m-%dT%H%M}"
        if not config.followups.enabled:
            raise AirflowSkipException("followups.enabled is false: closing the loop is switched off")
        summary: dict[str, Any] = {"step": self.step, "as_of": now.isoformat(), "dry_run": dry_run}
        with self.warehouse_hook.warehouse() as wh:
            try:
                summary.update(self._run(context, wh, config, now, since, run_id, folder, dry_run))
            except SendsPending as err:
                raise self.reschedule(err) from None
        summary = json_summary(summary)
        if dry_run and self.step in _SENDS:
            context["ti"].xcom_push(key="return_value", value=summary)
            raise AirflowSkipException(f"dry run: {self.step} sent nothing")
        return summary

    def _run(self, context, wh, config, now, since, run_id, folder, dry_run) -> dict[str, Any]:
        from nps.followups import cases

        if self.step == "case_files":
            if dry_run:
                return {"files": [], "note": "dry run: case files are left waiting"}
            from nps.ingest.landing import Landing

            res = cases.ingest_case_files(wh, Landing(self.landing_uri or None), now=now, run_id=run_id)
            rejected = [f for f in res.files if f["status"] == "rejected"]
            if rejected:
                raise self.fail_fast(ValueError("; ".join(f["reason"] for f in rejected)))
            return res.as_dict()
        if self.step == "decide":
            from nps.followups.decide import decide

            res = decide(wh, config, now, run_id, since=since, dry_run=dry_run)
            self.log.info("decisions: %d answers looked at: %s; %d cases opened, %d updated", res.considered,
                          dict(res.by_status), res.cases_opened, res.cases_updated)
            return res.as_dict()
        if self.step == "crm_webhook":
            return self._crm(wh, config, now, run_id, dry_run)
        transport = None if dry_run else self.email_transport(config)
        if self.step == "send_followups":
            from nps.followups.send import send_followups
            from nps.hooks.token import SurveyTokenHook
            from nps.tokens import TokenError

            try:
                signer = SurveyTokenHook(self.token_conn_id).get_signer()
            except TokenError as err:
                raise self.fail_fast(err) from None
            res = send_followups(wh, config, signer, transport, now=now, run_id=run_id, folder=folder, dry_run=dry_run)
            self._fail_on_rejected(res.ledger)
            return res.as_dict()
        fn = {"owner_alerts": cases.owner_alerts, "escalate": cases.escalate, "digest": cases.digest}[self.step]
        res = fn(wh, config, transport, now=now, run_id=run_id, folder=folder, dry_run=dry_run)
        self._fail_on_rejected(res.ledger)
        out = res.as_dict()
        if self.step == "owner_alerts" and not dry_run:
            out["slack"] = self._slack(wh, config, now, run_id)
        return out

    def _slack(self, wh, config, now, run_id) -> dict[str, Any] | None:
        """The run's new cases to Slack when ``slack_conn_id`` exists (``nps.slack``), once per run."""
        from nps import slack

        if not slack.configured(self.slack_conn_id):
            return None
        res = slack.post_new_cases(wh, config, slack.SlackTransport(self.slack_conn_id), now=now, run_id=run_id,
                                   conn_id=self.slack_conn_id)
        if res.ledger.get("failed"):
            raise self.fail_fast(RuntimeError(
                f"owner_alerts: Slack rejected the new-cases summary: {res.ledger['errors'][-1]}. Fix the "
                f"{self.slack_conn_id} connection, then clear this task: nothing is emailed or posted twice."))
        if res.ledger.get("errors"):  # Slack down (5xx, 429, refused): certainly not posted; a retry posts it
            raise RuntimeError(f"owner_alerts: Slack did not take the new-cases summary ({res.ledger['errors'][-1]}); "
                               "a retry posts it, and emails nothing twice")
        return res.as_dict()

    def _crm(self, wh, config, now, run_id, dry_run) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from nps.followups.crm import post_case_events
        from nps.hooks.base import ConnectionMissingError
        from nps.hooks.crm import CrmWebhookHook

        hook_cfg = config.followups.crm_webhook
        if not hook_cfg.enabled:
            raise AirflowSkipException("followups.crm_webhook.enabled is false: no case events are posted")
        try:
            client = None if dry_run else CrmWebhookHook(self.crm_conn_id or hook_cfg.conn_id).get_conn(
                timeout=hook_cfg.timeout_seconds, max_retries=hook_cfg.max_retries)
        except (ConnectionMissingError, ValueError) as err:
            raise self.fail_fast(err) from None
        res = post_case_events(wh, client, now=now, run_id=run_id, dry_run=dry_run)
        if res.failed:
            raise self.fail_fast(RuntimeError(
                f"crm_webhook: {res.failed} case events were rejected by the CRM: {res.errors[-1]}. Fix the cause, "
                "then clear this task: rejected events are posted again, the others are not."))
        if res.unavailable or res.uncertain:
            raise RuntimeError(f"crm_webhook: the CRM did not take every event ({res.errors[-1]}); a retry posts the "
                               "rest, an unanswered event again under its key")
        return res.as_dict()

    def _fail_on_rejected(self, ledger: dict[str, Any]) -> None:
        if ledger and ledger.get("failed"):
            raise self.fail_fast(RuntimeError(
                f"{self.step}: {ledger['failed']} emails were rejected by the provider: {ledger['errors'][-1]}. "
                "Fix the cause, then clear this task: rejected emails are claimed again, nothing else is sent twice."))
