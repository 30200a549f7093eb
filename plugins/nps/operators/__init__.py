"""The program's stages as Airflow operators, for the program's DAGs and for your own.

=============================  =======================================================
``MigrateWarehouseOperator``   validate the config, migrate the warehouse (fails fast)
``SelectCohortOperator``       select (or reuse) the cohort of the run's data interval
``DispatchSurveysOperator``    send the interval's invitations exactly once (``dry_run``)
``IngestEventsOperator``       load SendGrid event batches from the landing area
``IngestResponsesOperator``    load response files: tokens, validation, quarantine, audit
``BuildMartsOperator``         build, audit and publish the marts (``steps``, ``publish``)
``RenderReportsOperator``      render and archive a period's KPI reports (``kind``, ``only``)
``SendReportsOperator``        email them exactly once per recipient (``resend``, ``dry_run``)
``CloseTheLoopOperator``       one step of closing the loop: case files, decisions, follow-ups,
                               owner alerts, escalation, digest (``step``, ``dry_run``)
``LandingHasFilesOperator``, ``PublishResponsesOperator``, ``CheckRejectedFilesOperator``:
                               the ingestion DAG's glue (skip when empty, emit the asset only
                               for new answers, fail naming unparseable files)
=============================  =======================================================

Common keyword-only arguments: ``warehouse_conn_id``, ``config`` (file name or YAML text,
templated) / ``config_path``. Each returns a small JSON summary (XCom) and raises
``AirflowFailException`` for what a retry cannot fix. See README.md, "Building blocks".
"""

from __future__ import annotations

from nps.operators.base import NpsBaseOperator
from nps.operators.cohort import SelectCohortOperator
from nps.operators.dispatch import DispatchSurveysOperator, SentEmailsLink
from nps.operators.followups import CloseTheLoopOperator
from nps.operators.ingest import (
    CheckRejectedFilesOperator,
    IngestEventsOperator,
    IngestResponsesOperator,
    LandingHasFilesOperator,
    PublishResponsesOperator,
)
from nps.operators.marts import BuildMartsOperator
from nps.operators.reports import RenderReportsOperator, ReportArchiveLink, SendReportsOperator
from nps.operators.warehouse import MigrateWarehouseOperator

__all__ = [
    "BuildMartsOperator",
    "CheckRejectedFilesOperator",
    "CloseTheLoopOperator",
    "DispatchSurveysOperator",
    "IngestEventsOperator",
    "IngestResponsesOperator",
    "LandingHasFilesOperator",
    "MigrateWarehouseOperator",
    "NpsBaseOperator",
    "PublishResponsesOperator",
    "RenderReportsOperator",
    "ReportArchiveLink",
    "SelectCohortOperator",
    "SendReportsOperator",
    "SentEmailsLink",
]
