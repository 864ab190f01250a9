-- The outbox of threshold webhooks (package webhooks). The metering flusher
-- inserts an event in the same transaction that records the usage which
-- crossed the threshold, so an event exists exactly when its usage does, and
-- every quotad instance's dispatcher delivers from here, surviving restarts.
--
-- id is derived from (client_id, window_start, threshold), and the UNIQUE
-- constraint says the same thing in the schema: whoever inserts an event
-- twice, from however many instances, ON CONFLICT DO NOTHING keeps one row.
-- body is the exact JSON sent, so every retry carries the same bytes; only
-- the signature, which covers a timestamp, is made at send time.
--
-- A pending event has neither delivered_at nor failed_at. next_attempt_at is
-- when it is next due; a dispatcher that claims an event pushes it past its
-- HTTP timeout (a lease), so an instance that dies mid-delivery leaves the
-- event due again for another. The partial index holds only pending events,
-- which is what the claim query and the pending metrics read.
--
-- Nothing refers to this table and it refers to nothing: it can be applied
-- before or after any other migration of the same release.

-- +goose Up
CREATE TABLE webhook_events (
    id              text        PRIMARY KEY,
    client_id       text        NOT NULL,
    window_start    timestamptz NOT NULL,
    threshold       smallint    NOT NULL CHECK (threshold IN (80, 100)),
    body            text        NOT NULL,
    created_at      timestamptz NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_status     integer,
    last_error      text,
    delivered_at    timestamptz,
    failed_at       timestamptz,
    UNIQUE (client_id, window_start, threshold)
);
CREATE INDEX webhook_events_due_idx ON webhook_events (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;

-- +goose Down
DROP TABLE webhook_events;
