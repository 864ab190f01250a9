-- The audit log: one row per admin write, written by the store in the
-- write's own transaction, so a change never lacks its row and a failed
-- change leaves none. before and after are the row as JSON, NULL where it
-- does not exist (a create's before, a delete's after). Rows are kept until
-- an operator deletes them; the index on at serves such a delete.
--
-- Newest first is id descending, which the primary key serves: the
-- cursor of GET /v1/admin/audit is an id.

-- +goose Up
CREATE TABLE audit_log (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text        NOT NULL,
    action     text        NOT NULL,
    target     text        NOT NULL,
    before     jsonb,
    after      jsonb,
    request_id text        NOT NULL
);
CREATE INDEX audit_log_at_idx ON audit_log (at);

-- +goose Down
DROP TABLE audit_log;
