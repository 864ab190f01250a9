// Package operations holds the cost rules of gateway requests: how many
// units of a client's quota one request to a method and path spends.
//
// A Rule matches a method ("*" is any) and a path pattern: an exact path
// ("/v1/search") or a prefix ending in "/*" ("/v1/search/*" matches every
// path that starts "/v1/search/"). The most specific rule wins: an exact
// path over any prefix, a longer prefix over a shorter one, and, for the
// same pattern, a named method over "*". A request no rule matches costs 1;
// a cost of 0 makes it free.
//
// Rules live in Postgres (Store) and every instance answers from memory
// (Cache), kept fresh by the notifications the database sends on each
// change.
package operations
