"""Follow-up emails: Jinja2 templates per rule template and locale, merged per recipient.

Like invitations (``nps.email.render``), a template (``include/templates/followups/<name>.<locale>
.{html,txt}.j2``) is rendered ONCE per template and locale with ``%nps_...%`` tags; the
per-recipient values (name, company, account owner, the quoted comment, the unsubscribe token)
are substitutions that SendGrid fills itself and the outbox and SMTP transports fill with
``merge``. Every value that goes into HTML is escaped here, the comment included; the quote
block's words ("You wrote:") come from ``_quote.<locale>.*.j2``. The unsubscribe link and the
``List-Unsubscribe`` headers are the invitations' (the survey's own answer-less token).
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path

from nps import TEMPLATES_DIR
from nps.config import ProgramConfig
from nps.email.render import (
    TAG_COMPANY,
    TAG_COMPANY_HTML,
    TAG_NAME,
    TAG_NAME_HTML,
    TAG_TOKEN,
    MessageTemplate,
    TemplateError,
    _env,
    _sep,
    merge,
)
from nps.tokens import TokenSigner

FOLLOWUP_TEMPLATES_DIR = TEMPLATES_DIR / "followups"
TAG_OWNER = "%nps_owner%"
TAG_OWNER_HTML = "%nps_owner_html%"
TAG_QUOTE = "%nps_quote%"
TAG_QUOTE_HTML = "%nps_quote_html%"
TAG_COMMENT = "%nps_comment%"
TAG_COMMENT_HTML = "%nps_comment_html%"
#: A quoted comment is cut here (SendGrid caps a personalization's substitutions at 10,000 bytes).
QUOTE_MAX_CHARS = 1000


def render_followup(config: ProgramConfig, name: str, locale: str, *,
                    templates_dir: Path = FOLLOWUP_TEMPLATES_DIR) -> MessageTemplate:
    """Render the follow-up template ``name`` in ``locale`` (default locale when missing) with tags.

    The returned template's ``survey_type`` is ``followup.<name>`` (batch labels and categories).
    """
    import jinja2

    env = _env(str(templates_dir))
    if not (templates_dir / f"{name}.{locale}.html.j2").is_file():
        locale = config.program.default_locale
    ctx = {
        "program": config.program,
        "sender": config.sender,
        "unsubscribe_url": config.program.unsubscribe_url,
        "unsub_sep": _sep(config.program.unsubscribe_url),
        "links": config.followups.promoter_links,
        "tags": {
            "name": TAG_NAME, "name_html": TAG_NAME_HTML, "company": TAG_COMPANY, "company_html": TAG_COMPANY_HTML,
            "owner": TAG_OWNER, "owner_html": TAG_OWNER_HTML, "quote": TAG_QUOTE, "quote_html": TAG_QUOTE_HTML,
            "token": TAG_TOKEN,
        },
    }
    parts: dict[str, str] = {}
    subject = ""
    for ext in ("html", "txt"):
        fname = f"{name}.{locale}.{ext}.j2"
        try:
            tmpl = env.get_template(fname)
            parts[ext] = tmpl.render(ctx)
            if ext == "txt":
                subject = "".join(tmpl.blocks["subject"](tmpl.new_context(ctx))).strip()
        except jinja2.TemplateNotFound:
            raise TemplateError(f"follow-up template {templates_dir / fname} not found") from None
        except (jinja2.TemplateError, KeyError) as err:
            raise TemplateError(f"follow-up template {templates_dir / fname} failed to render: {err}") from None
    if not subject:
        raise TemplateError(f"follow-up template {templates_dir / f'{name}.{locale}.txt.j2'} has an empty subject")
    unsub = config.program.unsubscribe_url
    return MessageTemplate(f"followup.{name}", locale, subject, parts["txt"], parts["html"],
                           list_unsubscribe=f"<{unsub}{_sep(unsub)}t={TAG_TOKEN}>")


def quote_blocks(locale: str, *, templates_dir: Path = FOLLOWUP_TEMPLATES_DIR) -> tuple[str, str]:
    """The (text, html) quote block of ``locale`` with the comment tags in it."""
    env = _env(str(templates_dir))
    loc = locale if (templates_dir / f"_quote.{locale}.html.j2").is_file() else "en"
    return (env.get_template(f"_quote.{loc}.txt.j2").render().strip() + "\n",
            env.get_template(f"_quote.{loc}.html.j2").render().strip())


def _clip(comment: str) -> str:
    comment = (comment or "").strip()
    return comment if len(comment) <= QUOTE_MAX_CHARS else comment[: QUOTE_MAX_CHARS - 1].rstrip() + "…"


def followup_substitutions(
    signer: TokenSigner, *, survey_id: str, survey_type: str, locale: str, name: str, company: str,
    owner: str, comment: str | None, quotes: tuple[str, str], issued_at: datetime,
) -> dict[str, str]:
    """The per-recipient tag values; every ``*_html`` value is HTML-escaped."""
    text = _clip(comment or "")
    quote_txt, quote_html = quotes
    subs = {
        TAG_NAME: name, TAG_NAME_HTML: html.escape(name, quote=True),
        TAG_COMPANY: company, TAG_COMPANY_HTML: html.escape(company, quote=True),
        TAG_OWNER: owner, TAG_OWNER_HTML: html.escape(owner, quote=True),
        TAG_QUOTE: merge(quote_txt, {TAG_COMMENT: text}) if text else "",
        TAG_QUOTE_HTML: merge(quote_html, {TAG_COMMENT_HTML: html.escape(text, quote=True)}) if text else "",
        # The survey's own answer-less token: the response page unsubscribes the contact with it.
        TAG_TOKEN: signer.sign(survey_id, survey_type, None, issued_at, locale),
    }
    return subs


def check_templates(config: ProgramConfig) -> list[str]:
    """Render every follow-up template of the config in every locale; returns ``name.locale`` rendered."""
    out = []
    for name in sorted(config.followups.templates()):
        for loc in config.program.locales:
            t = render_followup(config, name, loc)
            out.append(f"{name}.{t.locale}")
    return out


__all__ = ["FOLLOWUP_TEMPLATES_DIR", "QUOTE_MAX_CHARS", "check_templates", "followup_substitutions",
           "quote_blocks", "render_followup"]
