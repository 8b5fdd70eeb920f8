package proxy

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/tollgate/tollgate/gateway/snapshot"
	"github.com/tollgate/tollgate/internal/entity"
)

// serviceTarget is what a service's fields say about where and how to
// connect, worked out once per service and snapshot rather than per request.
type serviceTarget struct {
	tls      bool
	hostHdr  string // host, with the port when it is not the scheme's
	direct   string // host:port, when host names no upstream
	key      clientKey
	maxTries int
}

// targetCache holds the serviceTargets of one snapshot, keyed by the
// snapshot's *entity.Service (a pointer: no allocation per lookup).
type targetCache struct {
	snap *snapshot.Snapshot
	m    sync.Map // *entity.Service → *serviceTarget
}

type targetCaches struct {
	cur atomic.Pointer[targetCache]
}

// serviceTarget returns the cached target of svc in snap.
func (s *Server) serviceTarget(snap *snapshot.Snapshot, svc *entity.Service) *serviceTarget {
	c := s.targets.cur.Load()
	if c == nil || c.snap != snap {
		// A new snapshot starts a new cache; the old one goes with the
		// requests still holding it.
		nc := &targetCache{snap: snap}
		if s.targets.cur.CompareAndSwap(c, nc) {
			c = nc
		} else if c = s.targets.cur.Load(); c == nil || c.snap != snap {
			return newServiceTarget(snap, svc) // in between two snapshots
		}
	}
	if v, ok := c.m.Load(svc); ok {
		return v.(*serviceTarget)
	}
	st := newServiceTarget(snap, svc)
	c.m.Store(svc, st)
	return st
}

func newServiceTarget(snap *snapshot.Snapshot, svc *entity.Service) *serviceTarget {
	st := &serviceTarget{}
	switch svc.Protocol {
	case "https", "wss", "grpcs", "tls":
		st.tls = true
	}
	port := svc.Port
	if port <= 0 {
		port = 80
		if st.tls {
			port = 443
		}
	}
	if (!st.tls && port == 80) || (st.tls && port == 443) {
		st.hostHdr = svc.Host
	} else {
		st.hostHdr = svc.Host + ":" + strconv.Itoa(port)
	}
	st.direct = net.JoinHostPort(svc.Host, strconv.Itoa(port))
	st.key = clientKey{
		tls:     st.tls,
		connect: ms(svc.ConnectTimeout),
		read:    ms(svc.ReadTimeout),
		write:   ms(svc.WriteTimeout),
	}
	if st.tls {
		st.key.serverName = svc.Host
		st.key.verify = svc.TLSVerify != nil && *svc.TLSVerify
		if svc.ClientCertificate != nil {
			if c, ok := snap.CertificateByID(svc.ClientCertificate.ID); ok {
				st.key.clientCert = c
			}
		}
	}
	st.maxTries = 1 + max(svc.RetryCount(), 0)
	return st
}
