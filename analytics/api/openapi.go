package api

import _ "embed"

// openapiJSON is the API's OpenAPI 3.1 description, written by hand and
// held to the handlers by openapi_test.go. It is read-only.
//
//go:embed openapi.json
var openapiJSON []byte
