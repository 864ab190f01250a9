-- A tier's month window may be soft, and a tier may price overage.
--
-- soft_month: the tier's "month" window (pers[i] = 0) admits requests past
-- its limit and counts them as overage; only a month window may be soft
-- and a tier has at most one, so one boolean says it. The CHECK refuses
-- soft_month on a tier without a month window.
--
-- overage_price_micros: the price of one request of overage, in millionths
-- of the tier's currency unit (1 USD = 1,000,000), 0 … 10^12 like
-- price_cents. The monthly usage export multiplies it by the overage.
--
-- Constraint names follow <table>_<column>_check, which the Go side turns
-- back into field names. Existing tiers get false and 0, which is what
-- they enforced and charged before; a quotad of the previous release
-- ignores both columns during a rolling upgrade.

-- +goose Up
ALTER TABLE tiers
    ADD COLUMN soft_month boolean NOT NULL DEFAULT false,
    ADD COLUMN overage_price_micros bigint NOT NULL DEFAULT 0,
    ADD CONSTRAINT tiers_soft_month_check CHECK (NOT soft_month OR 0 = ANY (pers)),
    ADD CONSTRAINT tiers_overage_price_micros_check
        CHECK (overage_price_micros BETWEEN 0 AND 1000000000000);

-- +goose Down
ALTER TABLE tiers
    DROP COLUMN soft_month,
    DROP COLUMN overage_price_micros;
