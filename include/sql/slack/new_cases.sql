-- slack/new_cases: the cases one close-the-loop run opened (grain: case_id), for its Slack summary;
-- :source is 'run <run_id>' as decide records it in ops.followup_case_history. No address, no comment.
SELECT k.case_id, k.account_id, a.name AS account_name, k.owner_name, k.survey_type, k.score, k.category,
       k.status, k.due_at
FROM ops.followup_cases AS k
JOIN ops.followup_case_history AS h ON h.case_id = k.case_id AND h.event = 'opened' AND h.source = :source
LEFT JOIN src.accounts AS a ON a.account_id = k.account_id
WHERE k.status <> 'resolved'
ORDER BY k.due_at, k.case_id
