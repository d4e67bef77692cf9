package experiments

import (
	"runtime/debug"
	"strings"
)

// BinaryVersion identifies this binary from Go's build info: the module
// version, the VCS revision (with "+dirty" for uncommitted changes) and the
// Go version, so a reviewer can tell which code produced a result.
func BinaryVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	parts := []string{bi.Main.Version}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if modified == "true" {
			rev += "+dirty"
		}
		parts = append(parts, rev)
	}
	parts = append(parts, bi.GoVersion)
	return strings.Join(parts, " ")
}
