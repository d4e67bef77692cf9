package experiments

import (
	"fmt"
	"testing"

	"xraylab/experiments/eval"
)

// Metric input errors keep the code they had when eval was part of this
// package: the caller's fault, 400 at the API.
func TestCodeOfEvalErrors(t *testing.T) {
	_, err := eval.ROCAUC([]float64{1, 2}, []int{1, 1})
	if err == nil || CodeOf(err) != CodeInvalid {
		t.Errorf("ROCAUC of one class: %v, code %s; want invalid", err, CodeOf(err))
	}
	if c := CodeOf(fmt.Errorf("table: %w", err)); c != CodeInvalid {
		t.Errorf("wrapped metric error: code %s, want invalid", c)
	}
	if c := CodeOf(&Error{Code: CodeConflict, Err: err}); c != CodeConflict {
		t.Errorf("coded error around a metric error: code %s, want conflict", c)
	}
}
