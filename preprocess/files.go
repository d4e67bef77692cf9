package preprocess

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Files is where LoadMURA and the Pipeline read dataset files. The nil
// *Files reads the operating system's paths as given. RootFiles confines
// every read to one folder through an os.Root: neither a dataset root that
// is a symlink, nor a symlink or ".." inside the tree, reaches outside it,
// even when the tree changes while a run reads it (a path checked at
// submission can be replaced by a link before the run starts).
//
// Paths stay ordinary OS paths (absolute or relative to the working
// folder) so that records, skips and errors read as before; Files maps
// each onto the root.
type Files struct {
	root *os.Root
	dir  string // the root's folder, absolute
}

// RootFiles reads through root only. The caller keeps root open while the
// loader and pipeline use the Files, and closes it after.
func RootFiles(root *os.Root) (*Files, error) {
	dir, err := filepath.Abs(root.Name())
	if err != nil {
		return nil, err
	}
	return &Files{root: root, dir: dir}, nil
}

// Dir returns the folder reads are confined to ("" for the OS).
func (f *Files) Dir() string {
	if f == nil {
		return ""
	}
	return f.dir
}

// rel maps an OS path onto the root.
func (f *Files) rel(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(f.dir, abs)
	if err != nil || !filepath.IsLocal(rel) && rel != "." {
		return "", fmt.Errorf("%s is outside the data root %s", p, f.dir)
	}
	return rel, nil
}

// Stat is os.Stat (symlinks followed, within the root).
func (f *Files) Stat(p string) (fs.FileInfo, error) {
	if f == nil {
		return os.Stat(p)
	}
	rel, err := f.rel(p)
	if err != nil {
		return nil, err
	}
	return f.root.Stat(rel)
}

// Open is os.Open.
func (f *Files) Open(p string) (*os.File, error) {
	if f == nil {
		return os.Open(p)
	}
	rel, err := f.rel(p)
	if err != nil {
		return nil, err
	}
	return f.root.Open(rel)
}

// ReadFile is os.ReadFile.
func (f *Files) ReadFile(p string) ([]byte, error) {
	if f == nil {
		return os.ReadFile(p)
	}
	rel, err := f.rel(p)
	if err != nil {
		return nil, err
	}
	return f.root.ReadFile(rel)
}

// ReadDir is os.ReadDir: the folder's entries sorted by name.
func (f *Files) ReadDir(p string) ([]fs.DirEntry, error) {
	if f == nil {
		return os.ReadDir(p)
	}
	d, err := f.Open(p)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	return entries, err
}
