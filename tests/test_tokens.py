"""Survey tokens cannot be forged or altered."""

from __future__ import annotations

import pytest

from nps.tokens import SurveyToken, TokenError, TokenSigner

SECRET = "unit-test-secret-0123456789abcdef"


def test_round_trip():
    s = TokenSigner(SECRET)
    tok = s.sign("S123", "nps", 9)
    assert tok.startswith("v1.")
    assert s.verify(tok) == SurveyToken("S123", "nps", 9)
    assert s.verify(s.sign("S123", "ces")) == SurveyToken("S123", "ces", None)


def test_signature_is_deterministic_and_key_dependent():
    assert TokenSigner(SECRET).sign("S1", "csat", 4) == TokenSigner(SECRET).sign("S1", "csat", 4)
    assert TokenSigner(SECRET).sign("S1", "csat", 4) != TokenSigner(SECRET + "x").sign("S1", "csat", 4)


def test_altered_payload_is_rejected():
    s = TokenSigner(SECRET)
    good = s.sign("S123", "nps", 3)
    other = s.sign("S123", "nps", 10)
    forged = ".".join([good.split(".")[0], other.split(".")[1], good.split(".")[2]])
    with pytest.raises(TokenError, match="forged or altered"):
        s.verify(forged)


@pytest.mark.parametrize("token", ["", "abc", "v2.a.b", "v1.only-two", "v1.ąę.sig"])
def test_malformed(token):
    with pytest.raises(TokenError):
        TokenSigner(SECRET).verify(token)


def test_wrong_secret_rejected():
    tok = TokenSigner("another-secret-0123456789").sign("S1", "nps", 7)
    with pytest.raises(TokenError, match="forged or altered"):
        TokenSigner(SECRET).verify(tok)


def test_short_secret_refused():
    with pytest.raises(TokenError, match="at least 16"):
        TokenSigner("short")


def test_v2_carries_issue_time_and_locale_and_v1_still_verifies():
    from datetime import datetime

    s = TokenSigner(SECRET)
    sent = datetime(2026, 11, 3, 9, 30, 15)
    tok = s.sign("S123", "csat", 4, issued_at=sent, locale="pl")
    assert tok.startswith("v2.")
    t = s.verify(tok)
    assert (t.survey_id, t.survey_type, t.answer, t.issued_at, t.locale) == ("S123", "csat", 4, sent, "pl")
    assert s.fields(tok) == ("S123", "csat", 4, 1793698215, "pl")
    old = s.sign("S123", "csat", 4)  # a v1 link already in someone's mailbox
    assert old.startswith("v1.") and s.verify(old) == SurveyToken("S123", "csat", 4)
    assert s.verify(old).issued_at is None and s.fields(old) == ("S123", "csat", 4, None, None)
    bare = s.sign("S123", "csat", None, sent, "pl")  # what an invitation carries since 2026-11-28
    assert s.fields(bare) == ("S123", "csat", None, 1793698215, "pl")
    # Byte for byte what the signer produced before its one-shot HMAC path (links in mailboxes).
    assert bare == "v2.UzEyM3xjc2F0fHwxNzkzNjk4MjE1fHBs.8pI7LbBhVJcdZFrpAcQ3_W94QigWYxrAty2xNdOzZbk"
    assert old == "v1.UzEyM3xjc2F0fDQ.ECRBht8C-0TvfH9kLphgX9JKZg-ouwa-j6fiwC_FIDg"


def test_a_v1_payload_relabelled_v2_is_refused():
    s = TokenSigner(SECRET)
    tok = s.sign("S1", "nps", 9)
    with pytest.raises(TokenError, match="malformed token payload"):
        s.verify("v2" + tok[2:])
    assert s.fields("v2" + tok[2:]) is None


@pytest.mark.parametrize("secret", [
    pytest.param("new-secret-0123456789abcdef,old-secret-0123456789abcdef", id="comma"),
    pytest.param("new-secret-0123456789abcdef\nold-secret-0123456789abcdef\n", id="newline"),
    pytest.param(["new-secret-0123456789abcdef", "old-secret-0123456789abcdef"], id="list"),
])
def test_rotation_first_secret_signs_all_verify(secret):
    from nps.tokens import ForgedTokenError

    rotated = TokenSigner(secret)
    old_tok = TokenSigner("old-secret-0123456789abcdef").sign("S1", "nps", 7)
    assert rotated.verify(old_tok) == SurveyToken("S1", "nps", 7)
    assert rotated.fields(old_tok) == ("S1", "nps", 7, None, None)
    assert rotated.sign("S1", "nps", 7) == TokenSigner("new-secret-0123456789abcdef").sign("S1", "nps", 7)
    with pytest.raises(ForgedTokenError):
        TokenSigner("old-secret-0123456789abcdef").verify(rotated.sign("S1", "nps", 7))
    assert "secret-" not in repr(rotated)


def test_each_rotated_secret_must_be_long_enough():
    with pytest.raises(TokenError, match="at least 16"):
        TokenSigner("new-secret-0123456789abcdef,short")
    with pytest.raises(TokenError, match="empty"):
        TokenSigner(" , \n")
