-- ops.followup_cases: one status change from a case file (grain: case_id). Leaving open records
-- the first action (the SLA is met when it is at or before due_at); resolved records when and how.
UPDATE ops.followup_cases
SET status = CAST(:status AS VARCHAR),
    first_action_at = CASE WHEN first_action_at IS NULL AND CAST(:status AS VARCHAR) <> 'open' THEN CAST(:at AS TIMESTAMP) ELSE first_action_at END,
    resolved_at = CASE WHEN CAST(:status AS VARCHAR) = 'resolved' THEN CAST(:at AS TIMESTAMP) ELSE resolved_at END,
    resolution = CASE WHEN CAST(:status AS VARCHAR) = 'resolved' THEN CAST(:note AS VARCHAR) ELSE resolution END,
    updated_at = :now
WHERE case_id = :case_id
