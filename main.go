// Command xraylab runs, compares and reproduces unsupervised anomaly
// detection experiments on hand radiographs. This file parses flags and
// wires the packages together; the work happens in experiments, registry,
// server, preprocess and nets.
package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"xraylab/experiments"
	"xraylab/frontend"
	"xraylab/plots"
	"xraylab/preprocess"
	"xraylab/registry"
	"xraylab/server"
)

const usage = `xraylab: unsupervised anomaly detection experiments on hand X-rays

usage:
  xraylab serve  [--addr 127.0.0.1:8080] [--var var] [--workers 1] [--submit FILE [--experiment NAME]]
                 [--token-file var/token] [--public-read] [--data-root DIR]... [--backend local|slurm ...]
  xraylab run    FILE [--experiment NAME] [--var var] [--workers 1]
  xraylab submit FILE [--experiment NAME] [--server http://127.0.0.1:8080] [--token-file var/token]
  xraylab synth  --out DIR [--patients 200] [--size 512] [--seed 1] [--difficulty medium]
  xraylab preprocess --data MURA_ROOT [--variant full] [--he] [--size 128] [--sheet contact.png]
  xraylab report ID [--format text|json|csv|markdown|latex|png|svg|html] [--out FILE] [--var var]
  xraylab score  --checkpoint FILE [--out DIR] IMAGE...
  xraylab export ID --out DIR [--var var]
  xraylab reproduce BUNDLE [--tolerance 1e-9] [--var DIR] [--workers 1]
  xraylab worker --run ID --server URL --token-file FILE [--var DIR]
  xraylab version

Run 'xraylab COMMAND -h' for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmds := map[string]func([]string, io.Writer, io.Writer) error{
		"serve": cmdServe, "run": cmdRun, "submit": cmdSubmit, "synth": cmdSynth, "report": cmdReport, "preprocess": cmdPreprocess,
		"export": cmdExport, "reproduce": cmdReproduce, "score": cmdScore, "worker": cmdWorker,
		"version": func([]string, io.Writer, io.Writer) error {
			fmt.Fprintln(stdout, experiments.BinaryVersion())
			return nil
		},
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "xraylab: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	err := cmd(args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		if problems := experiments.SpecProblems(err); problems != nil {
			fmt.Fprintf(stderr, "xraylab %s: invalid spec, %d problem(s):\n", args[0], len(problems))
			for _, p := range problems {
				fmt.Fprintf(stderr, "  %s\n", p)
			}
			return 1
		}
		fmt.Fprintf(stderr, "xraylab %s: %v\n", args[0], err)
		return 1
	}
}

// errUsage marks a flag error already printed by the flag package.
var errUsage = errors.New("usage")

func parse(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	// Let flags follow positional arguments (xraylab run FILE --workers 2).
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(positional) // leaves them as fs.Args()
}

// varPaths are the files a server keeps under its var folder.
type varPaths struct{ root, db, artifacts, data, cache string }

func paths(root string) varPaths {
	return varPaths{root: root, db: filepath.Join(root, "xraylab.db"), artifacts: filepath.Join(root, "artifacts"),
		data: filepath.Join(root, "data"), cache: filepath.Join(root, "cache")}
}

func checkWorkers(n int) error {
	if n < 1 || n > 256 {
		return fmt.Errorf("--workers must be between 1 and 256, got %d", n)
	}
	return nil
}

// engine is the store, hub, executor, runner and manager of one process.
type engine struct {
	store   *registry.Store
	hub     *experiments.Hub
	exec    experiments.Executor
	runner  *experiments.Runner
	manager *experiments.Manager
}

func newEngine(p varPaths, log *slog.Logger) (*engine, error) {
	store, err := registry.Open(p.db)
	if err != nil {
		return nil, err
	}
	hub := experiments.NewHub(256)
	exec := experiments.NewLocalExecutor(store, hub, experiments.LocalOptions{
		DataDir: p.data, ArtifactsDir: p.artifacts, CacheDir: p.cache, Logger: log,
	})
	return &engine{store: store, hub: hub, exec: exec, manager: experiments.NewManager(store, hub, nil, experiments.BinaryVersion())}, nil
}

// withWorkers builds the worker pool (leasing only the given experiments'
// runs when only is not empty) and hands it to the manager.
func (e *engine) withWorkers(workers int, only []int64, log *slog.Logger) {
	devices := make([]string, workers)
	for i := range devices {
		devices[i] = "cpu"
	}
	e.runner = experiments.NewRunner(e.store, e.hub, e.exec, experiments.RunnerOptions{Devices: devices, Experiments: only, Logger: log})
	e.manager = experiments.NewManager(e.store, e.hub, e.runner, experiments.BinaryVersion())
}

func cmdServe(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	varDir := fs.String("var", "var", "folder for the database, artifacts, generated data and caches")
	workers := fs.Int("workers", 1, "runs trained at once (one CPU slot each)")
	submitFile := fs.String("submit", "", "spec file whose experiments are queued at start-up unless already queued")
	only := fs.String("experiment", "", "with --submit: queue only this experiment of the file")
	tokenFile := fs.String("token-file", "", "access token file (default <var>/token; created with mode 0600 on first start)")
	publicRead := fs.Bool("public-read", false, "let anyone who can reach --addr read without the token")
	var dataRoots []string
	fs.Func("data-root", "folder that MURA dataset paths in specs must lie under (repeatable; none given = any path)", func(v string) error {
		dataRoots = append(dataRoots, v)
		return nil
	})
	sf := slurmFlagSet(fs)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := checkWorkers(*workers); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(*addr); err != nil {
		return fmt.Errorf("--addr %q is not host:port: %v", *addr, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	p := paths(*varDir)
	eng, err := newEngine(p, log)
	if err != nil {
		return err
	}
	defer eng.store.Close()
	slurm, err := sf.executor(eng, *addr, log)
	if err != nil {
		return err
	}
	var workerAPI server.WorkerService
	if slurm != nil {
		eng.exec, workerAPI = slurm, slurm
	}
	eng.withWorkers(*workers, nil, log)
	eng.manager.SetDataRoots(dataRoots)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if slurm != nil {
		// Jobs a previous server left behind are cancelled before their
		// runs are requeued; the runs resume from their checkpoints.
		if err := slurm.Recover(ctx); err != nil {
			return err
		}
	}
	if err := eng.runner.Recover(ctx); err != nil {
		return err
	}
	if *submitFile != "" {
		if err := submitOnce(ctx, eng, *submitFile, *only, stdout); err != nil {
			return err
		}
	}
	tokenPath := *tokenFile
	if tokenPath == "" {
		tokenPath = filepath.Join(*varDir, "token")
	}
	token, created, err := server.LoadOrCreateToken(tokenPath)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(stdout, "xraylab: created the access token %s (mode 0600); xraylab submit and the dashboard ask for it\n", tokenPath)
	} else {
		fmt.Fprintf(stdout, "xraylab: access token in %s\n", tokenPath)
	}
	readGuard, writeGuard := server.BearerGuard(token, server.GuardOptions{Addr: *addr, PublicRead: *publicRead})
	srv, err := server.New(server.Config{Store: eng.store, Service: eng.manager, ArtifactsDir: p.artifacts,
		Reports: experiments.NewReports(eng.store, p.artifacts), Notes: noteStore{eng.store},
		Frontend: frontend.Files(), Workers: workerAPI, ReadGuard: readGuard, WriteGuard: writeGuard,
		Version: experiments.BinaryVersion(), Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	workCtx, stopWork := context.WithCancel(context.Background())
	eng.runner.Start(workCtx)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "xraylab: serving http://%s/ (API at /api, database %s)\n", ln.Addr(), p.db)

	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	fmt.Fprintln(stdout, "xraylab: shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutCtx); serr != nil {
		log.Warn("server shutdown", "err", serr)
	}
	// Stopping the workers interrupts running runs at their next batch;
	// they stay "running" and the next start requeues and resumes them.
	stopWork()
	eng.runner.Wait()
	return err
}

// submitOnce queues the file's experiments unless an experiment of the
// same name and spec text was already queued, so `make run` can be
// repeated without piling up duplicates.
func submitOnce(ctx context.Context, eng *engine, file, only string, stdout io.Writer) error {
	text, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	spec, err := experiments.ParseSpec(text)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	names := spec.Names()
	if only != "" {
		names = []string{only}
	}
	for _, name := range names {
		existing, _, err := eng.store.ListExperiments(ctx, name, 1000, 0)
		if err != nil {
			return err
		}
		found := false
		for _, e := range existing {
			found = found || (e.Name == name && e.SpecHash == spec.Hash)
		}
		if found {
			fmt.Fprintf(stdout, "xraylab: experiment %q from %s is already queued\n", name, file)
			continue
		}
		exps, runs, err := eng.manager.Submit(ctx, text, name)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		fmt.Fprintf(stdout, "xraylab: queued experiment %q (id %d) with %d runs\n", name, exps[0].ID, len(runs[0]))
	}
	return nil
}

func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	varDir := fs.String("var", "var", "folder for the database, artifacts, generated data and caches")
	workers := fs.Int("workers", 1, "runs trained at once")
	only := fs.String("experiment", "", "run only this experiment of the file")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: xraylab run FILE [--experiment NAME] [--var DIR] [--workers N]")
		return errUsage
	}
	if err := checkWorkers(*workers); err != nil {
		return err
	}
	text, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p := paths(*varDir)
	// Submit first, then run a runner that leases only these experiments'
	// runs, so a server sharing the database keeps its own queue.
	eng, err := newEngine(p, log)
	if err != nil {
		return err
	}
	defer eng.store.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	exps, _, err := eng.manager.Submit(ctx, text, *only)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	var ids []int64
	for _, e := range exps {
		ids = append(ids, e.ID)
		fmt.Fprintf(stdout, "experiment %q (id %d): %d runs\n", e.Name, e.ID, e.Runs)
	}
	eng.withWorkers(*workers, ids, log)
	runs, err := runToEnd(ctx, eng, ids, stdout)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, "\n"+experiments.RunsTable(runs))
	failed := 0
	for _, r := range runs {
		if r.State != experiments.StateSucceeded {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d runs did not succeed", failed, len(runs))
	}
	return nil
}

// runToEnd starts the engine's workers and prints progress until every
// run of the given experiments has finished; it returns those runs.
func runToEnd(ctx context.Context, eng *engine, ids []int64, stdout io.Writer) ([]*experiments.Run, error) {
	events, unsubscribe := eng.hub.Subscribe()
	defer unsubscribe()
	workCtx, stopWork := context.WithCancel(ctx)
	defer func() {
		stopWork()
		eng.runner.Wait()
	}()
	eng.runner.Start(workCtx)
	for {
		select {
		case <-ctx.Done():
			return nil, errors.New("interrupted; the unfinished runs resume at the next 'xraylab serve' or can be cancelled")
		case ev := <-events:
			printEvent(stdout, ev)
		case <-time.After(time.Second):
		}
		var runs []*experiments.Run
		done := true
		for _, id := range ids {
			rs, _, err := eng.store.ListRuns(ctx, experiments.RunFilter{ExperimentID: id})
			if err != nil {
				return nil, err
			}
			for _, r := range rs {
				done = done && r.State.Terminal()
			}
			runs = append(runs, rs...)
		}
		if done {
			return runs, nil
		}
	}
}

func printEvent(w io.Writer, ev experiments.Event) {
	switch {
	case ev.Type == "state":
		msg := ""
		if ev.Message != "" {
			msg = ": " + ev.Message
		}
		fmt.Fprintf(w, "run %d %s%s\n", ev.RunID, ev.State, msg)
	case ev.Message != "":
		fmt.Fprintf(w, "run %d %s\n", ev.RunID, ev.Message)
	case ev.Batch == ev.Batches && ev.Epochs > 0:
		loss := ""
		if ev.Loss != nil {
			loss = fmt.Sprintf(", loss %.4g", *ev.Loss)
		}
		fmt.Fprintf(w, "run %d epoch %d/%d done%s, ETA %s\n", ev.RunID, ev.Epoch, ev.Epochs, loss, time.Duration(ev.ETASeconds*float64(time.Second)).Round(time.Second))
	}
}

func cmdSubmit(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	serverURL := fs.String("server", "http://127.0.0.1:8080", "xraylab server URL")
	only := fs.String("experiment", "", "submit only this experiment of the file")
	tokenFile := fs.String("token-file", filepath.Join("var", "token"), "the server's access token file (XRAYLAB_TOKEN overrides it)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: xraylab submit FILE [--experiment NAME] [--server URL] [--token-file FILE]")
		return errUsage
	}
	u, err := url.Parse(*serverURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--server %q is not an http(s) URL", *serverURL)
	}
	text, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	token := os.Getenv("XRAYLAB_TOKEN")
	if token != "" {
		if err := server.CheckToken(token); err != nil {
			return fmt.Errorf("XRAYLAB_TOKEN: %w", err)
		}
	} else if token, err = server.ReadToken(*tokenFile); err != nil {
		return fmt.Errorf("%w (start xraylab serve once to create it, or set XRAYLAB_TOKEN)", err)
	}
	endpoint := u.JoinPath("api", "experiments")
	if *only != "" {
		endpoint.RawQuery = url.Values{"experiment": {*only}}.Encode()
	}
	req, _ := http.NewRequest(http.MethodPost, endpoint.String(), bytes.NewReader(text))
	req.Header.Set("Content-Type", "application/yaml")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("submit to %s: %w", *serverURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode != http.StatusCreated {
		var e struct {
			Error struct {
				Message string                `json:"message"`
				Details []experiments.Problem `json:"details"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &e) != nil || e.Error.Message == "" {
			return fmt.Errorf("server answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
		}
		for _, p := range e.Error.Details {
			fmt.Fprintf(stderr, "  %s\n", p)
		}
		return fmt.Errorf("%s: %s", fs.Arg(0), e.Error.Message)
	}
	var ok struct {
		Experiments []struct {
			ID     int64   `json:"id"`
			Name   string  `json:"name"`
			RunIDs []int64 `json:"run_ids"`
		} `json:"experiments"`
	}
	if err := json.Unmarshal(body, &ok); err != nil {
		return fmt.Errorf("unexpected answer from server: %s", body)
	}
	for _, e := range ok.Experiments {
		fmt.Fprintf(stdout, "queued experiment %q (id %d) with %d runs: %s\n", e.Name, e.ID, len(e.RunIDs),
			u.JoinPath("api", "experiments", strconv.FormatInt(e.ID, 10)))
	}
	return nil
}

func cmdSynth(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	out := fs.String("out", "", "folder to write MURA-v1.1/ and its ground truth into (required)")
	patients := fs.Int("patients", 200, "number of patients")
	size := fs.Int("size", 512, "longer image side in pixels")
	seed := fs.Int64("seed", 1, "random seed: the same seed writes the same files")
	difficulty := fs.String("difficulty", "medium", "anomaly size and contrast: easy, medium or hard")
	workers := fs.Int("workers", 0, "goroutines drawing images (0 = one per core)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: xraylab synth --out DIR [--patients N] [--size PX] [--seed S] [--difficulty easy|medium|hard]")
		return errUsage
	}
	if *workers < 0 || *workers > 256 {
		return fmt.Errorf("--workers must be between 0 (one per core) and 256, got %d", *workers)
	}
	start := time.Now()
	rep, err := preprocess.Synthesize(context.Background(), preprocess.SynthOptions{
		Out: *out, Patients: *patients, Size: *size, Seed: *seed, Difficulty: *difficulty, Workers: *workers,
	}, progressBar(stderr, "synth"))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d images of %d patients to %s in %s\n", rep.Images, *patients,
		filepath.Join(*out, "MURA-v1.1"), time.Since(start).Round(time.Millisecond))
	return nil
}

// progressBar prints "label: done/total" on one line, at most 10 times a second.
func progressBar(w io.Writer, label string) func(done, total int) {
	var last time.Time
	return func(done, total int) {
		if done < total && time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		fmt.Fprintf(w, "\r%s: %d/%d", label, done, total)
		if done == total {
			fmt.Fprintln(w)
		}
	}
}

func cmdReport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	varDir := fs.String("var", "var", "folder holding the database and artifacts")
	format := fs.String("format", "text", "text (runs table), json, csv, markdown, latex, png, svg (the comparison table) or html (the report)")
	out := fs.String("out", "", "write to this file instead of standard output (required for png, svg)")
	split := fs.String("split", "test", "table figures from the test or val split")
	metric := fs.String("metric", experiments.MetricROCAUC, "table metric: roc_auc or ap")
	aggregate := fs.String("aggregate", experiments.AggImage, "table level: image, study_mean or study_max")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: xraylab report EXPERIMENT_ID [--format text|json|csv|markdown|latex|png|svg|html] [--out FILE] [--var DIR]")
		return errUsage
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil || id <= 0 {
		return fmt.Errorf("experiment id must be a positive integer, got %q", fs.Arg(0))
	}
	choices := map[string][]string{
		"format": {"text", "json", "csv", "markdown", "latex", "png", "svg", "html"}, "split": {"test", "val"},
		"metric": {experiments.MetricROCAUC, experiments.MetricAP}, "aggregate": {experiments.AggImage, experiments.AggStudyMean, experiments.AggStudyMax},
	}
	for name, v := range map[string]string{"format": *format, "split": *split, "metric": *metric, "aggregate": *aggregate} {
		if !slices.Contains(choices[name], v) {
			return fmt.Errorf("--%s %q: must be one of %s", name, v, strings.Join(choices[name], ", "))
		}
	}
	if (*format == "png" || *format == "svg") && *out == "" {
		return fmt.Errorf("--format %s writes an image: give --out FILE", *format)
	}
	store, p, err := openVar(*varDir)
	if err != nil {
		return err
	}
	defer store.Close()
	ctx := context.Background()
	reports := experiments.NewReports(store, p.artifacts)
	opts := experiments.TableOptions{Split: *split, Metric: *metric, Aggregate: *aggregate}
	var body []byte
	switch *format {
	case "text":
		e, err := store.GetExperiment(ctx, id)
		if err != nil {
			return err
		}
		runs, _, err := store.ListRuns(ctx, experiments.RunFilter{ExperimentID: id})
		if err != nil {
			return err
		}
		body = []byte(fmt.Sprintf("experiment %q (id %d), created %s, %d runs\n\n%s", e.Name, e.ID, e.Created.Format(time.RFC3339), e.Runs, experiments.RunsTable(runs)))
	case "png", "svg":
		body, err = reports.TableImage(ctx, id, opts, *format)
	case "html":
		body, err = reports.HTML(ctx, id)
	default:
		t, terr := reports.Table(ctx, id, opts)
		if terr != nil {
			return terr
		}
		body, err = map[string]func() ([]byte, error){"json": t.JSON, "csv": t.CSV, "markdown": t.Markdown, "latex": t.LaTeX}[*format]()
	}
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = stdout.Write(body)
		return err
	}
	return os.WriteFile(*out, body, 0o644)
}

func cmdPreprocess(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("preprocess", flag.ContinueOnError)
	data := fs.String("data", "", "MURA-v1.1 folder to preprocess (required)")
	bodyPart := fs.String("body-part", "XR_HAND", "MURA body part folder")
	parts := fs.String("parts", "train", "comma-separated MURA folders: train, valid")
	variant := fs.String("variant", "full", "offline steps: raw, crop or full")
	he := fs.Bool("he", false, "histogram equalisation in the final inputs")
	clahe := fs.Bool("clahe", false, "with --he: CLAHE instead of global equalisation")
	size := fs.Int("size", 128, "side of the final model inputs in pixels")
	cache := fs.String("cache", filepath.Join("var", "cache"), "offline cache folder (\"\" = none)")
	sheet := fs.String("sheet", "contact.png", "contact sheet to write (\"\" = none)")
	rows := fs.Int("rows", 8, "images on the contact sheet")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *data == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: xraylab preprocess --data MURA_ROOT [--variant raw|crop|full] [--he] [--size PX] [--sheet FILE]")
		return errUsage
	}
	if *rows < 1 || *rows > 200 {
		return fmt.Errorf("--rows must be between 1 and 200, got %d", *rows)
	}
	if *size < 16 || *size > 1024 {
		return fmt.Errorf("--size must be between 16 and 1024 pixels (as a spec's image_size), got %d", *size)
	}
	pipe, err := preprocess.NewPipeline(preprocess.PipelineOptions{
		Variant: preprocess.Variant(*variant), HistEq: *he, CLAHE: *clahe, Size: *size, CacheDir: *cache,
	})
	if err != nil {
		return err
	}
	defer pipe.Close()
	ds, err := preprocess.LoadMURA(*data, preprocess.LoadOptions{BodyPart: *bodyPart, Parts: strings.Split(*parts, ",")})
	if err != nil {
		return err
	}
	start := time.Now()
	items, rep, err := pipe.Prepare(context.Background(), ds.Records, progressBar(stderr, "preprocess"))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d images -> %d items in %s: %d skipped, %d carrier crops fell back, %d two-hand splits, cache %d hits / %d misses\n",
		rep.Images, rep.Items, time.Since(start).Round(time.Millisecond), rep.Skipped, rep.FellBack, rep.TwoHandSplits, rep.CacheHits, rep.CacheMisses)
	for _, s := range append(ds.Skipped, rep.Skips...) {
		fmt.Fprintf(stdout, "  skipped %s: %s\n", s.Path, s.Reason)
	}
	if *sheet != "" && len(items) > 0 {
		if err := preprocess.WriteContactSheet(*sheet, pipe, items[:min(*rows, len(items))], preprocess.ContactOptions{}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "contact sheet: %s\n", *sheet)
	}
	return nil
}

// openVar opens the database of an existing var folder.
func openVar(varDir string) (*registry.Store, varPaths, error) {
	p := paths(varDir)
	if _, err := os.Stat(p.db); err != nil {
		return nil, p, fmt.Errorf("no database at %s (use --var to point at the server's var folder)", p.db)
	}
	store, err := registry.Open(p.db)
	return store, p, err
}

func cmdExport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	varDir := fs.String("var", "var", "folder holding the database and artifacts")
	out := fs.String("out", "", "bundle folder to write (must not exist or be empty)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 || *out == "" {
		fmt.Fprintln(stderr, "usage: xraylab export EXPERIMENT_ID --out DIR [--var DIR]")
		return errUsage
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil || id <= 0 {
		return fmt.Errorf("experiment id must be a positive integer, got %q", fs.Arg(0))
	}
	store, p, err := openVar(*varDir)
	if err != nil {
		return err
	}
	defer store.Close()
	b, err := experiments.Export(context.Background(), store, p.artifacts, id, *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exported experiment %q (id %d, %d runs) to %s\n", b.Experiment.Name, id, len(b.Runs), *out)
	return nil
}

func cmdReproduce(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reproduce", flag.ContinueOnError)
	varDir := fs.String("var", "", "folder for the reproduction's database, data and artifacts (default: a temporary folder, removed afterwards)")
	tolerance := fs.Float64("tolerance", 1e-9, "largest accepted |recorded − reproduced| of a figure")
	workers := fs.Int("workers", 1, "runs trained at once")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: xraylab reproduce BUNDLE [--tolerance 1e-9] [--var DIR] [--workers N]")
		return errUsage
	}
	if *tolerance < 0 || *tolerance != *tolerance {
		return fmt.Errorf("--tolerance must be a number >= 0, got %v", *tolerance)
	}
	if err := checkWorkers(*workers); err != nil {
		return err
	}
	b, err := experiments.LoadBundle(fs.Arg(0))
	if err != nil {
		return err
	}
	dir := *varDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "xraylab-reproduce-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	eng, err := newEngine(paths(dir), log)
	if err != nil {
		return err
	}
	defer eng.store.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e, _, err := eng.manager.Requeue(ctx, b)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "reproducing experiment %q: %d runs (recorded by %s, this binary %s)\n",
		b.Experiment.Name, len(b.Runs), b.Experiment.Version, experiments.BinaryVersion())
	eng.withWorkers(*workers, []int64{e.ID}, log)
	runs, err := runToEnd(ctx, eng, []int64{e.ID}, stdout)
	if err != nil {
		return err
	}
	diffs, ok := experiments.Compare(b.Runs, runs, *tolerance)
	fmt.Fprint(stdout, "\n"+experiments.DifferencesTable(diffs))
	if !ok {
		return fmt.Errorf("the reproduction differs from the record beyond %g (see DIFFERS above)", *tolerance)
	}
	fmt.Fprintf(stdout, "\nall %d figures reproduced within %g\n", len(diffs), *tolerance)
	return nil
}

// noteStore adapts the registry's notes to server.NoteStore (server may not
// import registry).
type noteStore struct{ s *registry.Store }

func toServerNote(n *registry.Note) *server.Note {
	return &server.Note{ID: n.ID, ExperimentID: n.ExperimentID, Body: n.Body, Created: n.Created, Updated: n.Updated}
}

func (a noteStore) AddNote(ctx context.Context, exp int64, body string) (*server.Note, error) {
	n, err := a.s.AddNote(ctx, exp, body)
	if err != nil {
		return nil, err
	}
	return toServerNote(n), nil
}

func (a noteStore) UpdateNote(ctx context.Context, id int64, body string) (*server.Note, error) {
	n, err := a.s.UpdateNote(ctx, id, body)
	if err != nil {
		return nil, err
	}
	return toServerNote(n), nil
}

func (a noteStore) DeleteNote(ctx context.Context, id int64) error { return a.s.DeleteNote(ctx, id) }

func (a noteStore) Notes(ctx context.Context, exp int64) ([]*server.Note, error) {
	ns, err := a.s.Notes(ctx, exp)
	if err != nil {
		return nil, err
	}
	out := make([]*server.Note, len(ns))
	for i, n := range ns {
		out[i] = toServerNote(n)
	}
	return out, nil
}

// slurmFlags are serve's backend flags.
type slurmFlags struct {
	backend, serverURL, binary, nodeVar, logDir *string
	retries                                     *int
	res                                         experiments.SlurmResources
}

func slurmFlagSet(fs *flag.FlagSet) *slurmFlags {
	f := &slurmFlags{
		backend:   fs.String("backend", "local", "where runs execute: local (in this process) or slurm (one Slurm job per run)"),
		serverURL: fs.String("server-url", "", "with --backend slurm: the URL at which nodes reach this server (default http://<this host>:<port of --addr>)"),
		binary:    fs.String("slurm-binary", "", "with --backend slurm: path of xraylab on the nodes (default: this binary's path)"),
		nodeVar:   fs.String("slurm-var", "", "with --backend slurm: the workers' --var folder on the nodes (default $TMPDIR/xraylab-worker-<uid>)"),
		logDir:    fs.String("slurm-logs", "", "with --backend slurm: folder on the nodes for the jobs' output files (default /tmp)"),
		retries:   fs.Int("slurm-retries", 2, "with --backend slurm: times a run whose job died (node failure, time limit, out of memory, preemption) is requeued before it fails"),
	}
	fs.StringVar(&f.res.Partition, "slurm-partition", "", "with --backend slurm: sbatch --partition")
	fs.StringVar(&f.res.Account, "slurm-account", "", "with --backend slurm: sbatch --account")
	fs.StringVar(&f.res.Time, "slurm-time", "", "with --backend slurm: sbatch --time, a run's time limit (1:00:00)")
	fs.IntVar(&f.res.CPUs, "slurm-cpus", 0, "with --backend slurm: sbatch --cpus-per-task")
	fs.StringVar(&f.res.Mem, "slurm-mem", "", "with --backend slurm: sbatch --mem (16G)")
	fs.StringVar(&f.res.Gres, "slurm-gres", "", "with --backend slurm: sbatch --gres (gpu:1)")
	fs.Func("slurm-opt", "with --backend slurm: an extra sbatch option, repeatable (--slurm-opt=--qos=high)", func(v string) error {
		f.res.Options = append(f.res.Options, v)
		return nil
	})
	return f
}

// executor returns the slurm executor when --backend slurm, else nil.
func (f *slurmFlags) executor(eng *engine, addr string, log *slog.Logger) (*experiments.SlurmExecutor, error) {
	switch *f.backend {
	case experiments.BackendLocal:
		return nil, nil
	case experiments.BackendSlurm:
	default:
		return nil, fmt.Errorf("--backend %q: want local or slurm", *f.backend)
	}
	if err := f.res.Validate(func(field string) string {
		if field == "options" {
			return "--slurm-opt"
		}
		return "--slurm-" + field
	}); err != nil {
		return nil, err
	}
	serverURL := *f.serverURL
	if serverURL == "" {
		host, port, _ := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			if host, _ = os.Hostname(); host == "" {
				return nil, errors.New("--server-url is required: this host has no name the nodes could use")
			}
		}
		serverURL = "http://" + net.JoinHostPort(host, port)
	}
	return experiments.NewSlurmExecutor(eng.store, eng.store, eng.hub, experiments.SlurmOptions{
		Resources: f.res, ServerURL: serverURL, Binary: *f.binary, NodeVar: *f.nodeVar, LogDir: *f.logDir,
		Retries: *f.retries, Logger: log,
	})
}

func cmdWorker(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	runID := fs.Int64("run", 0, "id of the run to execute (required)")
	serverURL := fs.String("server", "", "URL of the xraylab server that owns the run (required)")
	tokenFile := fs.String("token-file", "", "file holding the run's token, readable by its owner only (required)")
	varDir := fs.String("var", "var", "node-local folder for data, caches and artifacts before upload")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *runID < 1 || *serverURL == "" || *tokenFile == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: xraylab worker --run ID --server URL --token-file FILE [--var DIR]")
		return errUsage
	}
	token, err := server.ReadToken(*tokenFile)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return experiments.RunWorker(ctx, experiments.WorkerOptions{Server: *serverURL, RunID: *runID, Token: token,
		VarDir: *varDir, Logger: log})
}

func cmdScore(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("score", flag.ContinueOnError)
	checkpoint := fs.String("checkpoint", "", "a run's checkpoint.bin (var/artifacts/<run>/checkpoint.bin)")
	out := fs.String("out", "", "folder for heatmap PNGs (\"\" = none)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *checkpoint == "" || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: xraylab score --checkpoint FILE [--out DIR] IMAGE...")
		return errUsage
	}
	h, scores, err := experiments.ScoreFiles(context.Background(), *checkpoint, fs.Args())
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "scored with %s of run %d (epoch %d, %s)\n", h.Model, h.RunID, h.Epoch, h.Spec.Label())
	names := experiments.ScoreNames(scores)
	w := csv.NewWriter(stdout)
	w.Write(append([]string{"path", "half"}, append(names, "skipped")...))
	for _, f := range scores {
		row := []string{f.Path, strconv.Itoa(f.Half)}
		for _, n := range names {
			v, ok := f.Scores[n]
			if !ok {
				row = append(row, "")
				continue
			}
			row = append(row, strconv.FormatFloat(v, 'g', -1, 64))
		}
		w.Write(append(row, f.Skipped))
		if f.Heatmap == nil || *out == "" {
			continue
		}
		// Name heatmaps after the file and its two parent folders, since
		// MURA names every study's images image1.png, image2.png, ...
		parts := strings.Split(filepath.ToSlash(filepath.Clean(f.Path)), "/")
		name := strings.TrimSuffix(strings.Join(parts[max(0, len(parts)-3):], "_"), filepath.Ext(f.Path))
		if f.Half > 0 {
			name += fmt.Sprintf("-hand%d", f.Half)
		}
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		b, err := plots.EncodePNG(f.Heatmap)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(*out, name+"-heatmap.png"), b, 0o644); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}
