package tiers

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// TierPatch changes some fields of a stored tier and leaves the others as
// they are (Store.PatchTier). A nil field is left unchanged; a non-nil one
// replaces the stored value, and its zero value means the field's default,
// as it does in a Tier: &"" resets Description to empty, &0 PriceCents to
// free, &"" Currency to DefaultCurrency.
//
// Windows, if not nil, replaces every window (a merge patch replaces
// arrays whole), Soft included; Limit and Per then change the first window
// of the result, the one Part 1 readers see as the tier's limit and per,
// and keep its Soft. Per cannot turn a soft month window into another
// length: that change goes through Windows.
//
// For example {PriceCents: &p} with p = 4999 reprices a tier and keeps its
// windows, description and currency.
type TierPatch struct {
	Windows     []Window
	Limit       *int64
	Per         *time.Duration
	Description *string
	PriceCents  *int64
	Currency    *string
	// OveragePriceMicros reprices overage; &0 makes it free.
	OveragePriceMicros *int64
}

// isZero reports whether p changes nothing.
func (p TierPatch) isZero() bool {
	return p.Windows == nil && p.Limit == nil && p.Per == nil && p.Description == nil &&
		p.PriceCents == nil && p.Currency == nil && p.OveragePriceMicros == nil
}

// Apply returns t with p's fields set and defaults filled in: what
// PatchTier stores when t is the stored tier.
func (p TierPatch) Apply(t Tier) Tier {
	if p.Windows != nil {
		t.Windows = p.Windows
	}
	if (p.Limit != nil || p.Per != nil) && len(t.Windows) > 0 {
		t.Windows = slices.Clone(t.Windows) // t's may be a Cache's
		if p.Limit != nil {
			t.Windows[0].Limit = *p.Limit
		}
		if p.Per != nil {
			t.Windows[0].Per = *p.Per
		}
	}
	if p.Description != nil {
		t.Description = *p.Description
	}
	if p.PriceCents != nil {
		t.PriceCents = *p.PriceCents
	}
	if p.Currency != nil {
		t.Currency = *p.Currency
	}
	if p.OveragePriceMicros != nil {
		t.OveragePriceMicros = *p.OveragePriceMicros
	}
	return t.normalized()
}

// sqlPatchTier sets the columns whose parameter is not NULL and keeps the
// others. It is one UPDATE, so the row is locked while the new values are
// computed and a concurrent writer's change is never lost: a second PATCH
// waits for the first, then applies its COALESCE to the row the first
// wrote (READ COMMITTED re-reads an updated row before updating it).
// NULL never means "reset": a reset arrives as the field's default value.
// The windows are $7/$8/$9 (all of them, soft_month with them) if given,
// else the stored ones, with the first window's limit and per then
// replaced by $2/$3 if given.
const sqlPatchTier = `
UPDATE tiers
SET limits = ARRAY[COALESCE($2::bigint, (COALESCE($7::bigint[], limits))[1])] || (COALESCE($7::bigint[], limits))[2:],
    pers = ARRAY[COALESCE($3::integer, (COALESCE($8::integer[], pers))[1])] || (COALESCE($8::integer[], pers))[2:],
    soft_month = COALESCE($9::boolean, soft_month),
    description = COALESCE($4, description), price_cents = COALESCE($5, price_cents),
    currency = COALESCE($6, currency), overage_price_micros = COALESCE($10, overage_price_micros)
WHERE name = $1
RETURNING ` + tierColumns

// PatchTier applies p to the tier called name in one statement and returns
// the tier as stored. It returns ErrNotFound if there is no such tier and a
// *ValidationError naming the fields of p that are invalid. An empty patch
// changes nothing (the version stays, no instance is notified) and returns
// the tier as it is; it is still an admin write, so it is audited.
func (s *Store) PatchTier(ctx context.Context, name string, p TierPatch) (Tier, error) {
	if err := p.validate(name); err != nil {
		return Tier{}, err
	}
	p = p.normalized()
	var perSeconds *int32
	if p.Per != nil {
		perSeconds = new(perColumn(*p.Per))
	}
	limits, pers := windowArrays(p.Windows)
	var soft *bool
	if p.Windows != nil {
		soft = new(softMonth(p.Windows))
	}
	var patched Tier
	err := s.write(ctx, ActionTierUpdate, name, func(tx pgx.Tx) (before, after any, err error) {
		old, err := tierForUpdate(ctx, tx, name)
		if err == nil && old == nil {
			err = pgx.ErrNoRows
		}
		if err != nil {
			return nil, nil, err
		}
		if err := p.keepsSoftMonth(*old); err != nil {
			return nil, nil, err
		}
		if p.isZero() {
			patched = *old
			return recordTier(old), recordTier(old), nil
		}
		patched, err = collectTier(tx.Query(ctx, sqlPatchTier, name, p.Limit, perSeconds, p.Description, p.PriceCents, p.Currency,
			limits, pers, soft, p.OveragePriceMicros))
		return recordTier(old), recordTier(&patched), err
	})
	if err != nil {
		return Tier{}, fmt.Errorf("tiers: patch %q: %w", name, interpretError(err))
	}
	return patched, nil
}

// validate checks name and the fields p sets, before the database is
// touched. Every rule of Tier.Validate but one concerns one field alone, so
// p applied to a valid placeholder tier fails exactly on p's invalid
// fields; the stored values of the other fields were valid when written.
// The exception, a Per alone equal to another stored window's, is left to
// the database, whose constraint reports it as limits.
func (p TierPatch) validate(name string) error {
	return p.Apply(Tier{Name: name, Windows: []Window{{Limit: 1, Per: time.Second}}}).Validate()
}

// keepsSoftMonth refuses a Per alone that would make old's first window,
// a soft month, some other length. Only the stored tier shows it, and the
// database's own check would name limits rather than the per the body set.
func (p TierPatch) keepsSoftMonth(old Tier) error {
	first := old.First()
	if p.Windows != nil || p.Per == nil || *p.Per == Month || first.Per != Month || !first.Soft {
		return nil
	}
	var v ValidationError
	v.add("per", `must stay "month" while the month window is soft; give limits to change both`)
	return &v
}

// normalized spells a reset of Currency as the default the database
// stores, without changing the caller's string.
func (p TierPatch) normalized() TierPatch {
	if p.Currency != nil && *p.Currency == "" {
		c := DefaultCurrency
		p.Currency = &c
	}
	return p
}
