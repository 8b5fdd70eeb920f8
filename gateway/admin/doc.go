// Package admin serves Tollgate's Admin API: the HTTP interface, compatible
// with Kong 3.x's Admin API, through which operators and tools (curl, decK,
// Terraform providers) read and write the gateway's configuration.
//
// It owns the API's paths, the decoding of request bodies (JSON, urlencoded
// and multipart forms, with Kong's conventions for nested and array fields),
// the checks that need other entities (references, cascades on delete), and
// the exact shapes of Kong's responses and errors. Field rules live in
// package validate, persistence in the store, declarative files in package
// declarative.
//
// It must never return a stored secret (a key-auth key or a basic-auth
// password) except the key in the response to the request that set it, never
// write outside the store it is given, and never trust a request before the
// admin token, when one is configured, has been checked.
package admin
