"""KPI reports by email: the weekly digest, the monthly report and the quarterly QBR pack.

Stage 6 of the program. Everything is read from the published ``marts.*`` (never the raw
tables) and nothing here imports Airflow:

- ``periods``: which week / month / quarter a run reports, from its data interval;
- ``data``: the scorecard and everything else a report shows (SQL in ``include/sql/reports/``);
- ``headline``: the demo's printed figures, from the same data;
- ``charts``: the PNG charts (matplotlib, Agg), each with alt text and a table of its numbers;
- ``render``: HTML email (CSS inlined), archived HTML, plain text, scorecard CSV;
- ``qbr``: the per-account-owner QBR pages of the quarterly pack;
- ``archive``: every report under ``NPS_REPORTS_URI`` with a static ``index.html``;
- ``send``: the send plan (one message per report, period and recipient) and ``send_reports``;
- ``stage``: the task-sized functions the DAG ``nps_kpi_reports_*`` calls.
"""

from __future__ import annotations
