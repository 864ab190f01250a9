package quota

import (
	"errors"
	"testing"
	"time"
)

// TestLimit_Validate checks the bounds of a Limit's windows and anchor day.
func TestLimit_Validate(t *testing.T) {
	t.Parallel()
	four := []Window{{Requests: 1, Per: time.Second}, {Requests: 1, Per: time.Minute}, {Requests: 1, Per: time.Hour}, {Requests: 1, Per: Month}}
	for _, tc := range []struct {
		name string
		l    Limit
		ok   bool
	}{
		{"four windows", Limit{Windows: four}, true},
		{"five windows", Limit{Windows: append(four[:4:4], Window{Requests: 1, Per: 24 * time.Hour})}, false},
		{"no window", Limit{}, false},
		{"a month alone", PerMonth(5), true},
		{"the same length twice", Limit{Windows: []Window{{Requests: 1, Per: time.Minute}, {Requests: 2, Per: time.Minute}}}, false},
		{"two months", Limit{Windows: []Window{{Requests: 1, Per: Month}, {Requests: 2, Per: Month}}}, false},
		{"anchor day 28", Limit{Windows: four, AnchorDay: 28}, true},
		{"anchor day 29", Limit{Windows: four, AnchorDay: 29}, false},
		{"anchor day -1", Limit{Windows: four, AnchorDay: -1}, false},
		{"a negative length other than Month", Limit{Windows: []Window{{Requests: 1, Per: -2 * time.Second}}}, false},
	} {
		err := tc.l.Validate()
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrInvalidLimit) {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
