"""Select the cohort of a data interval: who is surveyed and why the others are not."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nps.operators.base import NpsBaseOperator, as_bool, json_summary


class SelectCohortOperator(NpsBaseOperator):
    """Select (or reuse) the cohort of the run's data interval (``nps.cohorts``).

    The interval follows ``nps.intervals``: the scheduled interval of the logical date, the
    latest complete one when the run has none, or ``data_interval_start``/``data_interval_end``
    (templated) when given. A stored cohort of the same interval is reused unless ``reselect``.
    Returns the counts (due, each exclusion reason, selected) and the interval.
    """

    template_fields: Sequence[str] = (*NpsBaseOperator.template_fields, "data_interval_start", "data_interval_end", "reselect")
    ui_color = "#f3e8fb"

    def __init__(
        self,
        *,
        data_interval_start: Any = None,
        data_interval_end: Any = None,
        reselect: bool | str = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data_interval_start = data_interval_start
        self.data_interval_end = data_interval_end
        self.reselect = reselect

    def execute(self, context) -> dict[str, Any]:
        from nps.cohorts import CohortError, select_cohort

        config = self.program_config()
        interval = self.resolve_interval(context, self.data_interval_start, self.data_interval_end)
        try:
            with self.warehouse_hook.warehouse() as wh:
                summary = select_cohort(
                    wh, config, interval.start, interval.end, self.run_id(context),
                    reselect=as_bool(self.reselect, "reselect"),
                )
        except CohortError as err:
            raise self.fail_fast(err) from None
        self.log.info("cohort of %s: %s", interval.describe(), summary.line())
        return json_summary({**summary.as_dict(), "interval": interval.as_dict()})
