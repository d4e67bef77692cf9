// xraylab submit: queue a spec on a running server over REST.

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"

	"xraylab/experiments"
	"xraylab/server"
	"xraylab/server/client"
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
	u, err := client.ParseBaseURL(*serverURL)
	if err != nil {
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
	c, err := client.New(*serverURL, client.Options{Token: token})
	if err != nil {
		return err
	}
	queued, err := c.Submit(context.Background(), text, *only)
	var apiErr *experiments.Error
	var netErr *url.Error
	switch {
	case errors.As(err, &apiErr):
		// The problems go one a line; the error names the file (and, as a
		// plain error, is not printed as an invalid spec again by run).
		for _, p := range experiments.SpecProblems(err) {
			fmt.Fprintf(stderr, "  %s\n", p)
		}
		return fmt.Errorf("%s: %s", fs.Arg(0), apiErr.Message)
	case errors.As(err, &netErr):
		return fmt.Errorf("submit to %s: %w", *serverURL, err)
	case err != nil:
		return err
	}
	for _, e := range queued {
		fmt.Fprintf(stdout, "queued experiment %q (id %d) with %d runs: %s\n", e.Name, e.ID, len(e.RunIDs),
			u.JoinPath("api", "experiments", strconv.FormatInt(e.ID, 10)))
	}
	return nil
}
