// Package usage keeps, in Postgres, how many requests each client had
// admitted, refused and admitted as overage per UTC day, and reads them
// back for the usage API and the monthly billing export.
//
// The counting itself happens in Redis, in the limiter; a flusher copies
// the counters here with Record. Redis counters can be lost and start again
// from zero, so every incarnation of a client's counters has an epoch, and
// Postgres keeps one row of absolute counts per client, day and epoch
// (table usage_days, migration 00010). A day's usage is the sum over its
// epochs. Record keeps the greatest value seen per column, so a snapshot
// copied twice, or an older one after a newer one, changes nothing: a flush
// may be retried, or run by several instances at once, and never counts a
// request twice.
//
// Retention: usage is kept at least MaxDays (400) days, the longest range
// the usage API serves. The flusher calls Prune with now − 800 days, so a
// row lives between 800 and 801 days; everything older is gone.
package usage
