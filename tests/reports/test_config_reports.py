"""Report configuration errors fail on load, naming the key."""

from __future__ import annotations

import pytest

from nps.config import ConfigError
from tests.reports.helpers import REPORTS_CONFIG, config_with


@pytest.mark.parametrize(("change", "message"), [
    pytest.param({"kpis": {"nsp": {"baseline": 1, "target": 2}}}, "reports.kpis.nsp", id="unknown-kpi"),
    pytest.param({"kpis": {"nps": {"baseline": "high"}}}, "reports.kpis.nps.baseline", id="kpi-not-a-number"),
    pytest.param({"recipients": {"monthly": [{"email": "a@example.com", "locale": "de"}]}},
                 "reports.recipients.monthly[0].locale: 'de' is not in program.locales", id="recipient-locale"),
    pytest.param({"recipients": {"daily": ["a@example.com"]}}, "reports.recipients", id="unknown-kind"),
    pytest.param({"segments": [{"name": "x", "dimension": "colour", "value": "red"}]}, "reports.segments.0.dimension", id="dimension"),
    pytest.param({"segments": [{"name": "all", "dimension": "industry", "value": "Retail"}]}, "segments[0].name", id="reserved-name"),
    pytest.param({"min_answers": 0}, "reports.min_answers", id="min-answers"),
    pytest.param({"qbr": {"approve": True}}, "reports.qbr.approve: unknown key", id="typo"),
])
def test_bad_report_config_names_the_key(program_config, change, message):
    with pytest.raises(ConfigError) as err:
        config_with(program_config, **change)
    assert message in str(err.value)


def test_recipients_accept_plain_addresses_and_a_list_for_every_kind(program_config):
    c = config_with(program_config, recipients=["a@example.com", {"email": "b@example.com", "locale": "pl"}])
    assert [(k, r.email, r.locale) for k, r in c.reports.recipients_for("weekly")] == [
        ("reports.recipients[0]", "a@example.com", None), ("reports.recipients[1]", "b@example.com", "pl")]
    c = config_with(program_config)
    assert [k for k, _ in c.reports.recipients_for("monthly")][-1] == "reports.recipients.monthly[2]"
    assert REPORTS_CONFIG["min_answers"] == c.reports.min_answers == 30
