-- Tiers hold 1 to 4 windows ("limits" in the API) and assignments an
-- anchor day, the day of the month on which a client's month windows start.
--
-- A tier's windows are two parallel arrays, limits[i] requests per pers[i]
-- seconds, pers[i] = 0 meaning a calendar month; the order is the one the
-- admin gave. The CHECKs mirror tiers.Tier.Validate (1-4 windows, limits
-- 1..1000000000, pers 1..31536000 or 0, no per twice, so at most one month)
-- and keep the names <table>_<column>_check that the Go side turns back into
-- field names.
--
-- The Part 1 columns "limit" and per_seconds are KEPT, equal to the first
-- window (per_seconds 2678400, 31 days, when that is a month), by the
-- trigger tiers_sync_limits: psql readers and a quotad of the previous
-- release still running during a rolling upgrade read and write them as
-- before. A row inserted with only "limit"/per_seconds gets them as its one
-- window; an update of only "limit"/per_seconds changes the first window;
-- when limits/pers are written, they win.
--
-- Existing tiers become one window each, existing assignments anchor day 1;
-- rows keep their version and updated_at (user triggers are off while the
-- windows are filled in, so no version is taken and nothing is notified).
--
-- Client notifications gain the anchor day:
--   {"kind":"client","id":"user-42","tier":"pro","anchor_day":15,"version":43}
-- Tier notifications carry no tier fields and are unchanged.
--
-- Down keeps each tier's first window only (a month one as 31 days) and
-- drops anchor days.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION quota_distinct(a anyarray) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT count(DISTINCT x) = count(*) FROM unnest(a) AS x
$$;
-- +goose StatementEnd

ALTER TABLE tiers
    ADD COLUMN limits bigint[],
    ADD COLUMN pers integer[];

ALTER TABLE tiers DISABLE TRIGGER USER;
UPDATE tiers SET limits = ARRAY["limit"], pers = ARRAY[per_seconds];
ALTER TABLE tiers ENABLE TRIGGER USER;

ALTER TABLE tiers
    ALTER COLUMN limits SET NOT NULL,
    ALTER COLUMN pers SET NOT NULL,
    ADD CONSTRAINT tiers_limits_check CHECK (
        array_ndims(limits) = 1 AND array_lower(limits, 1) = 1
        AND cardinality(limits) BETWEEN 1 AND 4
        AND array_position(limits, NULL) IS NULL
        AND 1 <= ALL (limits) AND 1000000000 >= ALL (limits)),
    -- 0 is a calendar month; 31536000 s = 365 days.
    ADD CONSTRAINT tiers_pers_check CHECK (
        array_ndims(pers) = 1 AND array_lower(pers, 1) = 1
        AND cardinality(pers) = cardinality(limits)
        AND array_position(pers, NULL) IS NULL
        AND 0 <= ALL (pers) AND 31536000 >= ALL (pers)
        AND quota_distinct(pers));

-- +goose StatementBegin
CREATE FUNCTION tiers_sync_limits() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NEW.limits IS NULL AND NEW.pers IS NULL THEN
        NEW.limits := ARRAY[NEW."limit"];
        NEW.pers := ARRAY[NEW.per_seconds];
    ELSIF TG_OP = 'UPDATE'
        AND NEW.limits IS NOT DISTINCT FROM OLD.limits AND NEW.pers IS NOT DISTINCT FROM OLD.pers
        AND (NEW."limit" IS DISTINCT FROM OLD."limit" OR NEW.per_seconds IS DISTINCT FROM OLD.per_seconds) THEN
        NEW.limits[1] := NEW."limit";
        NEW.pers[1] := NEW.per_seconds;
    END IF;
    NEW."limit" := NEW.limits[1];
    NEW.per_seconds := CASE WHEN NEW.pers[1] = 0 THEN 2678400 ELSE NEW.pers[1] END;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER tiers_sync_limits
    BEFORE INSERT OR UPDATE ON tiers
    FOR EACH ROW EXECUTE FUNCTION tiers_sync_limits();

ALTER TABLE clients
    ADD COLUMN anchor_day smallint NOT NULL DEFAULT 1,
    ADD CONSTRAINT clients_anchor_day_check CHECK (anchor_day BETWEEN 1 AND 28);

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
            'kind', 'client', 'id', NEW.id, 'tier', NEW.tier, 'anchor_day', NEW.anchor_day,
            'version', NEW.version)::text);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose Down
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

ALTER TABLE clients DROP COLUMN anchor_day;
DROP TRIGGER tiers_sync_limits ON tiers;
DROP FUNCTION tiers_sync_limits();
ALTER TABLE tiers DROP COLUMN pers, DROP COLUMN limits;
DROP FUNCTION quota_distinct(anyarray);
