"""Closing the loop (DOMAIN.md section 4): follow-up emails, cases, owner alerts, escalation.

- ``decide``: a recorded decision for every counted answer (sent, suppressed, not needed,
  failed, with the reason) and the cases the rules open;
- ``render``: the follow-up templates per rule and locale (``include/templates/followups/``);
- ``send``: the follow-ups through the one exactly-once ledger (``nps.ledger``);
- ``sla``: the case clock (hours in the program's time zone, weekends skipped when configured).
"""
