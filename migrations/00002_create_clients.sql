-- Clients (JWT subjects) explicitly assigned to a tier. A client without a
-- row is on the free tier, so millions of callers need no rows at all.

-- +goose Up
CREATE TABLE clients (
    -- COLLATE "C" orders ids bytewise, so keyset pagination (id > $after)
    -- walks them in the same order Go's string comparison would.
    id         text COLLATE "C" NOT NULL,
    tier       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT clients_pkey PRIMARY KEY (id),
    CONSTRAINT clients_id_check CHECK (octet_length(id) BETWEEN 1 AND 255),
    CONSTRAINT clients_tier_fkey FOREIGN KEY (tier) REFERENCES tiers (name)
        ON UPDATE CASCADE ON DELETE RESTRICT
);

-- Serves "clients of tier X, page after id Y" and the in-use check below.
CREATE INDEX clients_tier_id_idx ON clients (tier, id);

CREATE TRIGGER clients_touch_updated_at
    BEFORE UPDATE ON clients
    FOR EACH ROW EXECUTE FUNCTION quota_touch_updated_at();

-- Guards on tier rows, enforced here so that psql obeys them too. Each raises
-- its own SQLSTATE, which the Go side maps to a domain error:
--   QT001  anonymous/free cannot be deleted or renamed  -> tiers.ErrProtected
--   QT002  the tier still has clients                   -> tiers.ErrInUse
-- The in-use check runs after the row lock a BEFORE DELETE trigger takes, so
-- an assignment committing concurrently is either seen here or waits and
-- then fails its foreign key check; the RESTRICT foreign key stays as the
-- last line of defence.
-- +goose StatementBegin
CREATE FUNCTION tiers_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'tiers cannot be truncated: anonymous and free are built in'
            USING ERRCODE = 'QT001';
    END IF;
    IF OLD.name IN ('anonymous', 'free')
        AND (TG_OP = 'DELETE' OR NEW.name IS DISTINCT FROM OLD.name) THEN
        RAISE EXCEPTION 'tier "%" is built in and cannot be deleted or renamed', OLD.name
            USING ERRCODE = 'QT001';
    END IF;
    IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM clients WHERE tier = OLD.name) THEN
        RAISE EXCEPTION 'tier "%" is assigned to clients', OLD.name
            USING ERRCODE = 'QT002';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER tiers_guard
    BEFORE DELETE OR UPDATE OF name ON tiers
    FOR EACH ROW EXECUTE FUNCTION tiers_guard();

CREATE TRIGGER tiers_guard_truncate
    BEFORE TRUNCATE ON tiers
    FOR EACH STATEMENT EXECUTE FUNCTION tiers_guard();

-- +goose Down
DROP TRIGGER tiers_guard_truncate ON tiers;
DROP TRIGGER tiers_guard ON tiers;
DROP FUNCTION tiers_guard();
DROP TABLE clients;
