package snapshot

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/validate"
	"github.com/tollgate/tollgate/internal/entity"
)

// maxVerified bounds the cache of verified basic-auth passwords per
// snapshot. bcrypt costs tens of milliseconds a check (by design), far too
// much for every request; a verified (credential, password) pair is cached
// under its SHA-256, which is cheap to compute and reveals nothing usable.
const maxVerified = 10000

type wsKey struct{ ws, key string }

type keyEntry struct {
	cred     *entity.KeyAuthCredential
	consumer *entity.Consumer
}

type basicEntry struct {
	cred     *entity.BasicAuthCredential
	consumer *entity.Consumer
}

// credentials indexes consumers and their credentials of one snapshot.
type credentials struct {
	keys       map[wsKey]keyEntry   // (ws, key hash)
	basic      map[wsKey]basicEntry // (ws, username)
	consumers  map[wsKey]*entity.Consumer
	byUsername map[wsKey]*entity.Consumer
	groups     map[wsKey][]string // (ws, consumer id)
	now        func() time.Time

	mu       sync.Mutex
	verified map[[sha256.Size]byte]struct{}
}

var _ plugin.Credentials = (*credentials)(nil)

// KeyAuth finds the credential whose key hashes to the given key. Keys with
// a ttl expire ttl seconds after their creation, as in Kong.
func (c *credentials) KeyAuth(workspace, key string) (*entity.Consumer, *entity.KeyAuthCredential, bool) {
	if key == "" {
		return nil, nil, false
	}
	e, ok := c.keys[wsKey{ws(workspace), validate.HashKey(key)}]
	if !ok {
		return nil, nil, false
	}
	if ttl := e.cred.TTL; ttl > 0 && e.cred.CreatedAt > 0 &&
		c.now().Unix() >= e.cred.CreatedAt+int64(ttl) {
		return nil, nil, false
	}
	return e.consumer, e.cred, true
}

// BasicAuth finds the credential with the username and checks the password.
func (c *credentials) BasicAuth(workspace, username, password string) (*entity.Consumer, *entity.BasicAuthCredential, bool) {
	wsName := ws(workspace)
	e, ok := c.basic[wsKey{wsName, username}]
	if !ok || e.cred.PasswordHash == "" {
		return nil, nil, false
	}
	// The cache key covers the stored hash too, so a changed password
	// never matches an old entry.
	h := sha256.New()
	for _, s := range []string{wsName, username, e.cred.PasswordHash, password} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])

	c.mu.Lock()
	_, hit := c.verified[sum]
	c.mu.Unlock()
	if hit {
		return e.consumer, e.cred, true
	}
	if !validate.CheckPassword(e.cred.PasswordHash, password) {
		return nil, nil, false
	}
	c.mu.Lock()
	if len(c.verified) >= maxVerified {
		// Evict an arbitrary entry: map iteration order is random enough
		// to keep a hot set from being pinned out.
		for k := range c.verified {
			delete(c.verified, k)
			break
		}
	}
	c.verified[sum] = struct{}{}
	c.mu.Unlock()
	return e.consumer, e.cred, true
}

// Consumer finds a consumer by id, then by username.
func (c *credentials) Consumer(workspace, idOrUsername string) (*entity.Consumer, bool) {
	k := wsKey{ws(workspace), idOrUsername}
	if co, ok := c.consumers[k]; ok {
		return co, true
	}
	co, ok := c.byUsername[k]
	return co, ok
}

// Groups returns the ACL groups of a consumer.
func (c *credentials) Groups(workspace, consumerID string) []string {
	return c.groups[wsKey{ws(workspace), consumerID}]
}

func ws(w string) string {
	if w == "" {
		return entity.DefaultWorkspace
	}
	return w
}

type credentialsBuilder struct {
	c         *credentials
	keyCreds  []wsEntity[*entity.KeyAuthCredential]
	basicCred []wsEntity[*entity.BasicAuthCredential]
	acls      []wsEntity[*entity.ACLGroup]
}

type wsEntity[E any] struct {
	ws string
	e  E
}

func newCredentialsBuilder() *credentialsBuilder {
	return &credentialsBuilder{c: &credentials{
		keys:       map[wsKey]keyEntry{},
		basic:      map[wsKey]basicEntry{},
		consumers:  map[wsKey]*entity.Consumer{},
		byUsername: map[wsKey]*entity.Consumer{},
		groups:     map[wsKey][]string{},
		now:        time.Now,
		verified:   map[[sha256.Size]byte]struct{}{},
	}}
}

func (b *credentialsBuilder) consumer(ws string, c *entity.Consumer) {
	b.c.consumers[wsKey{ws, c.ID}] = c
	if c.Username != "" {
		b.c.byUsername[wsKey{ws, c.Username}] = c
	}
}

func (b *credentialsBuilder) keyAuth(ws string, k *entity.KeyAuthCredential) {
	b.keyCreds = append(b.keyCreds, wsEntity[*entity.KeyAuthCredential]{ws, k})
}

func (b *credentialsBuilder) basicAuth(ws string, k *entity.BasicAuthCredential) {
	b.basicCred = append(b.basicCred, wsEntity[*entity.BasicAuthCredential]{ws, k})
}

func (b *credentialsBuilder) group(ws string, g *entity.ACLGroup) {
	b.acls = append(b.acls, wsEntity[*entity.ACLGroup]{ws, g})
}

// build links credentials to their consumers once every consumer is known
// (entities arrive in any order); credentials of missing consumers are left
// out and reported.
func (b *credentialsBuilder) build() (*credentials, error) {
	c := b.c
	var errs []error
	for _, k := range b.keyCreds {
		co, ok := c.consumers[wsKey{k.ws, entity.RefID(k.e.Consumer)}]
		if !ok {
			errs = append(errs, fmt.Errorf("key-auth credential %s: consumer %s not found", k.e.ID, entity.RefID(k.e.Consumer)))
			continue
		}
		hash := k.e.KeyHash
		if hash == "" && k.e.Key != "" {
			// Stores keep only the hash; a plaintext key still hashes the
			// same way.
			hash = validate.HashKey(k.e.Key)
		}
		if hash == "" {
			errs = append(errs, fmt.Errorf("key-auth credential %s: no key", k.e.ID))
			continue
		}
		c.keys[wsKey{k.ws, hash}] = keyEntry{cred: k.e, consumer: co}
	}
	for _, k := range b.basicCred {
		co, ok := c.consumers[wsKey{k.ws, entity.RefID(k.e.Consumer)}]
		if !ok {
			errs = append(errs, fmt.Errorf("basic-auth credential %s: consumer %s not found", k.e.ID, entity.RefID(k.e.Consumer)))
			continue
		}
		c.basic[wsKey{k.ws, k.e.Username}] = basicEntry{cred: k.e, consumer: co}
	}
	for _, g := range b.acls {
		k := wsKey{g.ws, entity.RefID(g.e.Consumer)}
		c.groups[k] = append(c.groups[k], g.e.Group)
	}
	return c, errors.Join(errs...)
}
