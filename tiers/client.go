package tiers

import "unicode/utf8"

// MaxClientIDLen is the longest client ID, in bytes.
const MaxClientIDLen = 255

// Client is an API consumer (a JWT subject) and the tier it is on.
type Client struct {
	// ID is the client's identity, the token's sub claim.
	ID string
	// Tier is the name of the client's tier: the assigned one, or Free.
	Tier string
	// Assigned reports whether an admin assigned Tier; false means the
	// client was never assigned (or was unassigned) and is on Free.
	Assigned bool
	// AnchorDay is the day of the month, 1 … 28, on which the client's
	// Month windows start (00:00 UTC), as a subscription's billing date.
	// 0 on input means 1; a stored or unassigned client reads as 1 … 28.
	AnchorDay int
	// Version is the assignment row's change version (see Tier.Version);
	// zero when there is no row.
	Version int64
}

// ValidClientID returns a *ValidationError (field "id") unless id is 1 to
// MaxClientIDLen bytes of valid UTF-8 without control characters. IDs come
// from tokens and URLs and end up in logs, keys and the database, where
// invalid UTF-8 or a NUL byte would fail late and confusingly.
func ValidClientID(id string) error {
	if msg := clientIDProblem(id); msg != "" {
		var v ValidationError
		v.add("id", msg)
		return &v
	}
	return nil
}

// clientIDProblem says what is wrong with a client ID, or "" if nothing is.
func clientIDProblem(id string) string {
	if len(id) < 1 || len(id) > MaxClientIDLen {
		return "must be 1-255 bytes long"
	}
	return lineProblem(id)
}

// lineProblem says what is wrong with s as one line of text (invalid
// UTF-8, a control character), or "" if nothing is.
func lineProblem(s string) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	for _, r := range s {
		if isControl(r) {
			return "must not contain control characters"
		}
	}
	return ""
}

// Bounds of Client.AnchorDay.
const (
	// MinAnchorDay is the first day of the month a month window may start.
	MinAnchorDay = 1
	// MaxAnchorDay is the last: the 28th, which every month has.
	MaxAnchorDay = 28
)

// anchorDayProblem says what is wrong with an anchor day (0 means the
// default, MinAnchorDay), or "" if nothing is.
func anchorDayProblem(day int) string {
	if day != 0 && (day < MinAnchorDay || day > MaxAnchorDay) {
		return "must be between 1 and 28"
	}
	return ""
}

// anchorDayOrDefault returns day, or MinAnchorDay for 0.
func anchorDayOrDefault(day int) int {
	if day == 0 {
		return MinAnchorDay
	}
	return day
}
