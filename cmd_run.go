// xraylab run: submit a spec to a local database and train it to the end.

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/report"
)

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
	if paused, err := eng.store.QueuePaused(ctx); err == nil && paused {
		fmt.Fprintf(stdout, "xraylab: the queue of %s is paused: these runs wait until it is resumed (xraylab runs resume, or the dashboard's Queue page)\n", p.db)
	}
	eng.withWorkers(*workers, ids, log)
	runs, err := runToEnd(ctx, eng, ids, stdout)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, "\n"+report.RunsTable(runs))
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
