package snapshot

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/internal/entity"
)

// selfSigned returns a PEM certificate and key for the given DNS names.
func selfSigned(t *testing.T, cn string, names ...string) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

func meta(id string) entity.Meta {
	return entity.Meta{ID: id, Workspace: entity.DefaultWorkspace, CreatedAt: time.Now().Unix()}
}

// testFactory is a plugin whose config has one field; "bad" fails New.
func testFactory() *plugin.Factory {
	type cfg struct {
		Mode string `json:"mode"`
	}
	return &plugin.Factory{
		Name:      "test",
		Priority:  1,
		NewConfig: func() any { return &cfg{Mode: "ok"} },
		New: func(c any, _ plugin.Env) (any, error) {
			if c.(*cfg).Mode == "bad" {
				return nil, entity.FieldErrors{"mode": "bad mode"}.Err()
			}
			return struct{}{}, nil
		},
	}
}

var errStoreDown = errors.New("store down")
