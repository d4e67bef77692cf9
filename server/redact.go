package server

import (
	"bytes"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Readers without the token (open reads on a loopback address) must not
// learn where things live on the server: run errors, progress messages,
// run logs, dataset summaries, spec texts and run params all name
// folders. Rather than teach every handler, the server rewrites what it
// sends such readers at its edge: a path under a known folder (the data
// roots, the var folder) becomes relative to it, any other absolute path
// becomes "…/" and its last element. The server's own URLs (/api/...,
// the dashboard's /#/...) stay as they are.

// Redactor rewrites server paths in text for readers without the token.
// It is safe for concurrent use.
type Redactor struct {
	dirs  []string       // known folders, longest first, each in every spelling
	token *regexp.Regexp // a path token: group 1 is what precedes it, group 2 the path
}

// maxRedactedBytes bounds a text artifact rewritten for a reader without
// the token; larger ones need the token.
const maxRedactedBytes = 32 << 20

// outsidePrefix stands for the folders of a path outside the known ones.
const outsidePrefix = "…/"

// NewRedactor returns a Redactor that shows paths relative to dirs (the
// data roots, then the var folder). Each folder is known as given, as an
// absolute path and with its symlinks resolved, since runs may name it any
// of these ways. "/" is never a known folder (everything would be
// relative to it).
func NewRedactor(dirs ...string) *Redactor {
	seen := map[string]bool{}
	var known, relative []string
	add := func(d string) {
		d = filepath.Clean(d)
		if d == "/" || strings.Trim(d, "./") == "" || seen[d] {
			return
		}
		seen[d] = true
		known = append(known, d)
		if !filepath.IsAbs(d) {
			relative = append(relative, regexp.QuoteMeta(d)+"/")
		}
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		add(d)
		if abs, err := filepath.Abs(d); err == nil {
			add(abs)
			if real, err := filepath.EvalSymlinks(abs); err == nil {
				add(real)
			}
		}
	}
	sort.SliceStable(known, func(i, j int) bool { return len(known[i]) > len(known[j]) })
	sort.SliceStable(relative, func(i, j int) bool { return len(relative[i]) > len(relative[j]) })
	// A token starts the text or follows a separator (space, quote, '=',
	// '(', '[', ',', ';', ':', '>') and runs to the next one or a
	// backslash, so JSON escapes (\n, \") end it.
	starts := "/"
	if len(relative) > 0 {
		starts = "(?:/|" + strings.Join(relative, "|") + ")"
	}
	re := regexp.MustCompile(`(^|[\s"'=(\[,;:>])(` + starts + `[^\s"'()\[\],;\\<>]*)`)
	return &Redactor{dirs: known, token: re}
}

// Redact returns s with its server paths rewritten.
func (r *Redactor) Redact(s string) string {
	if r == nil {
		return s
	}
	return string(r.redact([]byte(s)))
}

func (r *Redactor) redact(b []byte) []byte {
	idx := r.token.FindAllSubmatchIndex(b, -1)
	if idx == nil {
		return b
	}
	var out bytes.Buffer
	out.Grow(len(b))
	last := 0
	for _, m := range idx {
		out.Write(b[last:m[4]])
		out.WriteString(r.rewrite(string(b[m[4]:m[5]])))
		last = m[5]
	}
	out.Write(b[last:])
	return out.Bytes()
}

// rewrite maps one path token.
func (r *Redactor) rewrite(p string) string {
	for _, d := range r.dirs {
		if p == d {
			return "."
		}
		if strings.HasPrefix(p, d+"/") {
			return p[len(d)+1:]
		}
	}
	switch {
	case !strings.HasPrefix(p, "/"), p == "/", strings.HasPrefix(p, "//"), strings.HasPrefix(p, "/#"),
		p == "/api", strings.HasPrefix(p, "/api/"):
		// Not a server path: a lone slash, a URL's "//host", the
		// dashboard's routes (/#/runs/1), the API's own URLs.
		return p
	}
	return outsidePrefix + path.Base(p)
}

// redactFor returns the Redactor to apply to what c's reader sees: nil
// for a reader who sent the server's token, or when none is configured.
func (s *Server) redactFor(c *fiber.Ctx) *Redactor {
	if s.cfg.Redactor == nil || authenticated(c) {
		return nil
	}
	return s.cfg.Redactor
}

// redactedKey marks, in Locals, a response its handler already rewrote.
type redactedKey struct{}

// redactedType reports the media types whose bodies are rewritten: what the
// API and reports send as text. Images and binary artifacts are not.
func redactedType(ct string) bool {
	ct = strings.ToLower(ct)
	return strings.HasPrefix(ct, "application/json") || strings.HasPrefix(ct, "text/") ||
		strings.HasPrefix(ct, "application/yaml") || strings.HasPrefix(ct, "application/x-yaml")
}

// redactReads is the middleware, on /api, that rewrites the answers to
// reads by readers without the token (errors included). Streams (events,
// artifact downloads) redact themselves; the worker API is for workers,
// who need the real paths, and has its own tokens.
func (s *Server) redactReads(c *fiber.Ctx) error {
	if s.cfg.Redactor == nil || (c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead) ||
		strings.HasPrefix(c.Path(), "/api/worker/") {
		return c.Next()
	}
	if err := c.Next(); err != nil {
		if herr := s.handleError(c, err); herr != nil {
			return herr
		}
	}
	r := s.redactFor(c)
	if done, _ := c.Locals(redactedKey{}).(bool); done || r == nil || c.Response().IsBodyStream() ||
		!redactedType(string(c.Response().Header.ContentType())) {
		return nil
	}
	c.Response().SetBodyRaw(r.redact(c.Response().Body()))
	return nil
}

// textArtifacts are the artifact name extensions rewritten for readers
// without the token besides text media types (run.log has none).
var textArtifacts = map[string]bool{".log": true, ".txt": true, ".csv": true, ".tsv": true, ".json": true,
	".yaml": true, ".yml": true, ".md": true, ".html": true, ".htm": true}

// redactedArtifact reports whether an artifact is rewritten for readers
// without the token.
func redactedArtifact(name, ct string) bool {
	return redactedType(ct) || textArtifacts[strings.ToLower(path.Ext(name))]
}
