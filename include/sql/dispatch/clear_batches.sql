-- dispatch/clear_batches: forget the finished part of an interval's send plans (ops.dispatch_batches):
-- plan rows whose invitation is already sent, one row per (batch, invitation). It never touches a
-- row that is still claimed or sending, so a live attempt's plan (even one running right now
-- beside this attempt) stays whole; each attempt drops its own plan when it ends (drop_plan).
DELETE FROM ops.dispatch_batches
WHERE interval_start = :interval_start
  AND batch_id NOT LIKE 'claim.%'
  AND send_key IN (
      SELECT i.send_key FROM ops.survey_invitations i
      WHERE i.interval_start = :interval_start AND i.status = 'sent'
  );
