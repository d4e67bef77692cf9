package experiments

import (
	"sync"
	"time"
)

// Event is published on every run state change and on training progress.
// The server streams events to dashboards over SSE.
type Event struct {
	Type         string    `json:"type"` // "state" or "progress"
	RunID        int64     `json:"run_id"`
	ExperimentID int64     `json:"experiment_id"`
	State        State     `json:"state,omitempty"`
	Message      string    `json:"message,omitempty"`
	Epoch        int       `json:"epoch,omitempty"`
	Epochs       int       `json:"epochs,omitempty"`
	Batch        int       `json:"batch,omitempty"`
	Batches      int       `json:"batches,omitempty"`
	Loss         *float64  `json:"loss,omitempty"`
	ETASeconds   float64   `json:"eta_seconds,omitempty"`
	Time         time.Time `json:"time"`
}

// Hub fans events out to subscribers. A slow subscriber loses events rather
// than stalling training: each has a bounded buffer and sends never block.
type Hub struct {
	mu        sync.Mutex
	subs      map[chan Event]struct{}
	observers []func(Event)
	buffer    int
}

// Observe registers fn to be called with every event, synchronously and
// before subscribers get it, so it never misses one (server metrics count
// runs started and finished this way). fn must be quick and must not
// publish.
func (h *Hub) Observe(fn func(Event)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.observers = append(h.observers, fn)
}

// NewHub returns a hub whose subscribers buffer up to buffer events.
func NewHub(buffer int) *Hub {
	if buffer <= 0 {
		buffer = 64
	}
	return &Hub{subs: map[chan Event]struct{}{}, buffer: buffer}
}

// Subscribe returns a channel of events and a function that ends the
// subscription and closes the channel. Call it exactly once.
func (h *Hub) Subscribe() (<-chan Event, func()) {
	ch := make(chan Event, h.buffer)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs, ch)
			h.mu.Unlock()
			close(ch)
		})
	}
}

// Subscribers returns the number of live subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Publish sends e to every subscriber that has room.
func (h *Hub) Publish(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, fn := range h.observers {
		fn(e)
	}
	for ch := range h.subs {
		select {
		case ch <- e:
		default:
		}
	}
}
