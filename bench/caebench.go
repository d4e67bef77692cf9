//go:build ignore

// caebench times xraylab's CAE against the PyTorch reference of the same
// network (bench/cae_torch.py): a training step (forward, backward, Adam)
// and scoring (reconstruction, scores and heatmaps), at 64 and 128 px with
// batches of 16 and 32, at full width. It prints a table and writes it to
// bench/results.md.
//
// Every configuration runs in a process of its own, so the peak resident
// set reported (VmHWM for Go, ru_maxrss for Python) belongs to that
// configuration alone; the parent re-executes this program with -child.
//
//	go run bench/caebench.go                      # gonum's pure-Go BLAS
//	CGO_LDFLAGS=-lopenblas go run -tags openblas bench/caebench.go
//	go run bench/caebench.go -sizes 64 -batches 16 -iters 3 -out ''
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"xraylab/nets"
	_ "xraylab/nets/cae" // registers "cae"
	"xraylab/nets/ops"
)

// result is one measured configuration, as both implementations print it.
type result struct {
	Impl    string  `json:"impl"`
	Mode    string  `json:"mode"`
	Size    int     `json:"size"`
	Batch   int     `json:"batch"`
	Width   float64 `json:"width"`
	Iters   int     `json:"iters"`
	Wall    float64 `json:"wall_s"`
	CPU     float64 `json:"cpu_s"`
	PeakMB  float64 `json:"peak_rss_mb"`
	Value   float64 `json:"value"`
	Version string  `json:"version"`
}

func main() {
	child := flag.Bool("child", false, "measure one configuration and print it as JSON (used by the parent)")
	mode := flag.String("mode", "train", "child: train or score")
	size := flag.Int("size", 64, "child: image side in pixels")
	batch := flag.Int("batch", 16, "child: batch size")
	sizes := flag.String("sizes", "64,128", "image sides to measure")
	batches := flag.String("batches", "16,32", "batch sizes to measure")
	width := flag.Float64("width", 1, "channel width factor of the CAE")
	warmup := flag.Int("warmup", 2, "untimed iterations first (graph compilation, caches)")
	iters := flag.Int("iters", 5, "timed iterations; the median is reported")
	threads := flag.Int("threads", 2, "threads for both implementations (GOMAXPROCS, torch.set_num_threads, OpenBLAS)")
	python := flag.String("python", "/usr/bin/python3", "Python with torch (Debian's python3-torch)")
	script := flag.String("script", "bench/cae_torch.py", "the PyTorch reference script")
	out := flag.String("out", "bench/results.md", "markdown file for the table ('' for none)")
	skipTorch := flag.Bool("no-torch", false, "measure only xraylab")
	cpuProfile := flag.String("cpuprofile", "", "child: write a CPU profile of the timed iterations to this file")
	memProfile := flag.String("memprofile", "", "child: write a heap profile after the timed iterations to this file")
	flag.Parse()
	if *warmup < 0 || *iters < 1 || *threads < 1 || *width <= 0 {
		fail(fmt.Errorf("-warmup must be >= 0, -iters and -threads >= 1, -width > 0"))
	}
	if *child {
		r, err := measure(*mode, *size, *batch, *width, *warmup, *iters, *cpuProfile)
		if err != nil {
			fail(err)
		}
		if *memProfile != "" {
			f, err := os.Create(*memProfile)
			if err == nil {
				err = pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
			if err != nil {
				fail(err)
			}
		}
		if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
			fail(err)
		}
		return
	}
	ss, err := ints("-sizes", *sizes)
	if err != nil {
		fail(err)
	}
	bs, err := ints("-batches", *batches)
	if err != nil {
		fail(err)
	}
	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	// Each side gets the same thread budget. xraylab's products run on
	// OpenBLAS's threads (with -tags openblas); torch parallelises with its
	// own OpenMP pool and calls BLAS inside it, so its OpenBLAS stays at one
	// thread (more oversubscribes: measured 3.7 CPU s per 64 px step instead
	// of 0.2), and its OpenMP threads sleep rather than spin while waiting,
	// which on a shared machine otherwise burns the other process's core.
	goEnv := append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(*threads), "OPENBLAS_NUM_THREADS="+strconv.Itoa(*threads))
	pyEnv := append(os.Environ(), "OMP_NUM_THREADS="+strconv.Itoa(*threads), "OPENBLAS_NUM_THREADS=1", "OMP_WAIT_POLICY=PASSIVE")
	var rows [][2]*result
	for _, mode := range []string{"train", "score"} {
		for _, s := range ss {
			for _, b := range bs {
				common := []string{"--mode", mode, "--size", strconv.Itoa(s), "--batch", strconv.Itoa(b),
					"--width", fmt.Sprint(*width), "--warmup", strconv.Itoa(*warmup), "--iters", strconv.Itoa(*iters)}
				fmt.Fprintf(os.Stderr, "caebench: %s %d px batch %d: xraylab", mode, s, b)
				g, err := run(goEnv, self, append([]string{"-child"}, dashed(common)...)...)
				if err != nil {
					fail(err)
				}
				var t *result
				if !*skipTorch {
					fmt.Fprint(os.Stderr, ", torch")
					if t, err = run(pyEnv, *python, append([]string{*script, "--threads", strconv.Itoa(*threads)}, common...)...); err != nil {
						fail(err)
					}
				}
				fmt.Fprintln(os.Stderr)
				rows = append(rows, [2]*result{g, t})
			}
		}
	}
	table := render(rows, *threads, *iters)
	fmt.Print(table)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(table), 0o644); err != nil {
			fail(err)
		}
		fmt.Fprintf(os.Stderr, "caebench: wrote %s\n", *out)
	}
}

// dashed turns the Python script's --flags into this program's -flags.
func dashed(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.TrimPrefix(a, "-")
	}
	return out
}

func ints(name, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%s: %q is not a list of positive integers", name, s)
		}
		out = append(out, v)
	}
	return out, nil
}

// run executes one child and decodes the JSON line it prints last.
func run(env []string, prog string, args ...string) (*result, error) {
	cmd := exec.Command(prog, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, stderr.String())
	}
	var last string
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, "{") {
			last = l
		}
	}
	var r result
	if err := json.Unmarshal([]byte(last), &r); err != nil {
		return nil, fmt.Errorf("%s %s printed no result line (%v): %q", prog, strings.Join(args, " "), err, stdout.String())
	}
	return &r, nil
}

// measure times one configuration of the CAE in this process.
func measure(mode string, size, n int, width float64, warmup, iters int, profile string) (*result, error) {
	m, err := nets.New("cae", nets.Config{Size: size, Params: map[string]float64{"width": width},
		Rand: rand.New(rand.NewSource(1))})
	if err != nil {
		return nil, err
	}
	b := synthBatch(rand.New(rand.NewSource(2)), n, size)
	var step func() (float64, error)
	switch mode {
	case "train":
		step = func() (float64, error) {
			l, err := m.TrainStep(b)
			return l["mse"], err
		}
	case "score":
		step = func() (float64, error) {
			s, err := m.Score(b)
			if err != nil {
				return 0, err
			}
			return mean(s.Scores["mse"]), nil
		}
	default:
		return nil, fmt.Errorf("-mode %q: want train or score", mode)
	}
	for i := 0; i < warmup; i++ {
		if _, err := step(); err != nil {
			return nil, err
		}
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	walls, cpus := make([]float64, iters), make([]float64, iters)
	var v float64
	for i := range iters {
		c0, t0 := cpuSeconds(), time.Now()
		if v, err = step(); err != nil {
			return nil, err
		}
		walls[i], cpus[i] = time.Since(t0).Seconds(), cpuSeconds()-c0
	}
	peak, err := vmHWM()
	if err != nil {
		return nil, err
	}
	return &result{Impl: "xraylab", Mode: mode, Size: size, Batch: n, Width: width, Iters: iters,
		Wall: median(walls), CPU: median(cpus), PeakMB: peak, Value: v,
		Version: runtime.Version() + " " + ops.BLASName()}, nil
}

// synthBatch: bright discs on a dark background with a box mask, the same
// images as the nets package's benchmark (and, in shape, the Python one).
func synthBatch(r *rand.Rand, n, size int) *nets.Batch {
	b := &nets.Batch{N: n, H: size, W: size, Images: make([]float32, n*size*size), Masks: make([]float32, n*size*size)}
	for i := 0; i < n; i++ {
		cx, cy := float64(size)/2+r.Float64()*4-2, float64(size)/2+r.Float64()*4-2
		rad := float64(size) / 4
		for y := 0; y < size; y++ {
			for x := 0; x < size; x++ {
				p := i*size*size + y*size + x
				v := 0.1 + 0.05*r.Float64()
				if math.Hypot(float64(x)-cx, float64(y)-cy) < rad {
					v = 0.7 + 0.1*r.Float64()
				}
				b.Images[p] = float32(v)
				if math.Abs(float64(x)-cx) < rad+2 && math.Abs(float64(y)-cy) < rad+2 {
					b.Masks[p] = 1
				}
			}
		}
	}
	return b
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// vmHWM is the process's peak resident set in MiB.
func vmHWM() (float64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/self/status has no VmHWM line")
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// render formats the results as a markdown table: training as seconds per
// step, scoring as images per second, each with the xraylab/torch ratio.
func render(rows [][2]*result, threads, iters int) string {
	var b strings.Builder
	host, _ := os.Hostname()
	g := rows[0][0]
	fmt.Fprintf(&b, "CAE (width %g), %d threads, median of %d timed iterations; xraylab %s", g.Width, threads, iters, g.Version)
	for _, r := range rows {
		if r[1] != nil {
			fmt.Fprintf(&b, "; torch %s", r[1].Version)
			break
		}
	}
	fmt.Fprintf(&b, "; host %s, %d CPUs, %s.\n\n", host, runtime.NumCPU(), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	b.WriteString("Times are wall-clock medians; CPU is the process's user+sys seconds per iteration. " +
		"ratio = xraylab time / torch time (for scoring: torch img/s ÷ xraylab img/s), so above 1 xraylab is slower; " +
		"mem ratio = xraylab peak RSS / torch peak RSS.\n\n")
	b.WriteString("| task | px | batch | xraylab | torch | ratio | xraylab CPU s | torch CPU s | xraylab peak MiB | torch peak MiB | mem ratio |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		g, t := r[0], r[1]
		task, unit := "train step", "s/step"
		val := func(x *result) float64 { return x.Wall }
		if g.Mode == "score" {
			task, unit = "scoring", "img/s"
			val = func(x *result) float64 { return float64(x.Batch) / x.Wall }
		}
		tv, ratio, tcpu, tmem, mratio := "–", "–", "–", "–", "–"
		if t != nil {
			tv = fmt.Sprintf("%.3g %s", val(t), unit)
			ratio = fmt.Sprintf("%.2f", g.Wall/t.Wall)
			tcpu = fmt.Sprintf("%.3g", t.CPU)
			tmem, mratio = fmt.Sprintf("%.0f", t.PeakMB), fmt.Sprintf("%.2f", g.PeakMB/t.PeakMB)
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %.3g %s | %s | %s | %.3g | %s | %.0f | %s | %s |\n",
			task, g.Size, g.Batch, val(g), unit, tv, ratio, g.CPU, tcpu, g.PeakMB, tmem, mratio)
	}
	return b.String()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "caebench:", err)
	os.Exit(1)
}
