-- When each contact was last asked to refer (grain: contact_id): the latest follow-up with a
-- referral ask that was sent on or after :since.
SELECT contact_id, MAX(sent_at) AS last_asked
FROM ops.followup_decisions
WHERE referral_ask AND status = 'sent' AND sent_at >= :since
GROUP BY contact_id
