package eval

import (
	"errors"
	"fmt"
)

// ErrInvalid is what every input error of this package matches (errors.Is):
// the caller passed scores, labels or maps no figure can be computed from.
// The domain maps it to experiments.CodeInvalid.
var ErrInvalid = errors.New("invalid metric input")

// invalidError is an input error; its text is only the message.
type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}
