// xraylab worker: execute one run on a Slurm node for its server.

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"xraylab/experiments/slurm"
	"xraylab/server"
)

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
	return slurm.RunWorker(ctx, slurm.WorkerOptions{Server: *serverURL, RunID: *runID, Token: token,
		VarDir: *varDir, Logger: log})
}
