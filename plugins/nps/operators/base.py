"""What every operator of the program shares: the warehouse connection, the program config, the
run's data interval, the errors a retry cannot fix, and a JSON summary for XCom.

Hooks are built lazily (first use inside ``execute``), the config is read inside ``execute``, and
nothing heavy is imported at module level: constructing an operator in a DAG file costs nothing
and touches no connection.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

log = logging.getLogger(__name__)

WAREHOUSE_CONN_ID = "nps_warehouse"


def as_bool(value: Any, name: str = "value") -> bool:
    """A flag from a bool or a rendered template ("True", "false", "1", "")."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off", "none"):
        return False
    raise AirflowFailException(f"{name}={value!r} is not a boolean (true or false)")


def json_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary, checked to survive JSON as it is (XCom stores JSON)."""
    return json.loads(json.dumps(summary, default=str))


class NpsBaseOperator(BaseOperator):
    """Base of the program's operators.

    :param warehouse_conn_id: the warehouse connection (templated; default ``nps_warehouse``).
    :param config: the program config, as a file name found through the DAG's template search
        path (rendered with Jinja first) or as YAML text (templated). Wins over ``config_path``.
    :param config_path: a filesystem path to the program config YAML (not templated: a templated
        value ending in ``.yaml`` would be read as a template); default ``NPS_PROGRAM_CONFIG`` or
        the package's ``config/program.yaml``.
    """

    template_fields: Sequence[str] = ("warehouse_conn_id", "config")
    template_ext: Sequence[str] = (".yaml", ".yml")
    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        warehouse_conn_id: str = WAREHOUSE_CONN_ID,
        config: str | None = None,
        config_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id
        self.config = config
        self.config_path = config_path

    # -- hooks and config (resolved inside execute only) -------------------------------------
    @cached_property
    def warehouse_hook(self):
        from nps.hooks.warehouse import WarehouseHook

        return WarehouseHook(self.warehouse_conn_id)

    def program_config(self):
        """The validated program config; a bad one fails the task at once, naming file and key."""
        from nps.config import ConfigError, load_config, parse_config

        try:
            text = (self.config or "").strip()
            if text and ("\n" in text or ":" in text.split("/", 1)[0]):
                import yaml

                try:
                    data = yaml.safe_load(text)
                except yaml.YAMLError as err:
                    raise ConfigError(f"the config argument of task {self.task_id!r} is not valid YAML: {err}") from None
                return parse_config(data, f"<config of task {self.task_id}>")
            return load_config(text or self.config_path or None)
        except ConfigError as err:
            raise AirflowFailException(str(err)) from None

    def email_transport(self, config):
        """The transport of an emailing operator (its ``transport``, ``sendgrid_conn_id``,
        ``smtp_conn_id`` and ``outbox_dir``), built through ``nps.hooks.EmailTransportHook``; a
        missing or bad connection fails the task at once, naming it."""
        from nps.email.transports import TransportConfigError
        from nps.hooks.base import ConnectionMissingError
        from nps.hooks.email import EmailTransportHook

        def blank(value):
            text = "" if value is None else str(value).strip()
            return None if text in ("", "None", "null") else text

        try:
            return EmailTransportHook(
                transport=blank(self.transport), sendgrid_conn_id=self.sendgrid_conn_id,
                smtp_conn_id=self.smtp_conn_id, outbox_dir=blank(self.outbox_dir),
            ).get_conn(config)
        except (ConnectionMissingError, TransportConfigError) as err:
            raise self.fail_fast(err) from None

    def reschedule(self, err):
        """``AirflowRescheduleException`` for a ``nps.dispatch.SendsPending``: sends wait for evidence
        or the grace period, or another attempt holds the lock; the task comes back after
        ``err.retry_after`` (the real clock, not ``nps.clock``) without using a retry."""
        from datetime import UTC, datetime

        from airflow.sdk.exceptions import AirflowRescheduleException

        when = datetime.now(UTC) + err.retry_after
        self.log.info("%s; rescheduled for %s", err, when.isoformat(timespec="seconds"))
        return AirflowRescheduleException(reschedule_date=when)

    def fail_fast(self, err: BaseException) -> AirflowFailException:
        """An ``AirflowFailException`` carrying ``err``'s message (the task fails without retries)."""
        return AirflowFailException(str(err))

    # -- the run's data interval --------------------------------------------------------------
    def resolve_interval(self, context, start: Any = None, end: Any = None):
        """The interval this run processes (``nps.intervals``), logged; fails fast when there is none."""
        from nps.intervals import IntervalError, cron_of, resolve_interval

        dag_run = context.get("dag_run")
        dag = context.get("dag")
        cron, tz = cron_of(getattr(dag, "timetable", None))
        try:
            interval = resolve_interval(
                cron=cron,
                timezone=tz,
                logical_date=context.get("logical_date"),
                data_interval_start=context.get("data_interval_start"),
                data_interval_end=context.get("data_interval_end"),
                run_after=getattr(dag_run, "run_after", None),
                run_type=getattr(dag_run, "run_type", None),
                start=start,
                end=end,
            )
        except IntervalError as err:
            raise AirflowFailException(str(err)) from None
        self.log.info("data interval %s", interval.describe())
        return interval

    def run_id(self, context) -> str:
        return str(context.get("run_id") or getattr(context.get("dag_run"), "run_id", "") or "manual")
