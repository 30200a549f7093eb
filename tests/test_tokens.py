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
