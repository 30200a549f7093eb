"""Follow-up emails as customers get them: every rule template in en and pl, HTML and text, the
escaped comment quote, the account owner's name, and the invitations' List-Unsubscribe headers."""

from __future__ import annotations

import email
from datetime import datetime
from email import policy

import pytest

from nps.email.outbox import OutboxTransport
from nps.email.render import merge
from nps.email.sendgrid import build_payload
from nps.followups.render import QUOTE_MAX_CHARS, check_templates, render_followup
from nps.followups.send import build_batches
from nps.tokens import TokenSigner
from tests.followups.helpers import fconfig

SIGNER = TokenSigner("test-secret-not-for-production-0123456789")
CFG = fconfig()
ISSUED = datetime(2026, 10, 7, 12)


def row(survey_id, template, locale="en", comment=None, email_="jo@example.com", owner="Gosia Król", first="Jo"):
    return {"survey_id": survey_id, "send_key": f"followup/{survey_id}", "survey_type": "nps", "template": template,
            "locale": locale, "score": 2, "category": "detractor", "email": email_, "first_name": first,
            "last_name": "Smith", "company": "Smith & Sons", "owner_name": owner, "comment": comment}


def test_every_template_renders_in_every_locale():
    assert check_templates(CFG) == [f"{t}.{loc}" for t in sorted(CFG.followups.templates()) for loc in ("en", "pl")]


@pytest.mark.parametrize(("template", "locale", "subject"), [
    pytest.param("detractor_apology", "en", "We are sorry: your feedback has reached your account manager", id="det-en"),
    pytest.param("detractor_apology", "pl", "Przepraszamy: Twoja opinia trafiła do opiekuna konta", id="det-pl"),
    pytest.param("promoter_referral", "en", "Thank you for recommending Acme CS", id="ref-en"),
    pytest.param("promoter_referral", "pl", "Dziękujemy za polecenie Acme CS", id="ref-pl"),
    pytest.param("passive_improve", "en", "What would make it a 10?", id="passive-en"),
    pytest.param("ces_high_effort", "pl", "Przepraszamy, że wymagało to tyle wysiłku", id="ces-pl"),
])
def test_subjects(template, locale, subject):
    t = render_followup(CFG, template, locale)
    assert (t.subject, t.locale, t.survey_type) == (subject, locale, f"followup.{template}")
    assert t.list_unsubscribe == "<https://f.example.com/u?t=%nps_token%>"


def test_outbox_message_quotes_the_comment_escaped_and_names_the_owner(tmp_path):
    rows = [row("S1", "detractor_apology", comment='Support <b>never</b> answered & "nobody" called'),
            row("S2", "detractor_apology", locale="pl", comment=None, email_="zoe@example.com", first="Zoë")]
    batches, counts = build_batches(CFG, SIGNER, rows, folder="2026-10-07T1200", issued_at=ISSUED)
    assert dict(counts) == {"detractor_apology.en": 1, "detractor_apology.pl": 1}
    assert [(b.batch_id, [r.send_key for r in b.recipients]) for b in batches] == [
        ("followup.detractor_apology.en.000", ["followup/S1"]), ("followup.detractor_apology.pl.000", ["followup/S2"])]
    box = OutboxTransport(tmp_path)
    for b in batches:
        box.send(b)
    msg = email.message_from_bytes((tmp_path / "2026-10-07T1200" / "followup_S1.eml").read_bytes(), policy=policy.default)
    assert msg["Subject"] == "We are sorry: your feedback has reached your account manager"
    assert msg["To"] == "Jo Smith <jo@example.com>"
    assert msg["Message-ID"] == "<followup.S1@example.com>"
    assert msg["X-NPS-Send-Key"] == "followup/S1"
    token = SIGNER.sign("S1", "nps", None, ISSUED, "en")
    assert msg["List-Unsubscribe"] == f"<https://f.example.com/u?t={token}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert SIGNER.verify(token).survey_id == "S1"
    text = msg.get_body("plain").get_content()
    html = msg.get_body("html").get_content()
    assert "Hi Jo,\n" in text
    assert 'You wrote:\nSupport <b>never</b> answered & "nobody" called\n' in text
    assert (";\">Support &lt;b&gt;never&lt;/b&gt; answered &amp; &quot;nobody&quot; called</blockquote>" in html)
    assert "<b>never</b>" not in html
    assert "Best regards,\nGosia Król\nAcme CS" in text and "Best regards,<br>Gosia Król<br>Acme CS" in html
    assert "Smith &amp; Sons" in html and "Smith & Sons" in text
    assert f"https://f.example.com/u?t={token}" in text
    pl = email.message_from_bytes((tmp_path / "2026-10-07T1200" / "followup_S2.eml").read_bytes(), policy=policy.default)
    pl_text = pl.get_body("plain").get_content()
    # A neutral Polish greeting: a first name in the nominative ("Dzień dobry Agnieszka") reads stiff and
    # the vocative cannot be derived reliably, so the name is left out.
    assert pl_text.startswith("Dzień dobry,\n") and "Zoë" not in pl_text and "Z pozdrowieniami\nGosia Król" in pl_text
    assert "Twój komentarz" not in pl_text  # no comment, no quote block
    assert "Wypisz się z wiadomości o opiniach: https://f.example.com/u?t=" in pl_text


def test_sendgrid_payload_substitutes_per_recipient():
    long = "x" * (QUOTE_MAX_CHARS + 50)
    rows = [row("S1", "passive_improve", comment="<i>ok</i>"), row("S2", "passive_improve", comment=long, owner="", email_="kim@example.com")]
    (batch,), _ = build_batches(CFG, SIGNER, rows, folder="f", issued_at=ISSUED)
    p = build_payload(batch)
    assert p["subject"] == "What would make it a 10?"
    assert p["categories"] == ["nps-followup", "passive_improve", "en"]
    first, second = p["personalizations"]
    assert first["custom_args"] == {"survey_id": "followup.S1", "send_key": "followup/S1"}
    assert first["substitutions"]["%nps_quote_html%"].endswith("&lt;i&gt;ok&lt;/i&gt;</blockquote>")
    assert first["substitutions"]["%nps_owner_html%"] == "Gosia Król"
    assert first["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    quoted = second["substitutions"]["%nps_quote%"]
    assert quoted.endswith("x" * (QUOTE_MAX_CHARS - 1) + "…\n") and len(quoted) < QUOTE_MAX_CHARS + 40
    # What SendGrid does with the tags: the merged text names no tag any more.
    assert "%nps_" not in merge(p["content"][0]["value"], first["substitutions"])


def test_batches_hold_each_address_once_and_at_most_batch_size():
    cfg = fconfig()
    cfg = cfg.model_copy(update={"dispatch": cfg.dispatch.model_copy(update={"batch_size": 2})})
    rows = [row(f"S{i}", "csat_thanks", email_="same@example.com" if i < 2 else f"p{i}@example.com") for i in range(5)]
    batches, _ = build_batches(cfg, SIGNER, rows, folder="f", issued_at=ISSUED)
    assert [[r.send_key for r in b.recipients] for b in batches] == [
        ["followup/S0", "followup/S2"], ["followup/S1", "followup/S3"], ["followup/S4"]]


@pytest.mark.parametrize("locale", ["en", "pl"])
def test_promoter_referral_links_from_the_config(locale):
    links = {"referral": "https://ex.com/refer?a=1&b=2", "review": "https://ex.com/review"}
    t = render_followup(fconfig(promoter_links=links), "promoter_referral", locale)
    assert 'href="https://ex.com/refer?a=1&amp;b=2"' in t.html and 'href="https://ex.com/review"' in t.html
    assert "https://ex.com/refer?a=1&b=2" in t.text and "https://ex.com/review" in t.text
    # No case-study link configured: that ask is answered by replying.
    reply = {"en": "Tell your company's story in a case study: reply and we will get in touch.",
             "pl": "Opowiedz historię swojej firmy w studium przypadku: odpowiedz, a skontaktujemy się."}[locale]
    assert reply in t.text and reply in t.html
    bare = render_followup(fconfig(), "promoter_referral", locale)
    assert "href=\"https://ex.com" not in bare.html and "<li>" in bare.html
