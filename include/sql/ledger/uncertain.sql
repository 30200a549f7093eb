-- ledger/uncertain: the scope's sends whose outcome is not known (a crash or timeout mid-request).
SELECT send_key, transport, folder, attempt_at FROM ops.message_ledger
WHERE scope = :scope AND status = 'sending'
ORDER BY send_key;
