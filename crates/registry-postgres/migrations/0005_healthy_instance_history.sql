-- Each plugin's router instances that passed a health pass, a row a day: the
-- fewest and the most one pass found. Kept as long as daily download counters.
CREATE TABLE daily_healthy_instances (
    slug TEXT COLLATE "C" NOT NULL,
    day TEXT COLLATE "C" NOT NULL,
    lowest BIGINT NOT NULL,
    highest BIGINT NOT NULL,
    PRIMARY KEY (slug, day)
);
CREATE INDEX daily_healthy_instances_by_day ON daily_healthy_instances (day);
