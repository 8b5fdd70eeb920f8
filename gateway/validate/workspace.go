package validate

import "github.com/tollgate/tollgate/internal/entity"

// reservedWorkspaceName reports the Admin API's top-level path segments: a
// workspace named like one would make /{workspace}/... ambiguous.
func reservedWorkspaceName(name string) bool {
	switch name {
	case "services", "routes", "consumers", "plugins", "upstreams", "targets",
		"certificates", "snis", "config", "status", "workspaces", "clustering",
		"schemas", "tags", "metrics":
		return true
	}
	return false
}

func normalizeWorkspace(w *entity.Workspace, errs entity.FieldErrors) {
	if w.Name == "" {
		errs.Add("name", msgRequired)
		return
	}
	for i := 0; i < len(w.Name); i++ {
		if !isUnreserved(w.Name[i]) {
			errs.Add("name", "invalid value '"+w.Name+"': it must only contain alphanumeric and '., -, _, ~' characters")
			return
		}
	}
	if reservedWorkspaceName(w.Name) {
		errs.Add("name", "'"+w.Name+"' is a reserved name")
	}
}
