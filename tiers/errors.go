package tiers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Errors returned (wrapped, test with errors.Is) by Store and Migrate. Their
// texts are safe to show to users; the wrapping adds only the operation and
// its key, never SQL.
var (
	// ErrNotFound means the tier does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a tier with that name already exists.
	ErrConflict = errors.New("already exists")
	// ErrInUse means the tier cannot be deleted while clients are on it.
	ErrInUse = errors.New("tier is assigned to clients")
	// ErrProtected means the tier is built in (Anonymous or Free) and cannot
	// be deleted or renamed.
	ErrProtected = errors.New("tier is built in and cannot be deleted")
	// ErrUnknownTier means an assignment named a tier that does not exist.
	ErrUnknownTier = errors.New("unknown tier")
	// ErrUnavailable means Postgres could not be reached or did not answer
	// in time; the operation may be retried. The underlying cause stays in
	// the chain for logs.
	ErrUnavailable = errors.New("database unavailable")
)

// Custom SQLSTATEs raised by the guard trigger of migration 00002.
const (
	codeProtected = "QT001"
	codeInUse     = "QT002"
)

// ValidationError lists every invalid field of an input, so all of them can
// be reported at once (for instance as a 422 naming each field).
type ValidationError struct {
	// Fields holds one entry per invalid field, in the order checked.
	Fields []FieldError
}

// FieldError is one invalid field: its JSON name and what is wrong with it,
// phrased to follow the name ("limit: must be between 1 and 1000000000").
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error lists the fields, e.g. "tiers: invalid input: limit: must be …".
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("tiers: invalid input")
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Field + ": " + f.Message)
	}
	return b.String()
}

func (e *ValidationError) add(field, msg string) {
	e.Fields = append(e.Fields, FieldError{Field: field, Message: msg})
}

// orNil returns nil for an empty ValidationError so callers can write
// `return v.orNil()` without the typed-nil-in-interface trap.
func (e *ValidationError) orNil() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// interpretError maps an error from pgx to this package's vocabulary. It is
// the one place that knows SQLSTATEs, so the rest of the package (and every
// caller) deals in ErrNotFound, ErrConflict, … only. Errors it does not
// recognise are returned unchanged: they are bugs, and the caller should
// answer 500 and log them.
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
		case code == "23505": // unique_violation: the only unique key is a name
			return ErrConflict
		case code == "23503": // foreign_key_violation: deletes are guarded by QT002
			return ErrUnknownTier
		case code == "23514": // check_violation: Validate should have caught it
			return constraintError(pgErr.ConstraintName)
		case code == codeProtected:
			return ErrProtected
		case code == codeInUse:
			return ErrInUse
		}
	}
	if Unreachable(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// Unreachable reports errors from pgx that mean "could not talk to
// Postgres" rather than "Postgres said no": failed dials, dropped
// connections, deadlines, a server shutting down, starting or out of
// connections. A caller's own cancellation is not one of them. The other
// packages on quotad's database (usage, operations) map it to their own
// ErrUnavailable, as interpretError does here.
func Unreachable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		code := pgErr.Code
		return strings.HasPrefix(code, "08") || // connection_exception
			code == "57P01" || code == "57P02" || code == "57P03" || // shutting down, not yet up
			code == "53300" // too_many_connections
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) ||
		errors.As(err, &netErr) ||
		pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// constraintError turns a violated CHECK constraint, named
// <table>_<column>_check by the migrations, into the ValidationError
// Validate would have returned, naming the JSON field.
func constraintError(constraint string) error {
	field := strings.TrimSuffix(constraint, "_check")
	field = strings.TrimPrefix(strings.TrimPrefix(field, "tiers_"), "clients_")
	msg := "is out of range"
	switch field {
	case "per_seconds":
		field = "per"
	case "pers":
		// The window lengths: out of range, or two the same (a patch of
		// per alone can meet a stored window only here).
		field, msg = "limits", "must hold windows of valid and distinct pers"
	case "soft_month":
		// Soft without a month window: the JSON index of the window is
		// not in the constraint.
		field, msg = "limits", "only a month window may be soft"
	}
	var v ValidationError
	v.add(field, msg)
	return &v
}
