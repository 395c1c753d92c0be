-- A version under review (or rejected) names its state here, `NULL` once approved
-- or where no review was required; the record holds the whole review.
ALTER TABLE versions ADD COLUMN review TEXT;
CREATE INDEX versions_in_review ON versions (review) WHERE review IS NOT NULL;
