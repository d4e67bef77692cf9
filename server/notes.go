package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"xraylab/experiments"
)

// NoteStore keeps notes; *registry.Store implements it. Methods
// return *experiments.Error with CodeNotFound for a missing experiment or
// note, as the registry does.
type NoteStore interface {
	AddNote(ctx context.Context, experimentID int64, body string) (*experiments.Note, error)
	UpdateNote(ctx context.Context, id int64, body string) (*experiments.Note, error)
	DeleteNote(ctx context.Context, id int64) error
	// Notes returns an experiment's notes oldest first.
	Notes(ctx context.Context, experimentID int64) ([]*experiments.Note, error)
}

// noteRequest is the body of POST and PUT.
type noteRequest struct {
	Body *string `json:"body"`
}

// noteRoutes adds the notes endpoints when a NoteStore is configured.
func (s *Server) noteRoutes(api fiber.Router, r, w func(fiber.Handler) []fiber.Handler) {
	if s.cfg.Notes == nil {
		return
	}
	api.Get("/experiments/:id/notes", r(s.listNotes)...)
	api.Post("/experiments/:id/notes", w(s.addNote)...)
	api.Put("/notes/:id", w(s.updateNote)...)
	api.Delete("/notes/:id", w(s.deleteNote)...)
}

func (s *Server) listNotes(c *fiber.Ctx) error {
	id, err := idParam(c, "experiment")
	if err != nil {
		return err
	}
	notes, err := s.cfg.Notes.Notes(c.UserContext(), id)
	if err != nil {
		return err
	}
	if notes == nil {
		notes = []*experiments.Note{}
	}
	return c.JSON(fiber.Map{"experiment_id": id, "items": notes})
}

func (s *Server) addNote(c *fiber.Ctx) error {
	id, err := idParam(c, "experiment")
	if err != nil {
		return err
	}
	body, err := readNoteBody(c)
	if err != nil {
		return err
	}
	n, err := s.cfg.Notes.AddNote(c.UserContext(), id, body)
	if err != nil {
		return err
	}
	c.Location("/api/notes/" + strconv.FormatInt(n.ID, 10))
	return c.Status(fiber.StatusCreated).JSON(n)
}

func (s *Server) updateNote(c *fiber.Ctx) error {
	id, err := idParam(c, "note")
	if err != nil {
		return err
	}
	body, err := readNoteBody(c)
	if err != nil {
		return err
	}
	n, err := s.cfg.Notes.UpdateNote(c.UserContext(), id, body)
	if err != nil {
		return err
	}
	return c.JSON(n)
}

func (s *Server) deleteNote(c *fiber.Ctx) error {
	id, err := idParam(c, "note")
	if err != nil {
		return err
	}
	if err := s.cfg.Notes.DeleteNote(c.UserContext(), id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// readNoteBody decodes {"body": "..."} and checks it here, before the
// store, so clients get the same messages whatever store is behind.
func readNoteBody(c *fiber.Ctx) (string, error) {
	ct := string(c.Request().Header.ContentType())
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != "application/json" {
		return "", &httpError{Status: fiber.StatusUnsupportedMediaType, Code: codeUnsupportedMedia,
			Message: fmt.Sprintf("unsupported Content-Type %q; send application/json {\"body\": \"<markdown>\"}", ct)}
	}
	var req noteRequest
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return "", invalid(nil, "malformed JSON body: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", invalid(nil, "malformed JSON body: data after the object")
	}
	if req.Body == nil {
		return "", invalid(nil, "JSON body: field body is required (the note's Markdown)")
	}
	body := *req.Body // decoded strings are fresh allocations, not Fiber's buffer
	if err := experiments.CheckNoteBody(body); err != nil {
		return "", err
	}
	return body, nil
}
