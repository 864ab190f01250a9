package api

import "reflect"

// secs is a Per of n seconds.
func secs(n int64) Per { return Per{Seconds: n} }

// month is the Per of a month window.
var month = Per{Month: true}

// sameTier reports whether two tier representations are equal, a want
// without Limits standing for the one window its Limit and Per give.
func sameTier(got, want TierView) bool {
	if want.Limits == nil {
		want.Limits = []WindowView{{Limit: want.Limit, Per: want.Per}}
	}
	return reflect.DeepEqual(got, want)
}
