-- ops.mart_account_spans: one row per account with a contract that started before :as_of:
-- the first day it was a customer and the day its last contract ended (NULL while one runs or
-- ends after :as_of). Gaps between contracts are ignored (a returning account counts throughout).
INSERT INTO ops.mart_account_spans (account_id, first_start, lost_on, arr)
SELECT
    k.account_id,
    MIN(k.start_date) AS first_start,
    CASE
        WHEN MAX(CASE WHEN k.end_date IS NULL OR k.end_date > CAST(:as_of AS DATE) THEN 1 ELSE 0 END) = 1 THEN NULL
        ELSE MAX(k.end_date)
    END AS lost_on,
    MAX(a.arr) AS arr
FROM src.contracts AS k
LEFT JOIN src.accounts AS a ON a.account_id = k.account_id
WHERE k.start_date < :as_of
GROUP BY k.account_id;
