package validate

import (
	"net/url"
	"strconv"

	"github.com/tollgate/tollgate/internal/entity"
)

// Kong 3.x defaults (kong/db/schema/entities/services.lua).
const (
	defaultTimeout = 60000
)

func normalizeService(s *entity.Service, errs entity.FieldErrors) {
	checkName(errs, "name", s.Name)
	if s.URL != "" {
		// The url shorthand sets protocol, host, port and path at once, as
		// Kong's shorthand_fields do; the port defaults by scheme.
		if parseServiceURL(s, errs) {
			s.URL = ""
		}
	}
	if s.Protocol == "" {
		s.Protocol = "http"
	}
	oneOf(errs, "protocol", s.Protocol, "http", "https")
	if s.Host == "" {
		errs.Add("host", msgRequired)
	} else if msg := checkHost(s.Host); msg != "" {
		errs.Add("host", msg)
	}
	if s.Port == 0 {
		s.Port = 80
		if s.Protocol == "https" {
			s.Port = 443
		}
	}
	between(errs, "port", s.Port, 0, 65535)
	if s.Path != "" {
		if msg := checkServicePath(s.Path); msg != "" {
			errs.Add("path", msg)
		}
	}
	if s.Retries == nil {
		r := entity.DefaultRetries
		s.Retries = &r
	}
	between(errs, "retries", *s.Retries, 0, 32767)
	for _, t := range []struct {
		field string
		v     *int
	}{
		{"connect_timeout", &s.ConnectTimeout},
		{"write_timeout", &s.WriteTimeout},
		{"read_timeout", &s.ReadTimeout},
	} {
		if *t.v == 0 {
			*t.v = defaultTimeout
		}
		between(errs, t.field, *t.v, 1, maxTimeout)
	}
	if s.Enabled == nil {
		s.Enabled = boolPtr(true)
	}
	checkRef(errs, "client_certificate", s.ClientCertificate)
	// Kong: client_certificate and tls_verify only mean something over TLS.
	if s.Protocol != "https" {
		if s.ClientCertificate != nil {
			errs.Add("client_certificate", "value must be null")
		}
		if s.TLSVerify != nil {
			errs.Add("tls_verify", "value must be null")
		}
	}
}

// parseServiceURL applies the url shorthand; false when it does not parse.
func parseServiceURL(s *entity.Service, errs entity.FieldErrors) bool {
	u, err := url.Parse(s.URL)
	if err != nil {
		errs.Add("url", "could not parse url. "+err.Error())
		return false
	}
	if u.Scheme == "" {
		errs.Add("url", "missing scheme in url")
		return false
	}
	if u.Host == "" {
		errs.Add("url", "missing host in url")
		return false
	}
	s.Protocol = u.Scheme
	s.Host = u.Hostname()
	s.Port = 0
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			errs.Add("url", "invalid port number")
			return false
		}
		s.Port = n
	}
	if s.Port == 0 {
		s.Port = 80
		if s.Protocol == "https" {
			s.Port = 443
		}
	}
	s.Path = u.EscapedPath()
	if u.RawQuery != "" || u.Fragment != "" {
		errs.Add("url", "must not have a query or fragment")
		return false
	}
	return true
}
