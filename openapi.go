// Package quotad holds what belongs to the repository as a whole: the
// OpenAPI description of the HTTP API, which quotad serves at
// /openapi.yaml and the tests check every response against.
package quotad

import _ "embed"

// OpenAPI is openapi.yaml, the contract of quotad's HTTP API.
//
//go:embed openapi.yaml
var OpenAPI []byte
