-- ledger/status_counts: the scope's ledger rows by status.
SELECT status, COUNT(*) AS n FROM ops.message_ledger WHERE scope = :scope GROUP BY status ORDER BY status;
