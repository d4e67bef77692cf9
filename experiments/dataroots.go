package experiments

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// CheckDataRoots refuses a spec whose MURA dataset paths lie outside the
// configured data roots, so that a client of the server cannot make it read
// (and fingerprint, and draw into artifacts) arbitrary folders. Paths are
// compared after making them absolute and resolving symlinks and "..", so
// neither a link inside a root nor a climbing path escapes. An empty roots
// list allows any path. The error is CodeInvalid and names the experiment,
// the path and the allowed roots.
func CheckDataRoots(spec *Spec, roots []string) error {
	if len(roots) == 0 {
		return nil
	}
	resolved := make([]string, 0, len(roots))
	for _, r := range roots {
		if r == "" {
			continue
		}
		rr, err := resolvePath(r)
		if err != nil {
			return &Error{Code: CodeInternal, Message: fmt.Sprintf("data root %s", r), Err: err}
		}
		resolved = append(resolved, rr)
	}
	if len(resolved) == 0 {
		return nil
	}
	for _, e := range spec.Experiments {
		if e.Dataset.MURA == nil {
			continue
		}
		p := e.Dataset.MURA.Root
		rp, err := resolvePath(p)
		if err == nil && within(rp, resolved) {
			continue
		}
		return &Error{Code: CodeInvalid, Message: fmt.Sprintf(
			"experiment %s: dataset path %s is outside the data roots this server allows (%s)",
			e.Name, p, strings.Join(roots, ", "))}
	}
	return nil
}

// resolvePath returns p's real absolute path. Symlinks are resolved
// before "..", as the kernel does (a lexical clean would turn "link/.."
// into the link's folder instead of its target's parent). A path that does
// not exist yet is resolved as far as it exists; it may not climb with
// "..", since what its missing part would resolve to is unknown.
func resolvePath(p string) (string, error) {
	real, err := filepath.EvalSymlinks(p)
	if err == nil {
		return filepath.Abs(real)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	for _, part := range strings.Split(filepath.ToSlash(p), "/") {
		if part == ".." {
			return "", fmt.Errorf("%s does not exist and climbs with \"..\"", p)
		}
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	var tail []string
	for cur := abs; ; cur = filepath.Dir(cur) {
		real, err := filepath.EvalSymlinks(cur)
		if err == nil {
			return filepath.Join(append([]string{real}, tail...)...), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if filepath.Dir(cur) == cur {
			return abs, nil
		}
		tail = append([]string{filepath.Base(cur)}, tail...)
	}
}

func within(p string, roots []string) bool {
	for _, r := range roots {
		rel, err := filepath.Rel(r, p)
		if err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel) {
			return true
		}
	}
	return false
}

// CheckDatasetFolders refuses a spec whose MURA roots are not folders on
// this machine, so that a server whose runs execute here answers 400 at
// submission instead of queueing runs that can only fail. (With a cluster
// backend only the nodes may see the data; there the run fails with
// LoadMURA's words, which CheckMURARoot repeats.) The error is CodeInvalid
// and names the experiment.
func CheckDatasetFolders(exps []*ExperimentSpec) error {
	for _, e := range exps {
		if e.Dataset.MURA == nil {
			continue
		}
		if err := CheckMURARoot(e.Dataset.MURA.Root); err != nil {
			return &Error{Code: CodeInvalid, Message: "experiment " + e.Name + ": " + err.Error()}
		}
	}
	return nil
}

// CheckMURARoot says why p cannot be a MURA root, in preprocess.LoadMURA's
// words ("MURA root P: no such folder", "... not a folder"), or nil.
func CheckMURARoot(p string) error {
	st, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("MURA root %s: no such folder", p)
	case err != nil:
		return fmt.Errorf("MURA root %s: %w", p, err)
	case !st.IsDir():
		return fmt.Errorf("MURA root %s: not a folder", p)
	}
	return nil
}
