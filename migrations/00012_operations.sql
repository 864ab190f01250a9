-- Operation costs: how many units of quota a request to a path spends, for
-- the forward-auth endpoint in front of an API (package operations). A rule
-- matches a method ('*' is any) and a path pattern: an exact path
-- ("/v1/search") or a prefix ending in "/*" ("/v1/search/*" matches every
-- path starting "/v1/search/"). Patterns are printable ASCII without
-- spaces, '?', '#' or any other '*': they match a path without its query
-- string. The bounds mirror operations.Rule.Validate, and constraint names
-- are <table>_<column>_check so the Go side can name the offending field.
--
-- Rows are versioned and announced on quota_changes as tiers and clients
-- are (00003, 00004), with kind "operation":
--   {"kind":"operation","name":"search","version":51}
--   {"kind":"operation","name":"search","version":51,"deleted":true}
-- Inserts of one name queue on an advisory lock of it, as in 00004, so a
-- name's versions grow in commit order.

-- +goose Up
CREATE TABLE operations (
    name       text        NOT NULL,
    method     text        NOT NULL,
    path       text        NOT NULL,
    cost       bigint      NOT NULL,
    version    bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT operations_pkey PRIMARY KEY (name),
    -- One rule per pattern: two would leave the cost up to chance.
    CONSTRAINT operations_method_path_key UNIQUE (method, path),
    CONSTRAINT operations_name_check CHECK (name ~ '^[a-z0-9_-]{1,63}$'),
    CONSTRAINT operations_method_check CHECK (method ~ '^(\*|[A-Z]{1,20})$'),
    CONSTRAINT operations_path_check CHECK (char_length(path) <= 1024 AND (
        path ~ '^/[!"$-)+->@-~]*$' OR path ~ '^/([!"$-)+->@-~]*/)?\*$')),
    -- 1000000000 is quota.MaxRequests: a cost above any limit is a typo.
    CONSTRAINT operations_cost_check CHECK (cost BETWEEN 0 AND 1000000000)
);

-- +goose StatementBegin
CREATE FUNCTION operations_set_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM pg_advisory_xact_lock(hashtext('operations'), hashtext(NEW.name));
        PERFORM 1 FROM operations WHERE name = NEW.name FOR UPDATE;
    END IF;
    NEW.version := nextval('quota_version_seq');
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION operations_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.name <> NEW.name) THEN
        PERFORM pg_notify('quota_changes', json_build_object(
            'kind', 'operation', 'name', OLD.name, 'version', OLD.version, 'deleted', true)::text);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM pg_notify('quota_changes', json_build_object(
            'kind', 'operation', 'name', NEW.name, 'version', NEW.version)::text);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER operations_set_version
    BEFORE INSERT OR UPDATE ON operations
    FOR EACH ROW EXECUTE FUNCTION operations_set_version();

CREATE TRIGGER operations_touch_updated_at
    BEFORE UPDATE ON operations
    FOR EACH ROW EXECUTE FUNCTION quota_touch_updated_at();

CREATE TRIGGER operations_notify
    AFTER INSERT OR UPDATE OR DELETE ON operations
    FOR EACH ROW EXECUTE FUNCTION operations_notify();

-- +goose Down
DROP TABLE operations;
DROP FUNCTION operations_notify();
DROP FUNCTION operations_set_version();
