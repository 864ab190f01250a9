// Package webhooks delivers quotad's threshold events: a client's usage of
// a month window first reaching 80 % or 100 % of its limit.
//
// Events go through an outbox in Postgres (table webhook_events). Enqueue
// inserts them, inside the caller's transaction, at most once per client,
// window and threshold. A Dispatcher on each quotad instance claims due
// events, POSTs each one's stored JSON body signed in the Quota-Signature
// header (see Sign and Verify), and retries failures with exponential
// backoff for at least a day. Delivery is at least once: receivers dedupe
// by the event's id, which is the same on every attempt.
package webhooks
