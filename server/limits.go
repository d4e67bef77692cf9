package server

import (
	"fmt"
	"sync"

	"github.com/gofiber/fiber/v2"
)

// Request limits beyond the body limit (Config.BodyLimit, 413) and the
// spec's own limits (experiments: its size, 413; its grid, 400 naming the
// run count): a client may have only a few mutating requests in flight, so
// one script cannot tie up the single database writer for everyone.

// ConcurrencyLimit caps the requests each client IP has in flight through
// it. It is safe for concurrent use.
type ConcurrencyLimit struct {
	max      int
	mu       sync.Mutex
	inflight map[string]int
}

// NewConcurrencyLimit returns a limit of perClient requests in flight per
// client IP (at least 1).
func NewConcurrencyLimit(perClient int) *ConcurrencyLimit {
	return &ConcurrencyLimit{max: max(1, perClient), inflight: map[string]int{}}
}

// Handler is the limit as middleware: a request over it gets 429
// {"code":"too_many_requests"} with Retry-After: 1.
func (l *ConcurrencyLimit) Handler() fiber.Handler { return l.run }

// InFlight returns the number of requests client has in flight.
func (l *ConcurrencyLimit) InFlight(client string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inflight[client]
}

func (l *ConcurrencyLimit) run(c *fiber.Ctx) error {
	// c.IP() is backed by the connection and valid only during the
	// request; the map keeps a copy.
	ip := string([]byte(c.IP()))
	if !l.acquire(ip) {
		c.Set(fiber.HeaderRetryAfter, "1")
		return &httpError{Status: fiber.StatusTooManyRequests, Code: codeTooManyRequests,
			Message: fmt.Sprintf("too many concurrent submissions from this client: at most %d at a time; retry when one has finished", l.max)}
	}
	defer l.release(ip)
	return c.Next()
}

func (l *ConcurrencyLimit) acquire(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inflight[client] >= l.max {
		return false
	}
	l.inflight[client]++
	return true
}

func (l *ConcurrencyLimit) release(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inflight[client]--; l.inflight[client] <= 0 {
		delete(l.inflight, client)
	}
}
