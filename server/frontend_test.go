package server

import (
	"testing"
	"testing/fstest"
)

func TestFrontend(t *testing.T) {
	site := fstest.MapFS{
		"index.html":    {Data: []byte("<!doctype html><title>xraylab</title>")},
		"app.js":        {Data: []byte("console.log('hi')")},
		"css/site.css":  {Data: []byte("body{}")},
		"img/empty.svg": {Data: []byte("<svg/>")},
	}
	e := newEnv(t, func(c *Config) { c.Frontend = site })
	index := string(site["index.html"].Data)
	notFound := func(p string) string {
		return `{"error":{"code":"not_found","message":"no route for GET ` + p + `"}}`
	}
	cases := []struct {
		target string
		status int
		ctype  string
		body   string
	}{
		{"/", 200, "text/html; charset=utf-8", index},
		{"/index.html", 200, "text/html; charset=utf-8", index},
		{"/app.js", 200, "text/javascript; charset=utf-8", "console.log('hi')"},
		{"/css/site.css", 200, "text/css; charset=utf-8", "body{}"},
		{"/img/empty.svg", 200, "image/svg+xml", "<svg/>"},
		// Client-side routes get the page; a directory is not a file.
		{"/experiments/3", 200, "text/html; charset=utf-8", index},
		{"/runs/12/compare?with=13", 200, "text/html; charset=utf-8", index},
		{"/css", 200, "text/html; charset=utf-8", index},
		// A missing asset is a 404, not HTML a browser would run as script.
		{"/missing.js", 404, "application/json", notFound("/missing.js")},
		// Cleaning keeps requests inside the file system.
		{"/../../etc/passwd", 200, "text/html; charset=utf-8", index},
		{"/../../etc/passwd.txt", 404, "application/json", notFound("/../../etc/passwd.txt")},
		{"/../../app.js", 200, "text/javascript; charset=utf-8", "console.log('hi')"},
		{"/css/../app.js", 200, "text/javascript; charset=utf-8", "console.log('hi')"},
		// The API keeps its JSON errors.
		{"/api/nope", 404, "application/json", notFound("/api/nope")},
		{"/api", 404, "application/json", notFound("/api")},
		{"/api/health", 200, "application/json", `{"status":"ok","version":"test-1.0"}`},
	}
	for _, c := range cases {
		code, h, body := e.do("GET", c.target, "", nil)
		if code != c.status || body != c.body || h.Get("Content-Type") != c.ctype {
			t.Errorf("%s: got %d %q %s\nwant %d %q %s", c.target, code, h.Get("Content-Type"), body, c.status, c.ctype, c.body)
		}
	}
	// Only GET and HEAD reach the frontend.
	code, _, body := e.do("POST", "/experiments/3", "", nil)
	if code != 405 || body != `{"error":{"code":"method_not_allowed","message":"method POST is not allowed on /experiments/3"}}` {
		t.Errorf("POST page: %d %s", code, body)
	}
}
