// Package registry is the SQLite implementation of experiments.Store: it
// owns the database file, its schema and migrations, and every query over
// experiments, runs, metric series, final metrics, artifacts, dataset
// fingerprints and researchers' notes.
//
// The database runs in WAL mode so readers never block the writer. All
// writes go through one connection (SQLite allows one writer at a time, and
// queueing them in Go avoids SQLITE_BUSY churn); reads use a separate
// read-only pool. Times are stored as unix nanoseconds and read back in UTC.
package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"xraylab/experiments"
)

// busyTimeoutMS is how long a connection waits for another process's lock
// (another xraylab on the same file) before giving up with SQLITE_BUSY.
const busyTimeoutMS = 5000

// Store is an experiments.Store over one SQLite file. It is safe for
// concurrent use.
type Store struct {
	path string
	w    *sql.DB // the one writer connection
	r    *sql.DB // read-only pool
}

var _ experiments.Store = (*Store)(nil)

// Open opens (creating if needed, with its parent folder) the database at
// path, applies pending migrations, and returns the store. A file that is
// not a SQLite database, or one written by a newer xraylab, is an error.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("registry: empty database path")
	}
	if path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("registry: %q: give a file path (the writer and the read pool must share one file)", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("registry: %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("registry: create folder for %s: %w", abs, err)
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("registry: %s is a directory, not a database file", abs)
	}
	if err := checkWritable(abs); err != nil {
		return nil, err
	}

	// _txlock=immediate: a write transaction takes the write lock at BEGIN,
	// so it waits on busy_timeout instead of failing when it later upgrades
	// a read lock that another process's commit made stale.
	w, err := sql.Open("sqlite3", dsn(abs, url.Values{
		"_journal_mode": {"WAL"},
		"_synchronous":  {"NORMAL"},
		"_foreign_keys": {"on"},
		"_busy_timeout": {fmt.Sprint(busyTimeoutMS)},
		"_txlock":       {"immediate"},
	}))
	if err != nil {
		return nil, fmt.Errorf("registry: open %s: %w", abs, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{path: abs, w: w}

	ctx := context.Background()
	if err := s.checkWriter(ctx); err != nil {
		w.Close()
		return nil, err
	}
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("registry: %s: %w", abs, err)
	}

	// The read pool opens only after the writer has created the file and the
	// WAL index; mode=ro plus query_only makes any stray write an error.
	r, err := sql.Open("sqlite3", dsn(abs, url.Values{
		"mode":          {"ro"},
		"_query_only":   {"on"},
		"_busy_timeout": {fmt.Sprint(busyTimeoutMS)},
	}))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("registry: open %s for reading: %w", abs, err)
	}
	n := max(4, runtime.NumCPU())
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := retryBusy(func() error { return r.PingContext(ctx) }); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("registry: open %s for reading: %w", abs, err)
	}
	s.r = r
	return s, nil
}

// checkWritable fails when the database file, or the folder where SQLite
// creates it and its -wal and -shm files, cannot be written (a read-only
// file system, file modes). SQLite itself says only "unable to open
// database file" or "attempt to write a readonly database", and sometimes
// not until the first write.
func checkWritable(abs string) error {
	f, err := os.OpenFile(abs, os.O_RDWR, 0)
	if err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("registry: the database %s cannot be written: %w", abs, unwrapPath(err))
	}
	dir := filepath.Dir(abs)
	probe, err := os.CreateTemp(dir, ".xraylab-write-check-*")
	if err != nil {
		return fmt.Errorf("registry: cannot create files in %s, where the database %s and its -wal and -shm files live: %w",
			dir, filepath.Base(abs), unwrapPath(err))
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// unwrapPath drops the operation and path of an *fs.PathError when the
// message names the file already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// dsn builds a file: URI so that paths holding '?', '#' or '%' stay paths.
func dsn(abs string, q url.Values) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	if !strings.HasPrefix(u.Path, "/") { // Windows drive paths
		u.Path = "/" + u.Path
	}
	return u.String()
}

// checkWriter makes the first connection (where go-sqlite3 applies the
// pragmas) and turns SQLite's terse failures into errors naming the file.
func (s *Store) checkWriter(ctx context.Context) error {
	var mode string
	err := retryBusy(func() error { return s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode) })
	if err != nil {
		var se sqlite3.Error
		if errors.As(err, &se) && se.Code == sqlite3.ErrNotADB {
			return fmt.Errorf("registry: %s is not an SQLite database (file is not a database)", s.path)
		}
		return fmt.Errorf("registry: open %s: %w", s.path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("registry: %s: cannot use WAL journal mode (got %q); is it on a network file system?", s.path, mode)
	}
	return nil
}

// retryBusy retries fn while SQLite answers "busy" for up to the busy
// timeout. It is needed only while connecting: switching a new file to WAL
// takes an exclusive lock and SQLite fails at once, without the busy
// handler, when two processes create the same database together.
func retryBusy(fn func() error) error {
	deadline := time.Now().Add(busyTimeoutMS * time.Millisecond)
	for {
		err := fn()
		var se sqlite3.Error
		if err == nil || !errors.As(err, &se) || (se.Code != sqlite3.ErrBusy && se.Code != sqlite3.ErrLocked) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Close closes the read pool, then the writer; the last connection to close
// checkpoints the WAL into the main file. PRAGMA optimize first refreshes
// the planner's statistics where the work since opening made them stale.
func (s *Store) Close() error {
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if _, err := s.w.Exec("PRAGMA optimize"); err != nil {
		errs = append(errs, fmt.Errorf("registry: optimize %s: %w", s.path, err))
	}
	errs = append(errs, s.w.Close())
	return errors.Join(errs...)
}

// IntegrityCheck runs PRAGMA integrity_check and returns an error listing
// the problems when the answer is not "ok".
func (s *Store) IntegrityCheck(ctx context.Context) error {
	rows, err := s.r.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("registry: integrity check: %w", err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("registry: integrity check: %w", err)
		}
		lines = append(lines, line)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("registry: integrity check: %w", err)
	}
	if len(lines) == 1 && lines[0] == "ok" {
		return nil
	}
	return fmt.Errorf("registry: integrity check of %s failed: %s", s.path, strings.Join(lines, "; "))
}

// readTx runs fn in one read transaction, so a multi-query read (a page and
// its total, a run and its metrics) sees one snapshot.
func (s *Store) readTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return internal("begin read", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return nil
}

// writeTx runs fn in one write transaction on the writer connection.
func (s *Store) writeTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return internal("begin write to "+s.path, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return internal("commit to "+s.path, err)
	}
	return nil
}

// querier is what *sql.Tx and *sql.DB share.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// internal wraps an unexpected database error; a cancelled context keeps
// its identity so callers can tell a shutdown from a failure.
func internal(what string, err error) error {
	var e *experiments.Error
	if errors.As(err, &e) {
		return err
	}
	return &experiments.Error{Code: experiments.CodeInternal, Message: "registry: " + what, Err: err}
}

func invalid(format string, args ...any) error {
	return experiments.Errorf(experiments.CodeInvalid, format, args...)
}

func runNotFound(id int64) error {
	return experiments.Errorf(experiments.CodeNotFound, "run %d not found", id)
}

func experimentNotFound(id int64) error {
	return experiments.Errorf(experiments.CodeNotFound, "experiment %d not found", id)
}

// runExists reports a missing run as CodeNotFound.
func runExists(ctx context.Context, q querier, id int64) error {
	var one int
	err := q.QueryRowContext(ctx, "SELECT 1 FROM runs WHERE id = ?", id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return runNotFound(id)
	}
	if err != nil {
		return internal(fmt.Sprintf("look up run %d", id), err)
	}
	return nil
}

// UnixNano is only defined between 1678 and 2262; outside that a time
// would silently wrap, so it is refused.
var (
	minTime = time.Unix(0, math.MinInt64).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

// now is the store's clock, in UTC with the monotonic reading stripped so a
// value compares equal to itself after a round trip.
func now() time.Time { return time.Now().UTC() }

// nanos encodes t for a nullable time column: the zero time is NULL.
func nanos(t time.Time) (any, error) {
	if t.IsZero() {
		return nil, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return nil, fmt.Errorf("time %s is outside the storable range %d–%d", t.Format(time.RFC3339), minTime.Year(), maxTime.Year())
	}
	return t.UnixNano(), nil
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func fromNullNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromNanos(n.Int64)
}

func ptrNanos(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromNanos(n.Int64)
	return &t
}

// fromNullFloat reads back a metric value: SQLite stores NaN as NULL.
func fromNullFloat(f sql.NullFloat64) float64 {
	if !f.Valid {
		return math.NaN()
	}
	return f.Float64
}

// placeholders returns "?, ?, ?" for n arguments.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
