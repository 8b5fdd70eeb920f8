package ratelimit_test

import (
	"testing"

	"github.com/tollgate/tollgate/gateway/ratelimit"
	"github.com/tollgate/tollgate/gateway/ratelimit/storetest"
)

func TestLocalConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) ratelimit.Store {
		l := ratelimit.NewLocal(ratelimit.LocalOptions{})
		t.Cleanup(func() { l.Close() })
		return l
	})
}
