package server

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"xraylab/experiments"
)

// Error codes the server adds to experiments' codes for HTTP-only failures.
const (
	codeUnsupportedMedia = "unsupported_media_type"
	codeMethodNotAllowed = "method_not_allowed"
	codeForbidden        = "forbidden"
	codeUnauthorized     = "unauthorized"
	codeTooManyRequests  = "too_many_requests"
)

// httpError is an error the server itself raises with a status that
// experiments' codes do not cover (415, 405, 403, ...).
type httpError struct {
	Status  int
	Code    string
	Message string
	Details any
}

func (e *httpError) Error() string { return e.Message }

// errorBody is the JSON every error response carries.
type errorBody struct {
	Error errorPayload `json:"error"`
}

type errorPayload struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details,omitempty"`
}

// invalid builds a 400 naming what was wrong.
func invalid(details any, format string, args ...any) error {
	return &experiments.Error{Code: experiments.CodeInvalid, Message: fmt.Sprintf(format, args...), Details: details}
}

func notFound(format string, args ...any) error {
	return experiments.Errorf(experiments.CodeNotFound, format, args...)
}

// statusByCode maps experiments' error codes to HTTP statuses.
var statusByCode = map[experiments.Code]int{
	experiments.CodeInvalid:  fiber.StatusBadRequest,
	experiments.CodeNotFound: fiber.StatusNotFound,
	experiments.CodeConflict: fiber.StatusConflict,
	experiments.CodeTooLarge: fiber.StatusRequestEntityTooLarge,
	experiments.CodeInternal: fiber.StatusInternalServerError,
}

// handleError is the one place errors become responses. Internal errors
// are logged with their cause and answered with a generic message, so that
// nothing about paths, SQL or the machine leaks to clients.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	status, payload := s.describe(c, err)
	if status >= 500 {
		s.log.Error("request failed", "method", c.Method(), "path", c.Path(), "status", status, "err", err)
		payload = errorPayload{Code: string(experiments.CodeInternal), Message: "internal server error"}
	}
	// A failed handler may have set headers for a different body.
	c.Response().Header.Del(fiber.HeaderContentDisposition)
	return c.Status(status).JSON(errorBody{Error: payload})
}

func (s *Server) describe(c *fiber.Ctx, err error) (int, errorPayload) {
	var he *httpError
	if errors.As(err, &he) {
		return he.Status, errorPayload{Code: he.Code, Message: he.Message, Details: he.Details}
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		if fe.Code == fiber.StatusMethodNotAllowed && !s.workerAPI && strings.HasPrefix(c.Path(), "/api/worker/") {
			// Only the dashboard's catch-all GET matched: without a cluster
			// backend there is no worker API, so the path is unknown.
			fe = fiber.ErrNotFound
		}
		return describeFiber(c, fe)
	}
	var ee *experiments.Error
	if errors.As(err, &ee) {
		status, ok := statusByCode[ee.Code]
		if !ok {
			status = fiber.StatusInternalServerError
		}
		// The coded error's own message is written for the caller; its
		// cause (ee.Err) and any wrapping context are for the log.
		msg := ee.Message
		if msg == "" {
			msg = ee.Error()
		}
		return status, errorPayload{Code: string(ee.Code), Message: msg, Details: ee.Details}
	}
	return fiber.StatusInternalServerError, errorPayload{}
}

// describeFiber rewrites Fiber's and fasthttp's own errors (unknown route,
// body too large, bad request line) into the API's vocabulary.
func describeFiber(c *fiber.Ctx, fe *fiber.Error) (int, errorPayload) {
	switch fe.Code {
	case fiber.StatusNotFound:
		return fe.Code, errorPayload{Code: string(experiments.CodeNotFound),
			Message: fmt.Sprintf("no route for %s %s", c.Method(), c.Path())}
	case fiber.StatusMethodNotAllowed:
		return fe.Code, errorPayload{Code: codeMethodNotAllowed,
			Message: fmt.Sprintf("method %s is not allowed on %s", c.Method(), c.Path())}
	case fiber.StatusRequestEntityTooLarge:
		return fe.Code, errorPayload{Code: string(experiments.CodeTooLarge),
			Message: fmt.Sprintf("request body too large: the limit is %d bytes", c.App().Config().BodyLimit)}
	case fiber.StatusUnauthorized:
		return fe.Code, errorPayload{Code: codeUnauthorized, Message: fe.Message}
	case fiber.StatusForbidden:
		return fe.Code, errorPayload{Code: codeForbidden, Message: fe.Message}
	case fiber.StatusTooManyRequests:
		return fe.Code, errorPayload{Code: codeTooManyRequests, Message: fe.Message}
	case fiber.StatusUnsupportedMediaType:
		return fe.Code, errorPayload{Code: codeUnsupportedMedia, Message: fe.Message}
	}
	if fe.Code >= 400 && fe.Code < 500 {
		return fe.Code, errorPayload{Code: string(experiments.CodeInvalid), Message: fe.Message}
	}
	return fiber.StatusInternalServerError, errorPayload{}
}
