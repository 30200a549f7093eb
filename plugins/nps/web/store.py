"""Durable appends to the landing area: nothing acknowledged is ever lost, nothing half-written is
ever read.

Answers go to ``<landing>/responses/.web-<host>-<pid>-<n>.jsonl.part``: a hidden file with a
suffix the ingestion never lists. Each answer is one JSON line; the request that wrote it is
acknowledged only after ``fdatasync`` has returned for a write that includes it (group commit: one
sync covers every line written while the previous sync ran, so a busy page syncs a few hundred
times a second, not once per answer). Every ``rotate_seconds`` (or ``max_bytes``) the file is
closed and renamed, atomically, to ``responses/web-<UTC time>-<host>-<pid>-<n>.jsonl``, and the
directory is synced: only then can ingestion see it, complete.

A killed server leaves its ``.part`` file behind. The next start (of any server on the same
landing folder) adopts files no live writer holds (each writer keeps an exclusive ``flock`` on
its file; an empty one under a minute old is left to the server that has just created it and
is about to lock it), cuts a torn last line that was never acknowledged, and renames the rest
into place.

Unsubscribes are rare: each is one event file (``events/web-....json``, a single SendGrid-style
event object), written to a temporary name, synced and renamed.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

#: An empty part file younger than this may be a writer's between its ``open`` and its ``flock``.
FRESH_SECONDS = 60.0
_HOST = "".join(c if c.isalnum() or c == "-" else "-" for c in socket.gethostname())[:40] or "host"


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")


def recover(folder: Path, suffix: str = ".jsonl") -> list[Path]:
    """Publish the ``.part`` files that no live writer holds; returns the files made visible."""
    out = []
    if not folder.is_dir():
        return out
    for part in sorted(folder.glob(f".web-*{suffix}.part")):
        try:
            fd = os.open(part, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live server is still writing it
            st = os.fstat(fd)
            if st.st_size == 0 and time.time() - st.st_mtime < FRESH_SECONDS:
                continue  # a server that has just created it and is about to lock it
            data = os.pread(fd, st.st_size, 0)
            keep = data.rfind(b"\n") + 1  # a torn last line was never acknowledged
            if keep < len(data):
                os.ftruncate(fd, keep)
                log.warning("recovered %s: cut a torn last line of %d bytes (never acknowledged)", part.name, len(data) - keep)
            os.fsync(fd)
            if keep == 0:
                part.unlink()
            else:
                final = folder / f"web-{_stamp()}-{_HOST}-recovered-{part.name.split('-')[-1].split('.')[0]}{suffix}"
                os.rename(part, final)
                out.append(final)
                log.info("recovered %s as %s", part.name, final.name)
        finally:
            os.close(fd)
    if out:
        _fsync_dir(folder)
    return out


class ResponseLog:
    """Group-committed, rotated JSON Lines file in one folder (one instance per server process)."""

    def __init__(self, folder: Path, *, rotate_seconds: float = 5.0, max_bytes: int = 64 << 20,
                 suffix: str = ".jsonl") -> None:
        self.folder = Path(folder)
        self.rotate_seconds = rotate_seconds
        self.max_bytes = max_bytes
        self.suffix = suffix
        self._seq = 0
        self._fd: int | None = None
        self._part: Path | None = None
        self._opened = 0.0
        self._size = 0
        self._waiters: list[asyncio.Future] = []
        self._flusher: asyncio.Task | None = None
        self._ticker: asyncio.Task | None = None
        self._lock = asyncio.Lock()
        self.published: list[Path] = []
        self.acknowledged = 0
        self.healthy = True

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.published.extend(await asyncio.to_thread(recover, self.folder, self.suffix))
        self._ticker = asyncio.create_task(self._tick())

    async def close(self) -> None:
        if self._ticker:
            self._ticker.cancel()
        if self._flusher:
            await asyncio.gather(self._flusher, return_exceptions=True)
        await self._rotate_now()

    # -- the hot path ------------------------------------------------------------------------
    async def append(self, record: dict) -> None:
        """Write one record; returns once it is on disk (raises OSError if it could not be)."""
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        if self._fd is None:
            self._open()
        view = memoryview(line)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        self._size += len(line)
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await fut
        self.acknowledged += 1

    def _open(self) -> None:
        self._seq += 1
        part = self.folder / f".web-{_HOST}-{os.getpid()}-{self._seq:06d}{self.suffix}.part"
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        # Blocking: another server's recover() may hold the new file's lock for a moment (it
        # leaves a fresh empty file alone). Nothing is written before the lock is ours.
        fcntl.flock(fd, fcntl.LOCK_EX)
        _fsync_dir(self.folder)  # the file's name survives a power cut, not only its bytes
        self._fd, self._part, self._opened, self._size = fd, part, time.monotonic(), 0

    async def _flush(self) -> None:
        async with self._lock:
            while self._waiters:
                # Every waiter wrote to the current file: a file is only detached when none wait.
                waiters, self._waiters, fd = self._waiters, [], self._fd
                try:
                    await asyncio.to_thread(os.fdatasync, fd)
                except OSError as err:
                    self.healthy = False
                    log.error("cannot sync %s: %s; %d answers refused", self._part, err, len(waiters))
                    for w in waiters:
                        if not w.done():
                            w.set_exception(err)
                    continue
                self.healthy = True
                for w in waiters:
                    if not w.done():
                        w.set_result(None)
                if not self._waiters and self._due():
                    await asyncio.to_thread(self._publish, *self._detach())

    def _due(self) -> bool:
        return self._fd is not None and (self._size >= self.max_bytes
                                         or time.monotonic() - self._opened >= self.rotate_seconds)

    async def _tick(self) -> None:
        """Publish an idle file after ``rotate_seconds`` even when no more answers come."""
        while True:
            await asyncio.sleep(min(1.0, self.rotate_seconds / 2))
            if self._due() and not self._waiters:
                async with self._lock:
                    if self._due() and not self._waiters:
                        await asyncio.to_thread(self._publish, *self._detach())

    async def _rotate_now(self) -> None:
        async with self._lock:
            if self._fd is not None and not self._waiters:
                await asyncio.to_thread(self._publish, *self._detach())

    def _detach(self) -> tuple[int | None, Path | None, int, int]:
        """Take the open file away from appends (in the event loop, so no append is mid-write)."""
        out = (self._fd, self._part, self._size, self._seq)
        self._fd = self._part = None
        self._size = 0
        return out

    def _publish(self, fd: int | None, part: Path | None, size: int, seq: int) -> None:
        if fd is None or part is None:
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)  # releases the flock
        if size == 0:
            part.unlink(missing_ok=True)
            return
        final = self.folder / f"web-{_stamp()}-{_HOST}-{os.getpid()}-{seq:06d}{self.suffix}"
        os.rename(part, final)
        _fsync_dir(self.folder)
        self.published.append(final)
        log.info("published %s (%d bytes)", final.name, size)

    def pending_part(self) -> Path | None:
        return self._part


def write_event(folder: Path, event: dict, name_hint: str = "") -> Path:
    """One event as its own file, visible only once complete and durable."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"web-{_stamp()}-{_HOST}-{os.getpid()}{('-' + name_hint) if name_hint else ''}.json"
    tmp = folder / f".{name}.part"
    data = (json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    final = folder / name
    os.rename(tmp, final)
    _fsync_dir(folder)
    return final


Clock = Callable[[], datetime]
