-- marts.fct_comment_themes (built in marts_staging): one row per (response_id, theme) for counted
-- answers whose comment mentions a theme of ops.mart_theme_keywords (loaded from the config
-- by nps.marts). A comment is lower-cased, punctuation becomes spaces, and a keyword matches at
-- the start of a word (word prefix). Keywords of :default_locale apply to every comment (English
-- loanwords are common in Polish B2B comments), those of another locale to comments in it.
-- Candidates come from an equi-join of each word's first 2 characters with the keyword stems
-- (a LIKE join of every comment with every keyword is a nested loop: 30 s at 10M answers); the
-- LIKE then confirms them. Comments are only compared with patterns: whatever they hold stays data.
INSERT INTO marts_staging.fct_comment_themes (
    response_id, theme, matched_keyword, survey_type, category, account_id, industry, segment,
    locale, responded_at
)
WITH seps AS (
    SELECT '.,;!?()[]{}"/\|<>@#$^&*+=~`_-' || chr(37) || chr(39) || chr(58) || chr(9) || chr(10) || chr(13)
        || chr(171) || chr(187) || chr(8211) || chr(8212) || chr(8220) || chr(8221) || chr(8222) AS chars
),
comments AS (
    SELECT
        f.response_id, f.survey_type, f.category, f.account_id, f.industry, f.segment, f.locale, f.responded_at,
        ' ' || regexp_replace(translate(lower(f.comment), s.chars, repeat(' ', length(s.chars))), ' +', ' ', 'g') || ' ' AS words
    FROM marts_staging.fct_survey_responses AS f
    CROSS JOIN seps AS s
    WHERE f.comment IS NOT NULL AND trim(f.comment) <> ''
),
tokens AS (
    SELECT x.response_id, substr(x.w, 1, 2) AS stem
    FROM (SELECT response_id, unnest(string_to_array(words, ' ')) AS w FROM comments) AS x
    WHERE length(x.w) >= 2
),
candidates AS (
    SELECT DISTINCT t.response_id, k.theme, k.locale, k.keyword, k.pattern
    FROM tokens AS t
    JOIN ops.mart_theme_keywords AS k ON k.stem = t.stem
)
SELECT
    c.response_id, k.theme, MIN(k.keyword), c.survey_type, c.category, c.account_id, c.industry,
    c.segment, c.locale, c.responded_at
FROM candidates AS k
JOIN comments AS c ON c.response_id = k.response_id
WHERE (k.locale = :default_locale OR k.locale = c.locale) AND c.words LIKE k.pattern
GROUP BY c.response_id, k.theme, c.survey_type, c.category, c.account_id, c.industry, c.segment, c.locale, c.responded_at;
