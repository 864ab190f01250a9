package operations

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/quotad/quotad/tiers"
)

// interpretError maps an error from pgx to this package's vocabulary, the
// one place that knows SQLSTATEs and constraint names. Errors it does not
// recognise are returned unchanged: they are bugs, for a 500 and the log.
func interpretError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch code := pgErr.Code; {
		case code == "23505" && pgErr.ConstraintName == "operations_method_path_key":
			return ErrDuplicate
		case code == "23505":
			return ErrConflict
		case code == "23514": // check_violation: Validate should have caught it
			return constraintError(pgErr.ConstraintName)
		}
	}
	if tiers.Unreachable(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// constraintError turns a violated CHECK constraint, named
// operations_<column>_check by migration 00012, into the ValidationError
// Validate would have returned.
func constraintError(constraint string) error {
	field := strings.TrimSuffix(strings.TrimPrefix(constraint, "operations_"), "_check")
	msg, ok := map[string]string{"name": msgName, "method": msgMethod, "path": msgPath, "cost": msgCost}[field]
	if !ok {
		msg = "is out of range"
	}
	return &ValidationError{Fields: map[string]string{field: msg}}
}
