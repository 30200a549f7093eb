"""The followups: config section: shipped defaults (DOMAIN.md section 4) and errors that name the key."""

from __future__ import annotations

import pytest

from nps.config import ConfigError, load_config, parse_config
from tests.cohorts.helpers import CONFIG
from tests.conftest import ROOT


def test_shipped_rules_follow_domain_section_4():
    f = load_config(ROOT / "include" / "config" / "program.yaml").followups
    assert f.enabled and f.respond_within_hours == 48 and f.referral_days == 180
    assert f.timezone == "Europe/Warsaw" and f.sla.case_hours == 48 and f.sla.skip_weekends
    promoter = f.rule("nps", "promoter")
    assert (promoter.template, promoter.referral, promoter.else_template, promoter.case) == (
        "promoter_referral", True, "promoter_thanks", False)
    assert (f.rule("nps", "passive").template, f.rule("nps", "passive").case) == ("passive_improve", False)
    assert (f.rule("nps", "detractor").template, f.rule("nps", "detractor").case) == ("detractor_apology", True)
    assert f.rule("csat", "dissatisfied").case and f.rule("ces", "high_effort").case
    assert f.rule("ces", "easy").template is None and f.rule("ces", "neutral").template is None
    assert [(e.after_hours, e.email) for e in f.escalation] == [
        (0, "cs-lead@example.com"), (24, "vp-customer-success@example.com")]


def test_defaults_without_the_section():
    f = parse_config(CONFIG).followups
    assert f.timezone == "UTC" and f.settle_minutes == 30 and f.max_answer_age_days == 7
    assert f.rule("nps", "detractor").template == "detractor_apology" and f.rule("nps", "detractor").case
    assert f.templates() == {"promoter_referral", "promoter_thanks", "passive_improve", "detractor_apology",
                             "csat_thanks", "csat_dissatisfied", "ces_high_effort"}


@pytest.mark.parametrize(("section", "message"), [
    pytest.param({"rules": {"nps": {"promotor": {"template": "promoter_thanks"}}}},
                 "followups.rules.nps.promotor: unknown category 'promotor' for nps", id="unknown-category"),
    pytest.param({"rules": {"nps": {"detractor": {"template": "sorry_note"}}}},
                 "followups.rules.nps.detractor.template: no template 'sorry_note' for locale en", id="missing-template"),
    pytest.param({"rules": {"nps": {"promoter": {"referral": True}}}},
                 "followups.rules.nps.promoter.referral: needs a template", id="referral-without-template"),
    pytest.param({"rules": {"nps": {"promoter": {"template": "promoter_thanks", "else_template": "csat_thanks"}}}},
                 "followups.rules.nps.promoter.else_template: only used with referral: true", id="else-without-referral"),
    pytest.param({"rules": {"nsp": {}}}, "followups.rules.nsp", id="unknown-survey-type"),
    pytest.param({"timezone": "Mars/Olympus"}, "followups.timezone: 'Mars/Olympus' is not an IANA time zone", id="timezone"),
    pytest.param({"referral_days": 0}, "followups.referral_days: Input should be greater than or equal to 1", id="referral-days"),
    pytest.param({"escalation": [{"after_hours": 24, "email": "a@x.com"}, {"after_hours": 8, "email": "b@x.com"}]},
                 "followups.escalation[1].after_hours: must be later than level 1 (24 h)", id="escalation-order"),
    pytest.param({"escalation": [{"after_hours": 0, "email": "nobody"}]},
                 "followups.escalation.0.email: 'nobody' is not an email address", id="escalation-address"),
    pytest.param({"cs_lead": {"email": "lead@example.com", "phone": "1"}}, "followups.cs_lead.phone: unknown key",
                 id="unknown-key"),
    pytest.param({"urgent_arr_threshold": 0}, "followups.urgent_arr_threshold: Input should be greater than 0",
                 id="urgent-threshold"),
    pytest.param({"urgent_arr_threshold": "lots"}, "followups.urgent_arr_threshold: Input should be a valid number",
                 id="urgent-threshold-not-a-number"),
    pytest.param({"owner_locales": {"olek@example.com": "de"}},
                 "followups.owner_locales.olek@example.com: 'de' is not in program.locales", id="owner-locale"),
    pytest.param({"owner_locales": {"olek": "pl"}}, "followups.owner_locales.olek: the key must be an owner's email",
                 id="owner-locale-key"),
    pytest.param({"staff_locale": "fr"}, "followups.staff_locale: 'fr' is not in program.locales", id="staff-locale"),
    pytest.param({"cs_lead": {"email": "lead@example.com", "locale": "de"}},
                 "followups.cs_lead.locale: 'de' is not in program.locales", id="contact-locale"),
    pytest.param({"promoter_links": {"review": "www.g2.com/review"}},
                 "followups.promoter_links.review: 'www.g2.com/review' is not an http(s) URL", id="review-url"),
    pytest.param({"promoter_links": {"case_study": "https://ex.com/a b"}},
                 "followups.promoter_links.case_study: 'https://ex.com/a b' is not an http(s) URL",
                 id="case-study-url"),
    pytest.param({"promoter_links": {"referal": "https://ex.com"}}, "followups.promoter_links.referal: unknown key",
                 id="links-unknown-key"),
])
def test_errors_name_the_key(section, message):
    with pytest.raises(ConfigError) as err:
        parse_config({**CONFIG, "followups": section}, "program.yaml")
    assert message in str(err.value)
    assert "program.yaml" in str(err.value)


def test_short_forms():
    f = parse_config({**CONFIG, "followups": {"rules": {"ces": {"easy": "csat_thanks", "neutral": None}}}}).followups
    assert f.rule("ces", "easy").template == "csat_thanks"
    assert f.rule("ces", "neutral").template is None
    # A survey type given replaces that type's rules; the others keep their defaults.
    assert f.rule("ces", "high_effort") is None and f.rule("nps", "detractor").case


def test_staff_language_defaults_to_the_programs_and_follows_owner_and_contact():
    pl_only = parse_config({**CONFIG, "program": {**CONFIG["program"], "locales": ["pl"], "default_locale": "pl"}})
    f = pl_only.followups
    assert f.staff_locale is None and f.staff_locale_for("anyone@example.com", None, "pl") == "pl"
    g = parse_config({**CONFIG, "followups": {"owner_locales": {"Olek@Example.com": "pl"},
                                              "cs_lead": {"email": "lead@example.com", "locale": "pl"}}}).followups
    assert g.staff_locale_for(" olek@example.com ") == "pl" and g.staff_locale_for("alice@example.com") == "en"
    assert g.staff_locale_for("lead@example.com", g.cs_lead) == "pl"
