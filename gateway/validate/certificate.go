package validate

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"strings"

	"github.com/tollgate/tollgate/internal/entity"
)

func normalizeCertificate(c *entity.Certificate, errs entity.FieldErrors) {
	certOK, keyOK := false, false
	if c.Cert == "" {
		errs.Add("cert", msgRequired)
	} else if msg := checkCertPEM(c.Cert); msg != "" {
		errs.Add("cert", msg)
	} else {
		certOK = true
	}
	if c.Key == "" {
		errs.Add("key", msgRequired)
	} else if msg := checkKeyPEM(c.Key); msg != "" {
		errs.Add("key", msg)
	} else {
		keyOK = true
	}
	if certOK && keyOK {
		if _, err := tls.X509KeyPair([]byte(c.Cert), []byte(c.Key)); err != nil {
			errs.Add(entityField, "certificate does not match key")
		}
	}
	for _, s := range c.SNIs {
		if msg := checkSNIName(s); msg != "" {
			errs.Add("snis", msg)
			break
		}
	}
}

// checkCertPEM accepts one or more PEM certificates (a chain, leaf first).
func checkCertPEM(s string) string {
	rest := []byte(s)
	n := 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return "invalid certificate: " + err.Error()
		}
		n++
	}
	if n == 0 {
		return "invalid certificate: no PEM certificate found"
	}
	return ""
}

// checkKeyPEM accepts a PEM private key: PKCS #1, PKCS #8 or SEC 1.
func checkKeyPEM(s string) string {
	rest := []byte(s)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return "invalid key: no PEM private key found"
		}
		if b.Type != "PRIVATE KEY" && !strings.HasSuffix(b.Type, " PRIVATE KEY") {
			continue
		}
		if _, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
			return ""
		}
		if _, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
			return ""
		}
		if _, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
			return ""
		}
		return "invalid key: unsupported or malformed private key"
	}
}

func normalizeSNI(s *entity.SNI, errs entity.FieldErrors) {
	requireRef(errs, "certificate", s.Certificate)
	if s.Name == "" {
		errs.Add("name", msgRequired)
	} else if msg := checkSNIName(s.Name); msg != "" {
		errs.Add("name", msg)
	}
}

// checkSNIName is Kong's SNI name rule: a hostname, optionally with one
// wildcard label at either end, never an IP address or with a port.
func checkSNIName(name string) string {
	if msg := checkWildcardHost(name, false); msg != "" {
		return msg
	}
	hp, _ := parseHostPort(strings.Replace(name, "*", "wildcard", 1))
	if hp.kind != hostName {
		return "must not be an IP"
	}
	return ""
}
