package admin

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
)

// errStandalone answers /clustering/status on a node without a cluster.
// Kong answers 404 for /clustering/* on nodes that are not a control plane;
// the message says what to do instead.
var errStandalone = errMessage(http.StatusNotFound,
	"clustering is not enabled: this node runs standalone; start nodes with `tollgate gateway`")

// clusteringStatus is GET /clustering/status: the live nodes of the
// cluster and the config version each has applied, from the node
// registry. A registry that cannot be read (Cassandra away) is 503 with
// its reason: the operator asking is the one who needs it.
func (s *server) clusteringStatus(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if s.cfg.Clustering == nil {
		return errStandalone
	}
	body, err := s.cfg.Clustering(r.Context())
	if err != nil {
		s.log.Warn("cluster status unavailable", "err", err)
		return errMessage(http.StatusServiceUnavailable, "cluster status unavailable: "+err.Error())
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}
