-- marts.fct_comment_themes (built in marts_staging): one row per (response_id, theme) for counted
-- answers whose comment mentions a theme of ops.mart_theme_keywords (loaded from the config
-- by nps.marts). A comment is lower-cased and every run of spaces and punctuation becomes one
-- space, and a keyword matches at the start of a word (word prefix; in a keyword of several
-- words, the words before the last are whole words). Keywords of :default_locale apply to every
-- comment (English loanwords are common in Polish B2B comments), those of another locale to
-- comments in it. The comment is split into words; each word is compared with the keywords that
-- share its first 2 characters (an equi-join: a LIKE join of every comment with every keyword is
-- a nested loop, 30 s at 10M answers): a one-word keyword must be a prefix of the word, the first
-- word of a longer keyword must equal it, and a longer keyword is then confirmed with LIKE on
-- the whole comment. Comments are only compared with keywords: whatever they hold stays data.
-- Incremental builds tag the answers of ops.mart_changed_surveys only.
{% import '_incremental_macros.sql.j2' as inc with context -%}
INSERT INTO marts_staging.fct_comment_themes (
    response_id, theme, matched_keyword, survey_type, category, account_id, industry, segment,
    locale, responded_at
)
WITH comments AS (
    SELECT
        f.response_id, f.survey_type, f.category, f.account_id, f.industry, f.segment, f.locale, f.responded_at,
        -- One regular expression (the same on both engines): a bracket expression of space,
        -- ASCII punctuation, tab, CR, LF, and the typographic quotes and dashes; the characters
        -- that mean something to SQL or to bound parameters come from chr().
        ' ' || regexp_replace(
            lower(f.comment),
            '[- .,;!?(){}"/|<>@#$&*+=~`_\\\[\]\^' || chr(37) || chr(39) || chr(58) || chr(9) || chr(10) || chr(13)
                || chr(171) || chr(187) || chr(8211) || chr(8212) || chr(8220) || chr(8221) || chr(8222) || ']+',
            ' ', 'g'
        ) || ' ' AS words
    FROM marts_staging.fct_survey_responses AS f
    WHERE f.comment IS NOT NULL AND trim(f.comment) <> ''
{%- if incremental %}
        AND {{ inc.changed_survey('f.survey_id') }}
{%- endif %}
),
keywords AS (
    SELECT
        theme, locale, keyword, pattern, stem, split_part(keyword, ' ', 1) AS first_word,
        CASE WHEN strpos(keyword, ' ') > 0 THEN 1 ELSE 0 END AS several_words
    FROM ops.mart_theme_keywords
),
words AS (
    SELECT x.response_id, x.locale, x.w
    FROM (SELECT response_id, locale, unnest(string_to_array(words, ' ')) AS w FROM comments) AS x
    WHERE length(x.w) >= 2
),
hits AS (
    SELECT w.response_id, k.theme, k.keyword, k.pattern, k.several_words
    FROM words AS w
    JOIN keywords AS k ON k.stem = substr(w.w, 1, 2)
    WHERE (k.locale = :default_locale OR k.locale = w.locale)
        AND ((k.several_words = 0 AND substr(w.w, 1, length(k.keyword)) = k.keyword)
            OR (k.several_words = 1 AND w.w = k.first_word))
),
confirmed AS (
    SELECT response_id, theme, keyword FROM hits WHERE several_words = 0
    UNION ALL
    SELECT h.response_id, h.theme, h.keyword
    FROM hits AS h
    JOIN comments AS c ON c.response_id = h.response_id
    WHERE h.several_words = 1 AND c.words LIKE h.pattern
),
themed AS (
    SELECT response_id, theme, MIN(keyword) AS matched_keyword FROM confirmed GROUP BY response_id, theme
)
SELECT
    t.response_id, t.theme, t.matched_keyword, c.survey_type, c.category, c.account_id, c.industry,
    c.segment, c.locale, c.responded_at
FROM themed AS t
JOIN comments AS c ON c.response_id = t.response_id;
