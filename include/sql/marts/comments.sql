-- Table and column comments of published marts that have no YAML file yet. The documentation
-- of a mart lives in include/sql/marts/<mart>.yml (nps.mart_docs), from which the comments and
-- the column tables of docs/marts.md are generated; prefer that for a new mart. Statements here
-- run after those on every publish (nps.marts.apply_comments), one per line; avoid colons in
-- the text (they would be bind parameters).
COMMENT ON VIEW marts.mart_followups IS 'One row per counted answer and its follow-up decision (sent, pending, suppressed, not_needed, failed) with the reason, the time to follow up against its due time, and the case it opened.';
COMMENT ON COLUMN marts.mart_followups.status IS 'sent, pending (waiting for the answer to settle or for the send), suppressed, not_needed, failed.';
COMMENT ON COLUMN marts.mart_followups.reason IS 'Why, in words (e.g. address suppressed (unsubscribe), the rule sends no email).';
COMMENT ON COLUMN marts.mart_followups.template IS 'The follow-up email template sent or to send; NULL when no email.';
COMMENT ON COLUMN marts.mart_followups.referral_ask IS 'The email asked a promoter to refer (at most once per followups.referral_days per contact).';
COMMENT ON COLUMN marts.mart_followups.hours_to_followup IS 'Hours from the answer to the follow-up email; NULL when none was sent.';
COMMENT ON COLUMN marts.mart_followups.followup_on_time IS 'Sent by due_at (answer + followups.respond_within_hours); FALSE for a pending one past due; NULL otherwise.';
COMMENT ON COLUMN marts.mart_followups.changed_after_send IS 'Answers that changed after the email went out (they update the case, never send a second email).';
COMMENT ON VIEW marts.mart_loop_recovery IS 'One row per case (detractor, dissatisfied or high-effort answer) with its SLA, time to act and to resolve, escalation, and whether the contact next answer recovered.';
COMMENT ON COLUMN marts.mart_loop_recovery.sla_met IS 'The owner acted (first move out of open) by due_at; FALSE when not and past due; NULL while open and not yet due.';
COMMENT ON COLUMN marts.mart_loop_recovery.overdue IS 'Open or in progress and past due at as_of.';
COMMENT ON COLUMN marts.mart_loop_recovery.escalation_level IS 'Escalation levels reached (0 = none).';
COMMENT ON COLUMN marts.mart_loop_recovery.recovered IS 'The contact next answer of the same survey type after the case opened is not negative; NULL until there is one.';
