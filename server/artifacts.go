package server

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"xraylab/experiments"
)

// artifactView is an artifact with the URL that downloads it.
type artifactView struct {
	*experiments.Artifact
	URL string `json:"url"`
}

func artifactURL(runID int64, name string) string {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "/api/runs/" + strconv.FormatInt(runID, 10) + "/artifacts/" + strings.Join(segs, "/")
}

func (s *Server) listArtifacts(c *fiber.Ctx) error {
	r, err := s.lookupRun(c)
	if err != nil {
		return err
	}
	arts, err := s.cfg.Store.Artifacts(c.UserContext(), r.ID)
	if err != nil {
		return err
	}
	items := make([]artifactView, len(arts))
	for i, a := range arts {
		items[i] = artifactView{a, artifactURL(r.ID, a.Name)}
	}
	return c.JSON(fiber.Map{"run_id": r.ID, "items": items})
}

// artifactName turns the raw (still percent-encoded) wildcard of the
// download route into a clean relative name, refusing anything that could
// point outside the run's folder. Fiber hands the path over undecoded and
// uncleaned, so "..", "//" and "%2F" all arrive here as sent.
func artifactName(raw string) (string, error) {
	reject := func(why string) error {
		return invalid(map[string]string{"name": utils.CopyString(raw)}, "artifact name %q: %s", raw, why)
	}
	if raw == "" {
		return "", reject("required")
	}
	low := strings.ToLower(raw)
	if strings.Contains(low, "%2f") || strings.Contains(low, "%5c") {
		return "", reject("encoded path separators are not allowed")
	}
	name, err := url.PathUnescape(raw)
	if err != nil {
		return "", reject("malformed percent-encoding")
	}
	switch {
	case strings.ContainsRune(name, 0):
		return "", reject("NUL bytes are not allowed")
	case strings.Contains(name, `\`):
		return "", reject("backslashes are not allowed")
	case path.IsAbs(name) || filepath.IsAbs(name):
		return "", reject("absolute paths are not allowed")
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == ".." {
			return "", reject(`".." segments are not allowed`)
		}
	}
	if path.Clean(name) != name || !filepath.IsLocal(name) {
		return "", reject(`must be a clean relative path (no empty or "." segments)`)
	}
	return name, nil
}

// downloadArtifact serves one file a run's store record lists. The name
// must be listed for the run, and the file is opened through an os.Root
// on the run's folder, so neither ".." nor a symlink can leave it.
func (s *Server) downloadArtifact(c *fiber.Ctx) error {
	name, err := artifactName(c.Params("*"))
	if err != nil {
		return err
	}
	r, err := s.lookupRun(c)
	if err != nil {
		return err
	}
	f, size, err := s.openArtifact(c, r.ID, name)
	if err != nil {
		return err
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = fiber.MIMEOctetStream
	}
	c.Set(fiber.HeaderContentType, ct)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	// An HTML or SVG artifact must not run script in the dashboard's origin.
	c.Set(fiber.HeaderContentSecurityPolicy, "sandbox")
	c.Set(fiber.HeaderContentDisposition, `inline; filename="`+strings.ReplaceAll(path.Base(name), `"`, "")+`"`)
	if red := s.redactFor(c); red != nil && redactedArtifact(name, ct) {
		// Text for a reader without the token: its server paths rewritten.
		defer f.Close()
		if size > maxRedactedBytes {
			return &httpError{Status: fiber.StatusForbidden, Code: codeForbidden, Message: fmt.Sprintf(
				"artifact %q is %d bytes: text artifacts over %d bytes are served only with the token", name, size, maxRedactedBytes)}
		}
		data, err := io.ReadAll(io.LimitReader(f, maxRedactedBytes+1))
		if err != nil {
			return err
		}
		c.Locals(redactedKey{}, true)
		return c.Send(red.redact(data))
	}
	// fasthttp closes f once the body is sent.
	return c.SendStream(f, int(size))
}

// openArtifact opens an artifact the store lists for the run, never
// leaving the run's folder (os.Root stops "..", absolute paths and
// symlinks that lead outside). The caller closes the file.
func (s *Server) openArtifact(c *fiber.Ctx, runID int64, name string) (*os.File, int64, error) {
	arts, err := s.cfg.Store.Artifacts(c.UserContext(), runID)
	if err != nil {
		return nil, 0, err
	}
	var art *experiments.Artifact
	for _, a := range arts {
		if a.Name == name {
			art = a
			break
		}
	}
	if art == nil {
		return nil, 0, notFound("run %d has no artifact %q", runID, name)
	}
	if s.cfg.ArtifactsDir == "" {
		return nil, 0, errors.New("server: Config.ArtifactsDir is not set")
	}
	dir := filepath.Join(s.cfg.ArtifactsDir, strconv.FormatInt(runID, 10))
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, notFound("artifact %q of run %d is recorded but its folder is missing", name, runID)
	}
	if err != nil {
		return nil, 0, err
	}
	defer root.Close()
	// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	// writer; the mode check below then refuses it. Regular files ignore it.
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, 0, notFound("artifact %q of run %d is recorded but its file is missing", name, runID)
	case err != nil && strings.Contains(err.Error(), "escapes from parent"):
		// os.Root's wording for a symlink (or "..") leading outside dir.
		s.log.Warn("artifact escapes its run folder", "run", runID, "name", name, "err", err)
		return nil, 0, &httpError{Status: fiber.StatusForbidden, Code: codeForbidden,
			Message: "artifact \"" + name + "\" resolves outside the run's artifact folder"}
	case err != nil:
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, notFound("artifact %q of run %d is not a regular file", name, runID)
	}
	return f, st.Size(), nil
}
