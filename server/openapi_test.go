package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/gofiber/fiber/v2"
)

// fullEnv is a server with every optional part on: queue control, the
// worker API, notes and reports.
func fullEnv(t *testing.T) *env {
	t.Helper()
	return newWorkerEnv(t, 0, withQueue, func(c *Config) { c.Notes = c.Store.(NoteStore) }).env
}

func loadDoc(t *testing.T, e *env) *openapi3.T {
	t.Helper()
	body := e.get("/api/openapi.json", 200)
	doc, err := openapi3.NewLoader().LoadFromData([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is not valid OpenAPI: %v", err)
	}
	return doc
}

// routeProblems compares the router with the document both ways and
// words each disagreement for the one who must fix it.
func routeProblems(app *fiber.App, doc *openapi3.T) []string {
	served := map[string]string{} // "GET /api/runs/{id}" → the Fiber path
	for _, r := range app.GetRoutes(true) {
		if r.Method == http.MethodHead || r.Path == "/*" { // HEAD mirrors GET; /* is the dashboard
			continue
		}
		served[r.Method+" "+OpenAPIPath(r.Path)] = r.Path
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	var out []string
	for k, fiberPath := range served {
		if !documented[k] {
			method, _, _ := strings.Cut(k, " ")
			out = append(out, "route "+k+" (registered as "+method+" "+fiberPath+") is not documented: add it to apiOps in server/openapi.go")
		}
	}
	for k := range documented {
		if _, ok := served[k]; !ok {
			out = append(out, "documented operation "+k+" is no route of the server: remove it from apiOps in server/openapi.go or register the route")
		}
	}
	sort.Strings(out)
	return out
}

// The document and the router agree both ways: every route the server
// answers is documented, and every documented operation is a route.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	e := fullEnv(t)
	doc := loadDoc(t, e)
	if doc.OpenAPI != "3.0.3" || doc.Info.Version != "test-1.0" {
		t.Errorf("openapi %q, version %q", doc.OpenAPI, doc.Info.Version)
	}
	for _, p := range routeProblems(e.srv.App(), doc) {
		t.Error(p)
	}
	if n := len(e.srv.App().GetRoutes(true)); n < 50 {
		t.Errorf("only %d routes: the walk missed some", n)
	}
	// The check itself: a route added without its entry, and an entry
	// whose route is gone, are both named.
	e.srv.App().Get("/api/runs/:id/undocumented", func(c *fiber.Ctx) error { return nil })
	doc.Paths.Find("/api/health").Get = nil
	doc.Paths.Set("/api/gone", &openapi3.PathItem{Get: &openapi3.Operation{}})
	want := []string{
		"documented operation GET /api/gone is no route of the server: remove it from apiOps in server/openapi.go or register the route",
		"route GET /api/health (registered as GET /api/health) is not documented: add it to apiOps in server/openapi.go",
		"route GET /api/runs/{id}/undocumented (registered as GET /api/runs/:id/undocumented) is not documented: add it to apiOps in server/openapi.go",
	}
	if got := routeProblems(e.srv.App(), doc); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Real answers of the main endpoints validate against the document, as
// do the requests that produced them.
func TestOpenAPIValidatesAnswers(t *testing.T) {
	e := fullEnv(t)
	doc := loadDoc(t, e)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	e.submitFile("two.yaml") // experiment 2 (alpha: runs 1, 2), 3 (beta: 3, 4, 5); the worker env made experiment 1
	ctx := context.Background()
	if err := e.store.SetFinalMetrics(ctx, 1, map[string]float64{"test/mean/roc_auc": 0.75}); err != nil {
		t.Fatal(err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	check := func(method, target, ct, body string, status int) {
		t.Helper()
		var rb io.Reader
		if body != "" {
			rb = strings.NewReader(body)
		}
		req := httptest.NewRequest(method, target, rb)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Errorf("%s %s: no documented route: %v", method, target, err)
			return
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			t.Errorf("%s %s: the request does not match the document: %v", method, target, err)
		}
		if body != "" {
			req.Body = io.NopCloser(strings.NewReader(body))
		}
		resp, err := e.srv.App().Test(req, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Errorf("%s %s: status %d, want %d: %s", method, target, resp.StatusCode, status, got)
			return
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
			Body: io.NopCloser(bytes.NewReader(got)), Options: opts}
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			t.Errorf("%s %s: the answer does not match the document: %v\n%s", method, target, err, got)
		}
	}
	check("GET", "/api/health", "", "", 200)
	check("GET", "/api/experiments?limit=10", "", "", 200)
	check("GET", "/api/experiments/2", "", "", 200)
	check("GET", "/api/experiments/99", "", "", 404)
	check("GET", "/api/runs?filter=model%20%3D%20%27pixelgauss%27&order_by=seed%20DESC", "", "", 200)
	check("GET", "/api/runs?filter=bogus", "", "", 400)
	check("GET", "/api/runs/1", "", "", 200)
	check("GET", "/api/runs/1/metrics", "", "", 200)
	check("GET", "/api/runs/1/artifacts", "", "", 200)
	check("GET", "/api/runs/1/attempts", "", "", 200)
	check("GET", "/api/queue", "", "", 200)
	check("POST", "/api/runs/2/tags", "application/json", `{"tags":{"stage":"final"}}`, 200)
	check("DELETE", "/api/runs/2/tags?key=stage", "", "", 200)
	check("POST", "/api/experiments/2/tags", "application/json", `{"tags":{"paper":"t1"}}`, 200)
	check("PATCH", "/api/experiments/2", "application/json", `{"name":"alpha-2"}`, 200)
	check("POST", "/api/runs/2/archive", "", "", 200)
	check("POST", "/api/runs/2/restore", "", "", 200)
	check("POST", "/api/experiments/3/archive", "", "", 200)
	check("GET", "/api/experiments?archived=true", "", "", 200)
	check("POST", "/api/runs/5/priority", "application/json", `{"priority":3}`, 200)
	check("POST", "/api/queue/pause", "", "", 200)
	check("GET", "/api/experiments/2/notes", "", "", 200)
	check("POST", "/api/experiments/2/notes", "application/json", `{"body":"hello"}`, 201)
	check("DELETE", "/api/runs/4", "", "", 200)
	check("DELETE", "/api/experiments/3", "", "", 200)
	check("GET", "/api/runs/1/job", "", "", 200)
}
