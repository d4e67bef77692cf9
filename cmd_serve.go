// xraylab serve: the server, its worker pool and the Slurm backend flags.

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/local"
	"xraylab/experiments/report"
	"xraylab/experiments/slurm"
	"xraylab/frontend"
	"xraylab/server"
)

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
	var allowedHosts []string
	fs.Func("allowed-host", "a Host name besides localhost, 127.0.0.1 and [::1] under which token-less reads are answered while they are open on a loopback --addr (repeatable)", func(v string) error {
		if err := server.CheckAllowedHost(v); err != nil {
			return err
		}
		allowedHosts = append(allowedHosts, v)
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
	for _, w := range serveWarnings(*addr, dataRoots, allowedHosts, *publicRead) {
		fmt.Fprintln(stderr, "xraylab: warning: "+w)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	p := paths(*varDir)
	eng, err := newEngine(p, log, dataRoots...)
	if err != nil {
		return err
	}
	defer eng.store.Close()
	metrics := server.NewMetrics(eng.store)
	eng.hub.Observe(metrics.ObserveEvent)
	eng.onStep = metrics.ObserveStep
	slurm, err := sf.executor(eng, *addr, dataRoots, log)
	if err != nil {
		return err
	}
	var workerAPI server.WorkerService
	if slurm != nil {
		eng.exec, workerAPI = slurm, slurm
	}
	eng.withWorkers(*workers, nil, log)
	eng.manager.SetDataRoots(dataRoots)
	eng.manager.SetLocalData(slurm == nil)
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
	readGuard, writeGuard := server.BearerGuard(token, server.GuardOptions{Addr: *addr, PublicRead: *publicRead, AllowedHosts: allowedHosts})
	srv, err := server.New(server.Config{Store: eng.store, Service: eng.manager, ArtifactsDir: p.artifacts,
		Reports: report.NewReports(eng.store, p.artifacts), Notes: eng.store,
		Heatmaps: local.Heatmaps{},
		Frontend: frontend.Files(), Workers: workerAPI, ReadGuard: readGuard, WriteGuard: writeGuard,
		Queue: eng.manager, Metrics: metrics,
		// Readers without the token see paths relative to these folders.
		Redactor: server.NewRedactor(append(append([]string(nil), dataRoots...), *varDir)...),
		Version:  experiments.BinaryVersion(), Logger: log})
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

// serveWarnings are what serve says at start-up about risky settings.
func serveWarnings(addr string, dataRoots, allowedHosts []string, publicRead bool) []string {
	var out []string
	loopback := server.IsLoopbackAddr(addr)
	if !loopback && len(dataRoots) == 0 {
		out = append(out, fmt.Sprintf("listening on %s, not a loopback address, without --data-root: "+
			"anyone with the token can name any folder this process can read as a MURA dataset; give --data-root DIR to confine them", addr))
	}
	if len(allowedHosts) > 0 && !loopback {
		out = append(out, fmt.Sprintf("--allowed-host has no effect: it widens token-less reads on a loopback --addr, and %s is not one", addr))
	}
	return out
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
func (f *slurmFlags) executor(eng *engine, addr string, dataRoots []string, log *slog.Logger) (*slurm.Executor, error) {
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
	return slurm.NewExecutor(eng.store, eng.store, eng.hub, slurm.Options{
		Resources: f.res, ServerURL: serverURL, Binary: *f.binary, NodeVar: *f.nodeVar, LogDir: *f.logDir,
		Retries: *f.retries, DataRoots: dataRoots, Logger: log,
	})
}
