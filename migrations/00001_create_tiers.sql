-- Plan tiers: how many requests ("limit") a client may make per window of
-- per_seconds seconds, plus what the plan costs. The bounds mirror
-- tiers.Tier.Validate so a bad row cannot come in through psql either;
-- constraint names are <table>_<column>_check because the Go side turns a
-- violated constraint back into the offending field's name.

-- +goose Up
CREATE TABLE tiers (
    name        text        NOT NULL,
    "limit"     bigint      NOT NULL,
    per_seconds integer     NOT NULL,
    description text        NOT NULL DEFAULT '',
    price_cents bigint      NOT NULL DEFAULT 0,
    currency    text        NOT NULL DEFAULT 'USD',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tiers_pkey PRIMARY KEY (name),
    CONSTRAINT tiers_name_check CHECK (name ~ '^[a-z0-9_-]{1,63}$'),
    CONSTRAINT tiers_limit_check CHECK ("limit" BETWEEN 1 AND 1000000000),
    -- 31536000 s = 365 days: a window longer than a year is a typo.
    CONSTRAINT tiers_per_seconds_check CHECK (per_seconds BETWEEN 1 AND 31536000),
    CONSTRAINT tiers_description_check CHECK (char_length(description) <= 1000),
    CONSTRAINT tiers_price_cents_check CHECK (price_cents >= 0),
    CONSTRAINT tiers_currency_check CHECK (currency ~ '^[A-Z]{3}$')
);

-- updated_at is kept by the database so edits made with psql stay honest.
-- +goose StatementBegin
CREATE FUNCTION quota_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER tiers_touch_updated_at
    BEFORE UPDATE ON tiers
    FOR EACH ROW EXECUTE FUNCTION quota_touch_updated_at();

-- The two built-in tiers. Their values are editable; their rows are not
-- deletable (see 00002) because every request resolves to one of them.
INSERT INTO tiers (name, "limit", per_seconds, description) VALUES
    ('anonymous', 60, 60, 'Requests without a token, keyed on the caller''s IP address.'),
    ('free', 300, 30, 'Authenticated clients without a paid plan.');

-- +goose Down
DROP TABLE tiers;
DROP FUNCTION quota_touch_updated_at();
