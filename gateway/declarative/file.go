package declarative

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate/tollgate/internal/entity"
)

// FormatVersion is the _format_version Tollgate writes: Kong 3.x's.
const FormatVersion = "3.0"

// File is a declarative configuration: Kong's kong.yml (decK's format), with
// entities at the top level or nested in the entity they belong to. The
// entity types embed Tollgate's entities and replace their foreign keys with
// References, as the file format does.
type File struct {
	// FormatVersion is "3.0"; "1.1" and "2.1" files are read as Kong 3 reads
	// them and written back as "3.0".
	FormatVersion string `json:"_format_version"`
	// Transform false says that secrets in the file are already in their
	// stored form (Kong's exports). Tollgate's own exports carry hashes in
	// fields of their own (key_hash, password_hash) and leave it unset.
	Transform *bool `json:"_transform,omitempty"`
	// Workspace, when set, is the only workspace the file may be applied to
	// (decK's _workspace).
	Workspace string `json:"_workspace,omitempty"`
	// Info holds decK's file-level settings; only select_tags is supported.
	Info *Info `json:"_info,omitempty"`

	Services             []*Service             `json:"services,omitempty"`
	Routes               []*Route               `json:"routes,omitempty"`
	Consumers            []*Consumer            `json:"consumers,omitempty"`
	Plugins              []*Plugin              `json:"plugins,omitempty"`
	Upstreams            []*Upstream            `json:"upstreams,omitempty"`
	Targets              []*Target              `json:"targets,omitempty"`
	Certificates         []*Certificate         `json:"certificates,omitempty"`
	SNIs                 []*SNI                 `json:"snis,omitempty"`
	KeyAuthCredentials   []*KeyAuthCredential   `json:"keyauth_credentials,omitempty"`
	BasicAuthCredentials []*BasicAuthCredential `json:"basicauth_credentials,omitempty"`
	ACLs                 []*ACLGroup            `json:"acls,omitempty"`

	// lines maps paths ("services[0].name") to their line in the input,
	// so that problems found after parsing can still say where they are.
	lines map[string]int
}

// Info is decK's _info block.
type Info struct {
	// SelectTags are added to every entity of the file, as decK does.
	SelectTags []string `json:"select_tags,omitempty"`
}

// Reference names another entity of the file: by its name (username for
// consumers) or by its id, as Kong's declarative format allows. Kong's
// {"id": "..."} form is read too.
type Reference string

// UnmarshalJSON reads "name-or-id", {"id": "..."} or null.
func (r *Reference) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*r = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*r = Reference(s)
		return nil
	}
	var obj struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &obj); err != nil || obj.ID == "" {
		return errors.New("expected a name or id, or a record with an id")
	}
	*r = Reference(obj.ID)
	return nil
}

// Service is a service with its routes and the plugins scoped to it alone.
type Service struct {
	entity.Service
	ClientCertificate Reference `json:"client_certificate,omitempty"`
	Routes            []*Route  `json:"routes,omitempty"`
	Plugins           []*Plugin `json:"plugins,omitempty"`
}

// Route is a route with the plugins scoped to it alone. Nested in a service
// it has no Service reference.
type Route struct {
	entity.Route
	Service Reference `json:"service,omitempty"`
	Plugins []*Plugin `json:"plugins,omitempty"`
}

// Consumer is a consumer with its credentials, ACL groups and the plugins
// scoped to it alone.
type Consumer struct {
	entity.Consumer
	Plugins              []*Plugin              `json:"plugins,omitempty"`
	KeyAuthCredentials   []*KeyAuthCredential   `json:"keyauth_credentials,omitempty"`
	BasicAuthCredentials []*BasicAuthCredential `json:"basicauth_credentials,omitempty"`
	ACLs                 []*ACLGroup            `json:"acls,omitempty"`
}

// Plugin is a plugin instance; nested in a service, route or consumer it
// does not repeat that reference.
type Plugin struct {
	entity.Plugin
	Service  Reference `json:"service,omitempty"`
	Route    Reference `json:"route,omitempty"`
	Consumer Reference `json:"consumer,omitempty"`
}

// Upstream is an upstream with its targets.
type Upstream struct {
	entity.Upstream
	Targets []*Target `json:"targets,omitempty"`
}

// Target is a target; nested in an upstream it has no Upstream reference.
type Target struct {
	entity.Target
	Upstream Reference `json:"upstream,omitempty"`
}

// Certificate is a certificate with its SNIs, and the services that present
// it to their upstream (client_certificate), as Kong nests them.
type Certificate struct {
	entity.Certificate
	SNIs     []*SNI     `json:"snis,omitempty"`
	Services []*Service `json:"services,omitempty"`
}

// SNI is a server name; nested in a certificate it has no Certificate
// reference.
type SNI struct {
	entity.SNI
	Certificate Reference `json:"certificate,omitempty"`
}

// KeyAuthCredential is a key-auth key. Files written by Kong users hold the
// key itself; Tollgate's exports hold only key_hash and key_prefix.
type KeyAuthCredential struct {
	entity.KeyAuthCredential
	Consumer Reference `json:"consumer,omitempty"`
}

// BasicAuthCredential is a basic-auth username and password. Files written
// by Kong users hold the password; Tollgate's exports hold password_hash.
type BasicAuthCredential struct {
	entity.BasicAuthCredential
	Consumer Reference `json:"consumer,omitempty"`
}

// ACLGroup puts a consumer in a group.
type ACLGroup struct {
	entity.ACLGroup
	Consumer Reference `json:"consumer,omitempty"`
}

// tree renders f as a document tree without nulls, in field order.
func (f *File) tree() (*value, error) {
	if f.FormatVersion == "" {
		c := *f
		c.FormatVersion = FormatVersion
		f = &c
	}
	data, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("encode declarative config: %w", err)
	}
	v, err := loadJSON(data)
	if err != nil {
		return nil, fmt.Errorf("encode declarative config: %w", err)
	}
	return withoutNulls(v), nil
}

// YAML renders f as a kong.yml document.
func (f *File) YAML() ([]byte, error) {
	v, err := f.tree()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(yamlNode(v)); err != nil {
		return nil, fmt.Errorf("encode declarative config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode declarative config: %w", err)
	}
	return buf.Bytes(), nil
}

// JSON renders f as an indented JSON document.
func (f *File) JSON() ([]byte, error) {
	v, err := f.tree()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	appendIndentedJSON(&buf, v, "")
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}
