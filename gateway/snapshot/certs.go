package snapshot

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/tollgate/tollgate/internal/entity"
)

// certIndex finds certificates by TLS server name. Names are lower-case.
type certIndex struct {
	exact    map[string]*tls.Certificate
	leading  map[string]*tls.Certificate // "*.example.com" stored as "example.com"
	trailing map[string]*tls.Certificate // "example.*" stored as "example"
	byID     map[string]*tls.Certificate
}

func (ci *certIndex) lookup(serverName string) (*tls.Certificate, bool) {
	if ci == nil || serverName == "" {
		return nil, false
	}
	name := lowerASCII(strings.TrimSuffix(serverName, "."))
	if c, ok := ci.exact[name]; ok {
		return c, true
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		if c, ok := ci.leading[name[i+1:]]; ok {
			return c, true
		}
	}
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		if c, ok := ci.trailing[name[:i]]; ok {
			return c, true
		}
	}
	return nil, false
}

type certBuilder struct {
	certs []*entity.Certificate
	snis  []*entity.SNI
}

func newCertBuilder() *certBuilder { return &certBuilder{} }

func (b *certBuilder) certificate(c *entity.Certificate) { b.certs = append(b.certs, c) }
func (b *certBuilder) sni(s *entity.SNI)                 { b.snis = append(b.snis, s) }

// build parses every certificate once and indexes it under its SNIs.
// Certificates that do not parse are left out and reported.
func (b *certBuilder) build() (*certIndex, error) {
	ci := &certIndex{
		exact:    map[string]*tls.Certificate{},
		leading:  map[string]*tls.Certificate{},
		trailing: map[string]*tls.Certificate{},
		byID:     map[string]*tls.Certificate{},
	}
	var errs []error
	for _, c := range b.certs {
		pair, err := tls.X509KeyPair([]byte(c.Cert), []byte(c.Key))
		if err != nil {
			errs = append(errs, fmt.Errorf("certificate %s: %w", c.ID, err))
			continue
		}
		if pair.Leaf == nil && len(pair.Certificate) > 0 {
			// Parsed once here rather than on every handshake.
			if leaf, err := x509.ParseCertificate(pair.Certificate[0]); err == nil {
				pair.Leaf = leaf
			}
		}
		ci.byID[c.ID] = &pair
	}
	for _, s := range b.snis {
		id := entity.RefID(s.Certificate)
		cert, ok := ci.byID[id]
		if !ok {
			errs = append(errs, fmt.Errorf("sni %s (%s): certificate %s is missing or invalid", s.ID, s.Name, id))
			continue
		}
		name := lowerASCII(s.Name)
		switch {
		case strings.HasPrefix(name, "*."):
			ci.leading[name[2:]] = cert
		case strings.HasSuffix(name, ".*"):
			ci.trailing[name[:len(name)-2]] = cert
		default:
			ci.exact[name] = cert
		}
	}
	return ci, errors.Join(errs...)
}
