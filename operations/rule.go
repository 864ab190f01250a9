package operations

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// AnyMethod as a Rule's Method matches every method.
const AnyMethod = "*"

// Bounds of a rule's fields; the database enforces the same ones.
const (
	// MaxCost is the highest cost of one request: quota.MaxRequests, the
	// highest limit of a window, so a costlier request could never pass.
	MaxCost = 1_000_000_000
	// MaxPathLen is the longest path pattern, in bytes.
	MaxPathLen = 1024
	// maxMethodLen bounds a method name; the longest registered is 17.
	maxMethodLen = 20
)

// DefaultCost is what a request no rule matches costs.
const DefaultCost = 1

// Rule says what a request matching Method and Path costs.
type Rule struct {
	// Name identifies the rule: 1-63 characters of a-z, 0-9, '-' and '_'.
	Name string
	// Method is an HTTP method in upper case ("GET") or AnyMethod.
	Method string
	// Path is an exact path ("/v1/search") or a prefix ending in "/*"
	// ("/v1/search/*" matches "/v1/search/x" and "/v1/search/", not
	// "/v1/search"). It never holds a query string.
	Path string
	// Cost is the units of quota one matching request spends, 0 … MaxCost;
	// 0 is free.
	Cost int64
	// Version is the row's version, set by the database on every write.
	Version int64
	// UpdatedAt is when the row was last written, set by the database.
	UpdatedAt time.Time
}

// Errors returned (wrapped, test with errors.Is) by Store.
var (
	// ErrNotFound means the rule does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a rule with that name already exists.
	ErrConflict = errors.New("already exists")
	// ErrDuplicate means another rule has the same method and path.
	ErrDuplicate = errors.New("another rule has that method and path")
	// ErrUnavailable means Postgres could not be reached or did not answer
	// in time; the operation may be retried.
	ErrUnavailable = errors.New("database unavailable")
)

// ValidationError lists every invalid field of a rule, so all of them can
// be reported at once (for instance as a 422 naming each field).
type ValidationError struct {
	// Fields maps each invalid field's JSON name to what is wrong with it,
	// phrased to follow the name ("cost: must be between 0 and …").
	Fields map[string]string
}

// Error lists the fields, e.g. "operations: invalid input: cost: …".
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("operations: invalid input")
	sep := ": "
	for _, f := range []string{"name", "method", "path", "cost"} {
		if msg, ok := e.Fields[f]; ok {
			b.WriteString(sep + f + ": " + msg)
			sep = "; "
		}
	}
	return b.String()
}

func (e *ValidationError) add(field, msg string) {
	if e.Fields == nil {
		e.Fields = map[string]string{}
	}
	e.Fields[field] = msg
}

// orNil returns nil for an empty ValidationError, avoiding a typed nil in
// an error interface.
func (e *ValidationError) orNil() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// Field messages, shared by Validate and the constraints' mapping.
const (
	msgName   = "must be 1-63 characters of a-z, 0-9, '-' and '_'"
	msgMethod = "must be * or an HTTP method in upper case"
	msgPath   = "must be a path starting with /, or a prefix ending in /*, of printable ASCII without spaces, ? or #"
)

var msgCost = fmt.Sprintf("must be between 0 and %d", MaxCost)

// Validate reports every invalid field of r as a *ValidationError.
func (r Rule) Validate() error {
	var v ValidationError
	if err := ValidName(r.Name); err != nil {
		v.add("name", msgName)
	}
	if !validMethod(r.Method) {
		v.add("method", msgMethod)
	}
	if !validPath(r.Path) {
		v.add("path", msgPath)
	}
	if r.Cost < 0 || r.Cost > MaxCost {
		v.add("cost", msgCost)
	}
	return v.orNil()
}

// ValidName returns a *ValidationError naming field "name" unless name
// is 1-63 characters of a-z, 0-9, '-' and '_', the names of tiers too.
func ValidName(name string) error {
	ok := len(name) >= 1 && len(name) <= 63
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
	}
	if !ok {
		return &ValidationError{Fields: map[string]string{"name": msgName}}
	}
	return nil
}

func validMethod(m string) bool {
	if m == AnyMethod {
		return true
	}
	if len(m) < 1 || len(m) > maxMethodLen {
		return false
	}
	for i := 0; i < len(m); i++ {
		if m[i] < 'A' || m[i] > 'Z' {
			return false
		}
	}
	return true
}

// validPath accepts "/" followed by printable ASCII other than '*', '?'
// and '#', optionally ending in "/*" (a prefix).
func validPath(p string) bool {
	if len(p) < 1 || len(p) > MaxPathLen || p[0] != '/' {
		return false
	}
	if prefix, ok := strings.CutSuffix(p, "/*"); ok {
		p = prefix + "/"
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c <= ' ' || c > '~' || c == '*' || c == '?' || c == '#' {
			return false
		}
	}
	return true
}
