package main

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// The harness's pure logic: which configurations a run measures, in which
// order the processes run, how their samples are summarised, and the
// result files. main.go runs the processes; this file only plans and
// reports, so its tests need no model and no Python.

// models is every network model the harness knows, in report order; each
// has a PyTorch reference in torch_models.py.
var models = []string{"cae", "bae", "vae", "dcgan", "bigan", "alphagan"}

// config is one measured configuration.
type config struct {
	Model string
	Task  string // "train" or "score"
	Px    int
	Batch int
}

func (c config) String() string {
	return fmt.Sprintf("%s %s %d px batch %d", c.Model, c.Task, c.Px, c.Batch)
}

// plan lists the configurations: every model at every size, the CAE also
// at its extra sizes, each batch size, training and then scoring.
func plan(ms []string, sizes, caeExtra, batches []int) []config {
	var out []config
	for _, task := range []string{"train", "score"} {
		for _, m := range ms {
			ss := sizes
			if m == "cae" {
				ss = union(sizes, caeExtra)
			}
			for _, s := range ss {
				for _, b := range batches {
					out = append(out, config{Model: m, Task: task, Px: s, Batch: b})
				}
			}
		}
	}
	return out
}

func union(a, b []int) []int {
	seen := map[int]bool{}
	var out []int
	for _, v := range append(append([]int(nil), a...), b...) {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Ints(out)
	return out
}

// interleave is the order in which one configuration's processes run:
// repeats rounds of every implementation in turn (xraylab, torch, xraylab,
// torch, ...), so a change in the machine's load hits both alike.
func interleave(impls []string, repeats int) []string {
	var out []string
	for r := 0; r < repeats; r++ {
		out = append(out, impls...)
	}
	return out
}

// summary is the median and range of a set of samples.
type summary struct {
	Median, Min, Max float64
	N                int
}

func summarise(v []float64) summary {
	if len(v) == 0 {
		return summary{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return summary{Median: m, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// sample is what one child process reports: its timed iterations, its
// peak resident set and, for xraylab, its convolutions' matrix products
// per iteration.
type sample struct {
	Impl      string    `json:"impl"`
	Walls     []float64 `json:"walls"`
	CPUs      []float64 `json:"cpus"`
	PeakMB    float64   `json:"peak_rss_mb"`
	Value     float64   `json:"value"`
	Version   string    `json:"version"`
	ConvFlops float64   `json:"conv_flops,omitempty"`  // per iteration
	ConvSecs  float64   `json:"conv_gemm_s,omitempty"` // per iteration, inside BLAS
}

// side is one implementation's figures for a configuration.
type side struct {
	Wall, CPU summary
	PeakMB    float64 // the largest of its processes'
	Version   string
}

func collect(ss []*sample) *side {
	if len(ss) == 0 {
		return nil
	}
	var walls, cpus []float64
	out := &side{Version: ss[0].Version}
	for _, s := range ss {
		walls = append(walls, s.Walls...)
		cpus = append(cpus, s.CPUs...)
		out.PeakMB = math.Max(out.PeakMB, s.PeakMB)
	}
	out.Wall, out.CPU = summarise(walls), summarise(cpus)
	return out
}

// row is one line of results.json; times are per training step or per
// scored batch, medians over every timed iteration of every repeat.
type row struct {
	Model          string   `json:"model"`
	Task           string   `json:"task"`
	Px             int      `json:"px"`
	Batch          int      `json:"batch"`
	XraylabCPU     float64  `json:"xraylab_cpu_s"`
	TorchCPU       *float64 `json:"torch_cpu_s"`
	XraylabWall    float64  `json:"xraylab_wall_s"`
	TorchWall      *float64 `json:"torch_wall_s"`
	XraylabPeak    float64  `json:"xraylab_peak_mib"`
	TorchPeak      *float64 `json:"torch_peak_mib"`
	XraylabWallMin float64  `json:"xraylab_wall_min_s"`
	XraylabWallMax float64  `json:"xraylab_wall_max_s"`
	TorchWallMin   *float64 `json:"torch_wall_min_s"`
	TorchWallMax   *float64 `json:"torch_wall_max_s"`
	Samples        int      `json:"samples"` // timed iterations per implementation
	// The convolutions' matrix products per iteration (xraylab's count;
	// torch runs the same convolutions): GFLOP, and GFLOP/s inside BLAS.
	ConvGFlop        float64 `json:"conv_gflop"`
	ConvGemmGFlopsPS float64 `json:"conv_gemm_gflops"`
	// The "before" build (-before), when measured.
	BeforeCPU  *float64 `json:"before_cpu_s,omitempty"`
	BeforeWall *float64 `json:"before_wall_s,omitempty"`
	BeforePeak *float64 `json:"before_peak_mib,omitempty"`
}

// measured is a configuration with every implementation's samples.
type measured struct {
	Config  config
	Xraylab []*sample
	Torch   []*sample
	Before  []*sample
}

func ptr(v float64) *float64 { return &v }

func toRow(m measured) row {
	x := collect(m.Xraylab)
	r := row{Model: m.Config.Model, Task: m.Config.Task, Px: m.Config.Px, Batch: m.Config.Batch,
		XraylabCPU: x.CPU.Median, XraylabWall: x.Wall.Median, XraylabPeak: x.PeakMB,
		XraylabWallMin: x.Wall.Min, XraylabWallMax: x.Wall.Max, Samples: x.Wall.N}
	var flops, secs float64
	for _, s := range m.Xraylab {
		flops += s.ConvFlops
		secs += s.ConvSecs
	}
	if secs > 0 {
		r.ConvGFlop = flops / float64(len(m.Xraylab)) / 1e9
		r.ConvGemmGFlopsPS = flops / secs / 1e9
	}
	if t := collect(m.Torch); t != nil {
		r.TorchCPU, r.TorchWall, r.TorchPeak = ptr(t.CPU.Median), ptr(t.Wall.Median), ptr(t.PeakMB)
		r.TorchWallMin, r.TorchWallMax = ptr(t.Wall.Min), ptr(t.Wall.Max)
	}
	if b := collect(m.Before); b != nil {
		r.BeforeCPU, r.BeforeWall, r.BeforePeak = ptr(b.CPU.Median), ptr(b.Wall.Median), ptr(b.PeakMB)
	}
	return r
}

func encodeRows(rows []row) ([]byte, error) {
	b, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// header says how the figures were taken.
type header struct {
	Threads, Warmup, Iters, Repeats int
	XraylabVersion, TorchVersion    string
	Host                            string
	CPUs                            int
	When                            string
	PeakGFlops                      float64 // sgemm at Threads threads; 0 if not measured
}

// render is the markdown report: one table of every configuration, then
// the convolutions' share of the BLAS peak per model and size.
func render(h header, rows []row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d threads each; per configuration %d interleaved process pairs (xraylab, torch, …), each %d warm-up + %d timed iterations; "+
		"xraylab %s; torch %s; host %s, %d CPUs, %s.\n\n",
		h.Threads, h.Repeats, h.Warmup, h.Iters, h.XraylabVersion, h.TorchVersion, h.Host, h.CPUs, h.When)
	b.WriteString("Per training step or per scored batch: wall-clock median (min–max over every timed iteration), CPU = the process's user+sys seconds (median). " +
		"ratio = xraylab / torch, so above 1 xraylab is slower (for scoring, torch's throughput ÷ xraylab's); peak = the largest resident set of the configuration's processes.\n\n")
	hasBefore := false
	for _, r := range rows {
		hasBefore = hasBefore || r.BeforeWall != nil
	}
	b.WriteString("| model | task | px | batch | xraylab wall s | torch wall s | wall ratio | xraylab CPU s | torch CPU s | CPU ratio | xraylab MiB | torch MiB | mem ratio |")
	if hasBefore {
		b.WriteString(" before wall s | before CPU s | before MiB |")
	}
	b.WriteString("\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	if hasBefore {
		b.WriteString("---:|---:|---:|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		tw, wr, tc, cr, tm, mr := "–", "–", "–", "–", "–", "–"
		if r.TorchWall != nil {
			tw = fmt.Sprintf("%s (%s–%s)", g3(*r.TorchWall), g3(*r.TorchWallMin), g3(*r.TorchWallMax))
			wr = fmt.Sprintf("%.2f", r.XraylabWall / *r.TorchWall)
			tc = g3(*r.TorchCPU)
			cr = fmt.Sprintf("%.2f", r.XraylabCPU / *r.TorchCPU)
			tm = fmt.Sprintf("%.0f", *r.TorchPeak)
			mr = fmt.Sprintf("%.2f", r.XraylabPeak / *r.TorchPeak)
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %s (%s–%s) | %s | %s | %s | %s | %s | %.0f | %s | %s |",
			r.Model, r.Task, r.Px, r.Batch, g3(r.XraylabWall), g3(r.XraylabWallMin), g3(r.XraylabWallMax),
			tw, wr, g3(r.XraylabCPU), tc, cr, r.XraylabPeak, tm, mr)
		if hasBefore {
			bw, bc, bm := "–", "–", "–"
			if r.BeforeWall != nil {
				bw, bc, bm = g3(*r.BeforeWall), g3(*r.BeforeCPU), fmt.Sprintf("%.0f", *r.BeforePeak)
			}
			fmt.Fprintf(&b, " %s | %s | %s |", bw, bc, bm)
		}
		b.WriteString("\n")
	}
	if h.PeakGFlops > 0 {
		fmt.Fprintf(&b, "\nThe physical limit: sgemm (1024³, the build's BLAS as the convolutions call it, best of 20) reaches %.1f GFLOP/s at %d threads here "+
			"(on a loaded machine a lower bound, so the shares below are upper bounds). "+
			"Per training step, the convolutions' matrix products (forward and both gradients; xraylab's count, the same convolutions torch runs): "+
			"GFLOP, the rate inside BLAS in xraylab, and those GFLOP over each implementation's whole step wall time, as a share of the peak.\n\n", h.PeakGFlops, h.Threads)
		b.WriteString("| model | px | batch | conv GFLOP/step | xraylab in-BLAS GFLOP/s (share) | xraylab GFLOP/s per step wall (share) | torch GFLOP/s per step wall (share) |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|\n")
		for _, r := range rows {
			if r.Task != "train" || r.ConvGFlop == 0 {
				continue
			}
			share := func(v float64) string { return fmt.Sprintf("%.1f (%.0f %%)", v, 100*v/h.PeakGFlops) }
			tg := "–"
			if r.TorchWall != nil {
				tg = share(r.ConvGFlop / *r.TorchWall)
			}
			fmt.Fprintf(&b, "| %s | %d | %d | %.2f | %s | %s | %s |\n", r.Model, r.Px, r.Batch, r.ConvGFlop,
				share(r.ConvGemmGFlopsPS), share(r.ConvGFlop/r.XraylabWall), tg)
		}
	}
	return b.String()
}

// g3 prints three significant digits.
func g3(v float64) string { return strconv.FormatFloat(v, 'g', 3, 64) }

// parseInts reads a comma-separated list of positive integers ("" is none).
func parseInts(name, s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%s: %q is not a comma-separated list of positive integers", name, s)
		}
		out = append(out, v)
	}
	return out, nil
}

// parseModels reads -models: "all" or a comma-separated list of known models.
func parseModels(s string) ([]string, error) {
	if s == "all" {
		return models, nil
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		known := false
		for _, m := range models {
			known = known || m == f
		}
		if !known {
			return nil, fmt.Errorf("-models: unknown model %q; known: %s (or all)", f, strings.Join(models, ","))
		}
		out = append(out, f)
	}
	return out, nil
}
