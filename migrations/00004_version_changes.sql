-- Every tier and client row carries a version, taken from one sequence each
-- time the row is written, and every notification carries the version of
-- the row it announces. An instance's cache applies a change only if it is
-- newer than what it holds, whichever way the change reaches it (its own
-- write, the listener, a re-read after reconnecting), so it never goes back
-- to an older row. Payloads, one object per changed row:
--   {"kind":"tier","name":"pro","version":42}
--   {"kind":"tier","name":"pro","version":42,"deleted":true}
--   {"kind":"client","id":"user-42","tier":"pro","version":43}
--   {"kind":"client","id":"user-42","version":43,"deleted":true}
-- A deleted row's version is the one it had: any later write of the same
-- key takes a greater one, and nothing older may bring the row back.
--
-- Versions of one key must grow in commit order. An UPDATE or DELETE holds
-- the row's lock when its trigger runs, so that holds for them. An INSERT
-- runs its trigger before it meets a concurrent writer of the same key, so
-- it first waits for one: inserts of a key queue on a transaction-level
-- advisory lock of that key, and the key's row, if one is being updated or
-- deleted, is locked before the version is taken. The sequence must keep
-- CACHE 1 (the default): cached ranges would hand out versions out of order
-- across sessions.

-- +goose Up
CREATE SEQUENCE quota_version_seq AS bigint;

-- A volatile default gives each existing row its own version without
-- firing the update triggers (updated_at stays as it was); new rows get
-- theirs from quota_set_version.
ALTER TABLE tiers ADD COLUMN version bigint NOT NULL DEFAULT nextval('quota_version_seq');
ALTER TABLE tiers ALTER COLUMN version DROP DEFAULT;
ALTER TABLE clients ADD COLUMN version bigint NOT NULL DEFAULT nextval('quota_version_seq');
ALTER TABLE clients ALTER COLUMN version DROP DEFAULT;

-- +goose StatementBegin
CREATE FUNCTION quota_set_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- The first key keeps the two tables' locks apart; the two-key
        -- form never meets goose's single-key migration lock.
        IF TG_TABLE_NAME = 'tiers' THEN
            PERFORM pg_advisory_xact_lock(hashtext('tiers'), hashtext(NEW.name));
            PERFORM 1 FROM tiers WHERE name = NEW.name FOR UPDATE;
        ELSE
            PERFORM pg_advisory_xact_lock(hashtext('clients'), hashtext(NEW.id));
            PERFORM 1 FROM clients WHERE id = NEW.id FOR UPDATE;
        END IF;
    END IF;
    NEW.version := nextval('quota_version_seq');
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER tiers_set_version
    BEFORE INSERT OR UPDATE ON tiers
    FOR EACH ROW EXECUTE FUNCTION quota_set_version();

CREATE TRIGGER clients_set_version
    BEFORE INSERT OR UPDATE ON clients
    FOR EACH ROW EXECUTE FUNCTION quota_set_version();

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION tiers_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.name <> NEW.name) THEN
        PERFORM pg_notify('quota_changes', json_build_object(
            'kind', 'tier', 'name', OLD.name, 'version', OLD.version, 'deleted', true)::text);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM pg_notify('quota_changes', json_build_object(
            'kind', 'tier', 'name', NEW.name, 'version', NEW.version)::text);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION clients_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.id <> NEW.id) THEN
        PERFORM pg_notify('quota_changes', json_build_object(
            'kind', 'client', 'id', OLD.id, 'version', OLD.version, 'deleted', true)::text);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM pg_notify('quota_changes', json_build_object(
            'kind', 'client', 'id', NEW.id, 'tier', NEW.tier, 'version', NEW.version)::text);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION tiers_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM pg_notify('quota_changes',
            json_build_object('kind', 'tier', 'name', OLD.name)::text);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM pg_notify('quota_changes',
            json_build_object('kind', 'tier', 'name', NEW.name)::text);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION clients_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM pg_notify('quota_changes',
            json_build_object('kind', 'client', 'id', OLD.id)::text);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM pg_notify('quota_changes',
            json_build_object('kind', 'client', 'id', NEW.id)::text);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

DROP TRIGGER clients_set_version ON clients;
DROP TRIGGER tiers_set_version ON tiers;
DROP FUNCTION quota_set_version();
ALTER TABLE clients DROP COLUMN version;
ALTER TABLE tiers DROP COLUMN version;
DROP SEQUENCE quota_version_seq;
