package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// fakeStatus stands in for cluster.Status: any JSON-ready value.
type fakeStatus struct {
	Nodes    []map[string]any `json:"nodes"`
	ThisNode string           `json:"this_node"`
}

func TestClusteringStatus(t *testing.T) {
	tests := []struct {
		name       string
		clustering func(ctx context.Context) (any, error)
		token      string
		headers    []string
		method     string
		status     int
		want       map[string]any // exact body
	}{
		{
			name:   "standalone",
			status: http.StatusNotFound,
			want:   map[string]any{"message": "clustering is not enabled: this node runs standalone; start nodes with `tollgate gateway`"},
		},
		{
			name: "cluster",
			clustering: func(ctx context.Context) (any, error) {
				if ctx == nil || ctx.Err() != nil {
					return nil, errors.New("no live request context")
				}
				return fakeStatus{
					Nodes:    []map[string]any{{"id": "n1", "config_version": 7, "sync_status": "normal"}},
					ThisNode: "n1",
				}, nil
			},
			status: http.StatusOK,
			want: map[string]any{
				"nodes":     []any{map[string]any{"id": "n1", "config_version": 7.0, "sync_status": "normal"}},
				"this_node": "n1",
			},
		},
		{
			name: "registry unreadable",
			clustering: func(context.Context) (any, error) {
				return nil, fmt.Errorf("list nodes: %w", errors.New("connect to cassandra 10.0.0.1:9042: connection refused"))
			},
			status: http.StatusServiceUnavailable,
			want:   map[string]any{"message": "cluster status unavailable: list nodes: connect to cassandra 10.0.0.1:9042: connection refused"},
		},
		{
			name:       "token required",
			clustering: func(context.Context) (any, error) { return nil, errors.New("must not be called") },
			token:      "s3cret",
			headers:    []string{"Authorization", ""},
			status:     http.StatusUnauthorized,
			want:       map[string]any{"message": "Unauthorized"},
		},
		{
			name:       "read only",
			clustering: func(context.Context) (any, error) { return nil, errors.New("must not be called") },
			method:     "POST",
			status:     http.StatusMethodNotAllowed,
			want:       map[string]any{"message": "Method not allowed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) {
				c.Clustering = tt.clustering
				c.Token = tt.token
			})
			method := tt.method
			if method == "" {
				method = "GET"
			}
			r := f.do(method, "/clustering/status", nil, tt.headers...)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.raw)
			}
			if !reflect.DeepEqual(r.body, tt.want) {
				t.Fatalf("body %s, want %v", r.raw, tt.want)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

// TestClusteringNotAWorkspace: "clustering" is one of the API's own
// paths, not a workspace name to resolve.
func TestClusteringNotAWorkspace(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Clustering = func(context.Context) (any, error) { return map[string]any{"nodes": []any{}}, nil }
	})
	f.must(http.StatusOK, "GET", "/clustering/status", nil)
	ep := f.must(http.StatusOK, "GET", "/endpoints", nil)
	if !strings.Contains(string(ep.raw), `"/clustering/status"`) {
		t.Errorf("/endpoints does not list /clustering/status: %s", ep.raw)
	}
}
