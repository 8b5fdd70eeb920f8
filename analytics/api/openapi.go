package api

import (
	"bytes"
	_ "embed"
	"encoding/json"
)

// openapiJSON is the API's OpenAPI 3.1 description, written by hand and
// held to the handlers by openapi_test.go. It is read-only.
//
//go:embed openapi.json
var openapiJSON []byte

// openapiCompact is openapiJSON without its layout, as it is served.
var openapiCompact = func() json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, openapiJSON); err != nil {
		panic("analytics/api/openapi.json: " + err.Error())
	}
	return b.Bytes()
}()
