"""The survey response page under load on loopback: answers/s, latency, and nothing lost.

A fixed number of keep-alive clients POST answers (the Send button's form POST, answered with the
thank-you page) for a fixed time against ``python -m nps.web`` in its own process, each answer to
a distinct survey link with a unique comment. Then:

- ``survey_web_answers_per_s``, ``survey_web_p50_ms``, ``survey_web_p99_ms``: a closed loop. Each
  client has one request in flight on its own keep-alive connection and sends the next the moment
  the previous answer is acknowledged (HTTP 200 with the thank-you page, i.e. after the server's
  ``fdatasync``); the rate is acknowledged answers over the run's wall time, the latency from the
  request's first byte sent to the response's last byte read. The load is bounded (32 requests in
  flight at most), so a faster server shows as a higher rate, not as a longer queue;
- ``survey_web_server_cpu_per_answer_us`` and ``survey_web_client_cpu_per_answer_us``: the CPU
  each side spent per answer during the load. Both share the machine's cores; the client's share
  shows the load generator is not what limits the rate;
- ``survey_web_lost``: answers acknowledged (HTTP 200) but missing from the landing area after a
  graceful stop (must be 0);
- the same with the server killed by SIGKILL half-way (``survey_web_kill_lost``, must be 0):
  answers in flight at the kill were never acknowledged, and the next start publishes the killed
  server's file (``nps.web.store.recover``).

Targets on 2 cores: >= 1,000 answers/s, p99 < 100 ms, 0 lost. Each run stops by itself.
Environment: BENCH_WEB_CLIENTS (32), BENCH_WEB_SECONDS (10).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

SECRET = "bench-secret-not-for-production-0123456789"
CLIENTS = int(os.environ.get("BENCH_WEB_CLIENTS", "32"))
SECONDS = float(os.environ.get("BENCH_WEB_SECONDS", "10"))


def bench_config(tmp: Path) -> Path:
    import yaml

    data = yaml.safe_load((ROOT / "include/config/program.yaml").read_text(encoding="utf-8"))
    data["program"]["survey_base_url"] = "http://127.0.0.1/s"
    data["program"]["unsubscribe_url"] = "http://127.0.0.1/unsubscribe"
    # All load comes from one address and reuses links: lift the limits meant for the internet.
    data["web"] = {**data.get("web", {}), "rate_limit_per_address": 10**9, "rate_limit_per_token": 10**9}
    path = tmp / "program.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def start_server(tmp: Path, landing: Path, config: Path) -> tuple[subprocess.Popen, int]:
    port_file = tmp / "port"
    port_file.unlink(missing_ok=True)
    env = {**os.environ, "NPS_TOKEN_SECRET": SECRET, "NPS_LANDING_URI": str(landing), "NPS_PROGRAM_CONFIG": str(config),
           "PYTHONPATH": str(ROOT / "plugins"), "NPS_WEB_ROTATE_SECONDS": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "nps.web", "--port", "0", "--port-file", str(port_file),
                             "--log-level", "warning"], env=env, cwd=ROOT)
    deadline = time.monotonic() + 30
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the survey page did not start")
        time.sleep(0.05)
    return proc, int(port_file.read_text())


def requests(n: int) -> list[tuple[str, bytes]]:
    """(comment id, raw HTTP request) for n answers to n distinct surveys."""
    from nps.tokens import TokenSigner, split_secrets
    from nps.web.guards import FormTokens

    signer, forms = TokenSigner(SECRET), FormTokens(split_secrets(SECRET))
    now = datetime.now(UTC).replace(tzinfo=None)
    out = []
    for i in range(n):
        sid = f"SB{i:07d}"
        tok = signer.sign(sid, "nps", 9, now, "en")
        cid = f"bench-{i:07d}"
        body = f"t={quote(tok)}&csrf={quote(forms.issue(sid))}&score={i % 11}&comment={cid}".encode()
        req = (b"POST /s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
               b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        out.append((cid, req))
    return out


async def client(port: int, work: list, cursor: list, stop_at: float, acked: list, lat: list, errors: list) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as err:
        errors.append(repr(err))
        return
    try:
        while time.monotonic() < stop_at:
            i = cursor[0]
            cursor[0] += 1
            cid, req = work[i % len(work)]
            t0 = time.perf_counter()
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            if status == 200 and b"<h1>" in body:
                acked.append(cid)
            else:
                errors.append(status)
    except (OSError, asyncio.IncompleteReadError) as err:
        errors.append(type(err).__name__)  # the server was killed mid-request: never acknowledged
    finally:
        writer.close()


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the server process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def landed(folder: Path) -> set[str]:
    from nps.web.store import recover

    recover(folder)  # what the next start does with a killed server's file
    got = set()
    for p in folder.glob("*.jsonl"):
        for line in p.read_text(encoding="utf-8").splitlines():
            got.add(json.loads(line)["comment"])
    return got


def run(kill_after: float | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-web-") as d:
        tmp = Path(d)
        landing = tmp / "landing"
        config = bench_config(tmp)
        work = requests(int(CLIENTS * SECONDS * 400) + 1000)
        proc, port = start_server(tmp, landing, config)
        cpu0 = server_cpu_seconds(proc.pid)  # start-up (imports, config) is not the answers' cost
        acked: list[str] = []
        lat: list[float] = []
        errors: list = []
        cursor = [0]
        client_cpu0 = time.process_time()

        async def main() -> float:
            t0 = time.monotonic()
            stop_at = t0 + SECONDS
            tasks = [asyncio.create_task(client(port, work, cursor, stop_at, acked, lat, errors)) for _ in range(CLIENTS)]
            if kill_after is not None:
                await asyncio.sleep(kill_after)
                proc.send_signal(signal.SIGKILL)
            await asyncio.gather(*tasks)
            return time.monotonic() - t0

        try:
            import uvloop

            elapsed = uvloop.run(main())
        except ImportError:
            elapsed = asyncio.run(main())
        client_cpu = time.process_time() - client_cpu0
        cpu = server_cpu_seconds(proc.pid) - cpu0 if proc.poll() is None else None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        got = landed(landing / "responses")
        lost = len(set(acked) - got)
        lat.sort()
        return {"answers": len(acked), "elapsed": min(elapsed, kill_after or elapsed), "lost": lost,
                "p50": lat[len(lat) // 2] * 1000 if lat else 0.0, "p99": lat[int(len(lat) * 0.99)] * 1000 if lat else 0.0,
                "errors": len(errors), "cpu": cpu, "client_cpu": client_cpu}


def main() -> None:
    print(f"bench survey_web_load_average {os.getloadavg()[0]:.1f} (other jobs on this machine's {os.cpu_count()} cores)",
          flush=True)
    r = run()
    print(f"bench survey_web_clients {CLIENTS} connections", flush=True)
    print(f"bench survey_web_answers {r['answers']} answers in {SECONDS:.0f} s", flush=True)
    print(f"bench survey_web_answers_per_s {r['answers'] / r['elapsed']:.0f} answers/s", flush=True)
    print(f"bench survey_web_p50_ms {r['p50']:.1f} ms", flush=True)
    print(f"bench survey_web_p99_ms {r['p99']:.1f} ms", flush=True)
    print(f"bench survey_web_errors {r['errors']} responses", flush=True)
    if r["cpu"] is not None and r["answers"]:
        # On a shared machine the rate depends on the cores the server got; its CPU per answer does not.
        print(f"bench survey_web_server_cpu_per_answer_us {r['cpu'] / r['answers'] * 1e6:.0f} us", flush=True)
        print(f"bench survey_web_client_cpu_per_answer_us {r['client_cpu'] / r['answers'] * 1e6:.0f} us", flush=True)
    print(f"bench survey_web_lost {r['lost']} answers", flush=True)
    k = run(kill_after=SECONDS / 2)
    print(f"bench survey_web_kill_acknowledged {k['answers']} answers before SIGKILL", flush=True)
    print(f"bench survey_web_kill_lost {k['lost']} answers", flush=True)
    print(f"bench survey_web_load_average_end {os.getloadavg()[0]:.1f} (noise: other jobs during the runs)", flush=True)
    if r["lost"] or k["lost"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
