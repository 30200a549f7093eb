"""Row validation of response chunks with Great Expectations (1.x, used directly on pandas).

One ephemeral GX context and one expectation suite are built per ingestion run
(``ResponseValidator``); every chunk DataFrame is validated against it and the unexpected row
indexes of each expectation become per-row reasons a person understands. Each expectation
carries its rule name in ``meta``; ``RULES`` lists them with their category:

- security: ``token_signature``, ``survey_unknown``, ``survey_type_mismatch``, ``token_answer``,
  and ``score_type_range`` when the score fits another survey type's scale (e.g. 9 on a CSAT);
- validation: everything else (missing fields, scores that are not whole numbers or fit no scale,
  timestamps, comment length, duplicates within the file).

GX's SQL datasource does not work on DuckDB, so validation always runs on the DataFrame.
"""

from __future__ import annotations

import os
import re
from datetime import datetime

import numpy as np
import pandas as pd

from nps.config import SCORE_RANGES

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no phoning home from a worker

SECURITY = "security"
VALIDATION = "validation"
#: rule → category, in the order reasons are written (security first).
RULES: dict[str, str] = {
    "token_signature": SECURITY,
    "survey_unknown": SECURITY,
    "survey_type_mismatch": SECURITY,
    "token_answer": SECURITY,
    "score_type_range": SECURITY,  # demoted to validation when the score fits no scale at all
    "row_format": VALIDATION,
    "token_missing": VALIDATION,
    "score_missing": VALIDATION,
    "score_integer": VALIDATION,
    "score_range": VALIDATION,
    "responded_at_missing": VALIDATION,
    "responded_at_format": VALIDATION,
    "responded_at_future": VALIDATION,
    "responded_before_sent": VALIDATION,
    "comment_length": VALIDATION,
    "duplicate": VALIDATION,
}
TYPE_LABEL = {"nps": "an NPS", "csat": "a CSAT", "ces": "a CES"}
_INT = re.compile(r"^[+-]?\d{1,9}$")
_WIDEST = (min(lo for lo, _ in SCORE_RANGES.values()), max(hi for _, hi in SCORE_RANGES.values()))


#: The columns of a prepared chunk the suite looks at (a narrow frame validates faster).
GX_COLUMNS = ["token_error", "ledger_type_checked", "token_type", "ledger_type", "parse_error", "token", "score_raw",
              "score_num", "score_on_scale", "token_answer_on_scale", "responded_at_raw", "responded_at_checked",
              "seconds_until_now", "seconds_after_sent", "comment"]


#: Text columns the suite only tests for nulls, a pattern or a length, handed to GX as categoricals:
#: GX filters the whole batch frame again for each metric (some thirty times a chunk), and a
#: categorical column is filtered as integer codes where an object column copies a Python
#: reference per row; the same values, half the validation time. (``token_type`` and
#: ``ledger_type`` are compared with each other, which categoricals with different categories
#: refuse; ``token`` and ``responded_at_raw`` are unique per row, costlier to encode than to copy.)
_GX_CATEGORIES = ("token_error", "ledger_type_checked", "parse_error", "score_raw", "responded_at_checked", "comment")


def _gx_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The chunk's columns the suite looks at, as GX validates them fastest."""
    frame = df[GX_COLUMNS].copy()
    for c in _GX_CATEGORIES:
        frame[c] = frame[c].astype("category")
    return frame


class ResponseValidator:
    """The GX suite for response rows; build once per run, call ``failures`` per chunk."""

    def __init__(self, *, comment_max_chars: int, now: datetime) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.comment_max_chars = comment_max_chars
        self.now = now
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = self.context.data_sources.add_pandas("nps_ingest").add_dataframe_asset("response_chunk")
        self.batch_definition = asset.add_batch_definition_whole_dataframe("chunk")
        E = gx.expectations
        lo, hi = _WIDEST
        # Numeric float columns keep GX on its vectorised paths (datetimes and nullable ints are
        # checked element by element); ``prepare`` derives them.
        exps = [
            E.ExpectColumnValuesToBeNull(column="token_error", meta={"rule": "token_signature"}),
            E.ExpectColumnValuesToNotBeNull(column="ledger_type_checked", meta={"rule": "survey_unknown"}),
            E.ExpectColumnPairValuesToBeEqual(column_A="token_type", column_B="ledger_type",
                                              ignore_row_if="either_value_is_missing", meta={"rule": "survey_type_mismatch"}),
            E.ExpectColumnValuesToBeNull(column="parse_error", meta={"rule": "row_format"}),
            E.ExpectColumnValuesToNotBeNull(column="token", meta={"rule": "token_missing"}),
            E.ExpectColumnValuesToNotBeNull(column="score_raw", meta={"rule": "score_missing"}),
            E.ExpectColumnValuesToMatchRegex(column="score_raw", regex=_INT.pattern, meta={"rule": "score_integer"}),
            E.ExpectColumnValuesToBeBetween(column="score_num", min_value=lo, max_value=hi, meta={"rule": "score_range"}),
            # position of the score on its survey type's scale: 0 = lowest answer, 1 = highest
            E.ExpectColumnValuesToBeBetween(column="score_on_scale", min_value=0, max_value=1, meta={"rule": "score_type_range"}),
            E.ExpectColumnValuesToBeBetween(column="token_answer_on_scale", min_value=0, max_value=1, meta={"rule": "token_answer"}),
            E.ExpectColumnValuesToNotBeNull(column="responded_at_raw", meta={"rule": "responded_at_missing"}),
            E.ExpectColumnValuesToNotBeNull(column="responded_at_checked", meta={"rule": "responded_at_format"}),
            E.ExpectColumnValuesToBeBetween(column="seconds_until_now", min_value=0, meta={"rule": "responded_at_future"}),
            E.ExpectColumnValuesToBeBetween(column="seconds_after_sent", min_value=0, meta={"rule": "responded_before_sent"}),
            E.ExpectColumnValueLengthsToBeBetween(column="comment", max_value=comment_max_chars, meta={"rule": "comment_length"}),
        ]
        suite = gx.ExpectationSuite(name="nps_responses")
        for e in exps:
            suite.add_expectation(e)
        self.suite = self.context.suites.add(suite)

    def _release(self) -> None:
        """Drop what GX caches per batch (the chunk's data and its metrics): memory stays flat."""
        engine = self.batch_definition.data_asset.datasource.get_execution_engine()
        cache = getattr(engine, "_metric_cache", None)
        if isinstance(cache, dict):
            cache.clear()
        manager = engine.batch_manager
        getattr(manager, "_batch_data_cache", {}).clear()
        manager.reset_batch_cache()

    def failures(self, df: pd.DataFrame) -> dict[str, np.ndarray]:
        """rule → boolean mask (aligned with ``df``'s rows) of the rows that break it."""
        from great_expectations.execution_engine import pandas_execution_engine as pee

        # GX fingerprints every batch DataFrame (hashing all its values, twice per validation) just
        # for the batch markers; a chunk lives for one validation, so skip it: the checks are the same.
        threshold, pee.HASH_THRESHOLD = pee.HASH_THRESHOLD, 0
        try:
            batch = self.batch_definition.get_batch(batch_parameters={"dataframe": _gx_frame(df)})
            result = batch.validate(self.suite, result_format={"result_format": "COMPLETE", "partial_unexpected_count": 0,
                                                               "return_unexpected_index_query": False})
        finally:
            pee.HASH_THRESHOLD = threshold
        self._release()
        pos = pd.Series(np.arange(len(df)), index=df.index)
        masks: dict[str, np.ndarray] = {}
        for r in result.results:
            rule = r.expectation_config.meta["rule"]
            if r.exception_info and r.exception_info.get("raised_exception"):
                raise RuntimeError(f"expectation for rule {rule} could not run: {r.exception_info.get('exception_message')}")
            mask = masks.setdefault(rule, np.zeros(len(df), dtype=bool))
            idx = r.result.get("unexpected_index_list") or []
            if idx:
                mask[pos.loc[list(idx)].to_numpy()] = True
        return masks


def prepare(chunk: pd.DataFrame, tokens: pd.DataFrame, ledger: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """Parse a raw chunk into the typed columns the suite checks (nothing is rejected here)."""
    df = pd.concat([chunk.reset_index(drop=True), tokens.reset_index(drop=True)], axis=1)
    df["token_ok"] = df["survey_id"].notna()
    # The ledger row of each response by position (a left join; raises when a survey_id repeats).
    at = pd.Index(ledger["survey_id"].astype(object)).get_indexer(df["survey_id"]) if len(ledger) else np.full(len(df), -1)
    found = at >= 0
    ledger_type = np.full(len(df), None, dtype=object)
    sent_at = np.full(len(df), np.datetime64("NaT"), dtype="datetime64[us]")
    if found.any():
        ledger_type[found] = ledger["ledger_type"].to_numpy(dtype=object)[at[found]]
        sent_at[found] = pd.to_datetime(ledger["sent_at"]).to_numpy(dtype="datetime64[us]")[at[found]]
    df["ledger_type"], df["sent_at"] = ledger_type, sent_at
    df["ledger_type"] = df["ledger_type"].astype(object).where(df["ledger_type"].notna(), None)
    df["survey_type"] = df["ledger_type"].where(df["ledger_type"].notna(), df["token_type"])
    df["sent_at"] = pd.to_datetime(df["sent_at"]).astype("datetime64[us]")
    df["score_raw"] = df["score"]
    # Vectorised match; a whole number of at most 9 digits (``_INT``) always fits int64 exactly.
    raw = df["score_raw"].astype(object)
    is_str = raw.map(type).eq(str).to_numpy()
    is_int = np.zeros(len(df), dtype=bool)
    if is_str.any():
        is_int[is_str] = raw[is_str].astype(str).str.match(_INT.pattern).to_numpy(dtype=bool)
    score = np.zeros(len(df), dtype="int64")
    if is_int.any():
        score[is_int] = np.fromiter(map(int, raw[is_int].tolist()), dtype="int64", count=int(is_int.sum()))
    df["score"] = pd.array(score, dtype="Int64")
    df.loc[~is_int, "score"] = pd.NA
    df["responded_at_raw"] = df["responded_at"]
    df["has_responded_at"] = df["responded_at_raw"].notna()
    parsed = pd.to_datetime(df["responded_at_raw"], utc=True, errors="coerce", format="ISO8601")
    df["responded_at"] = parsed.dt.tz_convert(None).astype("datetime64[us]")
    # Derived columns for the suite (see ResponseValidator).
    # Only genuine tokens are looked up in the ledger; the others are marked as not applicable.
    df["ledger_type_checked"] = df["ledger_type"].where(df["token_ok"], "n/a").astype(object)
    df["score_num"] = df["score"].astype("float64")
    lo = df["survey_type"].map({t: float(r[0]) for t, r in SCORE_RANGES.items()}).astype("float64")
    hi = df["survey_type"].map({t: float(r[1]) for t, r in SCORE_RANGES.items()}).astype("float64")
    df["score_on_scale"] = (df["score_num"] - lo) / (hi - lo)
    df["token_answer_on_scale"] = (df["token_answer"].astype("float64") - lo) / (hi - lo)
    df["responded_at_checked"] = np.where(df["has_responded_at"] & df["responded_at"].isna(), None, "ok")
    df["responded_at_checked"] = df["responded_at_checked"].astype(object)
    resp = df["responded_at"]
    df["seconds_until_now"] = (pd.Timestamp(now) - resp).dt.total_seconds()
    df["seconds_after_sent"] = (resp - df["sent_at"]).dt.total_seconds()
    return df


def _fmt_ts(ts) -> str:  # noqa: ANN001
    return pd.Timestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def reasons(df: pd.DataFrame, masks: dict[str, np.ndarray], now: datetime, comment_max_chars: int) -> pd.DataFrame:
    """Per failing row: category, rule (the first broken) and reason (all of them, in words)."""
    masks = {k: v.copy() for k, v in masks.items()}
    n = len(df)
    z = np.zeros(n, dtype=bool)
    parse = masks.get("row_format", z)
    # A row that could not be read has nothing else worth reporting.
    for rule in masks:
        if rule != "row_format":
            masks[rule] &= ~parse
    # The widest-scale message is enough when the type-specific one also fires, and vice versa.
    sr, tr = masks.get("score_range", z), masks.get("score_type_range", z)
    masks["score_range"] = sr & ~tr
    fits_no_scale = tr & sr
    any_bad = np.zeros(n, dtype=bool)
    for m in masks.values():
        any_bad |= m
    rows = np.flatnonzero(any_bad)
    records = df.iloc[rows].to_dict("records") if len(rows) else []
    out = []
    for i, r in zip(rows, records, strict=True):
        found: list[tuple[str, str, str]] = []
        for rule, cat in RULES.items():
            m = masks.get(rule)
            if m is None or not m[i]:
                continue
            found.append((_category(rule, cat, fits_no_scale[i]), rule, _reason(rule, r, now, comment_max_chars)))
        security = [f for f in found if f[0] == SECURITY]
        first = (security or found)[0]
        out.append((i, first[0], first[1], "; ".join(f[2] for f in found)))
    return pd.DataFrame(out, columns=["pos", "category", "rule", "reason"])


def _category(rule: str, cat: str, fits_no_scale: bool) -> str:
    if rule == "score_type_range" and fits_no_scale:
        return VALIDATION
    return cat


def _reason(rule: str, r: dict, now: datetime, comment_max_chars: int) -> str:
    st = r["survey_type"]
    if rule == "row_format":
        return str(r["parse_error"])
    if rule == "token_signature":
        return str(r["token_error"])
    if rule == "survey_unknown":
        return f"survey {r['survey_id']} was never dispatched (it is not in the send ledger as sent)"
    if rule == "survey_type_mismatch":
        return (f"the token is for {TYPE_LABEL.get(r['token_type'], r['token_type'])} survey but survey "
                f"{r['survey_id']} is {TYPE_LABEL.get(r['ledger_type'], r['ledger_type'])} survey")
    if rule == "token_answer":
        lo, hi = SCORE_RANGES[st]
        return f"the token's answer {r['token_answer']} is outside {lo}–{hi} for {TYPE_LABEL[st]} survey"
    if rule == "token_missing":
        return "the token is missing"
    if rule == "score_missing":
        return "the score is empty"
    if rule == "score_integer":
        return f"score {r['score_raw']!r} is not a whole number"
    if rule == "score_range":
        return f"score {r['score']} is outside {_WIDEST[0]}–{_WIDEST[1]}, the widest survey scale"
    if rule == "score_type_range":
        lo, hi = SCORE_RANGES[st]
        return f"score {r['score']} is outside {lo}–{hi} for {TYPE_LABEL[st]} survey"
    if rule == "responded_at_missing":
        return "responded_at is empty"
    if rule == "responded_at_format":
        return f"responded_at {r['responded_at_raw']!r} is not a timestamp (use ISO 8601, e.g. 2026-11-03T14:05:00Z)"
    if rule == "responded_at_future":
        return f"responded_at {_fmt_ts(r['responded_at'])} is in the future (now {_fmt_ts(now)} UTC)"
    if rule == "responded_before_sent":
        return f"responded_at {_fmt_ts(r['responded_at'])} is before the survey was sent ({_fmt_ts(r['sent_at'])})"
    if rule == "duplicate":
        return f"duplicate of line {r['dup_of']} (same survey and response time)"
    if rule == "comment_length":
        return f"the comment has {len(r['comment']):,} characters, more than the limit of {comment_max_chars:,}"
    return rule
