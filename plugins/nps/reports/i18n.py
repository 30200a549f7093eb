"""Short report strings in English and Polish, and number formatting per locale.

Prose lives in the templates (``include/templates/reports/*.{en,pl}.*.j2``); the words that
charts, cells and the plain-text scorecard share live here, so every format says the same.
"""

from __future__ import annotations

from typing import Any

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "weekly": "Weekly NPS digest", "monthly": "Monthly customer feedback report", "quarterly": "Quarterly QBR pack",
        "not_enough": "not enough answers (n={n})", "not_enough_short": "too few (n={n})",
        "no_data": "no answers in this period", "not_available": "not available", "not_measured": "not measured yet",
        "no_significant_change": "no significant change", "no_previous": "no previous period to compare",
        "untested": "not tested", "better": "significant improvement", "worse": "significant decline",
        "baseline": "baseline", "target": "target", "previous": "previous", "current": "current", "change": "change",
        "moe": "95% margin", "progress": "progress to target", "kpi": "KPI", "n": "answers",
        "promoters": "promoters", "passives": "passives", "detractors": "detractors",
        "col_period": "period", "col_ci95": "95% interval", "col_industry": "industry", "col_segment": "segment",
        "col_sent": "invitations sent", "col_answered": "answered", "col_theme": "theme", "col_mentions": "mentions",
        "col_share": "share of negative comments", "col_account": "account", "col_owner": "owner",
        "col_arr_at_risk": "ARR at risk", "col_risk": "risk", "col_reasons": "reasons",
        "legend_ci": "95% interval",
        "chart_nps_trend": "NPS over the last {n} periods, with its 95% interval",
        "chart_nps_trend_one": "NPS in this period, with its 95% interval",
        "chart_categories": "Promoters, passives and detractors (share of answers)",
        "chart_nps_by_industry": "NPS by industry, with 95% intervals",
        "chart_nps_by_segment": "NPS by segment, with 95% intervals",
        "chart_response_rate": "Response rate (answered / invitations sent)",
        "chart_themes": "Top themes in negative comments",
        "chart_risks": "Accounts with the most ARR at risk",
        "alt_nothing": "{what}: no data to draw in this period.",
        "alt_nps_trend": "Line chart of NPS over {n} periods, from {first} to {last}; the latest 95% interval is {lo} to {hi}.",
        "alt_categories": "Stacked bars of answer categories; in the latest period {p}% promoters, {q}% passives, {x}% detractors.",
        "alt_nps_by": "{what}: highest {best} at {best_nps}, lowest {worst} at {worst_nps}.",
        "alt_response_rate": "Bar chart of the response rate over {n} periods; latest {last}%.",
        "alt_themes": "Bar chart of themes in negative comments; the top theme, {theme}, is in {share}% of {comments} comments.",
        "alt_risks": "Bar chart of ARR at risk for {n} accounts; the largest is {top} with {arr}.",
        "risk_high": "high", "risk_medium": "medium", "risk_low": "low", "risk_none": "none",
        "band_below_zero": "more detractors than promoters", "band_healthy": "healthy mix", "band_excellent": "excellent",
        "action_below_zero": "prioritise the underlying issues", "action_healthy": "develop strategies to increase promoters",
        "action_excellent": "maintain and expand the loyal base",
        "gap_no_answers": "Nobody answered a survey in this period: the scores are unknown, not zero.",
        "gap_kpi_without_target": "{label} has no {missing} in the program config: progress to target cannot be shown.",
        "gap_themes_not_weekly": "Comment themes are measured per month: see the monthly report.",
        "gap_themes_not_by_dimension": "Comment themes are not broken down by {dimension}.",
        "gap_risks_not_by_dimension": "Churn risk is not broken down by {dimension}.",
        "gap_segment_no_data": "No answers from {dimension} = {value} in the marts for this period.",
        "gap_archive_failed": "This report could not be archived ({reason}); this email is the only copy.",
        "gap_recipient_skipped": "{n} recipient(s) skipped because of a malformed address: {keys}.",
        "note_company_wide_only": "company-wide (not broken down by segment)",
        "note_not_by_dimension": "not broken down by this segment in the marts",
        "note_not_weekly": "measured per month and quarter",
        "note_arr_share_untested": "share of ARR: no significance test",
        "note_recovery": "recovered at the next answer: {in_sla} of cases acted on in time, {late} of the others",
        "pts": "pts", "and": " and ",
        "theme_support": "support", "theme_value": "value", "theme_pricing": "pricing", "theme_onboarding": "onboarding",
        "theme_features": "features", "theme_communication": "communication", "theme_engagement": "engagement",
        "theme_technical": "technical issues", "theme_delivery": "delivery", "theme_competition": "competition",
        "kpi_nps": "Net Promoter Score", "kpi_csat_pct": "Customer Satisfaction (% 4–5)",
        "kpi_ces_mean": "Customer Effort Score (mean 1–7)", "kpi_retention_pct": "Customer retention",
        "kpi_response_rate_pct": "Response rate", "kpi_revenue_coverage_pct": "Revenue coverage",
        "kpi_followup_sla_pct": "Follow-up within SLA",
    },
    "pl": {
        "weekly": "Tygodniowe podsumowanie NPS", "monthly": "Miesięczny raport opinii klientów", "quarterly": "Kwartalny pakiet QBR",
        "not_enough": "za mało odpowiedzi (n={n})", "not_enough_short": "za mało (n={n})",
        "no_data": "brak odpowiedzi w tym okresie", "not_available": "niedostępne", "not_measured": "jeszcze nie mierzone",
        "no_significant_change": "brak istotnej zmiany", "no_previous": "brak poprzedniego okresu do porównania",
        "untested": "nie testowano", "better": "istotna poprawa", "worse": "istotny spadek",
        "baseline": "punkt wyjścia", "target": "cel", "previous": "poprzednio", "current": "obecnie", "change": "zmiana",
        "moe": "margines 95%", "progress": "postęp do celu", "kpi": "wskaźnik", "n": "odpowiedzi",
        "promoters": "promotorzy", "passives": "neutralni", "detractors": "krytycy",
        "col_period": "okres", "col_ci95": "przedział 95%", "col_industry": "branża", "col_segment": "segment",
        "col_sent": "wysłane zaproszenia", "col_answered": "odpowiedzi", "col_theme": "temat", "col_mentions": "wzmianki",
        "col_share": "udział w negatywnych komentarzach", "col_account": "klient", "col_owner": "opiekun",
        "col_arr_at_risk": "ARR zagrożony", "col_risk": "ryzyko", "col_reasons": "powody",
        "legend_ci": "przedział 95%",
        "chart_nps_trend": "NPS w ostatnich {n} okresach, z przedziałem 95%",
        "chart_nps_trend_one": "NPS w tym okresie, z przedziałem 95%",
        "chart_categories": "Promotorzy, neutralni i krytycy (udział odpowiedzi)",
        "chart_nps_by_industry": "NPS według branży, z przedziałami 95%",
        "chart_nps_by_segment": "NPS według segmentu, z przedziałami 95%",
        "chart_response_rate": "Odsetek odpowiedzi (odpowiedzi / wysłane zaproszenia)",
        "chart_themes": "Najczęstsze tematy negatywnych komentarzy",
        "chart_risks": "Klienci z największym zagrożonym ARR",
        "alt_nothing": "{what}: brak danych do wykresu w tym okresie.",
        "alt_nps_trend": "Wykres liniowy NPS w {n} okresach, od {first} do {last}; ostatni przedział 95% to {lo} do {hi}.",
        "alt_categories": "Słupki kategorii odpowiedzi; w ostatnim okresie {p}% promotorów, {q}% neutralnych, {x}% krytyków.",
        "alt_nps_by": "{what}: najwyżej {best} ({best_nps}), najniżej {worst} ({worst_nps}).",
        "alt_response_rate": "Wykres słupkowy odsetka odpowiedzi w {n} okresach; ostatnio {last}%.",
        "alt_themes": "Wykres tematów negatywnych komentarzy; najczęstszy, {theme}, w {share}% z {comments} komentarzy.",
        "alt_risks": "Wykres zagrożonego ARR dla {n} klientów; największy: {top}, {arr}.",
        "risk_high": "wysokie", "risk_medium": "średnie", "risk_low": "niskie", "risk_none": "brak",
        "band_below_zero": "więcej krytyków niż promotorów", "band_healthy": "zdrowa proporcja", "band_excellent": "doskonały wynik",
        "action_below_zero": "priorytetowo usunąć przyczyny problemów", "action_healthy": "rozwijać działania zwiększające liczbę promotorów",
        "action_excellent": "utrzymać i poszerzać grono lojalnych klientów",
        "gap_no_answers": "Nikt nie odpowiedział na ankietę w tym okresie: wyniki są nieznane, a nie zerowe.",
        "gap_kpi_without_target": "{label}: brak wartości ({missing}) w konfiguracji programu, więc nie pokazujemy postępu do celu.",
        "gap_themes_not_weekly": "Tematy komentarzy liczymy miesięcznie: zobacz raport miesięczny.",
        "gap_themes_not_by_dimension": "Tematy komentarzy nie są dzielone według wymiaru {dimension}.",
        "gap_risks_not_by_dimension": "Ryzyko odejścia nie jest dzielone według wymiaru {dimension}.",
        "gap_segment_no_data": "Brak odpowiedzi dla {dimension} = {value} w tym okresie.",
        "gap_archive_failed": "Nie udało się zarchiwizować raportu ({reason}); ten e-mail jest jedyną kopią.",
        "gap_recipient_skipped": "Pominięto {n} odbiorców z błędnym adresem: {keys}.",
        "note_company_wide_only": "dla całej firmy (bez podziału na segmenty)",
        "note_not_by_dimension": "hurtownia nie dzieli tego wskaźnika według tego segmentu",
        "note_not_weekly": "mierzone miesięcznie i kwartalnie",
        "note_arr_share_untested": "udział ARR: bez testu istotności",
        "note_recovery": "poprawa przy następnej odpowiedzi: {in_sla} spraw podjętych w terminie, {late} pozostałych",
        "pts": "pkt", "and": " i ",
        "theme_support": "wsparcie", "theme_value": "wartość", "theme_pricing": "ceny", "theme_onboarding": "wdrożenie",
        "theme_features": "funkcje", "theme_communication": "komunikacja", "theme_engagement": "zaangażowanie",
        "theme_technical": "problemy techniczne", "theme_delivery": "dostawy", "theme_competition": "konkurencja",
        "kpi_nps": "Net Promoter Score (NPS)", "kpi_csat_pct": "Satysfakcja klientów (CSAT, % 4–5)",
        "kpi_ces_mean": "Łatwość obsługi (CES, średnia 1–7)", "kpi_retention_pct": "Utrzymanie klientów",
        "kpi_response_rate_pct": "Odsetek odpowiedzi", "kpi_revenue_coverage_pct": "Pokrycie przychodu",
        "kpi_followup_sla_pct": "Follow-up w terminie",
    },
}


def t(key: str, loc: str, default: str | None = None, **kw: Any) -> str:
    """The string ``key`` in ``loc`` (English when the locale lacks it), formatted with ``kw``."""
    s = STRINGS.get(loc, STRINGS["en"]).get(key) or STRINGS["en"].get(key)
    if s is None:
        if default is None:
            raise KeyError(f"no report string {key!r}")
        s = default
    return s.format(**kw) if kw else s


def fmt_num(v: float | int | None, decimals: int = 1, loc: str = "en", *, sign: bool = False) -> str:
    """A number for people: ``1,234.5`` in English, ``1 234,5`` in Polish; ``–`` when unknown."""
    if v is None:
        return "–"
    s = f"{v:+,.{decimals}f}" if sign else f"{v:,.{decimals}f}"
    if loc == "pl":
        s = s.replace(",", "\u00a0").replace(".", ",")
    return s
