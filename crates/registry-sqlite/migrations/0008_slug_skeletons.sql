-- Each slug's skeleton (registry_core::slug::Slug::skeleton: without '-', with
-- 0 as o, 1 and i as l, 5 as s, then rn as m and vv as w), claimed by the first
-- plugin to have it, so no later slug confusable with it can be published.
CREATE TABLE slug_skeletons (
    skeleton TEXT PRIMARY KEY,
    slug TEXT NOT NULL
);
-- The plugins published so far claim theirs, in the order they were made; any
-- already confusable with an earlier one keep their slug without a claim.
INSERT OR IGNORE INTO slug_skeletons (skeleton, slug)
    SELECT replace(replace(replace(replace(replace(replace(replace(
               slug, '-', ''), '0', 'o'), '1', 'l'), 'i', 'l'), '5', 's'), 'rn', 'm'), 'vv', 'w'),
           slug
    FROM plugins
    ORDER BY created_at, slug;
