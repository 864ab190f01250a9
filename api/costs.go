package api

// Costs says how many units of quota a gateway request spends, by its
// original method and path (without the query string). operations.Cache
// is one.
type Costs interface {
	Cost(method, path string) int64
}
