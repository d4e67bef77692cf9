// xraylab export and reproduce: bundles of an experiment's record.

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"xraylab/experiments"
	"xraylab/experiments/report"
)

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
	b, err := report.Export(context.Background(), store, p.artifacts, id, *out)
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
	b, err := report.LoadBundle(fs.Arg(0))
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
	diffs, ok := report.Compare(b.Runs, runs, *tolerance)
	fmt.Fprint(stdout, "\n"+report.DifferencesTable(diffs))
	if !ok {
		return fmt.Errorf("the reproduction differs from the record beyond %g (see DIFFERS above)", *tolerance)
	}
	fmt.Fprintf(stdout, "\nall %d figures reproduced within %g\n", len(diffs), *tolerance)
	return nil
}
