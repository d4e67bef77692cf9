// Package client is the Go client of xraylab's REST API (package server):
// it submits specs and reads experiments and runs, as `xraylab submit` and
// scripts need, over plumbing (base URL check, bearer token, timeout, a
// cap on answer sizes) that other callers of the API share through Do and
// Open: the Slurm worker's RemoteSink (experiments/slurm) calls the worker
// API with it.
//
// Error answers come back as domain errors: the server's envelope
// {"error": {"code", "message", "details"}} becomes an *experiments.Error
// with that Code and Message, so experiments.IsNotFound and
// experiments.CodeOf work on it, and the problems of an invalid spec are
// its Details as []experiments.Problem, so experiments.SpecProblems
// returns them. Codes the server adds for HTTP-only failures
// ("unauthorized", "too_many_requests", ...) are kept as sent. An answer
// that is not the envelope (a proxy's error page) is a *StatusError; a
// failure to reach the server is the *url.Error of net/http.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"xraylab/experiments"
)

// Defaults for the zero values of Options.
const (
	DefaultTimeout = time.Minute
	// DefaultMaxAnswer bounds an answer's body: a page of 1000 runs with
	// their metrics fits many times over.
	DefaultMaxAnswer = 16 << 20
)

// Options configure a Client.
type Options struct {
	// Token is sent as "Authorization: Bearer <token>" ("" = no header).
	Token string
	// Timeout bounds each request, answer included (0 = DefaultTimeout);
	// unused when HTTPClient is set.
	Timeout time.Duration
	// HTTPClient sends the requests (nil = a client with Timeout).
	HTTPClient *http.Client
	// MaxAnswer is the largest answer body read, in bytes (0 =
	// DefaultMaxAnswer); a larger one is an error.
	MaxAnswer int64
}

// Client calls one server's API. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	token     string
	http      *http.Client
	maxAnswer int64
}

// ParseBaseURL checks that raw is an http(s) URL with a host: the base
// the API's paths (/api/...) are joined to.
func ParseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http(s)://host:port", raw)
	}
	return u, nil
}

// New returns a client of the server at baseURL (e.g.
// "http://127.0.0.1:8080").
func New(baseURL string, opts Options) (*Client, error) {
	u, err := ParseBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	if opts.HTTPClient == nil {
		if opts.Timeout <= 0 {
			opts.Timeout = DefaultTimeout
		}
		opts.HTTPClient = &http.Client{Timeout: opts.Timeout}
	}
	if opts.MaxAnswer <= 0 {
		opts.MaxAnswer = DefaultMaxAnswer
	}
	return &Client{base: u, token: opts.Token, http: opts.HTTPClient, maxAnswer: opts.MaxAnswer}, nil
}

// URL returns the server's URL of path (e.g. "api/experiments/1").
func (c *Client) URL(path string) *url.URL {
	u := c.base.JoinPath(path)
	if !strings.HasPrefix(u.Path, "/") {
		u.Path = "/" + u.Path // a base without a path
	}
	return u
}

// Request is one call of the API.
type Request struct {
	Method string
	Path   string // below the base URL, e.g. "api/runs/7"
	Query  url.Values
	// ContentType and Body are the request body (nil Body = none).
	ContentType string
	Body        []byte
	// Want is the status of success (0 = 200); any other is an error.
	Want int
}

// StatusError is an error answer without the API's error envelope, e.g.
// a proxy's page.
type StatusError struct {
	StatusCode int
	Status     string // "502 Bad Gateway"
	Body       string // trimmed
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("server answered %s: %s", e.Status, e.Body)
}

// Do sends req with the client's token and, on success, decodes the JSON
// answer into out (nil = discard it). Errors are as the package doc says.
func (c *Client) Do(ctx context.Context, req Request, out any) error {
	resp, u, err := c.send(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := c.read(resp, req, u)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("unexpected answer from server: %s", raw)
	}
	return nil
}

// Open sends req as Do does and, on success, returns the answer's body
// unread, for the caller to stream and close: a download, which Do's cap
// on answer sizes would refuse. Errors are as Do's.
func (c *Client) Open(ctx context.Context, req Request) (io.ReadCloser, error) {
	resp, _, err := c.send(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// send sends req; an answer other than req.Want is read, closed and
// returned as its error.
func (c *Client) send(ctx context.Context, req Request) (*http.Response, *url.URL, error) {
	u := c.URL(req.Path)
	u.RawQuery = req.Query.Encode()
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, u.String(), body)
	if err != nil {
		return nil, nil, err
	}
	if req.ContentType != "" {
		hr.Header.Set("Content-Type", req.ContentType)
	}
	if c.token != "" {
		hr.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, nil, err
	}
	want := req.Want
	if want == 0 {
		want = http.StatusOK
	}
	if resp.StatusCode != want {
		defer resp.Body.Close()
		raw, err := c.read(resp, req, u)
		if err != nil {
			return nil, nil, err
		}
		return nil, nil, decodeError(resp, raw)
	}
	return resp, u, nil
}

// read reads an answer's body, refusing one above the cap.
func (c *Client) read(resp *http.Response, req Request, u *url.URL) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.maxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("read the answer to %s %s: %w", req.Method, u.Path, err)
	}
	if int64(len(raw)) > c.maxAnswer {
		return nil, fmt.Errorf("the answer to %s %s is larger than %d bytes", req.Method, u.Path, c.maxAnswer)
	}
	return raw, nil
}

// decodeError turns an error answer back into the error the server meant.
func decodeError(resp *http.Response, raw []byte) error {
	var env struct {
		Error struct {
			Code    string          `json:"code"`
			Message string          `json:"message"`
			Details json.RawMessage `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &env) != nil || env.Error.Message == "" {
		return &StatusError{StatusCode: resp.StatusCode, Status: resp.Status, Body: strings.TrimSpace(string(raw))}
	}
	e := &experiments.Error{Code: experiments.Code(env.Error.Code), Message: env.Error.Message}
	if len(env.Error.Details) > 0 {
		e.Details = env.Error.Details
		if ps := specProblems(env.Error.Details); ps != nil {
			e.Details = ps
		}
	}
	return e
}

// specProblems decodes details that list a spec's problems, or returns
// nil for details of another shape (a rejected parameter, say).
func specProblems(details json.RawMessage) []experiments.Problem {
	dec := json.NewDecoder(bytes.NewReader(details))
	dec.DisallowUnknownFields()
	var ps []experiments.Problem
	if dec.Decode(&ps) != nil || len(ps) == 0 {
		return nil
	}
	for _, p := range ps {
		if p.Path == "" || p.Message == "" {
			return nil
		}
	}
	return ps
}

// Submit queues a spec (its YAML text); experiment picks one experiment of
// a multi-experiment file ("" = all).
func (c *Client) Submit(ctx context.Context, spec []byte, experiment string) ([]experiments.Submitted, error) {
	var q url.Values
	if experiment != "" {
		q = url.Values{"experiment": {experiment}}
	}
	var out struct {
		Experiments []experiments.Submitted `json:"experiments"`
	}
	err := c.Do(ctx, Request{Method: http.MethodPost, Path: "api/experiments", Query: q,
		ContentType: "application/yaml", Body: spec, Want: http.StatusCreated}, &out)
	return out.Experiments, err
}

// Experiment reads one experiment with its spec text and run counts.
func (c *Client) Experiment(ctx context.Context, id int64) (*experiments.Experiment, error) {
	var e experiments.Experiment
	if err := c.Do(ctx, Request{Method: http.MethodGet, Path: "api/experiments/" + strconv.FormatInt(id, 10)}, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// Experiments lists experiments newest first (search: a substring of the
// name, "" = all; limit 0 = the server's default) and the total matching.
func (c *Client) Experiments(ctx context.Context, search string, limit, offset int) ([]*experiments.Experiment, int, error) {
	return c.ExperimentsWhere(ctx, experiments.ExperimentFilter{Search: search, Limit: limit, Offset: offset})
}

// Run reads one run.
func (c *Client) Run(ctx context.Context, id int64) (*experiments.Run, error) {
	var r experiments.Run
	if err := c.Do(ctx, Request{Method: http.MethodGet, Path: "api/runs/" + strconv.FormatInt(id, 10)}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Runs lists the runs f selects (its search filter and order included;
// f.Limit 0 = the server's default) and the total matching.
func (c *Client) Runs(ctx context.Context, f experiments.RunFilter) ([]*experiments.Run, int, error) {
	q := url.Values{}
	if f.ExperimentID != 0 {
		q.Set("experiment", strconv.FormatInt(f.ExperimentID, 10))
	}
	if f.State != "" {
		q.Set("state", string(f.State))
	}
	if f.Model != "" {
		q.Set("model", f.Model)
	}
	if f.Filter != "" {
		q.Set("filter", f.Filter)
	}
	if f.OrderBy != "" {
		q.Set("order_by", f.OrderBy)
	}
	if a := archivedValue(f.Archived); a != "" {
		q.Set("archived", a)
	}
	page(q, f.Limit, f.Offset)
	var out pageOf[*experiments.Run]
	err := c.Do(ctx, Request{Method: http.MethodGet, Path: "api/runs", Query: q}, &out)
	return out.Items, out.Total, err
}

// pageOf is the envelope of the server's paginated lists.
type pageOf[T any] struct {
	Items []T `json:"items"`
	Total int `json:"total"`
}

func page(q url.Values, limit, offset int) {
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if offset != 0 {
		q.Set("offset", strconv.Itoa(offset))
	}
}
