"""Plain-words summaries of an ingestion run, for task logs and failures."""

from __future__ import annotations


def rejected_message(results: list[dict]) -> str:
    """A message naming every rejected file and why; empty when none was rejected."""
    rejected = [r for r in results if r.get("status") == "rejected"]
    if not rejected:
        return ""
    lines = [f"{len(rejected)} file(s) could not be parsed or failed the audit and were set aside (the other files loaded):"]
    for r in rejected:
        lines.append(f"  {r['path']} -> {r['archived_to']}: {r['reason']}")
    lines.append("Fix the file (or, after a failed audit, the cause) and drop it into the landing area again "
                 "(docs/ingestion.md, 're-processing a file').")
    return "\n".join(lines)
