"""Program configuration: the YAML file that describes the feedback program.

It owns what the program surveys and when (industries, cadences, touchpoints), the fatigue
rules, locales, the sender, report recipients, KPI baselines and targets, and the comment theme
taxonomy. ``load_config`` validates the whole file before anything touches data and raises
``ConfigError`` naming the file, the key and the problem.

The path defaults to ``include/config/program.yaml`` and can be overridden with the
``NPS_PROGRAM_CONFIG`` environment variable.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from nps import CONFIG_DIR

DEFAULT_CONFIG_PATH = CONFIG_DIR / "program.yaml"


class ConfigError(ValueError):
    """The program configuration is missing, malformed or inconsistent."""


class SurveyType(StrEnum):
    nps = "nps"
    csat = "csat"
    ces = "ces"


#: Inclusive answer range of each survey type (DOMAIN.md section 1).
SCORE_RANGES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


class Cadence(StrEnum):
    weekly = "weekly"
    monthly = "monthly"
    bimonthly = "bimonthly"
    quarterly = "quarterly"
    semiannual = "semiannual"
    annual = "annual"

    @property
    def months(self) -> int | None:
        """Length in calendar months, or None for the weekly cadence."""
        return {"weekly": None, "monthly": 1, "bimonthly": 2, "quarterly": 3, "semiannual": 6, "annual": 12}[
            self.value
        ]

    def cycle_bounds(self, day: date) -> tuple[date, date]:
        """The [start, end) of the cycle that contains ``day``; cycles align to calendar weeks/months."""
        if self is Cadence.weekly:
            start = day - timedelta(days=day.weekday())
            return start, start + timedelta(days=7)
        months = self.months
        assert months is not None
        first_month = ((day.month - 1) // months) * months + 1
        start = date(day.year, first_month, 1)
        end_month = first_month + months
        end = date(day.year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1)
        return start, end

    def cycle_key(self, day: date) -> str:
        """A stable name for the cycle that contains ``day``, e.g. ``2026-Q3`` or ``2026-W36``."""
        start, _ = self.cycle_bounds(day)
        if self is Cadence.weekly:
            iso = start.isocalendar()
            return f"{iso.year}-W{iso.week:02d}"
        if self is Cadence.quarterly:
            return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
        if self is Cadence.semiannual:
            return f"{start.year}-H{(start.month - 1) // 6 + 1}"
        if self is Cadence.annual:
            return f"{start.year}"
        return f"{start.year}-M{start.month:02d}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TouchpointRule(_Strict):
    survey: SurveyType
    delay_days: Annotated[int, Field(ge=0, le=90)] = 1
    description: str = ""


class Industry(_Strict):
    relationship_cadence: Cadence
    relationship_survey: SurveyType = SurveyType.nps
    touchpoints: dict[str, TouchpointRule] = Field(default_factory=dict)


class Fatigue(_Strict):
    """Contact rules, counted across NPS, CSAT and CES together."""

    relationship_days: Annotated[int, Field(ge=1, le=730)] = 90
    transactional_days: Annotated[int, Field(ge=1, le=365)] = 30
    any_survey_days: Annotated[int, Field(ge=0, le=365)] = 14
    account_cap_per_cycle: Annotated[int, Field(ge=1)] = 25


class Dispatch(_Strict):
    """How invitations are sent (nps.dispatch); every key is optional."""

    batch_size: Annotated[int, Field(ge=1, le=1000)] = 1000  # SendGrid allows 1000 personalizations
    reconcile_grace_minutes: Annotated[int, Field(ge=0)] = 60
    sendgrid_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 30.0
    sendgrid_max_retries: Annotated[int, Field(ge=0, le=20)] = 5
    sandbox_mode: bool = False


def _email_address(v: str) -> str:
    if "@" not in v:
        raise ValueError(f"{v!r} is not an email address")
    return v


#: An address the program sends to or from (sender, escalation levels, contacts).
EmailAddress = Annotated[str, AfterValidator(_email_address)]


class Web(_Strict):
    """The survey response page (nps.web); every key is optional."""

    survey_open_days: Annotated[int, Field(ge=1, le=365)] = 30  # from the day the invitation was sent
    rate_limit_per_address: Annotated[int, Field(ge=1)] = 300  # requests a minute from one IP address
    rate_limit_per_token: Annotated[int, Field(ge=1)] = 30  # requests a minute for one survey
    max_request_bytes: Annotated[int, Field(ge=1024, le=10_000_000)] = 65_536


class Sender(_Strict):
    name: str
    email: EmailAddress
    address: str = ""


class Kpi(_Strict):
    """A scorecard KPI's baseline and target; either may be left out (the report says so)."""

    baseline: float | None = None
    target: float | None = None
    label: str = ""


#: The report kinds (nps.reports) and the period grain each one reports.
REPORT_KINDS: dict[str, str] = {"weekly": "week", "monthly": "month", "quarterly": "quarter"}
ReportKind = Literal["weekly", "monthly", "quarterly"]
#: The scorecard KPIs, in scorecard order (``followup_sla_pct`` from marts.mart_followups).
KPI_NAMES: tuple[str, ...] = (
    "nps", "csat_pct", "ces_mean", "retention_pct", "response_rate_pct", "revenue_coverage_pct", "followup_sla_pct",
)
KpiName = Literal["nps", "csat_pct", "ces_mean", "retention_pct", "response_rate_pct", "revenue_coverage_pct", "followup_sla_pct"]
#: The mart dimensions a segment variant can filter on (marts.mart_nps ``dimension``).
VARIANT_DIMENSIONS = ("industry", "segment", "region", "role", "touchpoint")


class ReportRecipient(_Strict):
    """One report recipient. The address is checked when the send is planned: a malformed one is
    skipped (named by its config key) while the others still get the report."""

    email: str
    name: str = ""
    locale: str | None = None  # default: program.default_locale


def _recipient(v: Any) -> Any:
    return {"email": v} if isinstance(v, str) else v


Recipients = list[Annotated[ReportRecipient, BeforeValidator(_recipient)]]


class SegmentVariant(_Strict):
    """A copy of a report filtered to one dimension value (e.g. industry = Manufacturing)."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
    dimension: Literal["industry", "segment", "region", "role", "touchpoint"]
    value: str
    reports: list[ReportKind] = Field(default_factory=lambda: ["weekly", "monthly", "quarterly"])
    recipients: Recipients = Field(default_factory=list)


class Qbr(_Strict):
    """The quarterly QBR pack: an approval gate and one page per account owner."""

    approval: bool = False
    owner_pages: bool = True
    # Account owner name (as in marts.mart_churn_risk.owner_name) -> address for their QBR page.
    owners: dict[str, str] = Field(default_factory=dict)


class Reports(_Strict):
    # Every kind's recipients, or per kind: {weekly: [...], monthly: [...], quarterly: [...]}.
    recipients: Recipients | dict[ReportKind, Recipients] = Field(default_factory=list)
    min_answers: Annotated[int, Field(ge=1, le=100000)] = 30
    trend_periods: Annotated[int, Field(ge=2, le=104)] = 13
    top_n: Annotated[int, Field(ge=1, le=100)] = 10
    segments: list[SegmentVariant] = Field(default_factory=list)
    qbr: Qbr = Qbr()
    kpis: dict[KpiName, Kpi] = Field(default_factory=dict)

    def recipients_for(self, kind: str) -> list[tuple[str, ReportRecipient]]:
        """(config key, recipient) pairs of the company-wide report ``kind``."""
        if isinstance(self.recipients, dict):
            return [(f"reports.recipients.{kind}[{i}]", r) for i, r in enumerate(self.recipients.get(kind, []))]
        return [(f"reports.recipients[{i}]", r) for i, r in enumerate(self.recipients)]

    @model_validator(mode="after")
    def _unique_variants(self) -> Reports:
        seen: set[str] = set()
        for i, v in enumerate(self.segments):
            if v.name in seen or v.name == "all":
                raise ValueError(f"segments[{i}].name: {v.name!r} is used twice or reserved (all)")
            seen.add(v.name)
        return self


#: The answer categories of each survey type, as marts.fct_survey_responses names them.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "nps": ("promoter", "passive", "detractor"),
    "csat": ("satisfied", "neutral", "dissatisfied"),
    "ces": ("easy", "neutral", "high_effort"),
}
_NAME = r"^[a-z][a-z0-9_]{0,62}$"


class FollowupRule(_Strict):
    """What one answer category gets (DOMAIN.md section 4): an email template (none = no email,
    recorded as not needed), a case for the account owner, and for promoters the referral ask at
    most once per ``followups.referral_days`` (``else_template`` is sent instead when it was asked
    recently; none = no email)."""

    template: Annotated[str, Field(pattern=_NAME)] | None = None
    case: bool = False
    referral: bool = False
    else_template: Annotated[str, Field(pattern=_NAME)] | None = None


def _rule(v: Any) -> Any:
    # ``promoter: promoter_thanks`` is short for ``{template: promoter_thanks}``; ``~`` is no email.
    if v is None:
        return {}
    return {"template": v} if isinstance(v, str) else v


class Sla(_Strict):
    """The case clock: a case is due ``case_hours`` after it opens, counted in
    ``followups.timezone``, skipping Saturdays and Sundays when ``skip_weekends``."""

    case_hours: Annotated[int, Field(ge=1, le=24 * 60)] = 48
    skip_weekends: bool = True


class EscalationLevel(_Strict):
    """Level n of an overdue case: ``after_hours`` (SLA clock) past the case's due time, an email
    to ``email``."""

    after_hours: Annotated[int, Field(ge=0, le=24 * 365)] = 0
    email: EmailAddress
    name: str = ""
    locale: str | None = None


class Contact(_Strict):
    email: EmailAddress
    name: str = ""
    locale: str | None = None  # the language of the staff emails this person gets (default followups.staff_locale)


class CrmWebhook(_Strict):
    """Case events posted to a CRM (connection ``conn_id``: URL in host, HMAC secret in password)."""

    enabled: bool = False
    conn_id: str = "nps_crm_webhook"
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0
    max_retries: Annotated[int, Field(ge=0, le=20)] = 5


def _http_url(v: str | None) -> str | None:
    if v is None:
        return v
    from urllib.parse import urlsplit

    parts = urlsplit(v.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc or any(c in v for c in " <>\"'"):
        raise ValueError(f"{v!r} is not an http(s) URL (e.g. https://example.com/review)")
    return v.strip()


class PromoterLinks(_Strict):
    """What a promoter's referral email asks for (DOMAIN.md section 4): a public review, a
    referral and a case study, each a link; a missing link leaves that ask out of the email."""

    review: Annotated[str | None, BeforeValidator(_http_url)] = None
    referral: Annotated[str | None, BeforeValidator(_http_url)] = None
    case_study: Annotated[str | None, BeforeValidator(_http_url)] = None


def _default_rules() -> dict[str, dict[str, FollowupRule]]:
    return {
        "nps": {
            "promoter": FollowupRule(template="promoter_referral", referral=True, else_template="promoter_thanks"),
            "passive": FollowupRule(template="passive_improve"),
            "detractor": FollowupRule(template="detractor_apology", case=True),
        },
        "csat": {
            "satisfied": FollowupRule(template="csat_thanks"),
            "neutral": FollowupRule(template="passive_improve"),
            "dissatisfied": FollowupRule(template="csat_dissatisfied", case=True),
        },
        "ces": {
            "easy": FollowupRule(),
            "neutral": FollowupRule(),
            "high_effort": FollowupRule(template="ces_high_effort", case=True),
        },
    }


class Followups(_Strict):
    """Closing the loop (nps.followups): per answer category a follow-up email and/or a case."""

    enabled: bool = True
    timezone: str = "UTC"
    respond_within_hours: Annotated[int, Field(ge=1, le=24 * 14)] = 48
    settle_minutes: Annotated[int, Field(ge=0, le=24 * 60)] = 30
    max_answer_age_days: Annotated[int, Field(ge=1, le=365)] = 7
    referral_days: Annotated[int, Field(ge=1, le=3650)] = 180
    cs_lead: Contact | None = None
    promoter_links: PromoterLinks = PromoterLinks()
    # A detractor on an account with at least this ARR is urgent: its own alert email at once.
    urgent_arr_threshold: Annotated[float, Field(gt=0)] | None = None
    # The language of staff emails (owner alerts, escalations, digest): owner_locales by owner
    # address, a contact's own locale (cs_lead, escalation, digest), else staff_locale (default:
    # program.default_locale).
    staff_locale: str | None = None
    owner_locales: dict[str, str] = Field(default_factory=dict)
    rules: dict[SurveyType, dict[str, Annotated[FollowupRule, BeforeValidator(_rule)]]] = Field(default_factory=_default_rules)
    sla: Sla = Sla()
    escalation: list[EscalationLevel] = Field(default_factory=list)
    digest: list[Contact] = Field(default_factory=list)
    digest_hour: Annotated[int, Field(ge=0, le=23)] = 8  # the digest goes out with the first run after this local hour
    owner_digest: bool = False  # also a daily digest to each account owner of their open and overdue cases
    crm_webhook: CrmWebhook = CrmWebhook()

    @model_validator(mode="before")
    @classmethod
    def _rules_per_type(cls, data: Any) -> Any:
        # A survey type listed under rules replaces that type's defaults; unlisted types keep theirs.
        if isinstance(data, dict) and isinstance(data.get("rules"), dict):
            defaults = {str(k): v for k, v in _default_rules().items()}
            data = {**data, "rules": {**{k: v for k, v in defaults.items() if k not in data["rules"]}, **data["rules"]}}
        return data

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not an IANA time zone (e.g. Europe/Warsaw)") from None
        return v

    @model_validator(mode="after")
    def _check_rules(self) -> Followups:
        for stype, by_cat in self.rules.items():
            known = CATEGORIES[str(stype)]
            for cat, rule in by_cat.items():
                key = f"rules.{stype}.{cat}"
                if cat not in known:
                    raise ValueError(f"{key}: unknown category {cat!r} for {stype}; one of {list(known)}")
                if rule.referral and not rule.template:
                    raise ValueError(f"{key}.referral: needs a template (the referral ask)")
                if rule.else_template and not rule.referral:
                    raise ValueError(f"{key}.else_template: only used with referral: true")
        for i in range(1, len(self.escalation)):
            if self.escalation[i].after_hours <= self.escalation[i - 1].after_hours:
                raise ValueError(f"escalation[{i}].after_hours: must be later than level {i} ({self.escalation[i - 1].after_hours} h)")
        return self

    def staff_locale_for(self, email: str | None, contact: Contact | None = None, default: str = "en") -> str:
        """The language of a staff email to ``email`` (see ``owner_locales``); ``default`` is the
        program's default locale, used when ``staff_locale`` is not set."""
        if contact is not None and contact.locale:
            return contact.locale
        by_email = {k.strip().lower(): v for k, v in self.owner_locales.items()}
        return by_email.get((email or "").strip().lower(), self.staff_locale or default)

    def rule(self, survey_type: str, category: str) -> FollowupRule | None:
        return self.rules.get(SurveyType(survey_type), {}).get(category)

    def templates(self) -> set[str]:
        return {t for by_cat in self.rules.values() for r in by_cat.values() for t in (r.template, r.else_template) if t}


class Program(_Strict):
    name: str
    survey_base_url: str
    unsubscribe_url: str
    default_locale: str = "en"
    locales: list[str] = Field(default_factory=lambda: ["en", "pl"])
    comment_max_chars: Annotated[int, Field(ge=1)] = 5000
    followup_hours: Annotated[int, Field(ge=1)] = 48

    @field_validator("survey_base_url", "unsubscribe_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")):
            raise ValueError(f"{v!r} must start with https:// or http://")
        return v

    @model_validator(mode="after")
    def _default_locale(self) -> Program:
        if self.default_locale not in self.locales:
            raise ValueError(f"default_locale {self.default_locale!r} is not one of locales {self.locales}")
        return self


def _check_followup_templates(f: Followups, locales: list[str]) -> None:
    """Every follow-up template named by a rule exists in every locale, HTML and text."""
    from nps import TEMPLATES_DIR

    folder = TEMPLATES_DIR / "followups"
    for stype, by_cat in f.rules.items():
        for cat, rule in by_cat.items():
            for field_name in ("template", "else_template"):
                name = getattr(rule, field_name)
                if not name:
                    continue
                for loc in locales:
                    for ext in ("html", "txt"):
                        if not (folder / f"{name}.{loc}.{ext}.j2").is_file():
                            raise ValueError(
                                f"followups.rules.{stype}.{cat}.{field_name}: no template {name!r} for locale {loc} "
                                f"({folder / f'{name}.{loc}.{ext}.j2'} is missing)"
                            )
    for i, c in enumerate(f.digest):
        if not c.email:
            raise ValueError(f"followups.digest[{i}].email: empty")
    if f.staff_locale is not None and f.staff_locale not in locales:
        raise ValueError(f"followups.staff_locale: {f.staff_locale!r} is not in program.locales {locales}")
    for email, loc in f.owner_locales.items():
        if "@" not in email:
            raise ValueError(f"followups.owner_locales.{email}: the key must be an owner's email address")
        if loc not in locales:
            raise ValueError(f"followups.owner_locales.{email}: {loc!r} is not in program.locales {locales}")
    named = [("cs_lead", f.cs_lead)] + [(f"escalation[{i}]", c) for i, c in enumerate(f.escalation)] + [
        (f"digest[{i}]", c) for i, c in enumerate(f.digest)]
    for key, c in named:
        if c is not None and getattr(c, "locale", None) and c.locale not in locales:
            raise ValueError(f"followups.{key}.locale: {c.locale!r} is not in program.locales {locales}")


class ProgramConfig(_Strict):
    program: Program
    sender: Sender
    industries: dict[str, Industry]
    common_touchpoints: dict[str, TouchpointRule] = Field(default_factory=dict)
    fatigue: Fatigue = Fatigue()
    dispatch: Dispatch = Dispatch()
    web: Web = Web()
    reports: Reports = Reports()
    followups: Followups = Followups()
    themes: dict[str, dict[str, list[str]]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> ProgramConfig:
        if not self.industries:
            raise ValueError("industries: at least one industry is required")
        locales = self.program.locales
        rec = self.reports.recipients
        groups = rec.items() if isinstance(rec, dict) else [(None, rec)]
        for kind, lst in groups:
            for i, r in enumerate(lst):
                if r.locale is not None and r.locale not in locales:
                    key = f"reports.recipients.{kind}[{i}]" if kind else f"reports.recipients[{i}]"
                    raise ValueError(f"{key}.locale: {r.locale!r} is not in program.locales {locales}")
        for j, v in enumerate(self.reports.segments):
            for i, r in enumerate(v.recipients):
                if r.locale is not None and r.locale not in locales:
                    raise ValueError(f"reports.segments[{j}].recipients[{i}].locale: {r.locale!r} is not in program.locales {locales}")
        _check_followup_templates(self.followups, locales)
        for theme, by_locale in self.themes.items():
            for loc in by_locale:
                if loc not in self.program.locales:
                    raise ValueError(f"themes.{theme}.{loc}: locale {loc!r} is not in program.locales")
        return self

    # -- lookups used by the pipeline ------------------------------------------------------
    def industry(self, name: str) -> Industry:
        try:
            return self.industries[name]
        except KeyError:
            raise ConfigError(f"unknown industry {name!r}; configured: {sorted(self.industries)}") from None

    def touchpoints_for(self, industry: str) -> dict[str, TouchpointRule]:
        """Touchpoints that trigger a survey for ``industry``: common ones plus its own."""
        return {**self.common_touchpoints, **self.industry(industry).touchpoints}

    def touchpoint_rule(self, industry: str, touchpoint: str) -> TouchpointRule:
        rules = self.touchpoints_for(industry)
        if touchpoint not in rules:
            raise ConfigError(f"unknown touchpoint {touchpoint!r} for industry {industry!r}; configured: {sorted(rules)}")
        return rules[touchpoint]

    def all_touchpoints(self) -> set[str]:
        names = set(self.common_touchpoints)
        for ind in self.industries.values():
            names |= set(ind.touchpoints)
        return names


def _format_errors(path: Path, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if key == "followups" and ": " in msg:  # the section's own checks name the key inside it
            inner, msg = msg.split(": ", 1)
            key = f"followups.{inner}"
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling)"
        lines.append(f"  {key}: {msg}")
    return f"invalid program config {path}:\n" + "\n".join(lines)


def config_path() -> Path:
    return Path(os.environ.get("NPS_PROGRAM_CONFIG") or DEFAULT_CONFIG_PATH)


def parse_config(data: Any, path: Path | str = "<memory>") -> ProgramConfig:
    """Validate an already-parsed mapping; raises ConfigError naming the key."""
    path = Path(path)
    if not isinstance(data, dict):
        raise ConfigError(f"invalid program config {path}: the top level must be a mapping, got {type(data).__name__}")
    try:
        return ProgramConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_errors(path, err)) from None


def load_config(path: Path | str | None = None) -> ProgramConfig:
    """Read and validate the program YAML file."""
    p = Path(path) if path else config_path()
    if not p.is_file():
        raise ConfigError(f"program config not found: {p} (set NPS_PROGRAM_CONFIG or create the file)")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"program config {p} is not valid YAML{where}: {getattr(err, 'problem', err)}") from None
    return parse_config(data, p)
