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


@pytest.mark.parametrize("secret", [
    pytest.param(SECRET, id="one-secret"),
    pytest.param([SECRET, "old-secret-0123456789abcdef"], id="rotation"),
])
def test_fields_many_gives_what_fields_gives(secret):
    """The bulk path (ingestion) reads every token exactly as ``fields`` does, odd ones included."""
    import base64
    import hashlib
    import hmac
    from datetime import datetime

    signer = TokenSigner(secret)
    old = TokenSigner("old-secret-0123456789abcdef")
    good = signer.sign("S-1", "nps")
    v2 = signer.sign("S-ż", "csat", 4, datetime(2026, 11, 3, 9, 30), "pl")
    tokens = [good, v2, signer.sign("S2", "ces", None, datetime(2026, 11, 3), None), signer.sign("S3", "nps", -5),
              old.sign("S4", "ces", 7, datetime(2030, 1, 1), "de-AT"), f" {good}", good + " ", good[:-2] + "xx",
              "v2" + good[2:], "v3" + good[2:], "v1.abc", "v1.é.x", "garbage", "", None, "v1.a.b.c", v2 + "\n"]

    def signed(payload: str, version: str = "v1") -> str:  # what only a holder of the secret can make
        mac = hmac.digest(SECRET.encode(), payload.encode(), hashlib.sha256)
        return f"{version}.{payload}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"

    for raw in ["S|nps|+5", "S|nps| 5", "S|nps|5_0", "S|xyz|1", "S|nps", "S|nps||", "S|nps|1|2|x", "S|nps|٣",
                "S|nps|99999999999999999999", "S|nps|1||", "S|nps||12|", "S|nps|3|x|pl", "S|nps|3|-1|"]:
        p = base64.urlsafe_b64encode(raw.encode()).decode()
        tokens += [signed(p.rstrip("=")), signed(p), signed(p.rstrip("="), "v2"), signed(p.rstrip("=") + "A", "v2")]
    tokens += [signed(base64.urlsafe_b64encode(b"\xff|nps|").decode()), signed("A"), signed("AB+/"), signed("")]
    columns = signer.fields_many(tokens)
    got = [tuple(row) for row in zip(*columns, strict=True)]
    want = [signer.fields(t) or (None,) * 5 for t in tokens]
    assert got == want
    assert got[1] == ("S-ż", "csat", 4, 1793698200, "pl") and got[3] == ("S3", "nps", -5, None, None)
    assert sum(w[0] is not None for w in want) == (5 if isinstance(secret, list) else 4) + 16  # genuine, of every kind
