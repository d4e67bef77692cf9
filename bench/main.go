// Command bench times xraylab's six network models against PyTorch
// references of the same networks (bench/torch_models.py, Debian's
// python3-torch): a training step (every phase's forward and backward and
// the Adam updates) and scoring (inference, scores and heatmaps), per
// model, image size and batch size. It prints a markdown table and writes
// bench/results.md and bench/results.json (`make bench`).
//
// Every configuration runs in processes of its own, so the peak resident
// set reported (VmHWM for Go, ru_maxrss for Python) belongs to that
// configuration alone; the parent re-executes this program with -child.
// The processes of a configuration are interleaved, xraylab, torch,
// xraylab, torch, … (-repeats rounds), and every timed iteration of every
// round goes into the median and the min–max, because wall times on a
// shared machine move by ±30 %.
//
//	CGO_LDFLAGS=-lopenblas go run -tags openblas ./bench
//	go run -tags openblas ./bench -models cae,vae -sizes 64 -iters 3
//	go run -tags openblas ./bench -child -model bigan -mode train -size 64 -cpuprofile bigan.prof
//
// -before BIN adds a third implementation, another build of this program
// (say, of an earlier commit), interleaved with the others, for a
// before/after comparison in one run.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"xraylab/nets"
	_ "xraylab/nets/models" // registers every model
	"xraylab/nets/ops"
)

type options struct {
	models                 []string
	sizes, caeExtra, batch []int
	warmup, iters, repeats int
	width                  float64
	threads                int
	python, script         string
	out, jsonOut           string
	noTorch                bool
	before                 string
	tasks                  []string
}

func main() {
	child := flag.Bool("child", false, "measure one configuration in this process and print it as JSON (used by the parent)")
	peak := flag.Bool("peak", false, "child: measure sgemm's peak GFLOP/s and print it")
	model := flag.String("model", "cae", "child: the model")
	mode := flag.String("mode", "train", "child: train or score")
	size := flag.Int("size", 64, "child: image side in pixels")
	batch := flag.Int("batch", 16, "child: batch size")
	width := flag.Float64("width", 1, "channel width factor of every model (the paper's is 1)")
	modelsFlag := flag.String("models", "all", "models to measure: all or a comma-separated list of "+strings.Join(models, ","))
	sizes := flag.String("sizes", "64,128", "image sides to measure for every model")
	caeExtra := flag.String("cae-sizes", "256", "further image sides for the CAE ('' for none)")
	batches := flag.String("batches", "16", "batch sizes to measure")
	tasksFlag := flag.String("tasks", "train,score", "tasks to measure: train, score or both")
	warmup := flag.Int("warmup", 1, "untimed iterations first in every process (graph compilation, caches)")
	iters := flag.Int("iters", 1, "timed iterations in every process")
	repeats := flag.Int("repeats", 2, "interleaved rounds of processes per configuration")
	threads := flag.Int("threads", 2, "threads for every implementation (GOMAXPROCS, torch.set_num_threads, OpenBLAS)")
	python := flag.String("python", "/usr/bin/python3", "Python with torch (Debian's python3-torch)")
	script := flag.String("script", "bench/torch_models.py", "the PyTorch references")
	out := flag.String("out", "bench/results.md", "markdown report ('' for none)")
	jsonOut := flag.String("json", "bench/results.json", "JSON rows ('' for none)")
	noTorch := flag.Bool("no-torch", false, "measure only xraylab")
	before := flag.String("before", "", "another build of this program to measure as \"before\", interleaved with the others")
	cpuProfile := flag.String("cpuprofile", "", "child: write a CPU profile of the timed iterations to this file")
	flag.Parse()
	if *warmup < 0 || *iters < 1 || *repeats < 1 || *threads < 1 || !(*width > 0) {
		fail(fmt.Errorf("-warmup must be >= 0, -iters, -repeats and -threads >= 1, -width > 0"))
	}
	if *peak {
		g, err := sgemmPeak()
		if err != nil {
			fail(err)
		}
		fmt.Printf("{\"gflops\": %g}\n", g)
		return
	}
	if *child {
		s, err := measure(*model, *mode, *size, *batch, *width, *warmup, *iters, *cpuProfile)
		if err != nil {
			fail(err)
		}
		if err := json.NewEncoder(os.Stdout).Encode(s); err != nil {
			fail(err)
		}
		return
	}
	o := options{width: *width, warmup: *warmup, iters: *iters, repeats: *repeats, threads: *threads, python: *python,
		script: *script, out: *out, jsonOut: *jsonOut, noTorch: *noTorch, before: *before}
	var err error
	if o.models, err = parseModels(*modelsFlag); err != nil {
		fail(err)
	}
	if o.sizes, err = parseInts("-sizes", *sizes); err != nil {
		fail(err)
	}
	if o.caeExtra, err = parseInts("-cae-sizes", *caeExtra); err != nil {
		fail(err)
	}
	if o.batch, err = parseInts("-batches", *batches); err != nil {
		fail(err)
	}
	if o.tasks, err = parseTasks(*tasksFlag); err != nil {
		fail(err)
	}
	if len(o.sizes) == 0 || len(o.batch) == 0 {
		fail(fmt.Errorf("-sizes and -batches must not be empty"))
	}
	if err := parent(o); err != nil {
		fail(err)
	}
}

func parent(o options) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	// Each side gets the same thread budget. xraylab's products run on
	// OpenBLAS's threads (with -tags openblas); torch parallelises with its
	// own OpenMP pool and calls BLAS inside it, so its OpenBLAS stays at one
	// thread (more oversubscribes: measured 3.7 CPU s per 64 px CAE step
	// instead of 0.2), and its OpenMP threads sleep rather than spin while
	// waiting, which on a shared machine otherwise burns the other
	// process's core.
	th := strconv.Itoa(o.threads)
	goEnv := append(os.Environ(), "GOMAXPROCS="+th, "OPENBLAS_NUM_THREADS="+th)
	pyEnv := append(os.Environ(), "OMP_NUM_THREADS="+th, "OPENBLAS_NUM_THREADS=1", "OMP_WAIT_POLICY=PASSIVE")
	h := header{Threads: o.threads, Warmup: o.warmup, Iters: o.iters, Repeats: o.repeats,
		XraylabVersion: runtime.Version() + " " + ops.BLASName(), TorchVersion: "–", CPUs: runtime.NumCPU(),
		When: time.Now().UTC().Format("2006-01-02 15:04 MST")}
	h.Host, _ = os.Hostname()
	var pk struct {
		GFlops float64 `json:"gflops"`
	}
	if err := runJSON(goEnv, self, []string{"-peak"}, &pk); err != nil {
		return err
	}
	h.PeakGFlops = pk.GFlops
	fmt.Fprintf(os.Stderr, "bench: sgemm peak %.1f GFLOP/s at %d threads\n", pk.GFlops, o.threads)
	impls := []string{"xraylab"}
	if o.before != "" {
		impls = append(impls, "before")
	}
	if !o.noTorch {
		impls = append(impls, "torch")
	}
	var rows []row
	start := time.Now()
	for _, c := range plan(o.models, o.sizes, o.caeExtra, o.batch) {
		if !slices.Contains(o.tasks, c.Task) {
			continue
		}
		fmt.Fprintf(os.Stderr, "bench: %s:", c)
		m := measured{Config: c}
		common := []string{"--model", c.Model, "--mode", c.Task, "--size", strconv.Itoa(c.Px), "--batch", strconv.Itoa(c.Batch),
			"--warmup", strconv.Itoa(o.warmup), "--iters", strconv.Itoa(o.iters)}
		if o.width != 1 { // only then, so that -before builds without -width still run
			common = append(common, "--width", fmt.Sprint(o.width))
		}
		for _, impl := range interleave(impls, o.repeats) {
			fmt.Fprintf(os.Stderr, " %s", impl)
			s := &sample{}
			var err error
			switch impl {
			case "xraylab":
				err = runJSON(goEnv, self, append([]string{"-child"}, dashed(common)...), s)
				m.Xraylab = append(m.Xraylab, s)
			case "before":
				err = runJSON(goEnv, o.before, append([]string{"-child"}, dashed(common)...), s)
				m.Before = append(m.Before, s)
			case "torch":
				err = runJSON(pyEnv, o.python, append([]string{o.script, "--threads", strconv.Itoa(o.threads)}, common...), s)
				m.Torch = append(m.Torch, s)
				h.TorchVersion = s.Version
			}
			if err != nil {
				return err
			}
		}
		fmt.Fprintf(os.Stderr, " (%s so far)\n", time.Since(start).Round(time.Second))
		rows = append(rows, toRow(m))
	}
	report := render(h, rows)
	fmt.Print(report)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(report), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bench: wrote %s\n", o.out)
	}
	if o.jsonOut != "" {
		b, err := encodeRows(rows)
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.jsonOut, b, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bench: wrote %s\n", o.jsonOut)
	}
	return nil
}

// parseTasks reads -tasks: "train", "score" or both, comma-separated.
func parseTasks(s string) ([]string, error) {
	var out []string
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if t != "train" && t != "score" {
			return nil, fmt.Errorf("-tasks %q: %q is not a task (want train, score or both, comma-separated)", s, t)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// dashed turns the Python script's --flags into this program's -flags.
func dashed(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.TrimPrefix(a, "-")
	}
	return out
}

// runJSON executes one child and decodes the JSON line it prints last.
func runJSON(env []string, prog string, args []string, v any) error {
	cmd := exec.Command(prog, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, stderr.String())
	}
	var last string
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, "{") {
			last = l
		}
	}
	if err := json.Unmarshal([]byte(last), v); err != nil {
		return fmt.Errorf("%s %s printed no result line (%v): %q", prog, strings.Join(args, " "), err, stdout.String())
	}
	return nil
}

// measure times one configuration of a model in this process.
func measure(model, mode string, size, n int, width float64, warmup, iters int, profile string) (*sample, error) {
	m, err := nets.New(model, nets.Config{Size: size, Params: map[string]float64{"width": width}, Rand: rand.New(rand.NewSource(1))})
	if err != nil {
		return nil, err
	}
	b := synthBatch(rand.New(rand.NewSource(2)), n, size)
	if rm, ok := m.(nets.Referenced); ok {
		// the GANs with minibatch discrimination score against a fixed
		// reference batch, which the runner draws from the training images
		if err := rm.SetReference(synthBatch(rand.New(rand.NewSource(3)), nets.ReferenceSize(n), size)); err != nil {
			return nil, err
		}
	}
	var step func() (float64, error)
	switch mode {
	case "train":
		step = func() (float64, error) {
			l, err := m.TrainStep(b)
			var s float64
			for _, v := range l {
				s += v
			}
			return s, err
		}
	case "score":
		step = func() (float64, error) {
			s, err := m.Score(b)
			if err != nil {
				return 0, err
			}
			// summed in name order: a map's order would move the last bits
			var t float64
			for _, name := range slices.Sorted(maps.Keys(s.Scores)) {
				for _, x := range s.Scores[name] {
					t += x
				}
			}
			return t, nil
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
	s := &sample{Impl: "xraylab", Walls: make([]float64, iters), CPUs: make([]float64, iters),
		Version: runtime.Version() + " " + ops.BLASName()}
	ops.CountGEMM(true)
	for i := range iters {
		c0, t0 := cpuSeconds(), time.Now()
		if s.Value, err = step(); err != nil {
			return nil, err
		}
		s.Walls[i], s.CPUs[i] = time.Since(t0).Seconds(), cpuSeconds()-c0
	}
	st := ops.GEMMCounts()
	ops.CountGEMM(false)
	s.ConvFlops, s.ConvSecs = float64(st.Flops)/float64(iters), st.Seconds/float64(iters)
	if s.PeakMB, err = vmHWM(); err != nil {
		return nil, err
	}
	if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
		return nil, fmt.Errorf("%s %s: non-finite value %v", model, mode, s.Value)
	}
	return s, nil
}

// sgemmPeak is the best rate of a 1024³ float32 product over 20 runs,
// with the BLAS the models use, as the convolutions call it (with OpenBLAS:
// split over GOMAXPROCS goroutines). On a loaded machine it is a lower
// bound of the peak: the best run is the least disturbed one.
func sgemmPeak() (float64, error) {
	const n = 1024
	r := rand.New(rand.NewSource(3))
	a, b, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	for i := range a {
		a[i], b[i] = r.Float32(), r.Float32()
	}
	ops.Sgemm(n, n, n, a, b, c) // warm-up: thread pool, pages
	best := math.Inf(1)
	for range 20 {
		t0 := time.Now()
		ops.Sgemm(n, n, n, a, b, c)
		best = math.Min(best, time.Since(t0).Seconds())
	}
	return 2 * n * n * n / best / 1e9, nil
}

// synthBatch: bright discs on a dark background with a box mask, the same
// images as the nets packages' benchmarks (and, in shape, the Python one).
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

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
