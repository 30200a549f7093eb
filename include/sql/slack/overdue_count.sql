-- slack/overdue_count: open or in-progress cases past their due time at :now (one number).
SELECT COUNT(*) FROM ops.followup_cases WHERE status IN ('open', 'in_progress') AND due_at <= :now
