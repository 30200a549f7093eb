"""The survey response page: the ASGI app behind the links in every invitation.

Routes (paths taken from ``program.survey_base_url`` and ``program.unsubscribe_url``):

- ``GET <survey path>?t=<token>&score=<answer>``: the question with the clicked answer selected, an
  optional comment box and a Send button (links sent before 2026-11-28 carry the answer inside the
  token and no ``score``; a ``score`` off the survey type's scale is refused with a page saying
  so). Never records anything (link scanners fetch every link). The page's same-origin script
  posts the clicked answer at once, so one click in the email counts.
- ``POST <survey path>``: records an answer (form fields ``t``, ``csrf``, ``score``, ``comment``;
  ``auto=1`` from the script) and shows the thank-you page (or JSON for the script). The answer
  is acknowledged only once it is synced to disk in the landing area (``nps.web.store``).
- ``GET <unsubscribe path>?t=<token>``: a confirmation page; ``POST`` records an unsubscribe
  event. A POST whose body is ``List-Unsubscribe=One-Click`` (RFC 8058, sent by mailbox
  providers from the ``List-Unsubscribe`` header) needs no form token: the signed URL is the proof.
- ``GET /healthz``: ``{"status": "ok"}`` while answers can be written (for the load balancer).
- ``/static/app.css``, ``/static/app.js``: the page's only assets.

No warehouse: the page verifies tokens (``nps.tokens``) and writes files that
``nps_ingest_responses`` validates and loads like any other. Expired links (older than
``web.survey_open_days`` from the send) and forged or altered ones get a friendly page and record
nothing; forged ones are logged as security events (with a keyed hash of the client address,
never the address, the token or an email). Every response carries a strict CSP (no inline
scripts or styles, no third-party origins, ``frame-ancestors 'none'``) and ``no-store``.
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
import secrets
import signal
import time
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from nps import TEMPLATES_DIR
from nps.config import SCORE_RANGES
from nps.email.render import SCORE_PARAM
from nps.tokens import ForgedTokenError, SurveyToken, TokenError, TokenSigner
from nps.web.guards import FormTokens, RateLimiter, ScannerWatch, client_tag
from nps.web.settings import Settings
from nps.web.store import ResponseLog, write_event

log = logging.getLogger("nps.web")
security_log = logging.getLogger("nps.web.security")

WEB_TEMPLATES_DIR = TEMPLATES_DIR / "web"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),  # the token never leaves the site in a Referer
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
ONE_CLICK = "List-Unsubscribe=One-Click"
_EPOCH = datetime(1970, 1, 1)


@lru_cache(maxsize=4)
def _messages(directory: str) -> dict[str, dict]:
    return yaml.safe_load((Path(directory) / "messages.yaml").read_text(encoding="utf-8"))


@lru_cache(maxsize=4)
def _env(directory: str):
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,
    )


class SecurityHeaders:
    """Pure ASGI middleware: the same headers on every response, errors included."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_headers(message) -> None:  # noqa: ANN001
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(SECURITY_HEADERS)
                if https:
                    headers.append(HSTS)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(Exception):
    pass


class SurveyPage:
    """The page's state: signer, writers, guards and rendering. One per server process."""

    def __init__(self, settings: Settings, templates_dir: Path = WEB_TEMPLATES_DIR) -> None:
        self.s = settings
        cfg = settings.config
        self.signer = TokenSigner(settings.secret)
        self.forms = FormTokens(settings.secrets)
        self.per_address = RateLimiter(cfg.web.rate_limit_per_address)
        self.per_survey = RateLimiter(cfg.web.rate_limit_per_token)
        self.scanners = ScannerWatch(settings.scanner_window_seconds, settings.scanner_answers)
        self.log_key = secrets.token_bytes(16)
        self.responses = ResponseLog(settings.landing / "responses", rotate_seconds=settings.rotate_seconds)
        self.events_dir = settings.landing / "events"
        self.templates_dir = templates_dir
        self.messages = _messages(str(templates_dir))
        self.env = _env(str(templates_dir))
        self.survey_path = urlsplit(cfg.program.survey_base_url).path or "/"
        self.unsub_path = urlsplit(cfg.program.unsubscribe_url).path or "/unsubscribe"
        self.static_path = posixpath.join(posixpath.dirname(self.survey_path.rstrip("/")) or "/", "static")
        self.static = {
            "app.css": ((templates_dir / "static" / "app.css").read_bytes(), "text/css; charset=utf-8"),
            "app.js": ((templates_dir / "static" / "app.js").read_bytes(), "text/javascript; charset=utf-8"),
        }
        self.max_body = cfg.web.max_request_bytes
        self._thanks: dict[tuple, str] = {}
        self.stats = {"recorded": 0, "scanner_ignored": 0, "forged": 0, "expired": 0, "unsubscribed": 0}

    # -- helpers -----------------------------------------------------------------------------
    def locale_for(self, request: Request, token: SurveyToken | None) -> str:
        locales = self.s.config.program.locales
        if token is not None and token.locale in locales:
            return token.locale
        header = request.headers.get("accept-language", "")
        ranked = []
        for i, part in enumerate(header.split(",")[:20]):
            tag, _, q = part.strip().partition(";q=")
            try:
                weight = float(q) if q else 1.0
            except ValueError:
                weight = 0.0
            ranked.append((-weight, i, tag.strip().lower().split("-")[0]))
        for _, _, lang in sorted(ranked):
            if lang in locales:
                return lang
        return self.s.config.program.default_locale

    def m(self, locale: str) -> dict:
        return self.messages.get(locale) or self.messages["en"]

    def client(self, request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def render(self, name: str, locale: str, status: int = 200, **ctx) -> HTMLResponse:
        html = self.env.get_template(name).render(
            m=self.m(locale), locale=locale, static=self.static_path, sender=self.s.config.sender.name,
            program=self.s.config.program.name, **ctx)
        return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})

    def message(self, locale: str, status: int, key: str, headers: dict | None = None, **fmt) -> HTMLResponse:
        m = self.m(locale)
        resp = self.render("message.html.j2", locale, status, kind="problem" if status >= 400 else "ok",
                           heading=m[f"{key}_title"], body=m[f"{key}_body"].format(**fmt))
        if headers:
            resp.headers.update(headers)
        return resp

    def read_token(self, request: Request, raw: str | None) -> tuple[SurveyToken | None, Response | None]:
        f = self.signer.fields(raw) if raw else None  # the common case, in a few C calls
        if f is not None:
            issued = _EPOCH + timedelta(seconds=f[3]) if f[3] is not None else None
            return SurveyToken(f[0], f[1], f[2], issued, f[4]), None
        locale = self.locale_for(request, None)
        try:
            return self.signer.verify(raw or ""), None
        except ForgedTokenError:
            self.stats["forged"] += 1
            security_log.warning("security: forged or altered survey token refused on %s %s (client %s)",
                                 request.method, request.url.path, client_tag(self.client(request), self.log_key))
            return None, self.message(locale, 400, "invalid")
        except TokenError as err:
            log.info("malformed survey link refused on %s %s: %s", request.method, request.url.path, err)
            return None, self.message(locale, 400, "invalid")

    def limited(self, request: Request, survey_id: str | None, locale: str) -> Response | None:
        ok = self.per_address.hit(self.client(request))
        if survey_id is not None:
            ok = self.per_survey.hit(survey_id) and ok
        if ok:
            return None
        return self.message(locale, 429, "too_many", headers={"retry-after": "60"})

    def expired(self, token: SurveyToken, now: datetime | None = None) -> bool:
        if token.issued_at is None:
            return False  # v1 links carry no send time; ingestion still checks them against the ledger
        age = (now or self.s.now()) - token.issued_at
        return age.total_seconds() > self.s.config.web.survey_open_days * 86400

    def cross_site(self, request: Request) -> bool:
        """A browser says the POST comes from another site (the form token is required anyway)."""
        site = request.headers.get("sec-fetch-site")
        if site:
            return site not in ("same-origin", "none")
        origin = request.headers.get("origin")
        if origin and origin != "null":
            return urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower()
        return False

    async def read_form(self, request: Request) -> dict[str, str]:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            raise BodyTooLarge
        if length is not None:
            body = await request.body()  # the server stops at Content-Length
        else:  # chunked: count as it comes
            chunks, size = [], 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > self.max_body:
                    raise BodyTooLarge
                chunks.append(chunk)
            body = b"".join(chunks)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "multipart/form-data":  # RFC 8058 allows it for the one-click POST
            text = body.decode("utf-8", "replace")
            if 'name="List-Unsubscribe"' in text and "One-Click" in text:
                return {"List-Unsubscribe": "One-Click"}
            return {}
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
        except (UnicodeDecodeError, ValueError):
            return {}
        return dict(pairs)

    def thanks(self, locale: str, token_text: str, score: int, comment: str | None) -> HTMLResponse:
        # The busiest page: rendered once per (locale, score, comment or not), the token put in
        # by a plain replace (tokens are URL-safe base64: nothing to escape).
        key = (locale, score, bool(comment))
        page = self._thanks.get(key)
        if page is None:
            m = self.m(locale)
            page = self._thanks[key] = self.render(
                "thanks.html.j2", locale, thanks_body=m["thanks_body"].format(score=score), has_comment=bool(comment),
                change_url=f"{self.survey_path}?t=\x00TOKEN\x00&edit={score}").body.decode("utf-8")
        html = page.replace("\x00TOKEN\x00", quote(token_text, safe=""))
        return HTMLResponse(html, headers={"cache-control": "no-store"})

    def question(self, request: Request, token: SurveyToken, token_text: str, locale: str, *, selected: int | None,
                 auto: bool, status: int = 200, comment: str = "", error: str = "") -> HTMLResponse:
        cfg = self.s.config
        m = self.m(locale)
        lo, hi = SCORE_RANGES[token.survey_type]
        t = token.survey_type
        return self.render(
            "question.html.j2", locale, status,
            token=token_text, csrf=self.forms.issue(token.survey_id), action=self.survey_path,
            question=m["question"][t].format(sender=cfg.sender.name),
            scale_hint=m["scale_hint"].format(lo=lo, hi=hi, low=m["low"][t], high=m["high"][t]),
            answers=list(range(lo, hi + 1)), selected=selected, auto=auto,
            comment_max=cfg.program.comment_max_chars,
            comment_hint=m["comment_hint"].format(max=cfg.program.comment_max_chars),
            comment=comment, error=error)

    def admit(self, request: Request, raw: str | None) -> tuple:
        """Every route's first step: (token, locale, None), or (None, None, the response that ends
        the request) for a bad, forged or rate-limited link (counted against the address)."""
        token, problem = self.read_token(request, raw)
        if problem:
            self.limited(request, None, "en")
            return None, None, problem
        locale = self.locale_for(request, token)
        return token, locale, self.limited(request, token.survey_id, locale)

    # -- routes ------------------------------------------------------------------------------
    async def get_survey(self, request: Request) -> Response:
        raw = request.query_params.get("t")
        token, locale, stop = self.admit(request, raw)
        if stop is not None:
            return stop
        if self.expired(token):
            self.stats["expired"] += 1
            return self.message(locale, 410, "expired", days=self.s.config.web.survey_open_days)
        lo, hi = SCORE_RANGES[token.survey_type]
        edit = request.query_params.get("edit")
        if edit is not None and edit.isdigit() and lo <= int(edit) <= hi:
            return self.question(request, token, raw, locale, selected=int(edit), auto=False)
        # An answer link: the invitation's token with the clicked score beside it (?t=..&score=7),
        # or a link sent before 2026-11-28 whose token carries the answer signed inside.
        clicked = request.query_params.get(SCORE_PARAM)
        if clicked is not None:
            if not (clicked.isascii() and clicked.isdigit() and lo <= int(clicked) <= hi):
                log.info("answer link with a score off the %d-%d scale refused", lo, hi)
                return self.message(locale, 400, "bad_score", lo=lo, hi=hi)
            if token.answer is not None and token.answer != int(clicked):  # an old link, edited
                log.info("answer link whose score differs from its token's signed answer refused")
                return self.message(locale, 400, "invalid")
            selected: int | None = int(clicked)
        else:
            selected = token.answer if token.answer is not None and lo <= token.answer <= hi else None
        self.scanners.fetched(token.survey_id, selected)
        return self.question(request, token, raw, locale, selected=selected, auto=selected is not None)

    async def post_survey(self, request: Request) -> Response:
        wants_json = "application/json" in request.headers.get("accept", "")
        try:
            form = await self.read_form(request)
        except BodyTooLarge:
            return self.message(self.locale_for(request, None), 413, "too_large")
        raw = form.get("t", "")
        token, locale, stop = self.admit(request, raw)
        if stop is not None:
            return stop
        if self.cross_site(request):
            security_log.warning("security: cross-site answer POST refused (client %s)",
                                 client_tag(self.client(request), self.log_key))
            return self.message(locale, 403, "stale")
        ok, served = self.forms.check(form.get("csrf", ""), token.survey_id)
        if not ok:
            security_log.warning("security: answer POST without a genuine form token refused (client %s)",
                                 client_tag(self.client(request), self.log_key))
            return self.message(locale, 403, "stale")
        if self.forms.expired(served):
            return self.message(locale, 400, "stale")
        now = self.s.now()
        if self.expired(token, now):
            self.stats["expired"] += 1
            return self.message(locale, 410, "expired", days=self.s.config.web.survey_open_days)
        lo, hi = SCORE_RANGES[token.survey_type]
        score_text = form.get("score", "")
        if not (score_text.isdigit() and lo <= int(score_text) <= hi):
            return self.message(locale, 400, "bad_request", lo=lo, hi=hi)
        score = int(score_text)
        comment = form.get("comment", "").replace("\r\n", "\n").strip()
        limit = self.s.config.program.comment_max_chars
        if len(comment) > limit:
            m = self.m(locale)
            return self.question(request, token, raw, locale, selected=score, auto=False, status=400,
                                 comment=comment, error=m["comment_too_long"].format(max=limit))
        auto = form.get("auto") == "1"
        if auto:
            # Hold an automatic post until its page is a scanner window old, then drop it if the
            # survey's page was fetched for several different answers around the same time.
            wait = served + self.s.scanner_window_seconds + 0.05 - time.time()
            if wait > 0:
                await asyncio.sleep(min(wait, self.s.scanner_window_seconds + 0.05))
            around = time.monotonic() - (time.time() - served)
            if self.scanners.looks_scanned(token.survey_id, around):
                self.stats["scanner_ignored"] += 1
                log.info("automatic answer ignored: the survey's links were fetched all at once (a link scanner)")
                return JSONResponse({"recorded": False, "reason": "confirm"}, headers={"cache-control": "no-store"})
        record = {"token": raw, "score": score, "comment": comment or None,
                  "responded_at": (self.s.now() if auto else now).isoformat(timespec="microseconds") + "Z",
                  "locale": locale}
        try:
            await self.responses.append(record)
        except OSError:
            if wants_json or auto:
                return JSONResponse({"recorded": False, "reason": "unavailable"}, status_code=503)
            return self.message(locale, 503, "unavailable", headers={"retry-after": "5"})
        self.stats["recorded"] += 1
        if wants_json or auto:
            return JSONResponse({"recorded": True}, headers={"cache-control": "no-store"})
        return self.thanks(locale, raw, score, comment)

    async def get_unsubscribe(self, request: Request) -> Response:
        raw = request.query_params.get("t")
        token, locale, stop = self.admit(request, raw)
        if stop is not None:
            return stop
        m = self.m(locale)
        return self.render("unsubscribe.html.j2", locale, token=raw, csrf=self.forms.issue(token.survey_id),
                           action=self.unsub_path, body=m["unsub_body"].format(sender=self.s.config.sender.name))

    async def post_unsubscribe(self, request: Request) -> Response:
        try:
            form = await self.read_form(request)
        except BodyTooLarge:
            return self.message(self.locale_for(request, None), 413, "too_large")
        one_click = form.get("List-Unsubscribe") == "One-Click"
        raw = request.query_params.get("t") if one_click else form.get("t") or request.query_params.get("t")
        token, locale, stop = self.admit(request, raw)
        if stop is not None:
            return stop
        if not one_click:
            ok, _ = self.forms.check(form.get("csrf", ""), token.survey_id)
            if not ok or self.cross_site(request):
                security_log.warning("security: unsubscribe POST without a genuine form token refused (client %s)",
                                     client_tag(self.client(request), self.log_key))
                return self.message(locale, 403, "stale")
        now = self.s.now()
        event = {"event": "unsubscribe", "survey_id": token.survey_id,
                 "timestamp": int((now - datetime(1970, 1, 1)).total_seconds()),
                 # one event per survey: a second click (or the provider's retry) is a duplicate
                 "sg_event_id": f"web-unsubscribe-{token.survey_id}"[:128],
                 "source": "survey-web", "one_click": one_click}
        try:
            await asyncio.to_thread(write_event, self.events_dir, event, "unsubscribe")
        except OSError as err:
            log.error("cannot record an unsubscribe: %s", err)
            return self.message(locale, 503, "unavailable", headers={"retry-after": "5"})
        self.stats["unsubscribed"] += 1
        if one_click:
            return Response(status_code=200, headers={"cache-control": "no-store"})
        return self.message(locale, 200, "unsub_done", sender=self.s.config.sender.name)

    async def health(self, request: Request) -> Response:
        ok = self.responses.healthy and self.s.landing.is_dir()
        return JSONResponse({"status": "ok" if ok else "degraded"}, status_code=200 if ok else 503,
                            headers={"cache-control": "no-store"})

    async def static_file(self, request: Request) -> Response:
        item = self.static.get(request.path_params["name"])
        if item is None:
            return await self.not_found(request)
        return Response(item[0], media_type=item[1], headers={"cache-control": "public, max-age=3600"})

    async def not_found(self, request: Request, exc: Exception | None = None) -> Response:
        return self.message(self.locale_for(request, None), 404, "not_found")

    async def method_not_allowed(self, request: Request, exc: Exception | None = None) -> Response:
        resp = self.message(self.locale_for(request, None), 405, "not_found")
        return resp


def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI app (``uvicorn nps.web.app:create_app --factory``)."""
    settings = settings or Settings.from_env()
    page = SurveyPage(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette):  # noqa: ANN202
        await page.responses.start()
        try:  # SIGUSR1: hand the open answer file to ingestion now (operators, the demo)
            asyncio.get_running_loop().add_signal_handler(
                signal.SIGUSR1, lambda: asyncio.ensure_future(page.responses._rotate_now()))  # noqa: SLF001
        except (RuntimeError, ValueError, NotImplementedError):
            pass  # not the main thread (tests' in-process client): rotation by time only
        log.info("survey page ready: answers to %s, unsubscribes to %s", page.responses.folder, page.events_dir)
        try:
            yield
        finally:
            await page.responses.close()

    routes = [
        Route(page.survey_path, page.get_survey, methods=["GET"]),
        Route(page.survey_path, page.post_survey, methods=["POST"]),
        Route(page.unsub_path, page.get_unsubscribe, methods=["GET"]),
        Route(page.unsub_path, page.post_unsubscribe, methods=["POST"]),
        Route("/healthz", page.health, methods=["GET"]),
        Route(page.static_path + "/{name}", page.static_file, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={404: page.not_found, 405: page.method_not_allowed})
    app.state.page = page
    app.add_middleware(SecurityHeaders)
    return app
