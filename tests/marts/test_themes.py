"""Comment themes: English and Polish keywords as word prefixes; comments are only ever data."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal as D

import pytest

from nps import marts
from nps.config import ConfigError, parse_config
from tests.marts.helpers import AS_OF, Data

OCT = datetime(2026, 10, 5, 10)
PAYLOAD = "<script>alert(1)</script>'; DROP TABLE marts_blue.fct_survey_responses; -- =HYPERLINK(\"http://x\") price :as_of"

COMMENTS = [
    # (locale, score, comment, expected themes)
    ("pl", 2, "Faktury są za drogie, a wsparcie techniczne nie odpowiada.", {"pricing", "support"}),
    ("pl", 3, "Wdrożenie trwało za długo.", {"onboarding"}),
    ("pl", 1, "BŁĄD w systemie, aplikacja nie działa!", {"technical"}),
    ("pl", 4, "DOSTAWA OPÓŹNIONA, przesyłka uszkodzona", {"delivery"}),
    ("pl", 9, "Support jest super", {"support"}),          # English keywords apply to every comment
    ("en", 5, "The central team is helpful", set()),       # pl stem "cen" must not fire in English
    ("en", 0, "Delivery was late again; invoices are wrong", {"delivery", "pricing"}),
    ("en", 6, "nothing to add", set()),
    ("en", 2, PAYLOAD, {"pricing"}),
    ("en", 10, "   ", set()),                              # blank: not a comment
]


def load(warehouse, program_config) -> dict[str, str]:
    d = Data()
    d.account("M1", industry="Manufacturing", segment="Enterprise")
    ids = {}
    for i, (loc, score, text, _) in enumerate(COMMENTS):
        cid = d.contact(f"M1-C{i}", "M1", locale=loc)
        sid = d.answer(cid, "nps", score, OCT + timedelta(minutes=i), comment=text)
        ids[sid] = text
    d.load(warehouse)
    marts.rebuild(warehouse, AS_OF, program_config)
    return ids


def test_comments_tagged_in_english_and_polish(warehouse, program_config):
    load(warehouse, program_config)
    got: dict[str, set[str]] = {}
    for r in warehouse.query("SELECT f.comment, t.theme FROM marts.fct_comment_themes AS t "
                             "JOIN marts.fct_survey_responses AS f ON f.response_id = t.response_id"):
        got.setdefault(r["comment"], set()).add(r["theme"])
    assert {text: got.get(text, set()) for _, _, text, _ in COMMENTS} == {text: themes for _, _, text, themes in COMMENTS}
    kw = {(r["theme"], r["matched_keyword"]) for r in warehouse.query("SELECT theme, matched_keyword FROM marts.fct_comment_themes")}
    assert ("onboarding", "wdrożeni") in kw and ("technical", "błąd") in kw


def test_a_program_without_themes_builds_every_mart_without_theme_rows(warehouse, program_config):
    """`themes:` left out of the config: no keyword rows, no comment themes, every answer still counted."""
    load(warehouse, program_config.model_copy(update={"themes": {}}))
    assert warehouse.scalar("SELECT COUNT(*) FROM ops.mart_theme_keywords") == 0
    assert warehouse.scalar("SELECT COUNT(*) FROM marts.fct_comment_themes") == 0
    assert warehouse.scalar("SELECT COUNT(*) FROM marts.fct_survey_responses") == len(COMMENTS)


def test_payloads_stay_data(warehouse, program_config):
    load(warehouse, program_config)
    assert warehouse.scalar("SELECT comment FROM marts.fct_survey_responses WHERE comment LIKE '<script>%'") == PAYLOAD
    # The payload did not drop anything: both build schemas and the published view are intact.
    published = marts.published_schema(warehouse)
    assert warehouse.scalar(f"SELECT COUNT(*) FROM {published}.fct_survey_responses") == len(COMMENTS)
    assert warehouse.scalar("SELECT COUNT(*) FROM marts.fct_survey_responses") == len(COMMENTS)
    assert {r["status"] for r in warehouse.query("SELECT status FROM ops.mart_builds")} == {"published", "retired"}


def test_theme_shares_per_category_and_segment(warehouse, program_config):
    load(warehouse, program_config)
    rows = {(r["dimension"], r["dimension_value"], r["theme"]): r for r in warehouse.query(
        "SELECT * FROM marts.mart_comment_themes WHERE period_grain = 'month' AND period_start = :s "
        "AND survey_type = 'nps' AND category = 'detractor'", {"s": date(2026, 10, 1)})}
    # Detractor comments (0-6) that are not blank: scores 2, 3, 1, 4, 5, 0, 6, 2 -> 8 comments;
    # delivery is mentioned in 2 (DOSTAWA..., Delivery was late...) -> 25%; pricing in 3 -> 37.5%.
    d = rows[("industry", "Manufacturing", "delivery")]
    assert (d["comments"], d["theme_comments"], d["theme_share_pct"]) == (8, 2, D("25.00"))
    p = rows[("segment", "Enterprise", "pricing")]
    assert (p["comments"], p["theme_comments"], p["theme_share_pct"]) == (8, 3, D("37.50"))
    assert rows[("all", "all", "competition")]["theme_share_pct"] == D("0.00")
    assert len({k[2] for k in rows}) == 10  # every configured theme has a row


def test_keywords_come_from_config(program_config):
    rows = marts.theme_keywords(program_config)
    assert {r["theme"] for r in rows} == set(program_config.themes)
    (row,) = [r for r in rows if (r["theme"], r["keyword"]) == ("pricing", "invoic")]
    assert (row["locale"], row["pattern"], row["stem"]) == ("en", "% invoic%", "in")
    data = program_config.model_dump(mode="json")
    data["themes"] = {"bad": {"en": ["50%_off"]}}
    with pytest.raises(ConfigError, match="themes.bad.en"):
        marts.theme_keywords(parse_config(data))
