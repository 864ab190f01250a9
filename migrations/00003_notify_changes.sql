-- Every change to a tier or an assignment is announced on the channel
-- quota_changes, so each running quotad refreshes its in-memory cache within
-- a second without polling. Payloads are small JSON objects:
--   {"kind":"tier","name":"pro"}   {"kind":"client","id":"user-42"}
-- (quotad itself also sends {"kind":"reset","id":...} when an admin resets a
-- client's window.) Postgres delivers them at commit and drops duplicates
-- within a transaction, so sending both OLD and NEW on an update costs
-- nothing when the key did not change and covers renames when it did.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION tiers_notify() RETURNS trigger
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
CREATE FUNCTION clients_notify() RETURNS trigger
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

CREATE TRIGGER tiers_notify
    AFTER INSERT OR UPDATE OR DELETE ON tiers
    FOR EACH ROW EXECUTE FUNCTION tiers_notify();

CREATE TRIGGER clients_notify
    AFTER INSERT OR UPDATE OR DELETE ON clients
    FOR EACH ROW EXECUTE FUNCTION clients_notify();

-- +goose Down
DROP TRIGGER clients_notify ON clients;
DROP TRIGGER tiers_notify ON tiers;
DROP FUNCTION clients_notify();
DROP FUNCTION tiers_notify();
