"""Build the marts: write into the unpublished build schema, audit it, publish it in one step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nps.assets import MARTS
from nps.operators.base import NpsBaseOperator, as_bool, json_summary

STEPS = ("build", "audit", "publish")


class BuildMartsOperator(NpsBaseOperator):
    """Build every mart as of the run's instant (``nps.marts``): build into the unpublished
    schema, run the audit checks, repoint the ``marts.*`` views; BI tools see the old marts or the
    new ones, never a mix. A build is incremental (only what changed since the published build is
    recomputed, the rest carried forward) unless the mart logic or its config changed, there is
    no published build to start from, or ``full_rebuild`` asks for a full one.

    :param steps: which of ``build``, ``audit``, ``publish`` this task runs, in that order (default
        all three; the program's DAG runs one per task so each shows in the graph).
    :param as_of: the instant to build as of (templated ISO date-time); default the run's data
        interval end, else its logical date, else when it was triggered (asset-triggered runs).
    :param publish: ``False`` builds and audits only and leaves the published marts untouched;
        a publish step then ends *skipped* and the ``nps_marts`` asset is not emitted (templated,
        e.g. ``"{{ params.publish }}"``).
    :param full_rebuild: ``True`` rebuilds every mart from all of history instead of incrementally
        (templated, e.g. ``"{{ params.full_rebuild }}"``; the build step only).

    A failed audit check fails without retries, naming the check and offending rows; the published
    marts stay as they were. Returns the row count of every mart built or published, and the checks passed.
    """

    template_fields: Sequence[str] = (*NpsBaseOperator.template_fields, "as_of", "publish", "full_rebuild")
    ui_color = "#e6f5d0"

    def __init__(
        self,
        *,
        steps: Sequence[str] = STEPS,
        as_of: Any = None,
        publish: bool | str = True,
        full_rebuild: bool | str = False,
        **kwargs: Any,
    ) -> None:
        unknown = [s for s in steps if s not in STEPS]
        if unknown or not steps:
            raise ValueError(f"steps {list(steps)!r}: use one or more of {', '.join(STEPS)}")
        if "publish" in steps:
            kwargs.setdefault("outlets", [MARTS])
        super().__init__(**kwargs)
        self.steps = tuple(s for s in STEPS if s in steps)
        self.as_of = as_of
        self.publish = publish
        self.full_rebuild = full_rebuild

    def _as_of(self, context):
        from nps import marts
        from nps.intervals import IntervalError, parse_instant

        try:
            given = parse_instant(self.as_of, "as_of")
        except IntervalError as err:
            raise self.fail_fast(err) from None
        return given.replace(tzinfo=None) if given else marts.as_of_from_context(context)

    def execute(self, context) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from nps import marts

        config = self.program_config()
        summary: dict[str, Any] = {"steps": list(self.steps)}
        publish = as_bool(self.publish, "publish")
        with self.warehouse_hook.warehouse() as wh:
            if "build" in self.steps:
                as_of = self._as_of(context)
                self.log.info("building the marts as of %s", as_of.isoformat())
                summary["as_of"] = as_of.isoformat()
                full = as_bool(self.full_rebuild, "full_rebuild")
                summary["built"] = marts.build_staging(wh, as_of, config, full_rebuild=full)
                state = marts.build_state(wh, marts.staging_schema(wh)) or {}
                summary["build_mode"], summary["build_reason"] = state.get("mode"), state.get("reason")
            if "audit" in self.steps:
                try:
                    summary["checks_passed"] = marts.audit(wh, config)
                except (marts.MartCheckError, marts.StagingIncompleteError) as err:
                    raise self.fail_fast(err) from None  # a retry would find the same rows
            if "publish" in self.steps:
                if not publish:
                    context["ti"].xcom_push(key="return_value", value=json_summary({**summary, "published": None}))
                    raise AirflowSkipException("publish is off: the audited build stays unpublished")
                summary["published"] = marts.publish(wh)
        return json_summary(summary)
