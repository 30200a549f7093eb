"""Program configuration: the shipped file is valid, and bad files fail naming the key."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from nps.config import Cadence, ConfigError, load_config, parse_config


def test_shipped_config_matches_domain_cadences(program_config):
    cad = {name: ind.relationship_cadence.value for name, ind in program_config.industries.items()}
    assert cad == {
        "Retail": "monthly",
        "SaaS": "quarterly",
        "Hospitality": "weekly",
        "Telecommunications": "bimonthly",
        "Manufacturing": "semiannual",
        "Fintech": "quarterly",
    }
    assert program_config.program.locales == ["en", "pl"]
    kpis = program_config.reports.kpis
    assert (kpis["nps"].baseline, kpis["nps"].target) == (45, 65)
    assert (kpis["csat_pct"].baseline, kpis["csat_pct"].target) == (80, 90)
    assert (kpis["retention_pct"].baseline, kpis["retention_pct"].target) == (85, 92)


def test_touchpoints_merge_common_and_industry(program_config):
    saas = program_config.touchpoints_for("SaaS")
    assert saas["onboarding_completed"].survey.value == "csat"
    assert saas["support_ticket_closed"].survey.value == "ces"
    assert "product_delivered" not in saas
    with pytest.raises(ConfigError, match="unknown touchpoint 'teleport' for industry 'SaaS'"):
        program_config.touchpoint_rule("SaaS", "teleport")
    with pytest.raises(ConfigError, match="unknown industry 'Mining'"):
        program_config.industry("Mining")


def _base(program_config) -> dict:
    return program_config.model_dump(mode="json")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        pytest.param(lambda c: c["industries"]["SaaS"].update(relationship_cadence="fortnightly"),
                     "industries.SaaS.relationship_cadence", id="bad-cadence"),
        pytest.param(lambda c: c["industries"]["Retail"]["touchpoints"]["product_delivered"].update(survey="nps2"),
                     "industries.Retail.touchpoints.product_delivered.survey", id="bad-survey-type"),
        pytest.param(lambda c: c["fatigue"].update(relationship_days=-3), "fatigue.relationship_days", id="negative-window"),
        pytest.param(lambda c: c["fatigue"].update(relashionship_days=30), "fatigue.relashionship_days: unknown key", id="typo-key"),
        pytest.param(lambda c: c["sender"].update(email="nobody"), "sender.email", id="bad-email"),
        pytest.param(lambda c: c["program"].update(default_locale="de"), "default_locale 'de' is not one of", id="locale"),
        pytest.param(lambda c: c["program"].update(survey_base_url="ftp://x"), "program.survey_base_url", id="url"),
        pytest.param(lambda c: c.pop("industries"), "industries: Field required", id="missing-section"),
    ],
)
def test_bad_config_names_the_key(program_config, mutate, message):
    data = _base(program_config)
    mutate(data)
    with pytest.raises(ConfigError) as err:
        parse_config(data, "program.yaml")
    assert message in str(err.value)
    assert "program.yaml" in str(err.value)


def test_malformed_yaml_names_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("program:\n  name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.yaml is not valid YAML at line \d+"):
        load_config(p)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="program config not found"):
        load_config(tmp_path / "nope.yaml")


def test_env_override(tmp_path, monkeypatch, program_config):
    p = tmp_path / "p.yaml"
    data = _base(program_config)
    data["program"]["name"] = "Other program"
    p.write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.setenv("NPS_PROGRAM_CONFIG", str(p))
    assert load_config().program.name == "Other program"


@pytest.mark.parametrize(
    ("cadence", "day", "key", "start", "end"),
    [
        pytest.param("weekly", date(2026, 9, 3), "2026-W36", date(2026, 8, 31), date(2026, 9, 7), id="weekly"),
        pytest.param("monthly", date(2026, 12, 31), "2026-M12", date(2026, 12, 1), date(2027, 1, 1), id="monthly-dec"),
        pytest.param("bimonthly", date(2026, 4, 15), "2026-M03", date(2026, 3, 1), date(2026, 5, 1), id="bimonthly"),
        pytest.param("quarterly", date(2026, 8, 15), "2026-Q3", date(2026, 7, 1), date(2026, 10, 1), id="quarterly"),
        pytest.param("semiannual", date(2026, 11, 2), "2026-H2", date(2026, 7, 1), date(2027, 1, 1), id="semiannual"),
    ],
)
def test_cadence_cycles(cadence, day, key, start, end):
    c = Cadence(cadence)
    assert c.cycle_key(day) == key
    assert c.cycle_bounds(day) == (start, end)
