package server

import (
	"bufio"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"xraylab/experiments"
)

// sseRetryMS tells EventSource clients how soon to reconnect, e.g. after a
// server restart.
const sseRetryMS = 2000

// events streams run events as Server-Sent Events:
//
//	event: state|progress
//	data: <experiments.Event as JSON>
//
// with a ": heartbeat" comment every Config.Heartbeat. ?experiment=ID keeps
// only that experiment's events.
//
// fasthttp runs the stream writer on its own goroutine after this handler
// has returned and gives no signal when the client goes away; the only
// sign is a failed Flush. The heartbeat therefore also bounds how long a
// vanished client keeps its subscription. Nothing from c is used inside
// the writer.
func (s *Server) events(c *fiber.Ctx) error {
	expID, err := idQuery(c, "experiment")
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderConnection, "keep-alive")
	c.Set("X-Accel-Buffering", "no") // keep reverse proxies from buffering

	events, unsubscribe := s.cfg.Service.Subscribe()
	quit, heartbeat, log, red := s.quit, s.cfg.Heartbeat, s.log, s.redactFor(c)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer unsubscribe()
		if _, err := w.WriteString("retry: " + strconv.Itoa(sseRetryMS) + "\n: connected\n\n"); err != nil || w.Flush() != nil {
			return
		}
		tick := time.NewTicker(heartbeat)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case ev, ok := <-events:
				if !ok {
					return
				}
				if expID != 0 && ev.ExperimentID != expID {
					continue
				}
				if err := writeEvent(w, ev, red); err != nil {
					log.Debug("sse client gone", "err", err)
					return
				}
			case <-tick.C:
				if _, err := w.WriteString(": heartbeat\n\n"); err != nil {
					return
				}
				if err := w.Flush(); err != nil {
					log.Debug("sse client gone", "err", err)
					return
				}
			}
		}
	})
	return nil
}

// writeEvent writes one event, its paths rewritten by red (nil = none).
func writeEvent(w *bufio.Writer, ev experiments.Event, red *Redactor) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if red != nil {
		data = red.redact(data)
	}
	typ := ev.Type
	if typ == "" || strings.ContainsAny(typ, "\r\n") {
		typ = "message"
	}
	// JSON has no raw newlines, so one data line carries the whole event.
	w.WriteString("event: ")
	w.WriteString(typ)
	w.WriteString("\ndata: ")
	w.Write(data)
	w.WriteString("\n\n")
	return w.Flush()
}
