"""Chunked readers for response files: CSV (any export) and JSON Lines.

Both yield DataFrames of at most ``chunk_rows`` rows with the columns ``line`` (physical line
number where the row starts), ``original`` (the row's text as it stood in the file), the
response fields as strings or None (``token``, ``score``, ``comment``, ``responded_at``,
``locale``), and ``parse_rule``/``parse_error`` for rows that could not be read (ragged rows,
bad bytes, bad JSON). Memory is bounded by the chunk size, not the file size.

Sniffing: a UTF-8 or UTF-16 byte-order mark is honoured; otherwise the text must be UTF-8 and a
line with other bytes is quarantined on its own (the rest of the file still loads). Windows line
endings are accepted. The CSV delimiter (``,`` ``;`` or tab) is taken from the header line.
Blank lines are not rows. A file is rejected whole (``RejectedFileError``) when it is empty, has
no usable header, or its quoting never closes.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from typing import BinaryIO

import pandas as pd

from nps.ingest import DEFAULT_CHUNK_ROWS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS, RESPONSE_COLUMNS, RejectedFileError

csv.field_size_limit(16 * 1024 * 1024)  # long comments are quarantined by rule, not by the parser
_FRAME_COLUMNS = ("line", "original", "token", "score", "responded_at", "comment", "locale", "parse_rule", "parse_error")
_MAX_ORIGINAL = 200_000  # characters of a quarantined line kept verbatim


def _lines(fobj: BinaryIO) -> Iterator[tuple[str, str | None]]:
    """(text ending in at most one ``\\n``, decode error or None) per physical line."""
    head = fobj.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = io.TextIOWrapper(io.BufferedReader(_Prefixed(head, fobj)), encoding="utf-16", newline="")
        for line in text:
            yield line.replace("\r\n", "\n").replace("\r", "\n"), None
        return
    if head.startswith(codecs.BOM_UTF8):
        head = head[3:]
    for raw in _Prefixed(head, fobj):
        if raw.endswith(b"\r\n"):
            raw = raw[:-2] + b"\n"
        try:
            yield raw.decode("utf-8"), None
        except UnicodeDecodeError as err:
            bad = raw[err.start : err.start + 1].hex().upper()
            yield (
                raw.decode("utf-8", errors="replace"),
                f"line is not valid UTF-8 (byte 0x{bad} at position {err.start + 1}); re-export the file as UTF-8",
            )


class _Prefixed(io.RawIOBase):
    """A binary stream with some already-read bytes put back in front."""

    def __init__(self, prefix: bytes, rest: BinaryIO) -> None:
        self._prefix, self._rest = prefix, rest

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # noqa: ANN001
        if self._prefix:
            n = min(len(b), len(self._prefix))
            b[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._rest.read(len(b))
        b[: len(data)] = data
        return len(data)

    def __iter__(self):
        buffered = io.BufferedReader(self, buffer_size=1 << 20)
        return iter(buffered)


def _blank(value: str | None) -> str | None:
    if value is None:
        return None
    v = value.strip()
    return v or None


def _clip(original: str) -> str:
    return original if len(original) <= _MAX_ORIGINAL else original[:_MAX_ORIGINAL] + "…[truncated]"


class _Batch:
    """Rows as tuples in ``_FRAME_COLUMNS`` order; one DataFrame per chunk."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []

    @property
    def n(self) -> int:
        return len(self.rows)

    def bad(self, line: int, original: str, rule: str, error: str) -> None:
        self.rows.append((line, _clip(original), None, None, None, None, None, rule, error))

    def add(self, line: int, original: str, values: dict[str, str | None]) -> None:
        comment = values.get("comment")
        self.rows.append((line, _clip(original), _blank(values.get("token")), _blank(values.get("score")),
                          _blank(values.get("responded_at")),
                          # a comment keeps its own spacing; an all-blank one is no comment
                          comment if comment is not None and comment.strip() else None,
                          _blank(values.get("locale")), None, None))

    def frame(self) -> pd.DataFrame:
        cols = list(zip(*self.rows, strict=True)) if self.rows else [()] * len(_FRAME_COLUMNS)
        # object dtype keeps None as None (pandas 3 would infer its str dtype with NaN)
        df = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in zip(_FRAME_COLUMNS, cols, strict=True)})
        df["line"] = df["line"].astype("int64")
        return df


def _sniff_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv_chunks(fobj: BinaryIO, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """Rows of a CSV response export, in chunks."""
    lines = _lines(fobj)
    consumed: list[tuple[str, str | None]] = []
    line_no = 0

    # Header: the first non-blank line.
    for text, err in lines:
        line_no += 1
        if text.strip():
            if err:
                raise RejectedFileError(f"the header line is not valid UTF-8; re-export the file as UTF-8 ({err})")
            header_text = text
            break
    else:
        raise RejectedFileError("the file is empty (no header line)")
    delimiter = _sniff_delimiter(header_text)
    header = [h.strip().lower() for h in next(csv.reader([header_text], delimiter=delimiter))]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise RejectedFileError(
            f"the header has no {', '.join(missing)} column{'s' if len(missing) > 1 else ''} "
            f"(found: {', '.join(header) or 'nothing'}; required: {', '.join(REQUIRED_COLUMNS)}; "
            f"optional: {', '.join(OPTIONAL_COLUMNS)})"
        )
    index = {c: header.index(c) for c in RESPONSE_COLUMNS if c in header}
    width = len(header)

    def feed() -> Iterator[str]:
        for item in lines:
            consumed.append(item)
            yield item[0]

    reader = csv.reader(feed(), delimiter=delimiter, strict=True)
    batch = _Batch()
    rows = batch.rows
    it, isc, ira = index["token"], index["score"], index["responded_at"]
    ic, il = index.get("comment"), index.get("locale")
    next_line = line_no + 1
    while True:
        try:
            rec = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            if consumed and all(not t.strip() for t, _ in consumed):
                break
            raise RejectedFileError(f"CSV quoting is broken from line {next_line}: {err}") from None
        start = next_line
        next_line += len(consumed)
        if len(consumed) == 1:
            text, err = consumed[0]
            original = text[:-1] if text.endswith("\n") else text
        else:
            original = "".join(t for t, _ in consumed).rstrip("\n")
            err = next((e for _, e in consumed if e), None)
        consumed.clear()
        if not rec or (len(rec) == 1 and not rec[0].strip()):
            continue  # blank line
        if err:
            batch.bad(start, original, "encoding", err)
        elif "\x00" in original:
            batch.bad(start, original.replace("\x00", "\\0"), "nul_byte", "line contains NUL bytes")
        elif len(rec) != width:
            batch.bad(start, original, "ragged_row", f"line has {len(rec)} fields, the header has {width}")
        else:
            comment = rec[ic] if ic is not None else None
            rows.append((
                start, original if len(original) <= _MAX_ORIGINAL else _clip(original),
                rec[it].strip() or None, rec[isc].strip() or None, rec[ira].strip() or None,
                comment if comment and comment.strip() else None,
                (rec[il].strip() or None) if il is not None else None, None, None,
            ))
        if len(rows) >= chunk_rows:
            yield batch.frame()
            batch = _Batch()
            rows = batch.rows
    if batch.n:
        yield batch.frame()


def _json_text(value) -> str | None:  # noqa: ANN001
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float, str)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def read_jsonl_chunks(fobj: BinaryIO, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """Rows of a JSON Lines response file (one object per line), in chunks."""
    batch = _Batch()
    seen_any = False
    for line_no, (text, err) in enumerate(_lines(fobj), 1):
        if not text.strip():
            continue
        seen_any = True
        original = text.rstrip("\n")
        if err:
            batch.bad(line_no, original, "encoding", err)
        elif "\x00" in original:
            batch.bad(line_no, original.replace("\x00", "\\0"), "nul_byte", "line contains NUL bytes")
        else:
            try:
                obj = json.loads(original)
            except ValueError as jerr:
                batch.bad(line_no, original, "json", f"line is not valid JSON ({jerr.args[0].split(':')[0]})")
            else:
                if not isinstance(obj, dict):
                    batch.bad(line_no, original, "json", f"line is a JSON {type(obj).__name__}, not an object")
                else:
                    obj = {str(k).strip().lower(): v for k, v in obj.items()}
                    batch.add(line_no, original, {k: _json_text(obj.get(k)) for k in RESPONSE_COLUMNS})
        if batch.n >= chunk_rows:
            yield batch.frame()
            batch = _Batch()
    if not seen_any:
        raise RejectedFileError("the file is empty (no JSON lines)")
    if batch.n:
        yield batch.frame()


def read_chunks(fobj: BinaryIO, file_format: str, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    if file_format == "csv":
        return read_csv_chunks(fobj, chunk_rows)
    if file_format == "jsonl":
        return read_jsonl_chunks(fobj, chunk_rows)
    raise RejectedFileError(f"unknown response file format {file_format!r} (use .csv or .jsonl)")
