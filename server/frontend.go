package server

import (
	"errors"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// frontend serves Config.Frontend. A path naming a file gets the file; any
// other path without an extension gets index.html, so client-side routes
// (/experiments/3) survive a reload; a missing asset (/app.js) is a 404, not
// HTML that a browser would try to run as script. /api/* never lands here
// as a page: unknown API routes stay JSON 404s.
func (s *Server) frontend(c *fiber.Ctx) error {
	p := c.Path()
	if p == "/api" || strings.HasPrefix(p, "/api/") {
		return fiber.ErrNotFound
	}
	name := strings.TrimPrefix(path.Clean("/"+p), "/")
	if name == "" {
		name = "index.html"
	}
	if fs.ValidPath(name) {
		if err := s.sendStatic(c, name); !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if path.Ext(name) != "" {
		return fiber.ErrNotFound
	}
	if err := s.sendStatic(c, "index.html"); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return fiber.ErrNotFound
}

// sendStatic sends one regular file of the frontend; fs.ErrNotExist when
// there is none (directories included).
func (s *Server) sendStatic(c *fiber.Ctx, name string) error {
	st, err := fs.Stat(s.cfg.Frontend, name)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fs.ErrNotExist
	}
	data, err := fs.ReadFile(s.cfg.Frontend, name)
	if err != nil {
		return err
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = fiber.MIMEOctetStream
	}
	c.Set(fiber.HeaderContentType, ct)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	return c.Send(data)
}
