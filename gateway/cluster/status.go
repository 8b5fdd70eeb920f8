package cluster

import (
	"context"
	"time"
)

// Sync statuses of a node in Status, after Kong's sync_status of GET
// /clustering/data-planes ("normal" there too; Kong's other values concern
// version and plugin compatibility, which every Tollgate node shares).
const (
	SyncNormal  = "normal"
	SyncLagging = "lagging"
)

// Status is the body of GET /clustering/status: the live nodes and the
// config version each has applied. Its field names follow Kong's GET
// /clustering/data-planes where they mean the same (id, hostname, version,
// last_seen as Unix seconds, sync_status); config_version stands for
// Kong's config_hash, since Tollgate's config versions are ordered.
type Status struct {
	// Cluster is the cluster's name (cluster_name).
	Cluster string `json:"cluster"`
	// Nodes are the live nodes, sorted by id.
	Nodes []StatusNode `json:"nodes"`
	// LatestConfigVersion is the highest config version any live node has
	// applied.
	LatestConfigVersion uint64 `json:"latest_config_version"`
	// ThisNode is the id of the node that answered.
	ThisNode string `json:"this_node"`
}

// StatusNode is one live node in Status.
type StatusNode struct {
	ID            string `json:"id"`
	Hostname      string `json:"hostname"`
	ProxyListen   string `json:"proxy_listen"`
	AdminListen   string `json:"admin_listen"`
	Version       string `json:"version"`
	ConfigVersion uint64 `json:"config_version"`
	// LastSeen and StartedAt are Unix seconds, as Kong's last_seen.
	LastSeen  int64 `json:"last_seen"`
	StartedAt int64 `json:"started_at"`
	// Lagging is true when SyncStatus is "lagging".
	Lagging    bool   `json:"lagging"`
	SyncStatus string `json:"sync_status"`
}

// ClusteringStatus lists the live nodes (one read of the registry) in the
// shape of GET /clustering/status.
func (r *Registry) ClusteringStatus(ctx context.Context) (Status, error) {
	nodes, err := r.List(ctx)
	if err != nil {
		return Status{}, err
	}
	return newStatus(r.opts.Cluster, r.opts.Node.ID, nodes), nil
}

func newStatus(cluster, self string, nodes []NodeStatus) Status {
	st := Status{Cluster: cluster, ThisNode: self, Nodes: make([]StatusNode, 0, len(nodes))}
	for _, n := range nodes {
		sync := SyncNormal
		if n.Lagging {
			sync = SyncLagging
		}
		st.Nodes = append(st.Nodes, StatusNode{
			ID:            n.ID,
			Hostname:      n.Hostname,
			ProxyListen:   n.ProxyListen,
			AdminListen:   n.AdminListen,
			Version:       n.Version,
			ConfigVersion: n.ConfigVersion,
			LastSeen:      unix(n.LastSeen),
			StartedAt:     unix(n.StartedAt),
			Lagging:       n.Lagging,
			SyncStatus:    sync,
		})
		st.LatestConfigVersion = max(st.LatestConfigVersion, n.ConfigVersion)
	}
	return st
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
