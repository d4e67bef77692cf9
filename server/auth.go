package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Access control: one shared bearer token, created by `xraylab serve` on
// first start and kept in a file only its owner can read. Writes always
// need it; reads need it only when the server is reachable from other
// machines (see GuardOptions).

// Token sizes: a generated token is 32 random bytes in hex; a token read
// from a file or the environment must at least be that strong and fit in a
// header.
const (
	tokenBytes     = 32
	minTokenLength = 32
	maxTokenLength = 1024
)

// Defaults for the zero values of GuardOptions.
const (
	// DefaultMaxFailures is how many wrong tokens one client IP may send
	// per minute before its wrong tokens get 429 until its allowance
	// refills; the right token always passes.
	DefaultMaxFailures = 10
	// DefaultMaxConcurrentSubmissions is how many mutating requests one
	// client may have in flight at once.
	DefaultMaxConcurrentSubmissions = 4
)

// unauthorizedMessage is the one answer to a missing, malformed or wrong
// token, so that a caller learns nothing about which it was.
const unauthorizedMessage = "missing or invalid bearer token"

// eventsPath is the one route that accepts ?token=: browsers' EventSource
// cannot send an Authorization header.
const eventsPath = "/api/events"

// GuardOptions configure BearerGuard.
type GuardOptions struct {
	// Addr is the address the server listens on ("127.0.0.1:8080"). Reads
	// are open without the token when its host is a loopback address
	// (127.0.0.0/8, ::1 or "localhost"); "" or "0.0.0.0" are not.
	Addr string
	// PublicRead opens reads without the token whatever Addr is.
	PublicRead bool
	// PrivateRead makes reads need the token even on a loopback address.
	PrivateRead bool
	// MaxFailures is how many wrong tokens a client IP may send per minute
	// (a token bucket holding that many, refilled at that rate); beyond it
	// wrong tokens get 429 while the right one still passes
	// (0 = DefaultMaxFailures).
	MaxFailures int
	// MaxConcurrentSubmissions caps the mutating requests (submissions,
	// cancellations, notes) one client IP may have in flight; beyond it
	// they get 429 (0 = DefaultMaxConcurrentSubmissions, negative = none).
	MaxConcurrentSubmissions int
	// AllowedHosts are the Host names (without port) that token-less reads
	// are answered under besides the loopback ones, while reads are open
	// on a loopback address; see CheckAllowedHost.
	AllowedHosts []string
	// Now is the clock of the failure limiter (nil = time.Now).
	Now func() time.Time
}

// BearerGuard returns Config.ReadGuard and Config.WriteGuard for token.
// Writes need "Authorization: Bearer <token>"; reads need it unless
// opts say they are open. Open reads that carry a token must carry the
// right one; without one, on a loopback address, they are answered only
// under loopback Host names and opts.AllowedHosts (421 otherwise).
// GET /api/events also accepts ?token=. Tokens are compared in constant
// time; failures are 401 {"code":"unauthorized"} with one fixed message,
// and a client IP that keeps failing gets 429 with Retry-After for its
// wrong tokens (never for the right one). An empty token accepts no request.
func BearerGuard(token string, opts GuardOptions) (read, write fiber.Handler) {
	if opts.MaxFailures <= 0 {
		opts.MaxFailures = DefaultMaxFailures
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	g := &bearerGuard{
		want:     sha256.Sum256([]byte(token)),
		empty:    token == "",
		failures: newFailureLimiter(opts.MaxFailures, opts.Now),
	}
	switch n := opts.MaxConcurrentSubmissions; {
	case n == 0:
		g.inflight = NewConcurrencyLimit(DefaultMaxConcurrentSubmissions)
	case n > 0:
		g.inflight = NewConcurrencyLimit(n)
	}
	write = func(c *fiber.Ctx) error {
		if err := g.check(c); err != nil {
			return err
		}
		if g.inflight == nil {
			return c.Next()
		}
		return g.inflight.run(c)
	}
	openReads := opts.PublicRead || (IsLoopbackAddr(opts.Addr) && !opts.PrivateRead)
	if openReads {
		// Open reads on a loopback address are what DNS rebinding needs: a
		// web page whose name the attacker points at 127.0.0.1 reads
		// through the user's browser. Such a page sends its own name as
		// Host and cannot know the token, so token-less reads are answered
		// only under loopback names and the allowed ones.
		hosts := map[string]bool{}
		for _, h := range opts.AllowedHosts {
			hosts[normalHost(h)] = true
		}
		checkHost := IsLoopbackAddr(opts.Addr)
		read = func(c *fiber.Ctx) error {
			if _, present := presentedToken(c); present {
				if err := g.check(c); err != nil {
					return err
				}
				return c.Next()
			}
			if checkHost {
				if err := hostAllowed(c, hosts); err != nil {
					return err
				}
			}
			return c.Next()
		}
		return read, write
	}
	read = func(c *fiber.Ctx) error {
		if err := g.check(c); err != nil {
			return err
		}
		return c.Next()
	}
	return read, write
}

type bearerGuard struct {
	want     [sha256.Size]byte
	empty    bool
	failures *failureLimiter
	inflight *ConcurrencyLimit
}

// check returns nil when the request carries the token, else the 401 or
// 429 to answer.
func (g *bearerGuard) check(c *fiber.Ctx) error {
	got, present := presentedToken(c)
	if !present {
		// Not a guess: no failure is counted, so a dashboard that has not
		// asked for the token yet does not lock itself out.
		return unauthorized(c)
	}
	// Comparing digests keeps the time independent of both the content
	// and the length of what was sent. The right token always passes: the
	// limiter is keyed by IP, and every local client shares 127.0.0.1, so
	// refusing it too would let any local process lock the owner out.
	sum := sha256.Sum256([]byte(got))
	if !g.empty && subtle.ConstantTimeCompare(sum[:], g.want[:]) == 1 {
		c.Locals(authenticatedKey{}, true)
		return nil
	}
	return g.failures.refuse(c, unauthorized)
}

// refuse answers a wrong token: 401, charged to the client's allowance, or
// 429 with Retry-After once the allowance is spent (then nothing is
// charged, so a steady guesser waits no longer than the refill).
func (l *failureLimiter) refuse(c *fiber.Ctx, deny func(*fiber.Ctx) error) error {
	ip := c.IP()
	if wait := l.wait(ip); wait > 0 {
		secs := int(math.Ceil(wait.Seconds()))
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
		return &httpError{Status: fiber.StatusTooManyRequests, Code: codeTooManyRequests,
			Message: fmt.Sprintf("too many failed authentication attempts from this address; retry in %d s", secs)}
	}
	l.fail(ip)
	return deny(c)
}

// authenticatedKey marks, in a request's Locals, that it carried the
// server's token; what such readers see is not redacted (see Redactor).
type authenticatedKey struct{}

// authenticated reports whether a guard admitted c on the server's token.
func authenticated(c *fiber.Ctx) bool {
	ok, _ := c.Locals(authenticatedKey{}).(bool)
	return ok
}

// codeMisdirected is the error code of a token-less read under a Host name
// the server does not answer to.
const codeMisdirected = "misdirected_request"

// hostAllowed returns nil when the request's Host names this machine
// (localhost, a loopback address, any port) or one of allowed, else 421.
func hostAllowed(c *fiber.Ctx, allowed map[string]bool) error {
	raw := string(c.Request().Header.Host())
	h := normalHost(raw)
	if h == "localhost" || allowed[h] {
		return nil
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return nil
	}
	return &httpError{Status: fiber.StatusMisdirectedRequest, Code: codeMisdirected, Message: fmt.Sprintf(
		"host %q is not a name this server answers to without the token: use localhost, 127.0.0.1 or [::1] (any port), "+
			"a name given to xraylab serve with --allowed-host, or send the token", raw)}
}

// normalHost returns a Host header's or --allowed-host's name: without
// port and IPv6 brackets, lower case, without a trailing dot.
func normalHost(h string) string {
	h = strings.TrimSpace(h)
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.Trim(h, "[]"), ".")
	return strings.ToLower(h)
}

// CheckAllowedHost says what is wrong with an --allowed-host value, or nil:
// it must be a bare host name or IP address (no scheme, port or path).
func CheckAllowedHost(v string) error {
	switch {
	case strings.TrimSpace(v) == "":
		return errors.New("empty host name")
	case strings.Contains(v, "://"):
		return fmt.Errorf("%q is a URL; give the host name alone", v)
	case strings.ContainsAny(v, "/?#@ \t"):
		return fmt.Errorf("%q is not a host name (it holds a space, '/', '?', '#' or '@')", v)
	}
	bare := strings.Trim(v, "[]")
	if ip := net.ParseIP(bare); ip != nil {
		return nil
	}
	if strings.Contains(v, ":") || strings.ContainsAny(v, "[]") {
		return fmt.Errorf("%q holds a port or brackets; give the host name alone (any port is accepted)", v)
	}
	for _, label := range strings.Split(strings.TrimSuffix(v, "."), ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("%q is not a host name: empty or over-long label", v)
		}
		for _, r := range label {
			if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return fmt.Errorf("%q is not a host name: %q is not a letter, digit, '-' or '_'", v, r)
			}
		}
	}
	return nil
}

func unauthorized(c *fiber.Ctx) error {
	c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="xraylab"`)
	return &httpError{Status: fiber.StatusUnauthorized, Code: codeUnauthorized, Message: unauthorizedMessage}
}

// presentedToken returns the token a request carries: the Authorization
// header's Bearer credentials, or ?token= on the events stream only (so
// tokens do not end up in the access logs and histories of other URLs).
func presentedToken(c *fiber.Ctx) (string, bool) {
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		scheme, cred, ok := strings.Cut(strings.TrimSpace(h), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", true // a credential of another kind is a wrong one
		}
		return strings.TrimSpace(cred), true
	}
	if c.Method() == fiber.MethodGet && c.Path() == eventsPath {
		if t := c.Query("token"); t != "" {
			return t, true
		}
	}
	return "", false
}

// IsLoopbackAddr reports whether addr (host:port, or a bare host) only
// accepts connections from this machine.
func IsLoopbackAddr(addr string) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// failureLimiter is a token bucket per client IP: each holds up to max
// failures and refills at max per minute. Buckets that are full again are
// forgotten, so memory follows the number of recently failing clients.
type failureLimiter struct {
	mu      sync.Mutex
	max     float64
	now     func() time.Time
	buckets map[string]*bucket
	bound   int // most clients remembered
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxTrackedClients bounds the limiter's memory against many source
// addresses (an IPv6 prefix): at the bound, full buckets are forgotten and
// then arbitrary ones until half the room is free, so the cost of pruning
// spreads over many new clients.
const maxTrackedClients = 1 << 16

func newFailureLimiter(max int, now func() time.Time) *failureLimiter {
	return &failureLimiter{max: float64(max), now: now, buckets: map[string]*bucket{}, bound: maxTrackedClients}
}

// refill brings b up to date and reports whether it is full.
func (l *failureLimiter) refill(b *bucket, now time.Time) bool {
	if el := now.Sub(b.last); el > 0 {
		b.tokens = math.Min(l.max, b.tokens+el.Minutes()*l.max)
		b.last = now
	}
	return b.tokens >= l.max
}

// wait returns how long ip must wait before its next attempt (0 = now).
func (l *failureLimiter) wait(ip string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[ip]
	if !ok {
		return 0
	}
	l.refill(b, l.now())
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) / l.max * float64(time.Minute))
}

// fail charges one failure to ip.
func (l *failureLimiter) fail(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[ip]
	if !ok {
		if len(l.buckets) >= l.bound {
			l.prune(now)
		}
		b = &bucket{tokens: l.max, last: now}
		l.buckets[ip] = b
	}
	l.refill(b, now)
	b.tokens = math.Max(0, b.tokens-1)
}

// prune forgets full buckets, then arbitrary ones down to half the bound.
func (l *failureLimiter) prune(now time.Time) {
	for ip, b := range l.buckets {
		if l.refill(b, now) {
			delete(l.buckets, ip)
		}
	}
	for ip := range l.buckets {
		if len(l.buckets) <= l.bound/2 {
			break
		}
		delete(l.buckets, ip)
	}
}

// tracked returns the number of client IPs the limiter remembers.
func (l *failureLimiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// LoadOrCreateToken returns the token stored at path, creating the file
// (and its folder) with a fresh random token and mode 0600 when it does
// not exist; created reports that. Two processes starting together end up
// with the same token: the file appears atomically, complete, or not at all.
func LoadOrCreateToken(path string) (token string, created bool, err error) {
	token, err = ReadToken(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return token, false, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, fmt.Errorf("token file %s: create folder: %w", path, err)
	}
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", false, fmt.Errorf("token file %s: generate token: %w", path, err)
	}
	token = hex.EncodeToString(raw)
	// os.CreateTemp makes the file 0600; linking it into place fails if
	// another process got there first, and then that one's token wins.
	tmp, err := os.CreateTemp(dir, ".token-*")
	if err != nil {
		return "", false, fmt.Errorf("token file %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(token + "\n")
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return "", false, fmt.Errorf("token file %s: write: %w", path, werr)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			token, err = ReadToken(path)
			return token, false, err
		}
		return "", false, fmt.Errorf("token file %s: %w", path, err)
	}
	return token, true, nil
}

// ReadToken reads the token stored at path. The file must be a regular
// file that group and others cannot access (a token anyone can read
// protects nothing), and hold one token of 32 to 1024 printable
// characters without spaces. A missing file's error wraps fs.ErrNotExist.
func ReadToken(path string) (string, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("token file %s does not exist: %w", path, fs.ErrNotExist)
		}
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("token file %s is not a regular file (%s)", path, fi.Mode().Type())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("token file %s has mode %04o: group and others must not have access (chmod 600 %s)", path, perm, path)
	}
	if fi.Size() > maxTokenLength+2 {
		return "", fmt.Errorf("token file %s is %d bytes: a token is at most %d characters", path, fi.Size(), maxTokenLength)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	token := strings.TrimSpace(string(data))
	if err := CheckToken(token); err != nil {
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	return token, nil
}

// CheckToken says what is wrong with a token given by hand (a file, the
// XRAYLAB_TOKEN variable), or nil.
func CheckToken(token string) error {
	if len(token) < minTokenLength || len(token) > maxTokenLength {
		return fmt.Errorf("token has %d characters; want %d to %d", len(token), minTokenLength, maxTokenLength)
	}
	for i := 0; i < len(token); i++ {
		if b := token[i]; b <= ' ' || b > '~' {
			return fmt.Errorf("token holds a space, control or non-ASCII character at position %d", i+1)
		}
	}
	return nil
}
