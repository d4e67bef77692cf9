// Package frontend holds the dashboard: plain ES modules, CSS and one HTML
// page, with no build step and nothing fetched from outside the server.
// The files are embedded in the binary; server.Config.Frontend serves them.
package frontend

import (
	"embed"
	"io/fs"
)

//go:embed index.html app.css js vendor
var files embed.FS

// Files returns the dashboard's files rooted at index.html.
func Files() fs.FS { return files }
