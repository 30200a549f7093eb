-- ops.followup_cases: a case takes its survey's latest answer (grain: case_id).
UPDATE ops.followup_cases
SET score = :score, category = :category, comment = :comment, updated_at = :now
WHERE case_id = :case_id
