package experiments

import (
	"errors"
	"fmt"
	"strings"

	"xraylab/experiments/eval"
)

// Code classifies an error for callers; the server maps it to an HTTP status.
type Code string

const (
	CodeInvalid  Code = "invalid"   // 400: the caller sent something wrong
	CodeNotFound Code = "not_found" // 404
	CodeConflict Code = "conflict"  // 409: the request clashes with current state
	CodeTooLarge Code = "too_large" // 413
	CodeInternal Code = "internal"  // 500
)

// Error is an error with a code and optional structured details (for an
// invalid spec: every problem with its line and column).
type Error struct {
	Code    Code
	Message string
	Details any
	Err     error
}

func (e *Error) Error() string {
	msg := e.Message
	if ps, ok := e.Details.([]Problem); ok {
		parts := make([]string, len(ps))
		for i, p := range ps {
			parts[i] = p.String()
		}
		msg += ": " + strings.Join(parts, "; ")
	}
	if e.Err != nil {
		if msg == "" {
			return e.Err.Error()
		}
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds a coded error.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of err, CodeInternal when it carries none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, eval.ErrInvalid) {
		return CodeInvalid
	}
	return CodeInternal
}

// ErrNotFound is returned by stores for a missing row; wrap with context.
var ErrNotFound = &Error{Code: CodeNotFound, Message: "not found"}

// IsNotFound reports whether err is a not-found error.
func IsNotFound(err error) bool { return CodeOf(err) == CodeNotFound }
