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

A UTF-8 CSV is read in blocks of about 2 MB: Arrow splits a block whose lines are one record each
(cut at the delimiter, or by Arrow's CSV parser where every field is plainly unquoted or wholly
quoted), in C; the first block that has anything else (a quoted line break, a stray quote, a bad
byte, a NUL, a lone CR) and the rest of the file go through the csv module line by line. Both
give the same rows (tests/ingest/test_readers.py compares them).
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import numpy as np
import pandas as pd

from nps.ingest import DEFAULT_CHUNK_ROWS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS, RESPONSE_COLUMNS, RejectedFileError

csv.field_size_limit(16 * 1024 * 1024)  # long comments are quarantined by rule, not by the parser
_FRAME_COLUMNS = ("line", "original", "token", "score", "responded_at", "comment", "locale", "parse_rule", "parse_error")
_MAX_ORIGINAL = 200_000  # characters of a quarantined line kept verbatim
_BLOCK_BYTES = 2 << 20  # raw bytes the CSV fast path reads at a time
_SPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())  # what str.strip() removes


def _decoded(raws: Iterable[bytes]) -> Iterator[tuple[str, str | None]]:
    """(text ending in at most one ``\\n``, decode error or None) per raw UTF-8 line."""
    for raw in raws:
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


class _Source:
    """A response file's physical lines: decoded one by one (``lines``), or for UTF-8 files also as
    raw blocks of whole lines (``block``) that the CSV fast path reads in a few C calls."""

    def __init__(self, fobj: BinaryIO) -> None:
        head = fobj.read(4)
        self.utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        if head.startswith(codecs.BOM_UTF8):
            head = head[3:]
        self.buffered = io.BufferedReader(_Prefixed(head, fobj), buffer_size=1 << 20)
        self.lines = self._utf16() if self.utf16 else _decoded(self.buffered)

    def _utf16(self) -> Iterator[tuple[str, str | None]]:
        for line in io.TextIOWrapper(self.buffered, encoding="utf-16", newline=""):
            yield line.replace("\r\n", "\n").replace("\r", "\n"), None

    def block(self) -> list[bytes]:
        """The next raw lines, about ``_BLOCK_BYTES`` (UTF-8 files; ``lines`` must be between lines)."""
        return self.buffered.readlines(_BLOCK_BYTES)


def _lines(fobj: BinaryIO) -> Iterator[tuple[str, str | None]]:
    """(text ending in at most one ``\\n``, decode error or None) per physical line."""
    return _Source(fobj).lines


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


def _frame(first_line: int, lines, values: dict, full: np.ndarray | None = None) -> pd.DataFrame:  # noqa: ANN001
    """A reader chunk frame of a block: ``values`` (name → Arrow strings) are the fields of the
    lines ``full`` marks (all when None); the other lines get None and are dealt with by the caller."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(lines)
    null = pa.scalar(None, pa.string())

    def value(name: str, keep_spacing: bool = False) -> np.ndarray:
        out = np.full(n, None, dtype=object)
        v = values.get(name)
        if v is not None and len(v):
            bare = pc.utf8_trim(v, characters=_SPACE)  # str.strip()
            got = pc.if_else(pc.equal(bare, ""), null, v if keep_spacing else bare).to_numpy(zero_copy_only=False)
            if full is None:
                out = got
            else:
                out[full] = got
        return out

    # object columns, as ``_Batch.frame`` makes them (pandas 3 would infer its str dtype)
    frame = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in {
        "original": lines.to_numpy(zero_copy_only=False),
        "token": value("token"), "score": value("score"), "responded_at": value("responded_at"),
        # a comment keeps its own spacing; an all-blank one is no comment
        "comment": value("comment", keep_spacing=True), "locale": value("locale"),
        "parse_rule": np.full(n, None, dtype=object), "parse_error": np.full(n, None, dtype=object),
    }.items()})
    frame.insert(0, "line", np.arange(first_line, first_line + n, dtype=np.int64))
    return frame


def _arrow_block(raw: list[bytes], first_line: int, delimiter: str, width: int, index: dict[str, int]) -> pd.DataFrame | None:
    """The rows of a block of raw lines as the line-by-line reader gives them, in whole columns;
    None when the block has anything that reader must see line by line: a record over several
    lines (a quoted line break), broken quoting, a lone CR, a NUL, bytes that are not UTF-8, a line
    longer than ``_MAX_ORIGINAL``. The csv module splits the block in one call (a block without
    quotes is split by Arrow: a record is then its line cut at the delimiter)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    data = b"".join(raw).replace(b"\r\n", b"\n")
    if b"\r" in data or b"\x00" in data:
        return None
    if data.endswith(b"\n"):
        data = data[:-1]
    try:
        lines = pc.split_pattern(pa.array([data], pa.binary()).cast(pa.string()), "\n").flatten()
    except pa.ArrowInvalid:  # not UTF-8
        return None
    if len(lines) != len(raw) or pc.max(pc.utf8_length(lines)).as_py() > _MAX_ORIGINAL:
        return None
    if b'"' not in data:
        fields = pc.split_pattern(lines, delimiter)
    else:
        # Quoted fields: Arrow's CSV parser when every line has the header's number of fields,
        # each plainly unquoted or wholly quoted with doubled inner quotes (where it and the csv
        # module agree), else None.
        d = re.escape(delimiter)
        field = f'([^"{d}]*|"([^"]|"")*")'
        if not pc.all(pc.match_substring_regex(lines, f"^{field}({d}{field}){{{width - 1}}}$")).as_py():
            return None
        from pyarrow import csv as pacsv

        names = [f"f{k}" for k in range(width)]
        try:
            table = pacsv.read_csv(
                io.BytesIO(data),
                read_options=pacsv.ReadOptions(column_names=names, block_size=len(data) + 1, use_threads=False),
                parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char='"', double_quote=True,
                                                  escape_char=False, newlines_in_values=False, ignore_empty_lines=False),
                convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                     strings_can_be_null=False, quoted_strings_can_be_null=False),
            )
        except pa.ArrowInvalid:
            return None
        if table.num_rows != len(lines):
            return None
        return _frame(first_line, lines, {c: table.column(f"f{k}").combine_chunks() for c, k in index.items()})
    nf = pc.list_value_length(fields).to_numpy(zero_copy_only=False)
    full = nf == width
    ok = pa.array(full)
    frame = _frame(first_line, lines, {c: pc.list_element(fields.filter(ok), k) for c, k in index.items()}, full)
    if full.all():
        return frame
    one = nf == 1
    if one.any():  # a line of one field is blank when that field is
        blank = pc.equal(pc.utf8_trim(pc.list_element(fields.filter(pa.array(one)), 0), characters=_SPACE), "")
        one[np.flatnonzero(one)[~blank.to_numpy(zero_copy_only=False)]] = False
    one |= nf == 0  # the csv module reads an empty line as no field at all
    ragged = ~full & ~one
    if ragged.any():
        frame.loc[ragged, "parse_rule"] = "ragged_row"
        frame.loc[ragged, "parse_error"] = [f"line has {k} fields, the header has {width}" for k in nf[ragged].tolist()]
    return frame[~one].reset_index(drop=True)


def read_csv_chunks(fobj: BinaryIO, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """Rows of a CSV response export, in chunks."""
    src = _Source(fobj)
    lines = src.lines
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

    batch = _Batch()
    rows = batch.rows
    it, isc, ira = index["token"], index["score"], index["responded_at"]
    ic, il = index.get("comment"), index.get("locale")
    next_line = line_no + 1
    # Fast path (UTF-8): whole blocks of lines split by Arrow (``_arrow_block``); the first block
    # it declines (quotes, a bad byte, a NUL ...) and everything after it are read line by line
    # below, which knows what to say about each line.
    pieces: list[pd.DataFrame] = []
    have = 0
    while not src.utf16:
        raw = src.block()
        if not raw:
            if pieces:
                yield pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0]
            return
        piece = _arrow_block(raw, next_line, delimiter, width, index)
        if piece is None:
            lines = _decoded(itertools.chain(raw, src.buffered))
            break
        next_line += len(raw)
        pieces.append(piece)
        have += len(piece)
        while have >= chunk_rows:
            whole = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0]
            yield whole.iloc[:chunk_rows].reset_index(drop=True)
            rest = whole.iloc[chunk_rows:].reset_index(drop=True)
            pieces, have = ([rest] if len(rest) else []), len(rest)
    if pieces:  # the rest of the fast rows start the next chunk
        rows.extend(pd.concat(pieces, ignore_index=True).itertuples(index=False, name=None))
    reader = csv.reader(feed(), delimiter=delimiter, strict=True)
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
