"""Signed survey tokens: what every link in an invitation carries.

A token names the survey (``survey_id``), its type, optionally an answer, and since v2 the time
it was issued (when the invitation was sent), so the response page can tell an expired link from
a fresh one without a warehouse. An invitation carries ONE answer-less token: its answer links
add the score as a separate parameter (``?t=<token>&score=7``; the respondent picks the score on
the page anyway, the token proves the survey), and its unsubscribe link carries the same token.
Links sent before 2026-11-28 carry one token per answer, with the answer inside the signed
payload; they still verify and select their signed answer:

- ``v1.<payload>.<signature>``, payload = URL-safe base64 of ``survey_id|type|answer``;
- ``v2.<payload>.<signature>``, payload = URL-safe base64 of ``survey_id|type|answer|issued|locale``
  (``issued`` in Unix seconds, UTC; ``locale`` the invitation's language, may be empty), so the
  page speaks the invitation's language. ``answer`` is empty in an answer-less token.

The signature is HMAC-SHA256 of the payload under the program's secret, so a token cannot be
forged or altered without the secret. New tokens are v2; v1 tokens (already in people's
mailboxes) still verify and simply carry no issue time.

**Secret rotation.** The secret may be a list: ``TokenSigner(["new", "old"])`` or one string
with the secrets separated by commas or newlines (``"new,old"``, as the ``nps_survey_token``
connection's password or ``NPS_TOKEN_SECRET`` holds it). The first secret signs; every secret
verifies. To rotate: put the new secret first, keep the old one until the surveys it signed
have closed, then drop it. Each secret is at least 16 characters and contains no comma or
line break. The secret lives in the Airflow connection ``nps_survey_token`` or the environment;
never in the repository.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

VERSION = "v2"
VERSIONS = ("v1", "v2")
SURVEY_TYPES = ("nps", "csat", "ces")

_SPLIT = re.compile(r"[,\r\n]+")
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
_EPOCH = datetime(1970, 1, 1)


class TokenError(ValueError):
    """A token that is malformed, forged or altered."""


class ForgedTokenError(TokenError):
    """A well-formed token whose signature no configured secret produced: forged or altered."""


@dataclass(frozen=True)
class SurveyToken:
    survey_id: str
    survey_type: str
    answer: int | None = None
    # When the link was issued (naive UTC); None for v1 tokens. Not part of equality: two tokens
    # for the same survey and answer say the same thing, whenever they were issued.
    issued_at: datetime | None = field(default=None, compare=False)
    locale: str | None = field(default=None, compare=False)


def _b64_bytes(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def split_secrets(secret: str | bytes | Iterable[str | bytes]) -> list[bytes]:
    """The secrets in signing order: a list, or one string separated by commas or newlines."""
    if isinstance(secret, bytes):
        items: list[str | bytes] = [secret]
    elif isinstance(secret, str):
        items = [s.strip() for s in _SPLIT.split(secret)]
        items = [s for s in items if s]
    else:
        items = list(secret)
    if not items:
        raise TokenError("the token secret is empty")
    keys = []
    for s in items:
        key = s.encode("utf-8") if isinstance(s, str) else bytes(s)
        if len(key) < 16:
            raise TokenError("the token secret must be at least 16 characters long")
        keys.append(key)
    return keys


def _epoch_seconds(dt: datetime) -> int:
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return int((dt - _EPOCH).total_seconds())


def _check(survey_id: str, survey_type: str, locale: str | None) -> None:
    if survey_type not in SURVEY_TYPES:
        raise TokenError(f"unknown survey type {survey_type!r}")
    if "|" in survey_id:
        raise TokenError("survey_id may not contain '|'")
    if locale and ("|" in locale or len(locale) > 16):
        raise TokenError(f"locale {locale!r} is not a language tag")


class TokenSigner:
    """Signs with the first secret and verifies with any (reuse one instance: it caches the keys)."""

    def __init__(self, secret: str | bytes | Sequence[str | bytes]) -> None:
        self._keys = split_secrets(secret)
        self._key = self._keys[0]  # the signing key
        self._mac = hmac.new(self._key, digestmod=hashlib.sha256)

    def __repr__(self) -> str:  # never shows a secret
        return f"TokenSigner({len(self._keys)} secret{'s' if len(self._keys) != 1 else ''})"

    def sign(self, survey_id: str, survey_type: str, answer: int | None = None,
             issued_at: datetime | None = None, locale: str | None = None) -> str:
        """A token for the survey (and answer); v2 with ``issued_at``, v1 without.

        Invitations sign answer-less tokens (one per invitation: the answer links add the score
        as a separate ``score`` parameter); tokens with an answer are still signed for tests and
        verify forever. Dispatch signs one token per invitation: the HMAC is a copy of the keyed
        state, not a one-shot ``hmac.digest``, which costs twice as much and releases the GIL on
        every call (beside the sender thread, each token then waited for the GIL again)."""
        _check(survey_id, survey_type, locale)
        raw = f"{survey_id}|{survey_type}|{'' if answer is None else int(answer)}"
        if issued_at is None:
            version = "v1."
        else:
            version, raw = "v2.", f"{raw}|{_epoch_seconds(issued_at)}|{locale or ''}"
        payload = _b64_bytes(raw.encode("utf-8"))
        mac = self._mac.copy()
        mac.update(payload)
        return f"{version}{payload.decode('ascii')}.{_b64_bytes(mac.digest()).decode('ascii')}"

    def fields(self, token: str) -> tuple[str, str, int | None, int | None, str | None] | None:
        """(survey_id, type, answer, issued Unix seconds, locale) of a genuine, well-formed token, else
        None. The fast path for bulk checks; ``verify`` says why a token is refused."""
        if not isinstance(token, str) or token[:3] not in ("v1.", "v2.") or token != token.strip():
            return None
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            payload, signature = parts[1].encode("ascii"), parts[2].encode("ascii")
        except UnicodeEncodeError:
            return None
        for key in self._keys:
            if hmac.compare_digest(_b64_bytes(hmac.digest(key, payload, "sha256")), signature):
                break
        else:
            return None
        try:
            raw = binascii.a2b_base64(payload.translate(_FROM_URLSAFE) + b"=" * (-len(payload) % 4)).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        f = raw.split("|")
        if len(f) != (3 if parts[0] == "v1" else 5) or f[1] not in SURVEY_TYPES:
            return None
        try:
            answer = int(f[2]) if f[2] else None
            issued = int(f[3]) if len(f) == 5 else None
        except ValueError:
            return None
        return f[0], f[1], answer, issued, (f[4] or None) if len(f) == 5 else None

    def fields_many(self, tokens: Sequence[str | None]) -> tuple:
        """``fields`` of many tokens at once, as object arrays (survey_id, type, answer, issued, locale);
        a token ``fields`` refuses has None in every column. Gives exactly what ``fields`` gives
        (tests/test_tokens.py compares them), a few times faster on a chunk: only the HMACs run
        per token; splitting, the signature comparison and the payload decoding are a handful
        of array operations. Any token off the common shape (another secret, padding, odd
        numbers) is handed to ``fields`` itself. The comparison is not constant-time, which
        protects an interactive check only: a bulk load gives no caller a timing per token."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        n = len(tokens)
        cols = tuple(np.full(n, None, dtype=object) for _ in range(5))
        try:
            arr = pa.array(tokens, type=pa.string())
        except (pa.ArrowException, TypeError, UnicodeError):
            arr = None
        if arr is None or n == 0:
            for i, tok in enumerate(tokens):
                got = self.fields(tok)
                if got is not None:
                    for c, v in zip(cols, got, strict=True):
                        c[i] = v
            return cols
        slow: list[int] = []  # positions ``fields`` decides
        # shape: ASCII, exactly three dot-separated parts, version v1/v2, 43-character signature
        parts = pc.split_pattern(arr, ".")
        shaped = pc.and_(pc.equal(pc.list_value_length(parts), 3), pc.string_is_ascii(arr)).fill_null(False)
        pos = np.flatnonzero(shaped.to_numpy(zero_copy_only=False))
        parts = parts.take(pos)
        ver = pc.list_element(parts, 0)
        payload = pc.list_element(parts, 1).cast(pa.binary())
        sig = pc.list_element(parts, 2).cast(pa.binary())
        keep = pc.and_(pc.is_in(ver, pa.array(["v1", "v2"])), pc.equal(pc.binary_length(sig), 43))
        # an unpadded base64url payload of a whole number of bytes; else ``fields`` says what it is
        regular = pc.and_(keep, pc.match_substring_regex(payload.cast(pa.string()), r"^[A-Za-z0-9_-]*$"))
        regular = pc.and_(regular, pc.not_equal(pc.bit_wise_and(pc.binary_length(payload), 3), 1))
        regular_np = regular.to_numpy(zero_copy_only=False)
        slow.extend(pos[keep.to_numpy(zero_copy_only=False) & ~regular_np].tolist())
        pos, payload, sig, ver = pos[regular_np], payload.filter(regular), sig.filter(regular), ver.filter(regular)
        if len(pos):
            payloads = payload.to_pylist()
            # the OpenSSL HMAC object under the ``hmac.HMAC`` wrapper when there is one: its copy,
            # update and digest are then three C calls instead of three Python methods
            copy = getattr(self._mac, "_hmac", self._mac).copy

            def digest(p: bytes) -> bytes:
                m = copy()
                m.update(p)
                return m.digest()

            # HMAC-SHA256 per token (first secret); base64 of digest + one zero byte is 44 characters
            # whose first 43 are the unpadded base64 of the digest: one encode for the whole chunk
            d = np.zeros((len(pos), 33), dtype=np.uint8)
            d[:, :32] = np.frombuffer(b"".join(map(digest, payloads)), dtype=np.uint8).reshape(-1, 32)
            want = np.frombuffer(_b64_bytes(d.tobytes()), dtype=np.uint8).reshape(-1, 44)[:, :43]
            got = np.frombuffer(b"".join(sig.to_pylist()), dtype=np.uint8).reshape(-1, 43)
            genuine = (want == got).all(axis=1)
            if len(self._keys) > 1:  # signed with an older secret, or forged: ``fields`` tries every key
                slow.extend(pos[~genuine].tolist())
            pos, payload, ver = pos[genuine], payload.filter(pa.array(genuine)), ver.filter(pa.array(genuine))
        if len(pos):
            # decode every payload in one call: each padded to whole base64 quanta with 'A' (zero
            # bits), whose extra bytes are cut off again
            lens = pc.binary_length(payload).to_numpy(zero_copy_only=False).astype(np.int64)
            pad = (-lens) % 4
            padded = pc.binary_join_element_wise(payload, pa.array([b"", b"A", b"AA", b"AAA"]).take(pa.array(pad)), b"")
            offsets = np.frombuffer(padded.buffers()[1], dtype=np.int32)[padded.offset : padded.offset + len(padded) + 1]
            text = padded.buffers()[2].to_pybytes()[offsets[0] : offsets[-1]]
            raw = np.frombuffer(binascii.a2b_base64(text.translate(_FROM_URLSAFE)), dtype=np.uint8)
            size = (lens * 3) // 4
            ends = np.cumsum((lens + pad) * 3 // 4)
            extra = (lens + pad) * 3 // 4 - size
            mask = np.ones(len(raw), dtype=bool)
            for g in (1, 2, 3):
                mask[ends[extra >= g] - g] = False
            data = raw[mask]
            offs = np.zeros(len(pos) + 1, dtype=np.int32)
            np.cumsum(size, out=offs[1:])
            decoded = pa.Array.from_buffers(pa.binary(), len(pos), [None, pa.py_buffer(offs), pa.py_buffer(data)])
            try:
                fields = pc.split_pattern(decoded.cast(pa.string()), "|")
            except pa.ArrowInvalid:  # not UTF-8 somewhere
                slow.extend(pos.tolist())
                pos = pos[:0]
            if len(pos):
                nf = pc.list_value_length(fields).to_numpy(zero_copy_only=False)
                v2 = pc.equal(ver, "v2").to_numpy(zero_copy_only=False)
                for width, group in ((3, ~v2 & (nf == 3)), (5, v2 & (nf == 5))):
                    self._columns(cols, pos[group], fields.filter(pa.array(group)), width, slow)
                slow.extend(pos[nf != np.where(v2, 5, 3)].tolist())
        for i in slow:
            got = self.fields(tokens[i])
            if got is not None:
                for c, v in zip(cols, got, strict=True):
                    c[i] = v
        return cols

    @staticmethod
    def _columns(cols: tuple, pos, fields, width: int, slow: list[int]) -> None:  # noqa: ANN001
        """Fill ``cols`` at ``pos`` from decoded payloads split into ``width`` fields (3: v1, 5: v2)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if not len(pos):
            return
        part = [pc.list_element(fields, k) for k in range(width)]
        # numbers int() reads the same way (an answer may be empty, an issue time may not); anything
        # else goes to ``fields``, which refuses it or reads it its own way
        plain = pc.and_(pc.is_in(part[1], pa.array(list(SURVEY_TYPES))),
                        pc.match_substring_regex(part[2], r"^(|-?[0-9]{1,18})$"))
        if width == 5:
            plain = pc.and_(plain, pc.match_substring_regex(part[3], r"^-?[0-9]{1,18}$"))
        plain_np = plain.to_numpy(zero_copy_only=False)
        slow.extend(pos[~plain_np].tolist())
        pos = pos[plain_np]
        part = [p.filter(plain) for p in part]

        def number_or_none(a: pa.Array) -> list:
            return pc.cast(pc.if_else(pc.equal(a, ""), None, a), pa.int64()).to_pylist()

        values = [part[0].to_pylist(), part[1].to_pylist(), number_or_none(part[2])]
        if width == 5:
            values += [number_or_none(part[3]), pc.if_else(pc.equal(part[4], ""), None, part[4]).to_pylist()]
        for c, v in zip(cols, values, strict=False):
            c[pos] = np.array(v, dtype=object) if v else v

    def verify(self, token: str) -> SurveyToken:
        """Return the token's content, or raise TokenError saying why it is not genuine
        (ForgedTokenError when it is well formed but no secret signed it)."""
        if not isinstance(token, str) or not token:
            raise TokenError("missing token")
        parts = token.strip().split(".")
        if len(parts) != 3 or parts[0] not in VERSIONS:
            raise TokenError("malformed token (expected v2.<payload>.<signature>)")
        version, payload, signature = parts
        try:
            payload_b, signature_b = payload.encode("ascii"), signature.encode("ascii")
        except UnicodeEncodeError:
            raise TokenError("malformed token (non-ASCII characters)") from None
        if not any(hmac.compare_digest(_b64_bytes(hmac.digest(k, payload_b, "sha256")), signature_b) for k in self._keys):
            raise ForgedTokenError("invalid signature: the token was forged or altered")
        try:
            f = _unb64(payload).decode("utf-8").split("|")
        except (ValueError, binascii.Error):
            raise TokenError("malformed token payload") from None
        if len(f) != (3 if version == "v1" else 5):
            raise TokenError("malformed token payload")
        survey_id, survey_type, answer = f[:3]
        if survey_type not in SURVEY_TYPES:
            raise TokenError(f"token names an unknown survey type {survey_type!r}")
        try:
            ans = int(answer) if answer else None
            issued = datetime.fromtimestamp(int(f[3]), UTC).replace(tzinfo=None) if version == "v2" else None
        except (ValueError, OverflowError, OSError):
            raise TokenError("malformed token payload") from None
        return SurveyToken(survey_id, survey_type, ans, issued, (f[4] or None) if version == "v2" else None)
