// Command xraylab runs, compares and reproduces unsupervised anomaly
// detection experiments on hand radiographs. This file parses flags and
// wires the packages together; the work happens in experiments, registry,
// server, preprocess and nets.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"xraylab/experiments"
	_ "xraylab/nets/models" // registers every model kind
)

const usage = `xraylab: unsupervised anomaly detection experiments on hand X-rays

usage:
  xraylab serve  [--addr 127.0.0.1:8080] [--var var] [--workers 1] [--submit FILE [--experiment NAME]]
                 [--token-file var/token] [--public-read] [--data-root DIR]... [--allowed-host NAME]... [--backend local|slurm ...]
  xraylab expand FILE [--experiment NAME] [--json]
  xraylab run    FILE [--experiment NAME] [--var var] [--workers 1]
  xraylab submit FILE [--experiment NAME] [--server http://127.0.0.1:8080] [--token-file var/token]
  xraylab runs   queue|retry|cancel|priority|top|pause|resume [RUN...] [--server URL] [--token-file var/token]
  xraylab runs   list|show|tag|archive|purge [RUN...] [--filter EXPR] [--json] [--server URL]
  xraylab synth  --out DIR [--patients 200] [--size 512] [--seed 1] [--difficulty medium] [--film]
  xraylab preprocess --data MURA_ROOT [--body-part XR_HAND,...|all] [--variant full] [--he] [--size 128] [--sheet contact.png]
                     [--out DIR] [--truth DIR [--truth-json FILE]]
  xraylab report ID [--format text|json|csv|markdown|latex|png|svg|html] [--out FILE] [--var var]
  xraylab score  --checkpoint FILE [--out DIR] IMAGE...
  xraylab export ID --out DIR [--var var]
  xraylab reproduce BUNDLE [--tolerance 1e-9] [--var DIR] [--workers 1]
  xraylab worker --run ID --server URL --token-file FILE [--var DIR]
  xraylab version | --version

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
	version := func([]string, io.Writer, io.Writer) error {
		fmt.Fprintln(stdout, experiments.BinaryVersion())
		return nil
	}
	cmds := map[string]func([]string, io.Writer, io.Writer) error{
		"serve": cmdServe, "run": cmdRun, "submit": cmdSubmit, "synth": cmdSynth, "report": cmdReport, "preprocess": cmdPreprocess,
		"export": cmdExport, "reproduce": cmdReproduce, "score": cmdScore, "worker": cmdWorker, "runs": cmdRuns,
		"version": version, "--version": version,
		"expand": cmdExpand,
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

func checkWorkers(n int) error {
	if n < 1 || n > 256 {
		return fmt.Errorf("--workers must be between 1 and 256, got %d", n)
	}
	return nil
}
