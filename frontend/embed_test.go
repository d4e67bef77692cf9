package frontend

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"testing"
)

// Every module the page loads is embedded, and nothing is loaded from
// another host: a typo in an import path or a CDN link fails here rather
// than as a blank page.
func TestEmbeddedModulesResolve(t *testing.T) {
	site := Files()
	index, err := fs.ReadFile(site, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"#][^"]*)"`).FindAllStringSubmatch(string(index), -1)
	if len(refs) < 2 {
		t.Fatalf("index.html references %d files; want the stylesheet and the app module", len(refs))
	}
	for _, m := range refs {
		ref := m[1]
		if strings.HasPrefix(ref, "data:") {
			continue
		}
		if !strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "//") {
			t.Errorf("index.html: %q is not a path on this server", ref)
			continue
		}
		if _, err := fs.Stat(site, strings.TrimPrefix(ref, "/")); err != nil {
			t.Errorf("index.html references %q: %v", ref, err)
		}
	}

	importRE := regexp.MustCompile(`(?m)^\s*import\s[^'"]*['"]([^'"]+)['"]`)
	modules := 0
	err = fs.WalkDir(site, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".js" {
			return err
		}
		modules++
		src, err := fs.ReadFile(site, p)
		if err != nil {
			return err
		}
		for _, m := range importRE.FindAllStringSubmatch(string(src), -1) {
			spec := m[1]
			if !strings.HasPrefix(spec, "./") && !strings.HasPrefix(spec, "../") {
				t.Errorf("%s imports %q: only relative module paths work without a build step", p, spec)
				continue
			}
			target := path.Join(path.Dir(p), spec)
			if _, err := fs.Stat(site, target); err != nil {
				t.Errorf("%s imports %q: %s is not embedded", p, spec, target)
			}
		}
		if regexp.MustCompile(`(?i)(src|href)\s*=\s*["']https?://|fetch\(\s*["']https?://`).Match(src) {
			t.Errorf("%s loads something from another host", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if modules < 5 {
		t.Fatalf("found %d modules; the dashboard has more", modules)
	}
}

// The vendored libraries are the published files, unmodified: their
// SHA-256 sums match the ones vendor/README.md records (taken from the
// npm tarballs), and each ships with its licence.
func TestVendoredFilesUnmodified(t *testing.T) {
	site := Files()
	readme, err := fs.ReadFile(site, "vendor/README.md")
	if err != nil {
		t.Fatal(err)
	}
	sums := regexp.MustCompile(`(?m)^([0-9a-f]{64})  (\S+)$`).FindAllStringSubmatch(string(readme), -1)
	if len(sums) < 3 {
		t.Fatalf("vendor/README.md lists %d file hashes; want the library, its CSS and its licence", len(sums))
	}
	listed := map[string]bool{}
	for _, m := range sums {
		data, err := fs.ReadFile(site, "vendor/"+m[2])
		if err != nil {
			t.Errorf("vendor/README.md lists %s: %v", m[2], err)
			continue
		}
		listed["vendor/"+m[2]] = true
		if got := fmt.Sprintf("%x", sha256.Sum256(data)); got != m[1] {
			t.Errorf("vendor/%s has SHA-256 %s; vendor/README.md records %s", m[2], got, m[1])
		}
	}
	err = fs.WalkDir(site, "vendor", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && p != "vendor/README.md" && !listed[p] {
			t.Errorf("%s is vendored but vendor/README.md records no hash for it", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !listed["vendor/uplot/LICENSE"] {
		t.Error("uPlot's licence is not vendored with it")
	}
}
