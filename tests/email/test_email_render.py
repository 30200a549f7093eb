"""Invitation templates: scales, signed links, escaping, sender identity, locales."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from nps.email.render import merge, render_template, substitutions
from nps.tokens import SurveyToken, TokenSigner

SIGNER = TokenSigner("test-secret-not-for-production-0123456789")


def _links(text: str, base: str) -> list[str]:
    return re.findall(re.escape(base) + r"\?t=([A-Za-z0-9_.-]+(?:&(?:amp;)?score=\d+)?)", text)


@pytest.mark.parametrize(
    ("survey_type", "answers"),
    [pytest.param("nps", list(range(0, 11)), id="nps-0-10"), pytest.param("csat", [1, 2, 3, 4, 5], id="csat-1-5"),
     pytest.param("ces", list(range(1, 8)), id="ces-1-7")],
)
@pytest.mark.parametrize("locale", ["en", "pl"])
def test_scale_links_carry_the_signed_token_and_the_score(program_config, survey_type, answers, locale):
    tmpl = render_template(program_config, survey_type, locale)
    sent = datetime(2026, 11, 3, 9, 30)
    subs = substitutions(SIGNER, "S123", survey_type, "Anna", "Tatra Steel", sent, locale)
    token = subs["%nps_token%"]
    assert SIGNER.verify(token) == SurveyToken("S123", survey_type, None)
    assert (SIGNER.verify(token).issued_at, SIGNER.verify(token).locale) == (sent, locale)
    for part, amp in ((merge(tmpl.html, subs), "&amp;"), (merge(tmpl.text, subs), "&")):
        # One token per invitation: every answer link carries it with its own score.
        assert _links(part, "https://feedback.example.com/s") == [f"{token}{amp}score={a}" for a in answers]
        assert _links(part, "https://feedback.example.com/unsubscribe") == [token]
        assert "%nps_" not in part  # every tag filled
        assert "Acme Customer Success" in part and "feedback@example.com" in part  # sender identity
        assert "1 Market Street" in part


def test_locales_differ(program_config):
    en = render_template(program_config, "nps", "en")
    pl = render_template(program_config, "nps", "pl")
    assert en.subject == "How likely are you to recommend Acme Customer Success?"
    assert pl.subject == "Czy polecisz Acme Customer Success?"
    assert "Na ile prawdopodobne jest, że polecisz naszą firmę znajomemu lub koledze?" in pl.html
    assert "Dzień dobry %nps_name%," in pl.text
    assert "to a friend or colleague?" in en.text


def test_unknown_locale_falls_back_to_default(program_config):
    assert render_template(program_config, "csat", "de").locale == "en"


def test_user_text_is_escaped_in_html_only(program_config):
    tmpl = render_template(program_config, "nps", "en")
    subs = substitutions(SIGNER, "S1", "nps", '<b onmouseover="x">Jo</b>', "Smith & Sons <Ltd>")
    html, text = merge(tmpl.html, subs), merge(tmpl.text, subs)
    assert "<b onmouseover" not in html
    assert "Hi &lt;b onmouseover=&quot;x&quot;&gt;Jo&lt;/b&gt;," in html
    assert "Smith &amp; Sons &lt;Ltd&gt; is a customer" in html
    assert 'Hi <b onmouseover="x">Jo</b>,' in text
    assert "Smith & Sons <Ltd> is a customer" in text


def test_merge_does_not_rescan_values():
    assert merge("Hi %nps_name%", {"%nps_name%": "%nps_token%", "%nps_token%": "X"}) == "Hi %nps_token%"


@pytest.mark.parametrize("survey_type", ["nps", "csat", "ces"])
def test_the_invitation_token_is_the_signers_answerless_token(survey_type):
    sent = datetime(2026, 11, 3, 9, 30)
    subs = substitutions(SIGNER, "S0123456789abcdef01234567", survey_type, "A", "B", sent, "pl")
    assert subs["%nps_token%"] == SIGNER.sign("S0123456789abcdef01234567", survey_type, None, sent, "pl")
    t = SIGNER.verify(subs["%nps_token%"])
    assert (t.answer, t.issued_at, t.locale) == (None, sent, "pl")
