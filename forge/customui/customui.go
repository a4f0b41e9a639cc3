// Package customui holds the admin panel built as the Forge Custom UI
// resource of the generated manifest (resources: key main, path
// static/admin), committed under static/admin by web/panel/build.mjs from
// the same sources as the Connect page (web/panel/src, with the Forge
// adapter that calls the remote through @forge/bridge invokeRemote).
//
// Forge deploys the resource from the directory next to manifest.yml, so
// copy static/ beside the manifest before `forge deploy`. The Go binary
// embeds the same files for the simulator's Custom UI host (package
// sim/forgesim) and for tools that write an app directory.
package customui

import (
	"embed"
	"io/fs"
)

// ResourcePath is the resource's path relative to manifest.yml, as the
// generated manifest declares it.
const ResourcePath = "static/admin"

//go:embed static/admin/index.html static/admin/panel.js static/admin/panel.css
var files embed.FS

// Resource returns the Custom UI resource directory: index.html,
// panel.js and panel.css at its root.
func Resource() fs.FS {
	sub, err := fs.Sub(files, ResourcePath)
	if err != nil {
		panic(err) // the embedded tree always has this directory
	}
	return sub
}
