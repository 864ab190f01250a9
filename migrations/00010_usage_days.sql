-- Usage per client and UTC day: the requests admitted, refused and
-- admitted as overage (past a soft month window).
--
-- The limiter counts in Redis, and a flusher copies the counts here. Redis
-- may lose counters (a restart, a failover), and the counting then starts
-- again from zero, so each incarnation of a client's counters carries an
-- epoch, and a row holds the absolute counts of one incarnation for one
-- day: (client_id, day, epoch) is the key and a day's usage is the sum over
-- its epochs. The flusher upserts with GREATEST per column: counters only
-- grow within an epoch, so copying a snapshot again, or an older one after
-- a newer one, changes nothing, and a flush can be retried or run by
-- several instances at once without counting twice.
--
-- Rows are kept at least 400 days (the longest range GET /v1/usage
-- serves) and at most about 800: the flusher deletes the days older than
-- that, which the index on day serves, as it does the monthly export.
-- client_id and epoch sort bytewise (COLLATE "C"), as clients.id does.

-- +goose Up
CREATE TABLE usage_days (
    client_id  text COLLATE "C" NOT NULL,
    day        date        NOT NULL,
    epoch      text COLLATE "C" NOT NULL,
    admitted   bigint      NOT NULL DEFAULT 0,
    refused    bigint      NOT NULL DEFAULT 0,
    overage    bigint      NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT usage_days_pkey PRIMARY KEY (client_id, day, epoch),
    CONSTRAINT usage_days_client_id_check CHECK (octet_length(client_id) BETWEEN 1 AND 255),
    CONSTRAINT usage_days_epoch_check CHECK (octet_length(epoch) BETWEEN 1 AND 128),
    CONSTRAINT usage_days_admitted_check CHECK (admitted >= 0),
    CONSTRAINT usage_days_refused_check CHECK (refused >= 0),
    CONSTRAINT usage_days_overage_check CHECK (overage >= 0)
);
CREATE INDEX usage_days_day_idx ON usage_days (day, client_id);

-- +goose Down
DROP TABLE usage_days;
