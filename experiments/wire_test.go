package experiments_test

import (
	"encoding/json"
	"math"
	"testing"

	"xraylab/experiments"
)

func TestWireFloatRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		wire string
	}{
		{0.1, `0.1`}, {1.0 / 3, `0.3333333333333333`}, {-2.5e-300, `-2.5e-300`}, {0, `0`},
		{math.NaN(), `"NaN"`}, {math.Inf(1), `"+Inf"`}, {math.Inf(-1), `"-Inf"`},
	} {
		b, err := json.Marshal(experiments.WireFloat(tc.v))
		if err != nil || string(b) != tc.wire {
			t.Errorf("marshal %v = %s, %v; want %s", tc.v, b, err, tc.wire)
		}
		var back experiments.WireFloat
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if got := float64(back); got != tc.v && !(math.IsNaN(got) && math.IsNaN(tc.v)) {
			t.Errorf("round trip of %v gave %v", tc.v, got)
		}
	}
	var f experiments.WireFloat
	if err := json.Unmarshal([]byte(`"lots"`), &f); err == nil || err.Error() != `want a number, "NaN", "+Inf" or "-Inf", got "lots"` {
		t.Errorf("unmarshal of a bad value: %v", err)
	}
}
