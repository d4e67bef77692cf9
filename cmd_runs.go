// xraylab runs: find, curate and control runs on a running server over
// REST (server/client): list with a search filter, show, tag, archive,
// purge; retry, cancel, priority, move to top, pause and resume, the
// queue in order.

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"xraylab/experiments"
	"xraylab/server"
	"xraylab/server/client"
)

const runsUsage = `usage:
  xraylab runs queue                    queued runs in lease order (and whether the queue is paused)
  xraylab runs retry RUN...             queue failed or cancelled runs again
  xraylab runs cancel RUN...            cancel queued or running runs
  xraylab runs cancel --experiment ID   cancel every queued run of an experiment
  xraylab runs priority RUN N|none      set a queued run's priority (none: follow its experiment's)
  xraylab runs priority --experiment ID N
  xraylab runs top RUN                  move a queued run to the top of the queue
  xraylab runs pause | resume           stop or restart leasing (running runs finish)
  xraylab runs list [--filter EXPR] [--order-by KEY] [--experiment ID] [--archived false|true|only]
                    [--metrics KEY,...] [--limit 50] [--json]
                                        runs across experiments (filter language: see README, Searching runs)
  xraylab runs show RUN [--json]        one run: settings, state, metrics, tags
  xraylab runs tag RUN|--experiment ID KEY=VALUE... [--delete KEY]...
  xraylab runs archive RUN...|--experiment ID [--restore]
  xraylab runs purge RUN...|--experiment ID --yes
                                        delete runs (or an experiment) with their files, for good
flags (after the subcommand): --server http://127.0.0.1:8080 --token-file var/token (XRAYLAB_TOKEN overrides it;
reads go without a token when the file is missing) --json (machine-readable answers)`

func cmdRuns(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, runsUsage)
		return errUsage
	}
	sub := args[0]
	fs := flag.NewFlagSet("runs "+sub, flag.ContinueOnError)
	serverURL := fs.String("server", "http://127.0.0.1:8080", "xraylab server URL")
	tokenFile := fs.String("token-file", filepath.Join("var", "token"), "the server's access token file (XRAYLAB_TOKEN overrides it)")
	expID := fs.Int64("experiment", 0, "with list: its runs only; with cancel, priority, tag, archive or purge: the experiment instead of runs")
	asJSON := fs.Bool("json", false, "print JSON")
	filter := fs.String("filter", "", "with list: a search expression")
	orderBy := fs.String("order-by", "", "with list: KEY [ASC|DESC]")
	archived := fs.String("archived", "false", "with list: false, true (include archived) or only")
	metrics := fs.String("metrics", "", "with list: final metric keys to show as columns, comma-separated")
	limit := fs.Int("limit", 50, "with list: at most this many runs (0 = all)")
	restore := fs.Bool("restore", false, "with archive: restore instead")
	yes := fs.Bool("yes", false, "with purge: confirm")
	var deletes multiFlag
	fs.Var(&deletes, "delete", "with tag: a tag key to remove (repeatable)")
	if err := parse(fs, args[1:], stderr); err != nil {
		return err
	}
	readOnly := sub == "list" || sub == "show" || sub == "queue"
	c, err := newAPIClient(*serverURL, *tokenFile, readOnly)
	if err != nil {
		return err
	}
	ctx := context.Background()
	pos := fs.Args()
	usage := func() error {
		fmt.Fprintln(stderr, runsUsage)
		return errUsage
	}
	switch sub {
	case "queue":
		if len(pos) != 0 {
			return usage()
		}
		return printQueue(ctx, c, stdout, *asJSON)
	case "pause", "resume":
		if len(pos) != 0 {
			return usage()
		}
		if err := c.SetQueuePaused(ctx, sub == "pause"); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, map[string]bool{"paused": sub == "pause"})
		}
		fmt.Fprintf(stdout, "queue %sd\n", sub)
		return nil
	case "list":
		if len(pos) != 0 {
			return usage()
		}
		mode, err := archivedFlag(*archived)
		if err != nil {
			return err
		}
		if *limit < 0 {
			return fmt.Errorf("--limit must be 0 (all) or more, got %d", *limit)
		}
		return listRuns(ctx, c, stdout, experiments.RunFilter{ExperimentID: *expID, Filter: *filter, OrderBy: *orderBy, Archived: mode},
			*limit, splitList(*metrics), *asJSON)
	case "show":
		if len(pos) != 1 {
			return usage()
		}
		id, err := runID(pos[0])
		if err != nil {
			return err
		}
		r, err := c.Run(ctx, id)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, r)
		}
		printRun(stdout, r)
		return nil
	case "tag":
		return tagCommand(ctx, c, stdout, *expID, pos, deletes, *asJSON, usage)
	case "archive":
		return archiveCommand(ctx, c, stdout, *expID, pos, !*restore, *asJSON, usage)
	case "purge":
		if !*yes {
			return errors.New("purge deletes runs, their records and their files for good: add --yes to confirm")
		}
		return purgeCommand(ctx, c, stdout, *expID, pos, *asJSON, usage)
	case "cancel":
		if *expID != 0 {
			if len(pos) != 0 {
				return usage()
			}
			ids, err := c.CancelQueuedOf(ctx, *expID)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(stdout, map[string]any{"experiment_id": *expID, "cancelled": ids})
			}
			fmt.Fprintf(stdout, "cancelled %d queued run(s) of experiment %d\n", len(ids), *expID)
			return nil
		}
		return eachRun(ctx, c, pos, "cancel", stdout, *asJSON, usage)
	case "retry", "top":
		return eachRun(ctx, c, pos, sub, stdout, *asJSON, usage)
	case "priority":
		var what string
		var priority int
		var clear bool
		var value string
		switch {
		case *expID != 0 && len(pos) == 1:
			what, value = fmt.Sprintf("experiment %d", *expID), pos[0]
		case *expID == 0 && len(pos) == 2:
			id, err := runID(pos[0])
			if err != nil {
				return err
			}
			what, value = fmt.Sprintf("run %d", id), pos[1]
		default:
			return usage()
		}
		if value == "none" && *expID == 0 {
			clear = true // the run follows its experiment again
		} else {
			n, err := strconv.Atoi(value)
			if err != nil {
				return fmt.Errorf("priority must be an integer from %d to %d (or none for a run), got %q", experiments.MinPriority, experiments.MaxPriority, value)
			}
			priority = n
		}
		var got int
		var answer any
		if *expID != 0 {
			e, err := c.SetExperimentPriority(ctx, *expID, priority)
			if err != nil {
				return err
			}
			got, answer = e.Priority, e
		} else {
			id, _ := runID(pos[0])
			var p *int
			if !clear {
				p = &priority
			}
			r, err := c.SetRunPriority(ctx, id, p)
			if err != nil {
				return err
			}
			got, answer = r.Priority, r
		}
		if *asJSON {
			return printJSON(stdout, answer)
		}
		fmt.Fprintf(stdout, "%s: priority %d\n", what, got)
		return nil
	}
	fmt.Fprintf(stderr, "xraylab runs: unknown subcommand %q\n%s\n", sub, runsUsage)
	return errUsage
}

func runID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, fmt.Errorf("run id must be a positive integer, got %q", s)
	}
	return id, nil
}

// eachRun posts /api/runs/ID/action for every id and prints each run's
// new state; it stops at the first error.
func eachRun(ctx context.Context, c *client.Client, ids []string, action string, stdout io.Writer, asJSON bool, usage func() error) error {
	if len(ids) == 0 {
		return usage()
	}
	var out []*experiments.Run
	for _, s := range ids {
		id, err := runID(s)
		if err != nil {
			return err
		}
		r, err := c.RunAction(ctx, id, action)
		if err != nil {
			return err
		}
		if asJSON {
			out = append(out, r)
			continue
		}
		fmt.Fprintf(stdout, "run %d: %s (attempts %d, priority %d)\n", r.ID, r.State, r.Attempts, r.Priority)
	}
	if asJSON {
		return printJSON(stdout, out)
	}
	return nil
}

func printQueue(ctx context.Context, c *client.Client, stdout io.Writer, asJSON bool) error {
	paused, items, total, err := c.Queue(ctx, server.MaxPageLimit, 0)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(stdout, map[string]any{"paused": paused, "items": items, "total": total})
	}
	state := "running"
	if paused {
		state = "paused"
	}
	fmt.Fprintf(stdout, "queue %s, %d run(s) queued\n", state, total)
	for i, r := range items {
		fmt.Fprintf(stdout, "%4d. run %d (experiment %d, %s, seed %d) priority %d\n", i+1, r.ID, r.ExperimentID, r.Model, r.Seed, r.Priority)
	}
	if len(items) < total {
		fmt.Fprintf(stdout, "... and %d more\n", total-len(items))
	}
	return nil
}

// listRuns pages through the runs f selects, up to limit (0 = all).
func listRuns(ctx context.Context, c *client.Client, stdout io.Writer, f experiments.RunFilter, limit int, metrics []string, asJSON bool) error {
	var runs []*experiments.Run
	total := 0
	for {
		f.Limit = server.MaxPageLimit
		if limit > 0 {
			f.Limit = min(f.Limit, limit-len(runs))
		}
		f.Offset = len(runs)
		page, n, err := c.Runs(ctx, f)
		if err != nil {
			return err
		}
		runs, total = append(runs, page...), n
		if len(page) == 0 || len(runs) >= total || (limit > 0 && len(runs) >= limit) {
			break
		}
	}
	if asJSON {
		if runs == nil {
			runs = []*experiments.Run{}
		}
		return printJSON(stdout, map[string]any{"items": runs, "total": total})
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	head := []string{"RUN", "EXPERIMENT", "MODEL", "STATE", "SEED"}
	head = append(head, metrics...)
	head = append(head, "TAGS")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range runs {
		row := []string{strconv.FormatInt(r.ID, 10), strconv.FormatInt(r.ExperimentID, 10), r.Model, string(r.State), strconv.FormatInt(r.Seed, 10)}
		if r.Archived != nil {
			row[3] += " (archived)"
		}
		for _, k := range metrics {
			v, ok := r.Metrics[k]
			if !ok {
				row = append(row, "-")
				continue
			}
			row = append(row, strconv.FormatFloat(v, 'f', 4, 64))
		}
		row = append(row, tagList(r.Tags))
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d of %d run(s)\n", len(runs), total)
	return nil
}

func tagList(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + tags[k]
	}
	if len(keys) == 0 {
		return "-"
	}
	return strings.Join(keys, ",")
}

func printRun(w io.Writer, r *experiments.Run) {
	fmt.Fprintf(w, "run %d (experiment %d, index %d): %s %s, seed %d\n", r.ID, r.ExperimentID, r.Index, r.Model, r.State, r.Seed)
	if r.Archived != nil {
		fmt.Fprintf(w, "archived %s\n", r.Archived.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "created %s, attempts %d, priority %d\n", r.Created.Format(time.RFC3339), r.Attempts, r.Priority)
	if r.Error != "" {
		fmt.Fprintf(w, "error: %s\n", r.Error)
	}
	fmt.Fprintf(w, "tags: %s\n", tagList(r.Tags))
	keys := make([]string, 0, len(r.Metrics))
	for k := range r.Metrics {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %s = %.6g\n", k, r.Metrics[k])
	}
	fmt.Fprintf(w, "params: %s\n", r.Params)
}

// tagCommand sets KEY=VALUE tags and removes --delete keys of a run (or,
// with --experiment, of an experiment) and prints the tags it ends with.
func tagCommand(ctx context.Context, c *client.Client, stdout io.Writer, expID int64, pos []string, deletes []string, asJSON bool, usage func() error) error {
	var id int64
	args := pos
	if expID == 0 {
		if len(pos) == 0 {
			return usage()
		}
		var err error
		if id, err = runID(pos[0]); err != nil {
			return err
		}
		args = pos[1:]
	}
	set := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return fmt.Errorf("tag %q: write KEY=VALUE", a)
		}
		set[k] = v
	}
	if len(set) == 0 && len(deletes) == 0 {
		return usage()
	}
	var tags map[string]string
	var answer any
	do := func(setFn func() error, delFn func(string) error) error {
		if len(set) > 0 {
			if err := setFn(); err != nil {
				return err
			}
		}
		for _, k := range deletes {
			if err := delFn(k); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	what := fmt.Sprintf("run %d", id)
	if expID != 0 {
		what = fmt.Sprintf("experiment %d", expID)
		var e *experiments.Experiment
		err = do(func() (err error) { e, err = c.SetExperimentTags(ctx, expID, set); return },
			func(k string) (err error) { e, err = c.DeleteExperimentTag(ctx, expID, k); return })
		if e != nil {
			tags, answer = e.Tags, e
		}
	} else {
		var r *experiments.Run
		err = do(func() (err error) { r, err = c.SetRunTags(ctx, id, set); return },
			func(k string) (err error) { r, err = c.DeleteRunTag(ctx, id, k); return })
		if r != nil {
			tags, answer = r.Tags, r
		}
	}
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(stdout, answer)
	}
	fmt.Fprintf(stdout, "%s: tags %s\n", what, tagList(tags))
	return nil
}

func archiveCommand(ctx context.Context, c *client.Client, stdout io.Writer, expID int64, pos []string, archive, asJSON bool, usage func() error) error {
	verb := "archived"
	if !archive {
		verb = "restored"
	}
	if expID != 0 {
		if len(pos) != 0 {
			return usage()
		}
		e, err := c.ArchiveExperiment(ctx, expID, archive)
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(stdout, e)
		}
		fmt.Fprintf(stdout, "experiment %d (%s): %s\n", e.ID, e.Name, verb)
		return nil
	}
	if len(pos) == 0 {
		return usage()
	}
	var out []*experiments.Run
	for _, s := range pos {
		id, err := runID(s)
		if err != nil {
			return err
		}
		r, err := c.ArchiveRun(ctx, id, archive)
		if err != nil {
			return err
		}
		out = append(out, r)
		if !asJSON {
			fmt.Fprintf(stdout, "run %d: %s\n", r.ID, verb)
		}
	}
	if asJSON {
		return printJSON(stdout, out)
	}
	return nil
}

func purgeCommand(ctx context.Context, c *client.Client, stdout io.Writer, expID int64, pos []string, asJSON bool, usage func() error) error {
	if expID != 0 {
		if len(pos) != 0 {
			return usage()
		}
		p, err := c.PurgeExperiment(ctx, expID)
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(stdout, p)
		}
		fmt.Fprintf(stdout, "experiment %d purged with %d run(s)\n", expID, len(p.Runs))
		return nil
	}
	if len(pos) == 0 {
		return usage()
	}
	all := experiments.Purged{Runs: []int64{}}
	for _, s := range pos {
		id, err := runID(s)
		if err != nil {
			return err
		}
		if _, err := c.PurgeRun(ctx, id); err != nil {
			return err
		}
		all.Runs = append(all.Runs, id)
		if !asJSON {
			fmt.Fprintf(stdout, "run %d: purged\n", id)
		}
	}
	if asJSON {
		return printJSON(stdout, all)
	}
	return nil
}

func archivedFlag(v string) (experiments.ArchivedMode, error) {
	switch v {
	case "false", "":
		return experiments.ArchivedHidden, nil
	case "true":
		return experiments.ArchivedIncluded, nil
	case "only":
		return experiments.ArchivedOnly, nil
	}
	return 0, fmt.Errorf("--archived must be false, true or only, got %q", v)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// newAPIClient builds the REST client of --server with the token of
// XRAYLAB_TOKEN or the token file; for reads (readOnly) a missing token
// file means no token (reads are open on a loopback server).
func newAPIClient(serverURL, tokenFile string, readOnly bool) (*client.Client, error) {
	if _, err := client.ParseBaseURL(serverURL); err != nil {
		return nil, fmt.Errorf("--server %q is not an http(s) URL", serverURL)
	}
	token := os.Getenv("XRAYLAB_TOKEN")
	if token != "" {
		if err := server.CheckToken(token); err != nil {
			return nil, fmt.Errorf("XRAYLAB_TOKEN: %w", err)
		}
	} else {
		var err error
		token, err = server.ReadToken(tokenFile)
		if err != nil {
			if !readOnly || !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%w (start xraylab serve once to create it, or set XRAYLAB_TOKEN)", err)
			}
			token = ""
		}
	}
	return client.New(serverURL, client.Options{Token: token, Timeout: 30 * time.Second})
}
