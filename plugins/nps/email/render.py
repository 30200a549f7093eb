"""Invitation rendering: Jinja2 templates per survey type and locale, merged per recipient.

A template (``include/templates/email/<type>.<locale>.{html,txt}.j2``) is rendered ONCE per
survey type and locale with placeholder tags (``%nps_token%``, ``%nps_name_html%``, ...) where
per-recipient values go. SendGrid fills the tags itself from each personalization's
``substitutions``; the outbox and SMTP transports fill them with :func:`merge`. So a batch of
1000 invitations costs one Jinja render, and every transport sends the same bytes.

Per-recipient values: ONE signed, answer-less token (``TokenSigner.sign(survey_id, type, None,
issued_at, locale)``) that every answer link carries with its score as a separate parameter
(``<survey_base_url>?t=<token>&score=7``) and the unsubscribe link carries alone, and the
contact's name and company, HTML-escaped for the HTML part. Tokens are URL-safe base64, so they
need no escaping anywhere. (Until 2026-11-28 each answer link had its own token with the answer
signed inside; the response page still accepts those.) The unsubscribe link also goes into the
``List-Unsubscribe`` header with ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``
(RFC 8058), which large mailbox providers require of bulk senders:
:func:`list_unsubscribe_headers`, used by every transport.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial
from pathlib import Path

from nps import TEMPLATES_DIR
from nps.config import SCORE_RANGES, ProgramConfig
from nps.tokens import TokenSigner

EMAIL_TEMPLATES_DIR = TEMPLATES_DIR / "email"
TAG_NAME = "%nps_name%"
TAG_NAME_HTML = "%nps_name_html%"
TAG_COMPANY = "%nps_company%"
TAG_COMPANY_HTML = "%nps_company_html%"
#: The survey's answer-less token: in every answer link (with ``&score=<answer>``) and the unsubscribe link.
TAG_TOKEN = "%nps_token%"
#: The query parameter that carries an answer link's score beside the token.
SCORE_PARAM = "score"
_TAG = re.compile(r"%nps_[a-z0-9_]+%")


class TemplateError(ValueError):
    """An invitation template is missing or does not render."""


@dataclass(frozen=True)
class MessageTemplate:
    """One survey type and locale, rendered with placeholder tags."""

    survey_type: str
    locale: str
    subject: str
    text: str
    html: str
    # The List-Unsubscribe header value with the %nps_token% tag (RFC 2369 / RFC 8058); empty = none.
    list_unsubscribe: str = ""


def _sep(url: str) -> str:
    return "&" if "?" in url else "?"


@lru_cache(maxsize=8)
def _env(directory: str):
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render_template(
    config: ProgramConfig, survey_type: str, locale: str, *, templates_dir: Path = EMAIL_TEMPLATES_DIR
) -> MessageTemplate:
    """Render the type's template in ``locale`` (falling back to the default locale) with tags."""
    import jinja2

    env = _env(str(templates_dir))
    if not (templates_dir / f"{survey_type}.{locale}.html.j2").is_file():
        locale = config.program.default_locale
    lo, hi = SCORE_RANGES[survey_type]
    ctx = {
        "program": config.program,
        "sender": config.sender,
        "survey_base_url": config.program.survey_base_url,
        "sep": _sep(config.program.survey_base_url),
        "unsubscribe_url": config.program.unsubscribe_url,
        "unsub_sep": _sep(config.program.unsubscribe_url),
        "scale": [{"answer": a} for a in range(lo, hi + 1)],
        "score_param": SCORE_PARAM,
        "tags": {
            "token": TAG_TOKEN,
            "name": TAG_NAME,
            "name_html": TAG_NAME_HTML,
            "company": TAG_COMPANY,
            "company_html": TAG_COMPANY_HTML,
        },
    }
    parts = {}
    for ext in ("html", "txt"):
        name = f"{survey_type}.{locale}.{ext}.j2"
        try:
            tmpl = env.get_template(name)
            parts[ext] = tmpl.render(ctx)
            if ext == "txt":
                subject = "".join(tmpl.blocks["subject"](tmpl.new_context(ctx))).strip()
        except jinja2.TemplateNotFound:
            raise TemplateError(f"invitation template {templates_dir / name} not found") from None
        except jinja2.TemplateError as err:
            raise TemplateError(f"invitation template {templates_dir / name} failed to render: {err}") from None
    if not subject:
        raise TemplateError(f"invitation template {templates_dir / f'{survey_type}.{locale}.txt.j2'} has an empty subject")
    unsub = config.program.unsubscribe_url
    return MessageTemplate(survey_type, locale, subject, parts["txt"], parts["html"],
                           list_unsubscribe=f"<{unsub}{_sep(unsub)}t={TAG_TOKEN}>")


#: RFC 8058: the header that tells mailbox providers the List-Unsubscribe URL takes a one-click POST.
LIST_UNSUBSCRIBE_POST = "List-Unsubscribe=One-Click"


def list_unsubscribe_headers(template: MessageTemplate, subs: dict[str, str]) -> dict[str, str]:
    """The recipient's ``List-Unsubscribe`` and ``List-Unsubscribe-Post`` headers (none when the
    template has no unsubscribe URL). Every transport sends exactly these."""
    if not template.list_unsubscribe:
        return {}
    return {"List-Unsubscribe": merge(template.list_unsubscribe, subs), "List-Unsubscribe-Post": LIST_UNSUBSCRIBE_POST}


def substitutions(
    signer: TokenSigner, survey_id: str, survey_type: str, name: str, company: str,
    issued_at: datetime | None = None, locale: str | None = None,
) -> dict[str, str]:
    """The per-recipient tag values: the survey's token, name and company.

    The token carries ``issued_at`` (default: now, as the invitation goes out; a batch passes its
    own, once), from which the response page counts the days a survey stays open
    (``web.survey_open_days``), and the invitation's ``locale``, the language the page answers in."""
    if "|" in survey_id:
        raise ValueError(f"survey_id {survey_id!r} may not contain '|'")
    if issued_at is None:
        from nps.clock import utcnow

        issued_at = utcnow()
    return {
        TAG_TOKEN: signer.sign(survey_id, survey_type, None, issued_at, locale),
        TAG_NAME: name,
        TAG_NAME_HTML: _escape(name),
        TAG_COMPANY: company,
        TAG_COMPANY_HTML: _escape(company),
    }


#: ``html.escape`` for names and companies, which repeat across a batch (first names above all).
_escape = lru_cache(maxsize=1 << 16)(partial(html.escape, quote=True))


def merge(text: str, subs: dict[str, str]) -> str:
    """Fill the tags of ``text`` in one pass (a value is never scanned for tags again)."""
    return _TAG.sub(lambda m: subs.get(m.group(0), m.group(0)), text)


def survey_link(config: ProgramConfig, token: str, score: int | None = None) -> str:
    """The response page's link for ``token``; with ``score``, the one-click answer link."""
    base = config.program.survey_base_url
    return f"{base}{_sep(base)}t={token}" + ("" if score is None else f"&{SCORE_PARAM}={int(score)}")


def unsubscribe_link(config: ProgramConfig, token: str) -> str:
    base = config.program.unsubscribe_url
    return f"{base}{_sep(base)}t={token}"
