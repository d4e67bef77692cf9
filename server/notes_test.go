package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"xraylab/experiments"
	"xraylab/registry"
)

func newNotesEnv(t *testing.T, tweak ...func(*Config)) *env {
	t.Helper()
	e := newEnv(t, append([]func(*Config){func(c *Config) { c.Notes = c.Store.(*registry.Store) }}, tweak...)...)
	e.submitFile("two.yaml") // experiments 1 (alpha) and 2 (beta)
	return e
}

func decodeNote(t *testing.T, body string) experiments.Note {
	t.Helper()
	var n experiments.Note
	if err := json.Unmarshal([]byte(body), &n); err != nil {
		t.Fatalf("not a note: %v\n%s", err, body)
	}
	return n
}

// A note goes through its whole life over HTTP and lands in SQLite.
func TestNotesLifecycle(t *testing.T) {
	e := newNotesEnv(t)
	wantJSONEqual(t, "empty list", e.get("/api/experiments/1/notes", 200), `{"experiment_id":1,"items":[]}`)

	before := time.Now().UTC()
	code, h, body := e.do("POST", "/api/experiments/1/notes", "application/json", []byte(`{"body":"# First\n\nAUC looks *low*."}`))
	if code != 201 {
		t.Fatalf("add: %d %s", code, body)
	}
	n := decodeNote(t, body)
	if n.ID != 1 || n.ExperimentID != 1 || n.Body != "# First\n\nAUC looks *low*." || !n.Created.Equal(n.Updated) || n.Created.Before(before.Add(-time.Second)) {
		t.Fatalf("added note: %+v", n)
	}
	if loc := h.Get("Location"); loc != "/api/notes/1" {
		t.Errorf("Location %q", loc)
	}
	// A second note on the other experiment does not show on the first.
	if code, _, body := e.do("POST", "/api/experiments/2/notes", "application/json; charset=utf-8", []byte(`{"body":"beta note"}`)); code != 201 {
		t.Fatalf("add to 2: %d %s", code, body)
	}
	stored, err := e.store.Notes(context.Background(), 1)
	if err != nil || len(stored) != 1 || stored[0].Body != n.Body {
		t.Fatalf("store holds %+v (%v)", stored, err)
	}
	wantJSONEqual(t, "list", e.get("/api/experiments/1/notes", 200), jsonOf(t, map[string]any{"experiment_id": 1, "items": []experiments.Note{n}}))

	code, _, body = e.do("PUT", "/api/notes/1", "application/json", []byte(`{"body":"edited"}`))
	if code != 200 {
		t.Fatalf("update: %d %s", code, body)
	}
	u := decodeNote(t, body)
	if u.ID != 1 || u.Body != "edited" || !u.Created.Equal(n.Created) || u.Updated.Before(n.Updated) {
		t.Fatalf("updated note: %+v (was %+v)", u, n)
	}
	if stored, _ := e.store.Notes(context.Background(), 1); len(stored) != 1 || stored[0].Body != "edited" {
		t.Fatalf("store after update: %+v", stored)
	}

	if code, _, body := e.do("DELETE", "/api/notes/1", "", nil); code != 204 || body != "" {
		t.Fatalf("delete: %d %q", code, body)
	}
	wantJSONEqual(t, "list after delete", e.get("/api/experiments/1/notes", 200), `{"experiment_id":1,"items":[]}`)
	if stored, _ := e.store.Notes(context.Background(), 2); len(stored) != 1 || stored[0].Body != "beta note" {
		t.Fatalf("other experiment's note: %+v", stored)
	}
}

func TestNotesErrors(t *testing.T) {
	e := newNotesEnv(t)
	if code, _, body := e.do("POST", "/api/experiments/1/notes", "application/json", []byte(`{"body":"keep"}`)); code != 201 {
		t.Fatalf("add: %d %s", code, body)
	}
	big := `{"body":"` + strings.Repeat("x", experiments.MaxNoteBytes+1) + `"}`
	cases := []struct {
		name, method, target, ct, body string
		status                         int
		want                           string
	}{
		{"empty body", "POST", "/api/experiments/1/notes", "application/json", `{"body":"  \n\t"}`, 400,
			`{"error":{"code":"invalid","message":"note body is empty"}}`},
		{"missing field", "POST", "/api/experiments/1/notes", "application/json", `{}`, 400,
			`{"error":{"code":"invalid","message":"JSON body: field body is required (the note's Markdown)"}}`},
		{"unknown field", "POST", "/api/experiments/1/notes", "application/json", `{"body":"x","author":"me"}`, 400,
			`{"error":{"code":"invalid","message":"malformed JSON body: json: unknown field \"author\""}}`},
		{"wrong type", "PUT", "/api/notes/1", "application/json", `{"body":3}`, 400,
			`{"error":{"code":"invalid","message":"malformed JSON body: field body: expected string, got number"}}`},
		{"trailing data", "PUT", "/api/notes/1", "application/json", `{"body":"x"} {}`, 400,
			`{"error":{"code":"invalid","message":"malformed JSON body: data after the object"}}`},
		{"no JSON", "POST", "/api/experiments/1/notes", "application/json", ``, 400,
			`{"error":{"code":"invalid","message":"malformed JSON body: empty body"}}`},
		{"plain text", "POST", "/api/experiments/1/notes", "text/plain", `hello`, 415,
			`{"error":{"code":"unsupported_media_type","message":"unsupported Content-Type \"text/plain\"; send application/json {\"body\": \"\u003cmarkdown\u003e\"}"}}`},
		{"too long", "POST", "/api/experiments/1/notes", "application/json", big, 413,
			`{"error":{"code":"too_large","message":"note body is 65537 bytes; the limit is 65536"}}`},
		{"missing experiment", "POST", "/api/experiments/99/notes", "application/json", `{"body":"x"}`, 404,
			`{"error":{"code":"not_found","message":"experiment 99 not found"}}`},
		{"list missing experiment", "GET", "/api/experiments/99/notes", "", ``, 404,
			`{"error":{"code":"not_found","message":"experiment 99 not found"}}`},
		{"bad experiment id", "GET", "/api/experiments/x/notes", "", ``, 400,
			`{"error":{"code":"invalid","message":"experiment id: must be a positive integer id, got \"x\"","details":{"parameter":"id","value":"x","allowed":"a positive integer id"}}}`},
		{"update missing note", "PUT", "/api/notes/7", "application/json", `{"body":"x"}`, 404,
			`{"error":{"code":"not_found","message":"note 7 not found"}}`},
		{"delete missing note", "DELETE", "/api/notes/7", "", ``, 404,
			`{"error":{"code":"not_found","message":"note 7 not found"}}`},
		{"bad note id", "DELETE", "/api/notes/0", "", ``, 400,
			`{"error":{"code":"invalid","message":"note id: must be a positive integer id, got \"0\"","details":{"parameter":"id","value":"0","allowed":"a positive integer id"}}}`},
		{"no GET on a note", "GET", "/api/notes/1", "", ``, 405,
			`{"error":{"code":"method_not_allowed","message":"method GET is not allowed on /api/notes/1"}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b []byte
			if c.body != "" {
				b = []byte(c.body)
			}
			code, _, body := e.do(c.method, c.target, c.ct, b)
			if code != c.status || body != c.want {
				t.Fatalf("got %d %s\nwant %d %s", code, body, c.status, c.want)
			}
		})
	}
	// None of the failures changed the one stored note.
	stored, err := e.store.Notes(context.Background(), 1)
	if err != nil || len(stored) != 1 || stored[0].Body != "keep" {
		t.Fatalf("store: %+v (%v)", stored, err)
	}
}

// Writes pass the write guard, reads the read guard; without a NoteStore
// there are no notes routes.
func TestNotesGuardsAndAbsence(t *testing.T) {
	e := newNotesEnv(t, func(c *Config) {
		c.WriteGuard = func(c *fiber.Ctx) error {
			if c.Method() != "POST" || (strings.HasSuffix(c.Path(), "/notes") && c.Get("Authorization") != "Bearer s3cret") {
				return fiber.ErrUnauthorized
			}
			return c.Next()
		}
	})
	// The guard lets submissions through (newNotesEnv submits after New),
	// lets notes POSTs through only with the token, and refuses PUT and
	// DELETE outright: so each status below shows which guard ran.
	cases := []struct {
		method, target string
		auth           bool
		status         int
	}{
		{"POST", "/api/experiments/1/notes", false, 401},
		{"POST", "/api/experiments/1/notes", true, 201},
		{"PUT", "/api/notes/1", true, 401},
		{"DELETE", "/api/notes/1", true, 401},
		{"GET", "/api/experiments/1/notes", false, 200},
	}
	for _, c := range cases {
		req := map[string]string{"Content-Type": "application/json"}
		if c.auth {
			req["Authorization"] = "Bearer s3cret"
		}
		code := e.doHeaders(c.method, c.target, req, []byte(`{"body":"guarded"}`))
		if code != c.status {
			t.Errorf("%s %s auth=%v: %d, want %d", c.method, c.target, c.auth, code, c.status)
		}
	}

	plain := newEnv(t)
	plain.submitFile("two.yaml")
	code, _, body := plain.do("GET", "/api/experiments/1/notes", "", nil)
	if code != 404 || body != `{"error":{"code":"not_found","message":"no route for GET /api/experiments/1/notes"}}` {
		t.Fatalf("without a NoteStore: %d %s", code, body)
	}
}

// doHeaders sends one request with the given headers and returns its status.
func (e *env) doHeaders(method, target string, headers map[string]string, body []byte) int {
	e.t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	req.Host = testHost
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.App().Test(req, 10_000)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, target, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
