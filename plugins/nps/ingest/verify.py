"""Survey-token checks for a chunk of responses: signature, and what the ledger says.

A token proves which survey a response belongs to. Everything that makes a token untrustworthy
is a security finding: a forged, altered or malformed signature, a survey that was never
dispatched, or a token whose survey type differs from the ledger's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nps.tokens import TokenError, TokenSigner


def _verify_slow(signer: TokenSigner, tok: str) -> tuple:
    try:
        t = signer.verify(tok)
        return (t.survey_id, t.survey_type, t.answer, None)
    except TokenError as e:
        return (None, None, None, f"token rejected: {e}")
    except Exception as e:  # noqa: BLE001 - garbage must never stop the file
        return (None, None, None, f"token rejected: malformed token ({type(e).__name__})")


def verify_tokens(signer: TokenSigner, tokens: pd.Series) -> pd.DataFrame:
    """Per row: survey_id, token_type, token_answer and token_error (None when genuine)."""
    # Genuine tokens through ``TokenSigner.fields_many`` (the whole chunk in a few array operations
    # around one HMAC per token); anything else goes to ``verify`` so that rejections keep their
    # exact messages.
    toks = tokens.tolist()
    sid, typ, ans, _, _ = signer.fields_many(toks)
    errors = np.full(len(toks), None, dtype=object)
    for i in np.flatnonzero(pd.isna(sid)).tolist():
        tok = toks[i]
        if tok is not None:  # a missing token is a validation rule, not a forgery
            sid[i], typ[i], ans[i], errors[i] = _verify_slow(signer, tok)
    out = pd.DataFrame({"survey_id": sid, "token_type": typ, "token_error": errors}, index=tokens.index, dtype=object)
    out["token_answer"] = pd.array(ans, dtype="Int64")
    return out


def ledger_lookup(warehouse, conn, survey_ids: pd.Series) -> pd.DataFrame:  # noqa: ANN001
    """survey_id → ledger_type, sent_at for the dispatched surveys among ``survey_ids``."""
    keys = pd.DataFrame({"survey_id": survey_ids.dropna().drop_duplicates().astype(object)})
    sql = warehouse.read_sql("ingest/ledger_for_keys").rstrip().rstrip(";")
    if keys.empty:
        return pd.DataFrame({"survey_id": pd.Series([], dtype=object), "ledger_type": pd.Series([], dtype=object),
                             "sent_at": pd.Series([], dtype="datetime64[us]")})
    if warehouse.is_duckdb:
        # DuckDB reads the keys in place and hands back a DataFrame: no row-by-row round trip. As an
        # Arrow table: DuckDB scans pandas' Python strings holding the GIL (the writer needs it).
        import pyarrow as pa

        raw = conn.connection.driver_connection
        raw.register("ingest_stage_keys", pa.table({"survey_id": pa.array(keys["survey_id"].tolist(), pa.string())}))
        try:
            out = raw.execute(sql).df()
        finally:
            raw.unregister("ingest_stage_keys")
    else:
        warehouse.run_file(conn, "ingest/stage_keys")
        warehouse.run_file(conn, "ingest/clear_stage_keys")
        warehouse.load_df(conn, "ingest_stage_keys", keys)
        # A temporary table has no statistics until analysed: without them the planner guesses.
        warehouse.run_sql(conn, "ANALYZE ingest_stage_keys")
        # The driver cursor directly: 100,000 plain tuples, no per-row Row objects.
        with conn.connection.driver_connection.cursor() as cur:
            cur.execute(sql)
            rows = cur.fetchall()
        out = pd.DataFrame(rows, columns=["survey_id", "ledger_type", "sent_at"])
    out["survey_id"] = out["survey_id"].astype(object)
    out["ledger_type"] = out["ledger_type"].astype(object)
    out["sent_at"] = pd.to_datetime(out["sent_at"]).astype("datetime64[us]")
    return out
