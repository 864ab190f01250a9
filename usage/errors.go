package usage

import (
	"fmt"

	"github.com/quotad/quotad/tiers"
)

// interpretError marks the errors that mean Postgres could not answer with
// ErrUnavailable; the rest are returned unchanged, as bugs to log.
func interpretError(err error) error {
	if err != nil && tiers.Unreachable(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}
