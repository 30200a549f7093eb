-- The digest's figures at :now (one row): cases by status, overdue, opened and resolved in the
-- 24 hours before :now, and follow-up emails sent in those 24 hours.
SELECT
    (SELECT COUNT(*) FROM ops.followup_cases WHERE status = 'open') AS open,
    (SELECT COUNT(*) FROM ops.followup_cases WHERE status = 'in_progress') AS in_progress,
    (SELECT COUNT(*) FROM ops.followup_cases WHERE status IN ('open', 'in_progress') AND due_at <= :now) AS overdue,
    (SELECT COUNT(*) FROM ops.followup_cases WHERE opened_at > :since AND opened_at <= :now) AS opened_24h,
    (SELECT COUNT(*) FROM ops.followup_cases WHERE resolved_at > :since AND resolved_at <= :now) AS resolved_24h,
    (SELECT COUNT(*) FROM ops.followup_decisions WHERE status = 'sent' AND sent_at > :since AND sent_at <= :now) AS followups_24h
