-- A tier's price gets an upper bound, the one tiers.MaxPriceCents names
-- (10^12 minor units): above it is a typo, and JSON readers that use
-- doubles would round the sum of a few thousand such prices. The
-- constraint keeps the name tiers_price_cents_check, which the Go side
-- turns back into the field price_cents.
--
-- NOT VALID: rows written before this bound are not checked, so an
-- upgrade never stops at start over an old price; every insert and update
-- is, and the admin API refuses such a price (422) before it gets here.

-- +goose Up
ALTER TABLE tiers
    DROP CONSTRAINT tiers_price_cents_check,
    ADD CONSTRAINT tiers_price_cents_check
        CHECK (price_cents BETWEEN 0 AND 1000000000000) NOT VALID;

-- +goose Down
ALTER TABLE tiers
    DROP CONSTRAINT tiers_price_cents_check,
    ADD CONSTRAINT tiers_price_cents_check CHECK (price_cents >= 0);
