-- Idempotency-Key records of the admin API (api/idempotency.go): the first
-- non-5xx response to each (actor, key), replayed to a retry with the same
-- method, path and body within 24 hours. actor is the token's sub, so two
-- admins' keys never collide. The API holds an advisory lock on
-- (actor, key) while it runs the request, so concurrent retries wait for
-- the first and replay it.
--
-- created_at comes from quotad's clock, not now(): the expiry is quotad's
-- to decide, and the index lets it delete expired rows a batch at a time.
--
-- Nothing refers to this table and it refers to nothing: it can be applied
-- before or after any other migration of the same release.

-- +goose Up
CREATE TABLE idempotency_keys (
    actor        text        NOT NULL,
    key          text        NOT NULL,
    method       text        NOT NULL,
    path         text        NOT NULL,
    body_sha256  bytea       NOT NULL CHECK (octet_length(body_sha256) = 32),
    status       integer     NOT NULL CHECK (status BETWEEN 100 AND 499),
    content_type text        NOT NULL DEFAULT '',
    location     text        NOT NULL DEFAULT '',
    body         bytea       NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (actor, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
