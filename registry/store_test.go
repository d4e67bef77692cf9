package registry

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"xraylab/experiments"
)

// openTest opens a fresh store under t.TempDir and closes it at the end,
// failing the test if the database is not intact by then.
func openTest(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "db", "xraylab.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.IntegrityCheck(context.Background()); err != nil {
			t.Error(err)
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// newExperiment builds an experiment whose runs use models in turn.
func newExperiment(name string, n int, models ...string) (*experiments.Experiment, []*experiments.Run) {
	if len(models) == 0 {
		models = []string{"pixelgauss"}
	}
	e := &experiments.Experiment{Name: name, SpecText: "name: " + name + "\n", SpecHash: "sha256:" + name, Version: "v0.0.0-test"}
	runs := make([]*experiments.Run, n)
	for i := range runs {
		m := models[i%len(models)]
		runs[i] = &experiments.Run{
			Index:  i,
			Model:  m,
			Params: json.RawMessage(fmt.Sprintf(`{"model":%q,"index":%d}`, m, i)),
			Seed:   int64(42 + i),
		}
	}
	return e, runs
}

func mustCreate(t testing.TB, s *Store, name string, n int, models ...string) (*experiments.Experiment, []*experiments.Run) {
	t.Helper()
	e, runs := newExperiment(name, n, models...)
	if err := s.CreateExperiment(context.Background(), e, runs); err != nil {
		t.Fatal(err)
	}
	return e, runs
}

// wantErr checks an error's code and exact text.
func wantErr(t *testing.T, err error, code experiments.Code, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s %q", code, msg)
	}
	if got := experiments.CodeOf(err); got != code {
		t.Errorf("code = %s, want %s (error %q)", got, code, err)
	}
	if err.Error() != msg {
		t.Errorf("error = %q, want %q", err, msg)
	}
}

func TestOpenSetsPragmas(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	for _, tc := range []struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		{s.w, "journal_mode", "wal"},
		{s.w, "foreign_keys", "1"},
		{s.w, "busy_timeout", "5000"},
		{s.w, "synchronous", "1"}, // NORMAL
		{s.r, "journal_mode", "wal"},
		{s.r, "query_only", "1"},
		{s.r, "busy_timeout", "5000"},
	} {
		var got string
		if err := tc.db.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s = %q, want %q", tc.pragma, got, tc.want)
		}
	}
	if got := s.w.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer MaxOpenConnections = %d, want 1", got)
	}
	// The read pool must refuse writes.
	_, err := s.r.ExecContext(ctx, "INSERT INTO experiments (name, spec_text, spec_hash, version, created) VALUES ('x','','','',0)")
	if err == nil || !strings.Contains(err.Error(), "readonly") {
		t.Errorf("write through read pool: err = %v, want a read-only error", err)
	}
	if fi, err := os.Stat(filepath.Dir(s.Path())); err != nil || !fi.IsDir() {
		t.Errorf("parent folder not created: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "notes.db")
	data, err := os.ReadFile("testdata/not-a-database.txt")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(notDB, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"empty", "", "registry: empty database path"},
		{"memory", ":memory:", `registry: ":memory:": give a file path (the writer and the read pool must share one file)`},
		{"uri", "file:x.db?mode=memory", `registry: "file:x.db?mode=memory": give a file path (the writer and the read pool must share one file)`},
		{"directory", dir, "registry: " + dir + " is a directory, not a database file"},
		{"not a database", notDB, "registry: " + notDB + " is not an SQLite database (file is not a database)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tc.path)
			}
			if err.Error() != tc.want {
				t.Errorf("error = %q\nwant    %q", err, tc.want)
			}
		})
	}
	// The file that is not a database must be left as it was.
	if got, _ := os.ReadFile(notDB); string(got) != string(data) {
		t.Error("Open modified a file that is not a database")
	}
}

func TestOpenPathWithURICharacters(t *testing.T) {
	// '?', '#' and '%' in a folder name must not be read as URI syntax.
	path := filepath.Join(t.TempDir(), "a?b#c%20d", "x.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustCreate(t, s, "uri", 1)
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at the given path: %v", err)
	}
}

func TestReopenKeepsDataAndSkipsMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	e, runs := mustCreate(t, s, "persist", 3)
	if err := s.AppendMetrics(ctx, runs[0].ID, []experiments.MetricPoint{{Key: "loss", Step: 1, Epoch: 1, Value: 0.5}}); err != nil {
		t.Fatal(err)
	}
	var applied1 int64
	if err := s.r.QueryRowContext(ctx, "SELECT applied FROM schema_migrations WHERE version = 1").Scan(&applied1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Closing checkpoints the WAL: the main file alone holds everything.
	if _, err := os.Stat(path + "-wal"); !os.IsNotExist(err) {
		t.Errorf("WAL file left after Close: %v", err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	known, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var applied2 int64
	if err := s.r.QueryRowContext(ctx, "SELECT count(*), max(applied) FROM schema_migrations").Scan(&n, &applied2); err != nil {
		t.Fatal(err)
	}
	if n != len(known) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(known))
	}
	var first int64
	if err := s.r.QueryRowContext(ctx, "SELECT applied FROM schema_migrations WHERE version = 1").Scan(&first); err != nil {
		t.Fatal(err)
	}
	if first != applied1 {
		t.Errorf("migration 1 re-applied: applied time %d → %d", applied1, first)
	}
	got, err := s.GetExperiment(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "persist" || got.Runs != 3 || !got.Created.Equal(e.Created) {
		t.Errorf("after reopen: %+v", got)
	}
	pts, err := s.Metrics(ctx, runs[0].ID, "")
	if err != nil || len(pts) != 1 || pts[0].Value != 0.5 {
		t.Errorf("metrics after reopen: %v, %v", pts, err)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec("INSERT INTO schema_migrations (version, name, applied) VALUES (9999, 'future', 0)"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	known, _ := loadMigrations(migrationFiles, "migrations")
	latest := known[len(known)-1].version

	_, err = Open(path)
	want := fmt.Sprintf("registry: %s: database has schema version 9999, which this binary does not know (it knows up to %d): it was written by a newer xraylab; use that version", path, latest)
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
}

func TestLoadMigrations(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   fstest.MapFS
		want    []int
		wantErr string
	}{
		{"sorted by number", fstest.MapFS{
			"m/0010_ten.sql": {Data: []byte("SELECT 10")},
			"m/0002_two.sql": {Data: []byte("SELECT 2")},
			"m/README.md":    {Data: []byte("not sql")},
		}, []int{2, 10}, ""},
		{"no number", fstest.MapFS{"m/init.sql": {}}, nil, "migration init.sql: name must be NNNN_description.sql with NNNN > 0"},
		{"zero", fstest.MapFS{"m/0000_zero.sql": {}}, nil, "migration 0000_zero.sql: name must be NNNN_description.sql with NNNN > 0"},
		{"no description", fstest.MapFS{"m/0003_.sql": {}}, nil, "migration 0003_.sql: name must be NNNN_description.sql with NNNN > 0"},
		{"duplicate", fstest.MapFS{"m/0001_a.sql": {}, "m/01_b.sql": {}}, nil, "migrations 0001_a.sql and 01_b.sql both have version 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := loadMigrations(tc.files, "m")
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, m := range ms {
				got = append(got, m.version)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("versions = %v, want %v", got, tc.want)
			}
		})
	}
	// The shipped migrations must load, starting at 1 without gaps.
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if m.version != i+1 {
			t.Errorf("shipped migration %d has version %d; versions must run 1, 2, 3, …", i, m.version)
		}
	}
}

func TestFailedMigrationRollsBackEverything(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite3", filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ms := []migration{
		{1, "good", "CREATE TABLE a (x INTEGER);"},
		{2, "bad", "CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);"},
	}
	err = applyMigrations(ctx, db, ms)
	if err == nil || !strings.HasPrefix(err.Error(), "migration 0002_bad: no such table: nowhere") {
		t.Fatalf("error = %v", err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name IN ('a', 'b', 'schema_migrations')").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d tables survived a failed migration", n)
	}
	// Fixed, the same list applies in full, and a second pass is a no-op.
	ms[1].sql = "CREATE TABLE b (x INTEGER);"
	for pass := 0; pass < 2; pass++ {
		if err := applyMigrations(ctx, db, ms); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("pass %d: %d migrations recorded, want 2", pass, n)
		}
	}
}

func TestTimesRoundTripAndRange(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
	} {
		v, err := nanos(tm)
		if err != nil {
			t.Fatal(err)
		}
		if got := fromNanos(v.(int64)); got != tm {
			t.Errorf("round trip %v → %v", tm, got)
		}
	}
	if v, err := nanos(time.Time{}); v != nil || err != nil {
		t.Errorf("zero time → %v, %v; want NULL", v, err)
	}
	_, err := nanos(time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC))
	if err == nil || err.Error() != "time 2300-01-01T00:00:00Z is outside the storable range 1677–2262" {
		t.Errorf("error = %v", err)
	}
}

func TestIntegrityCheckAfterWork(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	_, runs := mustCreate(t, s, "work", 20, "cae", "vae")
	for i, r := range runs {
		pts := make([]experiments.MetricPoint, 50)
		for j := range pts {
			pts[j] = experiments.MetricPoint{Key: "loss", Step: j, Epoch: j / 10, Value: float64(i * j)}
		}
		if err := s.AppendMetrics(ctx, r.ID, pts); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteMetricsAfter(ctx, r.ID, 2); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	// A foreign-key check too: nothing may point at a missing row.
	rows, err := s.r.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if rows.Next() {
		t.Error("PRAGMA foreign_key_check reports violations")
	}
}

func TestMissingRunsAreNotFound(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	const id = 17
	sha := strings.Repeat("a", 64)
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"GetRun", func() error { _, err := s.GetRun(ctx, id); return err }},
		{"FinishRun", func() error { return s.FinishRun(ctx, id, experiments.StateFailed, "x") }},
		{"CancelQueued", func() error { return s.CancelQueued(ctx, id) }},
		{"AppendMetrics", func() error { return s.AppendMetrics(ctx, id, []experiments.MetricPoint{{Key: "k"}}) }},
		{"AppendMetrics empty", func() error { return s.AppendMetrics(ctx, id, nil) }},
		{"Metrics", func() error { _, err := s.Metrics(ctx, id, ""); return err }},
		{"DeleteMetricsAfter", func() error { return s.DeleteMetricsAfter(ctx, id, 0) }},
		{"SetFinalMetrics", func() error { return s.SetFinalMetrics(ctx, id, map[string]float64{"a": 1}) }},
		{"AddArtifact", func() error {
			return s.AddArtifact(ctx, &experiments.Artifact{RunID: id, Name: "a.png", Kind: "plot", SHA256: sha})
		}},
		{"Artifacts", func() error { _, err := s.Artifacts(ctx, id); return err }},
		{"SetDataset", func() error { return s.SetDataset(ctx, id, experiments.DatasetRecord{Fingerprint: "f"}) }},
		{"Dataset", func() error { _, err := s.Dataset(ctx, id); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			wantErr(t, err, experiments.CodeNotFound, "run 17 not found")
			if !experiments.IsNotFound(err) {
				t.Error("IsNotFound is false")
			}
		})
	}
	_, err := s.GetExperiment(ctx, 5)
	wantErr(t, err, experiments.CodeNotFound, "experiment 5 not found")
}

func TestCancelledContext(t *testing.T) {
	s := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e, runs := newExperiment("late", 2)
	err := s.CreateExperiment(ctx, e, runs)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("CreateExperiment with a cancelled context: %v", err)
	}
	list, total, err := s.ListExperiments(context.Background(), "", 0, 0)
	if err != nil || total != 0 || len(list) != 0 {
		t.Errorf("a cancelled create left %d experiments (%v)", total, err)
	}
}

// Several processes starting at once on a fresh file (stood for here by
// stores opened in parallel) must all open it, and migrate it exactly once.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	const n = 6
	stores := make([]*Store, n)
	errs := make([]error, n)
	done := make(chan int)
	for i := 0; i < n; i++ {
		go func(i int) {
			stores[i], errs[i] = Open(path)
			done <- i
		}(i)
	}
	for i := 0; i < n; i++ {
		<-done
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("store %d: %v", i, err)
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	known, _ := loadMigrations(migrationFiles, "migrations")
	var count int
	if err := stores[0].r.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != len(known) {
		t.Errorf("schema_migrations has %d rows, want %d", count, len(known))
	}
	mustCreate(t, stores[n-1], "shared", 2)
	if _, total, err := stores[0].ListExperiments(context.Background(), "", 0, 0); err != nil || total != 1 {
		t.Errorf("another store sees %d experiments (%v)", total, err)
	}
}
