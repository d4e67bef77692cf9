// xraylab runs: queue control on a running server over REST (retry,
// cancel, priority, move to top, pause and resume, the queue in order).

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"xraylab/experiments"
	"xraylab/server"
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
flags (after the subcommand): --server http://127.0.0.1:8080 --token-file var/token (XRAYLAB_TOKEN overrides it)`

func cmdRuns(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, runsUsage)
		return errUsage
	}
	sub := args[0]
	fs := flag.NewFlagSet("runs "+sub, flag.ContinueOnError)
	serverURL := fs.String("server", "http://127.0.0.1:8080", "xraylab server URL")
	tokenFile := fs.String("token-file", filepath.Join("var", "token"), "the server's access token file (XRAYLAB_TOKEN overrides it)")
	expID := fs.Int64("experiment", 0, "with cancel or priority: the experiment instead of runs")
	if err := parse(fs, args[1:], stderr); err != nil {
		return err
	}
	c, err := newAPIClient(*serverURL, *tokenFile)
	if err != nil {
		return err
	}
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
		return c.printQueue(stdout)
	case "pause", "resume":
		if len(pos) != 0 {
			return usage()
		}
		if err := c.call(http.MethodPost, "/api/queue/"+sub, nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "queue %sd\n", sub)
		return nil
	case "cancel":
		if *expID != 0 {
			if len(pos) != 0 {
				return usage()
			}
			var out struct {
				Cancelled []int64 `json:"cancelled"`
			}
			if err := c.call(http.MethodPost, fmt.Sprintf("/api/experiments/%d/cancel-queued", *expID), nil, &out); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "cancelled %d queued run(s) of experiment %d\n", len(out.Cancelled), *expID)
			return nil
		}
		return c.eachRun(pos, "cancel", stdout, usage)
	case "retry", "top":
		return c.eachRun(pos, sub, stdout, usage)
	case "priority":
		var what, target, value string
		switch {
		case *expID != 0 && len(pos) == 1:
			what, value = fmt.Sprintf("experiment %d", *expID), pos[0]
			target = fmt.Sprintf("/api/experiments/%d/priority", *expID)
		case *expID == 0 && len(pos) == 2:
			id, err := runID(pos[0])
			if err != nil {
				return err
			}
			what, value = fmt.Sprintf("run %d", id), pos[1]
			target = fmt.Sprintf("/api/runs/%d/priority", id)
		default:
			return usage()
		}
		var p any // nil sends null: the run follows its experiment again
		if value != "none" || *expID != 0 {
			n, err := strconv.Atoi(value)
			if err != nil {
				return fmt.Errorf("priority must be an integer from %d to %d (or none for a run), got %q", experiments.MinPriority, experiments.MaxPriority, value)
			}
			p = n
		}
		var out struct {
			Priority int `json:"priority"`
		}
		if err := c.call(http.MethodPost, target, map[string]any{"priority": p}, &out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: priority %d\n", what, out.Priority)
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
func (c *apiClient) eachRun(ids []string, action string, stdout io.Writer, usage func() error) error {
	if len(ids) == 0 {
		return usage()
	}
	for _, s := range ids {
		id, err := runID(s)
		if err != nil {
			return err
		}
		var r experiments.Run
		if err := c.call(http.MethodPost, fmt.Sprintf("/api/runs/%d/%s", id, action), nil, &r); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "run %d: %s (attempts %d, priority %d)\n", r.ID, r.State, r.Attempts, r.Priority)
	}
	return nil
}

func (c *apiClient) printQueue(stdout io.Writer) error {
	var q struct {
		Paused bool               `json:"paused"`
		Items  []*experiments.Run `json:"items"`
		Total  int                `json:"total"`
	}
	if err := c.call(http.MethodGet, "/api/queue?limit="+strconv.Itoa(server.MaxPageLimit), nil, &q); err != nil {
		return err
	}
	state := "running"
	if q.Paused {
		state = "paused"
	}
	fmt.Fprintf(stdout, "queue %s, %d run(s) queued\n", state, q.Total)
	for i, r := range q.Items {
		fmt.Fprintf(stdout, "%4d. run %d (experiment %d, %s, seed %d) priority %d\n", i+1, r.ID, r.ExperimentID, r.Model, r.Seed, r.Priority)
	}
	if len(q.Items) < q.Total {
		fmt.Fprintf(stdout, "... and %d more\n", q.Total-len(q.Items))
	}
	return nil
}

// apiClient is the CLI's plain HTTP link to a server's API; it can give
// way to server/client once that package exists.
type apiClient struct {
	base  *url.URL
	token string
	http  *http.Client
}

func newAPIClient(serverURL, tokenFile string) (*apiClient, error) {
	u, err := url.Parse(serverURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q is not an http(s) URL", serverURL)
	}
	token := os.Getenv("XRAYLAB_TOKEN")
	if token != "" {
		if err := server.CheckToken(token); err != nil {
			return nil, fmt.Errorf("XRAYLAB_TOKEN: %w", err)
		}
	} else if token, err = server.ReadToken(tokenFile); err != nil {
		return nil, fmt.Errorf("%w (start xraylab serve once to create it, or set XRAYLAB_TOKEN)", err)
	}
	return &apiClient{base: u, token: token, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// call sends body (as JSON, when not nil) to path and decodes a 2xx answer
// into out (when not nil); an error answer becomes the server's message.
func (c *apiClient) call(method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	target, err := c.base.Parse(strings.TrimSuffix(c.base.Path, "/") + path)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(method, target.String(), r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, c.base.Redacted(), err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error.Message == "" {
			return fmt.Errorf("server answered %s: %s", resp.Status, strings.TrimSpace(string(data)))
		}
		return errors.New(e.Error.Message)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("unexpected answer from server: %s", data)
	}
	return nil
}
