package dashboard

import (
	"embed"
	"io/fs"
)

//go:embed assets
var assets embed.FS

// FS returns the dashboard's files, index.html at the root, for
// api.Config.Dashboard.
func FS() fs.FS {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		// fs.Sub fails only for an invalid path; "assets" is valid.
		panic(err)
	}
	return sub
}
