package main

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestSummariseMedianAndRange(t *testing.T) {
	for _, c := range []struct {
		in          []float64
		med, lo, hi float64
		n           int
	}{
		{in: []float64{3, 1, 2}, med: 2, lo: 1, hi: 3, n: 3},
		{in: []float64{4, 1, 3, 2}, med: 2.5, lo: 1, hi: 4, n: 4}, // even: mean of the middle two
		{in: []float64{7}, med: 7, lo: 7, hi: 7, n: 1},
		{in: []float64{5, 5, 1, 9, 5}, med: 5, lo: 1, hi: 9, n: 5},
	} {
		orig := append([]float64(nil), c.in...)
		s := summarise(c.in)
		if s.Median != c.med || s.Min != c.lo || s.Max != c.hi || s.N != c.n {
			t.Errorf("summarise(%v) = %+v, want median %g, range %g–%g, n %d", orig, s, c.med, c.lo, c.hi, c.n)
		}
		if !reflect.DeepEqual(c.in, orig) {
			t.Errorf("summarise sorted its input in place: %v, was %v", c.in, orig)
		}
	}
	if s := summarise(nil); !math.IsNaN(s.Median) || s.N != 0 {
		t.Errorf("summarise(nil) = %+v, want NaN and no samples", s)
	}
}

func TestInterleaveAlternatesImplementations(t *testing.T) {
	got := interleave([]string{"xraylab", "torch"}, 3)
	want := []string{"xraylab", "torch", "xraylab", "torch", "xraylab", "torch"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("interleave = %v, want %v", got, want)
	}
	got = interleave([]string{"xraylab", "before", "torch"}, 2)
	want = []string{"xraylab", "before", "torch", "xraylab", "before", "torch"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("interleave with before = %v, want %v", got, want)
	}
}

func TestPlanAddsCAESizesAndOrdersTasks(t *testing.T) {
	got := plan([]string{"cae", "vae"}, []int{64, 128}, []int{256, 64}, []int{16})
	var s []string
	for _, c := range got {
		s = append(s, c.String())
	}
	want := []string{
		"cae train 64 px batch 16", "cae train 128 px batch 16", "cae train 256 px batch 16",
		"vae train 64 px batch 16", "vae train 128 px batch 16",
		"cae score 64 px batch 16", "cae score 128 px batch 16", "cae score 256 px batch 16",
		"vae score 64 px batch 16", "vae score 128 px batch 16",
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("plan =\n%s\nwant\n%s", strings.Join(s, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseFlags(t *testing.T) {
	if v, err := parseInts("-sizes", "64, 128"); err != nil || !reflect.DeepEqual(v, []int{64, 128}) {
		t.Errorf("parseInts = %v, %v", v, err)
	}
	if v, err := parseInts("-cae-sizes", ""); err != nil || v != nil {
		t.Errorf("parseInts(\"\") = %v, %v, want none", v, err)
	}
	if _, err := parseInts("-sizes", "64,x"); err == nil || err.Error() != `-sizes: "64,x" is not a comma-separated list of positive integers` {
		t.Errorf("parseInts(64,x) error = %v", err)
	}
	if _, err := parseInts("-batches", "0"); err == nil {
		t.Error("parseInts accepted 0")
	}
	if v, err := parseModels("all"); err != nil || !reflect.DeepEqual(v, models) {
		t.Errorf("parseModels(all) = %v, %v", v, err)
	}
	if v, err := parseModels("vae,cae"); err != nil || !reflect.DeepEqual(v, []string{"vae", "cae"}) {
		t.Errorf("parseModels = %v, %v", v, err)
	}
	if _, err := parseModels("cae,gan"); err == nil || err.Error() != `-models: unknown model "gan"; known: cae,bae,vae,dcgan,bigan,alphagan (or all)` {
		t.Errorf("parseModels(gan) error = %v", err)
	}
}

// The JSON rows carry exactly the fields the issue asks for (and the
// ranges), pooled over every timed iteration of every process.
func TestRowsJSONShape(t *testing.T) {
	m := measured{
		Config: config{Model: "bigan", Task: "train", Px: 64, Batch: 16},
		Xraylab: []*sample{
			{Walls: []float64{1.0, 3.0}, CPUs: []float64{2, 2}, PeakMB: 100, ConvFlops: 4e9, ConvSecs: 0.2},
			{Walls: []float64{2.0, 9.0}, CPUs: []float64{4, 4}, PeakMB: 120, ConvFlops: 4e9, ConvSecs: 0.2},
		},
		Torch: []*sample{{Walls: []float64{0.5, 0.7}, CPUs: []float64{1, 1}, PeakMB: 300}},
	}
	b, err := encodeRows([]row{toRow(m)})
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"model": "bigan", "task": "train", "px": 64.0, "batch": 16.0,
		"xraylab_cpu_s": 3.0, "torch_cpu_s": 1.0,
		"xraylab_wall_s": 2.5, "torch_wall_s": 0.6,
		"xraylab_peak_mib": 120.0, "torch_peak_mib": 300.0,
		"xraylab_wall_min_s": 1.0, "xraylab_wall_max_s": 9.0,
		"torch_wall_min_s": 0.5, "torch_wall_max_s": 0.7,
		"samples": 4.0, "conv_gflop": 4.0, "conv_gemm_gflops": 20.0,
	}
	if len(got) != 1 {
		t.Fatalf("%d rows, want 1", len(got))
	}
	for k, v := range want {
		g, ok := got[0][k]
		if !ok {
			t.Errorf("row has no %q", k)
			continue
		}
		if gf, ok := g.(float64); ok {
			if math.Abs(gf-v.(float64)) > 1e-12 {
				t.Errorf("%s = %v, want %v", k, g, v)
			}
		} else if g != v {
			t.Errorf("%s = %v, want %v", k, g, v)
		}
	}
	if len(got[0]) != len(want) {
		t.Errorf("row has %d fields, want %d (no before_* without -before): %v", len(got[0]), len(want), got[0])
	}
	// without torch, its fields are null rather than zero
	m.Torch = nil
	b, _ = encodeRows([]row{toRow(m)})
	if !strings.Contains(string(b), `"torch_wall_s": null`) {
		t.Errorf("a row without torch should say null: %s", b)
	}
}

func TestRenderRatios(t *testing.T) {
	r := toRow(measured{
		Config:  config{Model: "cae", Task: "score", Px: 128, Batch: 16},
		Xraylab: []*sample{{Walls: []float64{0.3}, CPUs: []float64{0.4}, PeakMB: 200}},
		Torch:   []*sample{{Walls: []float64{0.2}, CPUs: []float64{0.5}, PeakMB: 400}},
	})
	out := render(header{Threads: 2, Iters: 1, Repeats: 1}, []row{r})
	line := "| cae | score | 128 | 16 | 0.3 (0.3–0.3) | 0.2 (0.2–0.2) | 1.50 | 0.4 | 0.5 | 0.80 | 200 | 400 | 0.50 |"
	if !strings.Contains(out, line) {
		t.Errorf("render lacks\n%s\nin\n%s", line, out)
	}
}

func TestParseTasks(t *testing.T) {
	got, err := parseTasks("score, train,score")
	if err != nil || len(got) != 2 || got[0] != "score" || got[1] != "train" {
		t.Fatalf("parseTasks = %v, %v; want [score train]", got, err)
	}
	_, err = parseTasks("train,infer")
	if err == nil || err.Error() != `-tasks "train,infer": "infer" is not a task (want train, score or both, comma-separated)` {
		t.Fatalf("bad task: error %v", err)
	}
}
