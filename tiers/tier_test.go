package tiers

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func validTier() Tier {
	return Tier{Name: "pro", Windows: one(6000, time.Minute), Description: "For teams.", PriceCents: 1999, Currency: "EUR"}
}

func TestTier_Validate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		edit   func(*Tier)
		fields []string // invalid fields expected, in order; nil = valid
	}{
		{"valid", func(*Tier) {}, nil},
		{"slug with digits, dash and underscore", func(t *Tier) { t.Name = "pro-2_x" }, nil},
		{"63-char name", func(t *Tier) { t.Name = strings.Repeat("a", 63) }, nil},
		{"max bounds", func(t *Tier) { t.Windows = one(MaxLimit, MaxPer) }, nil},
		{"min bounds", func(t *Tier) { t.Windows, t.PriceCents = one(1, time.Second), 0 }, nil},
		{"month", func(t *Tier) { t.Windows = one(1, Month) }, nil},
		{"four windows", func(t *Tier) {
			t.Windows = []Window{{Limit: 20, Per: time.Second}, {Limit: 600, Per: time.Minute}, {Limit: 6000, Per: time.Hour}, {Limit: 1_000_000, Per: Month}}
		}, nil},
		{"month first", func(t *Tier) { t.Windows = []Window{{Limit: 1_000_000, Per: Month}, {Limit: 20, Per: time.Second}} }, nil},
		{"empty currency means default", func(t *Tier) { t.Currency = "" }, nil},
		{"description with newlines", func(t *Tier) { t.Description = "a\nb\tc" }, nil},
		{"1000-rune description", func(t *Tier) { t.Description = strings.Repeat("é", 1000) }, nil},
		{"empty name", func(t *Tier) { t.Name = "" }, []string{"name"}},
		{"upper-case name", func(t *Tier) { t.Name = "Pro" }, []string{"name"}},
		{"64-char name", func(t *Tier) { t.Name = strings.Repeat("a", 64) }, []string{"name"}},
		{"name with slash", func(t *Tier) { t.Name = "a/b" }, []string{"name"}},
		{"zero limit", func(t *Tier) { t.Windows[0].Limit = 0 }, []string{"limits[0].limit"}},
		{"limit too high", func(t *Tier) { t.Windows[0].Limit = MaxLimit + 1 }, []string{"limits[0].limit"}},
		{"zero per", func(t *Tier) { t.Windows[0].Per = 0 }, []string{"limits[0].per"}},
		{"per too long", func(t *Tier) { t.Windows[0].Per = MaxPer + time.Second }, []string{"limits[0].per"}},
		{"fractional per", func(t *Tier) { t.Windows[0].Per = 1500 * time.Millisecond }, []string{"limits[0].per"}},
		{"negative per other than month", func(t *Tier) { t.Windows[0].Per = -time.Second }, []string{"limits[0].per"}},
		{"no windows", func(t *Tier) { t.Windows = nil }, []string{"limits"}},
		{"five windows", func(t *Tier) {
			t.Windows = []Window{{Limit: 1, Per: time.Second}, {Limit: 2, Per: 2 * time.Second}, {Limit: 3, Per: 3 * time.Second}, {Limit: 4, Per: 4 * time.Second}, {Limit: 5, Per: Month}}
		}, []string{"limits"}},
		{"duplicate per", func(t *Tier) {
			t.Windows = []Window{{Limit: 1, Per: time.Hour}, {Limit: 2, Per: time.Minute}, {Limit: 3, Per: time.Hour}}
		}, []string{"limits[2].per"}},
		{"two months", func(t *Tier) {
			t.Windows = []Window{{Limit: 1, Per: Month}, {Limit: 2, Per: time.Minute}, {Limit: 3, Per: Month}}
		}, []string{"limits[2].per"}},
		{"bad second window", func(t *Tier) { t.Windows = []Window{{Limit: 1, Per: time.Hour}, {Limit: 0, Per: 0}} }, []string{"limits[1].limit", "limits[1].per"}},
		{"long description", func(t *Tier) { t.Description = strings.Repeat("a", 1001) }, []string{"description"}},
		{"NUL in description", func(t *Tier) { t.Description = "a\x00b" }, []string{"description"}},
		{"invalid UTF-8 description", func(t *Tier) { t.Description = "\xff" }, []string{"description"}},
		{"negative price", func(t *Tier) { t.PriceCents = -1 }, []string{"price_cents"}},
		{"highest price", func(t *Tier) { t.PriceCents = MaxPriceCents }, nil},
		{"price above the bound", func(t *Tier) { t.PriceCents = MaxPriceCents + 1 }, []string{"price_cents"}},
		{"largest int64 price", func(t *Tier) { t.PriceCents = math.MaxInt64 }, []string{"price_cents"}},
		{"soft month", func(t *Tier) { t.Windows = []Window{{Limit: 1_000_000, Per: Month, Soft: true}} }, nil},
		{"soft month after a burst window", func(t *Tier) {
			t.Windows = []Window{{Limit: 20, Per: time.Second}, {Limit: 1_000_000, Per: Month, Soft: true}}
		}, nil},
		{"soft window of seconds", func(t *Tier) { t.Windows[0].Soft = true }, []string{"limits[0].soft"}},
		{"soft window of a year", func(t *Tier) {
			t.Windows = []Window{{Limit: 1_000_000, Per: Month}, {Limit: 5, Per: MaxPer, Soft: true}}
		}, []string{"limits[1].soft"}},
		{"soft window of a bad per", func(t *Tier) { t.Windows[0].Per, t.Windows[0].Soft = 0, true },
			[]string{"limits[0].per", "limits[0].soft"}},
		{"highest overage price", func(t *Tier) { t.OveragePriceMicros = MaxOveragePriceMicros }, nil},
		{"overage price without a soft window", func(t *Tier) { t.OveragePriceMicros = 1500 }, nil},
		{"negative overage price", func(t *Tier) { t.OveragePriceMicros = -1 }, []string{"overage_price_micros"}},
		{"overage price above the bound", func(t *Tier) { t.OveragePriceMicros = MaxOveragePriceMicros + 1 }, []string{"overage_price_micros"}},
		{"largest int64 overage price", func(t *Tier) { t.OveragePriceMicros = math.MaxInt64 }, []string{"overage_price_micros"}},
		{"lower-case currency", func(t *Tier) { t.Currency = "usd" }, []string{"currency"}},
		{"long currency", func(t *Tier) { t.Currency = "EURO" }, []string{"currency"}},
		{"everything wrong", func(t *Tier) { *t = Tier{Name: "X", PriceCents: -5, Currency: "x"} },
			[]string{"name", "limits", "price_cents", "currency"}},
		{"every new field wrong", func(t *Tier) { t.Windows[0].Soft, t.OveragePriceMicros = true, -1 },
			[]string{"limits[0].soft", "overage_price_micros"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tier := validTier()
			tt.edit(&tier)
			err := tier.Validate()
			if got := invalidFields(t, err); !slices.Equal(got, tt.fields) {
				t.Errorf("Validate() fields = %v, want %v (err %v)", got, tt.fields, err)
			}
		})
	}
}

func TestValidClientID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id    string
		valid bool
	}{
		{"user-42", true},
		{"auth0|5f7c8ec7c33c6c004bbafe82", true},
		{"ünïcødé 用户", true},
		{strings.Repeat("a", 255), true},
		{"", false},
		{strings.Repeat("a", 256), false},
		{strings.Repeat("é", 128), false}, // 256 bytes
		{"a\x00b", false},
		{"a\nb", false},
		{"\xff\xfe", false},
	}
	for _, tt := range tests {
		err := ValidClientID(tt.id)
		if (err == nil) != tt.valid {
			t.Errorf("ValidClientID(%q) = %v, want valid=%v", tt.id, err, tt.valid)
		}
		if err != nil && !slices.Equal(invalidFields(t, err), []string{"id"}) {
			t.Errorf("ValidClientID(%q) fields = %v, want [id]", tt.id, invalidFields(t, err))
		}
	}
}

// invalidFields returns the fields of a *ValidationError, nil for nil, and
// fails the test for any other error.
func invalidFields(tb testing.TB, err error) []string {
	tb.Helper()
	if err == nil {
		return nil
	}
	var v *ValidationError
	if !errors.As(err, &v) {
		tb.Fatalf("error %v (%T) is not a *ValidationError", err, err)
	}
	fields := make([]string, 0, len(v.Fields))
	for _, f := range v.Fields {
		fields = append(fields, f.Field)
	}
	return fields
}
