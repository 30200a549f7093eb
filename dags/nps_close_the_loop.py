"""
### nps_close_the_loop

Closes the loop on every answer (DOMAIN.md section 4): when new answers land (asset
`nps_responses`) and every hour (the SLA clock, escalations and the digest need time to pass).

1. `migrate_warehouse`: validate the config and bring the schema up to date (fails fast).
2. `apply_case_files`: `cases/*.csv` in the landing area move cases forward (open → in_progress →
   resolved); every row is applied, quarantined with its reason (unknown case, bad status, a
   backward transition) or a duplicate, audited in `ops.ingest_files`, and the file archived.
3. `decide_followups`: one recorded decision per counted answer in `ops.followup_decisions`:
   sent, suppressed, not needed or failed, with the reason; until the email goes out the latest
   answer wins. Detractors, dissatisfied and high-effort answers open a case for the account owner.
4. `send_followups`: the settled follow-ups (`followups.settle_minutes` after the answer), one
   email per survey ever (send key `followup/<survey_id>`), through the exactly-once ledger;
   emits `nps_followups`.
5. `alert_owners`: one email per owner per run with their new cases (score, comment, role, ARR,
   earlier scores, churn-risk reasons; no owner address: the CS lead); an NPS detractor on an
   account with ARR of `followups.urgent_arr_threshold` or more gets its own urgent email at once.
   With an `nps_slack` connection (extra `slack`), the run's new cases are also posted to Slack,
   once per run (send key `slack/cases/<run_id>`, the same ledger).
6. `escalate_cases`: an open case past due climbs one level of `followups.escalation`, once per level.
7. `send_digest`: the daily digest, by the first run after `followups.digest_hour` (local time),
   and with `followups.owner_digest` each owner's own digest of their open and overdue cases.
8. `post_crm_events`: every case event to the CRM (`nps_crm_webhook` connection, HMAC-signed,
   retried, once per event key); *skipped* unless `followups.crm_webhook.enabled`.

Every task is safe to clear and rerun: decisions are taken again only for answers that changed
or are still pending, and every email has its own send key in the ledger. Uncertain sends
(a timeout, a killed worker) reschedule the task until evidence arrives; nothing is sent twice.

**Triggering by hand**: without a logical date the run acts as of when it was triggered; with one,
as of that instant. **Params:** `dry_run` (false): decide and render, write and send nothing (the
sending tasks end *skipped*); `since` (empty): decide only for answers loaded since this instant
(ISO 8601), plus the pending and failed ones.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag

from nps.assets import RESPONSES
from nps.notifications import failure_notifier
from nps.operators import CloseTheLoopOperator, MigrateWarehouseOperator


@dag(
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("10 * * * *", timezone="UTC"), assets=RESPONSES),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,  # each run acts on everything outstanding: a missed hour needs no run of its own
    max_active_runs=1,
    tags=["nps", "followups"],
    default_args={"owner": "cx-data", "retries": 2, "retry_delay": timedelta(minutes=5),
                  "pool": "nps_warehouse",  # writers share the warehouse pool (scripts/airflow-pools.sh)
                  "on_failure_callback": failure_notifier()},  # README: On-call runbook
    params={
        "dry_run": Param(False, type="boolean", title="Dry run",
                         description="Decide and render; write nothing, send nothing."),
        "since": Param(None, type=["null", "string"], title="Since",
                       description="Only answers loaded since this instant (ISO 8601, UTC); empty: all outstanding."),
    },
    doc_md=__doc__,
)
def nps_close_the_loop():
    common = {"dry_run": "{{ params.dry_run }}"}
    (
        MigrateWarehouseOperator(task_id="migrate_warehouse")
        >> CloseTheLoopOperator(task_id="apply_case_files", step="case_files", **common)
        >> CloseTheLoopOperator(task_id="decide_followups", step="decide", since="{{ params.since }}", **common)
        >> CloseTheLoopOperator(task_id="send_followups", step="send_followups", **common)
        >> CloseTheLoopOperator(task_id="alert_owners", step="owner_alerts", trigger_rule="none_failed", **common)
        >> CloseTheLoopOperator(task_id="escalate_cases", step="escalate", trigger_rule="none_failed", **common)
        >> CloseTheLoopOperator(task_id="send_digest", step="digest", trigger_rule="none_failed", **common)
        >> CloseTheLoopOperator(task_id="post_crm_events", step="crm_webhook", trigger_rule="none_failed", **common)
    )


nps_close_the_loop()
