"""The vectorised / one-shot fast paths give exactly what the plain per-row code gives."""

from __future__ import annotations

import hashlib
from datetime import datetime

import pandas as pd

from nps.ingest.load import response_ids
from nps.ingest.validation import prepare
from nps.ingest.verify import verify_tokens
from nps.tokens import TokenError, TokenSigner

SECRET = "test-secret-0123456789abcdef"


def _reference(signer: TokenSigner, tok):  # noqa: ANN001, ANN202 - the per-row code the fast path replaces
    if tok is None:
        return (None, None, None, None)
    try:
        t = signer.verify(tok)
        return (t.survey_id, t.survey_type, t.answer, None)
    except TokenError as e:
        return (None, None, None, f"token rejected: {e}")
    except Exception as e:  # noqa: BLE001
        return (None, None, None, f"token rejected: malformed token ({type(e).__name__})")


def test_verify_tokens_matches_the_reference_for_good_and_bad_tokens():
    signer = TokenSigner(SECRET)
    good = signer.sign("S-1", "nps")
    with_answer = signer.sign("S-2", "csat", 4)
    other_key = TokenSigner("another-secret-0123456789").sign("S-3", "ces")
    tokens = [good, with_answer, f"  {good} ", good[:-2] + "xx", other_key, "v2" + good[2:], "v1.abc", "v1.é.x",
              "garbage", "", None, good, "v1.a.b.c", with_answer + "\n"]
    got = verify_tokens(signer, pd.Series(tokens, dtype=object))
    want = [_reference(signer, t) for t in tokens]
    assert list(got["survey_id"]) == [w[0] for w in want]
    assert list(got["token_type"]) == [w[1] for w in want]
    assert [None if pd.isna(a) else int(a) for a in got["token_answer"]] == [w[2] for w in want]
    assert list(got["token_error"]) == [w[3] for w in want]
    assert want[0][:3] == ("S-1", "nps", None) and want[1][:3] == ("S-2", "csat", 4)
    assert want[3][3] == "token rejected: invalid signature: the token was forged or altered"


def test_prepare_parses_scores_like_int():
    raw = ["7", "+7", "007", "-3", "7.5", "ten", None, "1234567890", "10"]
    n = len(raw)
    chunk = pd.DataFrame({"line": range(2, n + 2), "token": ["t"] * n, "score": pd.Series(raw, dtype=object),
                          "responded_at": ["2026-11-03T10:00:00Z"] * n, "comment": [None] * n, "locale": [None] * n,
                          "parse_error": [None] * n})
    tokens = pd.DataFrame({"survey_id": ["S-1"] * n, "token_type": ["nps"] * n, "token_error": [None] * n}, dtype=object)
    tokens["token_answer"] = pd.array([None] * n, dtype="Int64")
    ledger = pd.DataFrame({"survey_id": ["S-1"], "ledger_type": ["nps"],
                           "sent_at": pd.Series([datetime(2026, 11, 2)], dtype="datetime64[us]")})
    df = prepare(chunk, tokens, ledger, datetime(2026, 11, 10))
    assert [None if pd.isna(s) else int(s) for s in df["score"]] == [7, 7, 7, -3, None, None, None, None, 10]
    assert list(df["score_on_scale"].round(2).fillna(-1)) == [0.7, 0.7, 0.7, -0.3, -1, -1, -1, -1, 1.0]


def test_response_ids_format_microseconds():
    df = pd.DataFrame({"survey_id": ["S-1"], "score": [9], "comment": [None],
                       "responded_at": pd.Series([datetime(2026, 11, 3, 10, 15, 0, 120)], dtype="datetime64[us]")})
    import hashlib

    want = hashlib.sha256(b"S-1|2026-11-03T10:15:00.000120|9|").hexdigest()[:32]
    assert response_ids(df) == [want]


def test_bulk_response_ids_match_the_python_ones():
    """The in-memory DuckDB sha256 gives every id the per-row Python code gives (and falls back to it)."""
    from nps.ingest.load import _IdHasher

    stamps = [datetime(2026, 11, 3, 10, 15, 0, 120), datetime(2026, 1, 1), datetime(2025, 12, 31, 23, 59, 59, 999999),
              datetime(2026, 11, 3, 10, 15, 0, 120), datetime(1999, 2, 28, 1, 2, 3, 4)]
    df = pd.DataFrame({"survey_id": pd.Series(["S-1", "S-ż", "S|3", "S-1", "x" * 300], dtype=object),
                       "score": [9, 0, -3, 9, 10],
                       "comment": pd.Series([None, "żółć, \"quoted\"\nline 🙂", "", "  spaced  ", "a|b"], dtype=object),
                       "responded_at": pd.Series(stamps, dtype="datetime64[us]")})
    hasher = _IdHasher()
    try:
        assert hasher(df) == response_ids(df)
        want = hashlib.sha256("S-ż|2026-01-01T00:00:00.000000|0|żółć, \"quoted\"\nline 🙂".encode()).hexdigest()[:32]
        assert hasher(df)[1] == want
        # as the loader builds its rows: pandas' str dtype, a missing comment NaN (hashed as "nan")
        mixed = df.astype({"survey_id": "str", "comment": "str"})
        assert mixed["comment"].isna().sum() == 1 and hasher(mixed) == response_ids(mixed)
        old = df.copy()
        old["responded_at"] = pd.Series([datetime(999, 1, 1)] * 5, dtype="datetime64[us]")
        assert hasher(old) == response_ids(old)  # a three-digit year: the Python code formats it
        odd = df.copy()
        odd.loc[1, "comment"] = "lone \ud800 surrogate"
        assert hasher(odd) == response_ids(odd)  # not Arrow text: the Python code hashes it
        assert len(set(hasher(df))) == 5 and all(len(i) == 32 for i in hasher(df))
    finally:
        hasher.close()
