"""Readers: encodings, line endings, delimiters, ragged rows, JSON Lines, whole-file rejects."""

from __future__ import annotations

import io

import pytest

from nps.ingest import RejectedFileError
from nps.ingest.readers import read_csv_chunks, read_jsonl_chunks


def rows(data: bytes, reader=read_csv_chunks, chunk_rows: int = 100):
    out = []
    for df in reader(io.BytesIO(data), chunk_rows):
        out.extend(df.to_dict("records"))
    return out


def test_bom_crlf_semicolon_and_quoted_newline():
    data = "\ufefftoken;score;comment;responded_at\r\nt1;7;\"two\r\nlines; ok\";2026-11-03T10:00:00Z\r\nt2;9;;2026-11-03\r\n"
    got = rows(data.encode("utf-8"))
    assert [(r["line"], r["token"], r["score"], r["comment"], r["responded_at"]) for r in got] == [
        (2, "t1", "7", "two\nlines; ok", "2026-11-03T10:00:00Z"),
        (4, "t2", "9", None, "2026-11-03"),
    ]
    assert got[0]["original"] == 't1;7;"two\nlines; ok";2026-11-03T10:00:00Z'
    assert got[0]["locale"] is None and got[0]["parse_rule"] is None


def test_tab_delimited_and_header_case_and_extra_columns():
    data = b"Token\tScore\tResponded_At\tbrowser\nt1\t10\t2026-11-03\tfirefox\n"
    assert [(r["token"], r["score"]) for r in rows(data)] == [("t1", "10")]


def test_utf16_with_bom():
    data = "token,score,comment,responded_at\nt1,8,Świetnie,2026-11-03\n".encode("utf-16")
    assert [(r["token"], r["comment"]) for r in rows(data)] == [("t1", "Świetnie")]


def test_non_utf8_line_is_one_bad_row_and_ragged_rows():
    data = b"token,score,comment,responded_at\nt1,5,caf\xe9,2026-11-03\nt2,5\nt3,5,a,b,c\nt4,6,ok,2026-11-03\n\n"
    got = rows(data)
    assert [(r["line"], r["parse_rule"], r["parse_error"]) for r in got] == [
        (2, "encoding", "line is not valid UTF-8 (byte 0xE9 at position 9); re-export the file as UTF-8"),
        (3, "ragged_row", "line has 2 fields, the header has 4"),
        (4, "ragged_row", "line has 5 fields, the header has 4"),
        (5, None, None),
    ]
    assert got[0]["original"] == "t1,5,caf\ufffd,2026-11-03"


def test_chunks_are_bounded():
    data = b"token,score,responded_at\n" + b"".join(b"t%d,1,2026-11-03\n" % i for i in range(7))
    sizes = [len(df) for df in read_csv_chunks(io.BytesIO(data), 3)]
    assert sizes == [3, 3, 1]


def test_header_only_file_has_no_rows():
    assert rows(b"token,score,comment,responded_at,locale\r\n") == []


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(b"", "the file is empty (no header line)", id="empty"),
        pytest.param(b"\n\n", "the file is empty (no header line)", id="blank"),
        pytest.param(b"token,comment\nx,y\n", "the header has no score, responded_at columns", id="no-score"),
        pytest.param(b"token,score,responded_at\n\"t1,5,2026-11-03\nt2,5,2026\n", "CSV quoting is broken from line 2", id="open-quote"),
    ],
)
def test_unparseable_csv_is_rejected(data, reason):
    with pytest.raises(RejectedFileError) as err:
        rows(data)
    assert str(err.value).startswith(reason)


def test_jsonl_values_and_bad_lines():
    data = (
        b'{"token": "t1", "score": 9, "comment": "ok", "responded_at": "2026-11-03T10:00:00Z", "locale": "pl"}\r\n'
        b'{"token": "t2", "score": 7.5, "responded_at": "2026-11-03"}\n'
        b"\n"
        b"[1, 2]\n"
        b"{not json\n"
        b'{"TOKEN": "t3", "Score": "ten", "responded_at": null}\n'
    )
    got = rows(data, read_jsonl_chunks)
    assert [(r["line"], r["token"], r["score"], r["locale"], r["parse_rule"]) for r in got] == [
        (1, "t1", "9", "pl", None),
        (2, "t2", "7.5", None, None),
        (4, None, None, None, "json"),
        (5, None, None, None, "json"),
        (6, "t3", "ten", None, None),
    ]
    assert got[2]["parse_error"] == "line is a JSON list, not an object"
    assert got[3]["parse_error"] == "line is not valid JSON (Expecting property name enclosed in double quotes)"


def test_empty_jsonl_is_rejected():
    with pytest.raises(RejectedFileError, match="empty"):
        rows(b"\n", read_jsonl_chunks)


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_plain_lines_read_as_the_csv_module_reads_them(delimiter):
    """Lines without quotes are split directly (the fast path), quoted and odd lines go through the
    csv module; every row's fields are what the csv module alone makes of the line."""
    import csv

    d = delimiter
    body = [
        f"t1{d}7{d} spaced comment {d}2026-11-03T10:00:00Z{d}EN",
        f"t2{d} 9 {d}{d}2026-11-03{d}",
        f'"t3"{d}5{d}"quoted{d} with delimiter"{d}2026-11-03{d}de',
        f"t4{d}1{d}it's fine{d}2026-11-03{d}pl",
        "",
        f"  {d}  {d}  {d}  {d}  ",
        f't5{d}2{d}a "quote" inside{d}2026-11-03{d}en',
        f"t6{d}3{d}too{d}many{d}fields{d}here",
        f"t7{d}4{d}last line without a newline{d}2026-11-03{d}fr",
    ]
    header = d.join(["token", "score", "comment", "responded_at", "locale"])
    got = rows(("\n".join([header, *body])).encode("utf-8"))
    want = []
    for line_no, line in enumerate(body, 2):
        [rec] = list(csv.reader([line], delimiter=d)) or [[]]
        if not rec or (len(rec) == 1 and not rec[0].strip()):
            continue
        if len(rec) != 5:
            want.append((line_no, line, None, None, None, None, None, "ragged_row"))
            continue
        blank = [v.strip() or None for v in rec]
        want.append((line_no, line, blank[0], blank[1], rec[2] if rec[2].strip() else None, blank[3], blank[4], None))
    assert [(r["line"], r["original"], r["token"], r["score"], r["comment"], r["responded_at"], r["locale"], r["parse_rule"])
            for r in got] == want
    assert len(got) == 8  # the blank line is no row; the all-blank fields are a row (its rules quarantine it)


@pytest.mark.parametrize("chunk_rows", [1, 3, 1000])
@pytest.mark.parametrize("block_bytes", [40, 1 << 20])
def test_block_fast_path_reads_what_the_line_by_line_reader_reads(monkeypatch, chunk_rows, block_bytes):
    """Whole blocks split by Arrow give the same chunks, row for row and value for value, as the
    csv module line by line, and hand every odd block (and the rest of the file) to it."""
    import pandas as pd

    from nps.ingest import readers

    h = "token,score,responded_at,comment,locale\n"
    files = [
        h + "t1,9,2026-11-03T10:00:00Z, hi ,EN\r\nt2, 8 ,2026-11-03,,\n\n  \nt3,1\nt4,2,x,\u00a0\u3000,\x1c\n",
        h + 't1,9,x,"a, ""b""",en\n"t2","8","y","",""\nt3,7,z,"żółć",pl\nt4,1,2,3,4,5\n',
        h + 't1,9,x,"two\nlines",en\nt2,8,y,,\n',
        h + "t1,9,x,hi,en\n".replace("hi", "h\x00i") + "t2,8,y,,\n",
        (h + "t1,9,x,hi,en\n").encode() + b"t2,8,y,\xff,en\nt3,1,z,,\n",
        h + 't1,9,x, "a",en\nt2,9,x,"a" ,en\nt3,9,x,a"b,en\n',
        h + 't1,9,x,"a,b",en\n\nt2,8,y,"",\nt3,1,z,"q",en,9\n',
        h + "t1,9,x,h\ri,en\n",
        h + 't1,9,x,"a"b,en\n',
        h + "t1,9,x,hi,en\nt2,8,y,,",
        h + "t1,9,x," + "y" * 250_000 + ",en\n",
    ]

    def read(data: bytes):
        try:
            return [df for df in read_csv_chunks(io.BytesIO(data), chunk_rows)]
        except RejectedFileError as err:
            return str(err)

    monkeypatch.setattr(readers, "_BLOCK_BYTES", block_bytes)
    for text in files:
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        fast = read(data)
        with monkeypatch.context() as m:
            m.setattr(readers, "_arrow_block", lambda *a, **k: None)
            slow = read(data)
        if isinstance(slow, str):
            assert fast == slow
            continue
        assert [len(df) for df in fast] == [len(df) for df in slow]
        for a, b in zip(fast, slow, strict=True):
            pd.testing.assert_frame_equal(a, b, check_exact=True)
    quoted = [r for df in read(files[1].encode()) for r in df.to_dict("records")]
    assert [(r["line"], r["token"], r["comment"], r["locale"], r["parse_rule"]) for r in quoted] == [
        (2, "t1", 'a, "b"', "en", None), (3, "t2", None, None, None), (4, "t3", "żółć", "pl", None),
        (5, None, None, None, "ragged_row")]
