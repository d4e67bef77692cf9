// xraylab submit: queue a spec on a running server over REST.

package main

import (
	"bytes"
	"encoding/json"
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
