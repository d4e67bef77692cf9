package preprocess

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"xraylab/preprocess/synth"
)

// benchSet is a synthetic MURA tree shared by the speed benchmarks and the
// Python comparison, generated once per process under the system temp dir
// (same seed, so reruns reuse it).
var (
	benchOnce sync.Once
	benchRoot string
	benchRecs []Record
	benchErr  error
)

const (
	benchPatients = 10
	benchSize     = 512 // MURA's longer side
	benchOut      = 128 // model input side for the online benchmark
)

func benchData(b *testing.B) []Record {
	b.Helper()
	benchOnce.Do(func() {
		// Named after the generator version and settings: an existing tree
		// of that name is the same data, reused.
		out := filepath.Join(os.TempDir(), fmt.Sprintf("xraylab-preprocess-bench-%s-%d-%d",
			strings.NewReplacer("/", "_", ".", "_").Replace(synth.Version), benchPatients, benchSize))
		benchRoot = filepath.Join(out, "MURA-v1.1")
		if _, err := os.Stat(filepath.Join(out, "MURA-v1.1-truth")); err != nil {
			os.RemoveAll(out)
			if _, err := synth.Generate(context.Background(), synth.Options{Out: out, Patients: benchPatients, Size: benchSize, Seed: 7}, nil); err != nil {
				benchErr = err
				return
			}
		}
		ds, err := LoadMURA(benchRoot, LoadOptions{Parts: []string{"train", "valid"}})
		if err != nil {
			benchErr = err
			return
		}
		benchRecs = ds.Records
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchRecs
}

// BenchmarkPrepare times the offline steps (decode, carrier crop, mask,
// hand split) of the full variant with one worker and no cache, the same
// work bench/preprocess_cv2.py does.
func BenchmarkPrepare(b *testing.B) {
	recs := benchData(b)
	p := newTestPipeline(b, PipelineOptions{Variant: VariantFull, Size: benchOut, Workers: 1})
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, _, err := p.Prepare(context.Background(), recs, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(recs)*b.N)/time.Since(start).Seconds(), "images/s")
}

// BenchmarkLoad times the online steps (HE, advanced augmentation, resize,
// pad, [0,1]) on full-variant items, one goroutine.
func BenchmarkLoad(b *testing.B) {
	recs := benchData(b)
	p := newTestPipeline(b, PipelineOptions{Variant: VariantFull, Size: benchOut, HistEq: true, Workers: 1})
	items, _, err := p.Prepare(context.Background(), recs, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := p.Load(items[i%len(items)], AugmentAdvanced, int64(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "items/s")
}

// BenchmarkCV2Python runs bench/preprocess_cv2.py (Debian's python3-opencv)
// on the images of BenchmarkPrepare/BenchmarkLoad and reports its rates,
// so one `go test -bench` run gives both sides of the comparison.
func BenchmarkCV2Python(b *testing.B) {
	benchData(b)
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		b.Skip("no /usr/bin/python3 (apt-get install -y python3-opencv)")
	}
	var res struct {
		Images  int     `json:"images"`
		Offline float64 `json:"offline_images_per_s"`
		Online  float64 `json:"online_items_per_s"`
	}
	for i := 0; i < b.N; i++ {
		out, err := exec.Command("/usr/bin/python3", "../bench/preprocess_cv2.py", benchRoot, "128").CombinedOutput()
		if err != nil {
			b.Skipf("python cv2 benchmark failed (is python3-opencv installed?): %v\n%s", err, out)
		}
		if err := json.Unmarshal(out, &res); err != nil {
			b.Fatalf("python output %q: %v", out, err)
		}
	}
	b.ReportMetric(res.Offline, "py-images/s")
	b.ReportMetric(res.Online, "py-items/s")
}

// BenchmarkOfflineVsCV2 compares the offline steps (decode, carrier crop,
// hand mask, hand boxes; full variant, no cache) of xraylab with W workers
// against bench/preprocess_cv2.py with a pool of W processes, on the same
// images, W = GOMAXPROCS (XRAYLAB_BENCH_WORKERS overrides). The two run
// interleaved, round after round (XRAYLAB_BENCH_ROUNDS, default 5), so
// that a shared machine's load falls on both alike; it reports both rates'
// medians, the min and max of the per-round ratio of the rates
// xraylab/Python, and the same for CPU time per image (Python/xraylab:
// steadier on a loaded machine). The
// pipeline is built before the clock starts, as the Python pool is.
func BenchmarkOfflineVsCV2(b *testing.B) {
	recs := benchData(b)
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		b.Skip("no /usr/bin/python3 (apt-get install -y python3-opencv)")
	}
	workers := runtime.GOMAXPROCS(0)
	if v := os.Getenv("XRAYLAB_BENCH_WORKERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("XRAYLAB_BENCH_WORKERS=%q: want a whole number of at least 1", v)
		}
		workers = n
	}
	rounds := 5
	if v := os.Getenv("XRAYLAB_BENCH_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("XRAYLAB_BENCH_ROUNDS=%q: want a whole number of at least 1", v)
		}
		rounds = n
	}
	p := newTestPipeline(b, PipelineOptions{Variant: VariantFull, Size: benchOut, Workers: workers})
	var goRates, pyRates, ratios, cpuRatios []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for r := 0; r < rounds; r++ {
			cpu0 := cpuSeconds()
			start := time.Now()
			if _, _, err := p.Prepare(context.Background(), recs, nil); err != nil {
				b.Fatal(err)
			}
			g := float64(len(recs)) / time.Since(start).Seconds()
			gc := (cpuSeconds() - cpu0) / float64(len(recs))
			out, err := exec.Command("/usr/bin/python3", "../bench/preprocess_cv2.py", benchRoot,
				"--workers", strconv.Itoa(workers), "--offline-only").CombinedOutput()
			if err != nil {
				b.Skipf("python cv2 benchmark failed (is python3-opencv installed?): %v\n%s", err, out)
			}
			var res struct {
				Images  int     `json:"images"`
				Offline float64 `json:"offline_images_per_s"`
				CPU     float64 `json:"offline_cpu_s_per_image"`
			}
			if err := json.Unmarshal(out, &res); err != nil {
				b.Fatalf("python output %q: %v", out, err)
			}
			if res.Images != len(recs) {
				b.Fatalf("python read %d images, xraylab %d", res.Images, len(recs))
			}
			goRates, pyRates, ratios = append(goRates, g), append(pyRates, res.Offline), append(ratios, g/res.Offline)
			cpuRatios = append(cpuRatios, res.CPU/gc)
			b.Logf("round %d, %d workers: xraylab %.1f images/s (%.0f ms CPU/image), python cv2 %.1f images/s (%.0f ms CPU/image); ratio %.2f (CPU %.2f)",
				r+1, workers, g, 1000*gc, res.Offline, 1000*res.CPU, g/res.Offline, res.CPU/gc)
		}
	}
	b.StopTimer()
	sort.Float64s(ratios)
	b.ReportMetric(median(goRates), "go-images/s")
	b.ReportMetric(median(pyRates), "py-images/s")
	b.ReportMetric(ratios[0], "min-ratio")
	b.ReportMetric(ratios[len(ratios)-1], "max-ratio")
	sort.Float64s(cpuRatios)
	b.ReportMetric(cpuRatios[0], "min-cpu-ratio")
	b.ReportMetric(cpuRatios[len(cpuRatios)-1], "max-cpu-ratio")
}

// cpuSeconds is the CPU time this process has used (every thread: the
// workers and OpenCV's own).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// BenchmarkMaskQuality reports the offline pipeline's accuracy on synthetic
// data: mean hand-mask IoU, two-hand split accuracy and carrier corner
// error (pixels). 40 patients at 256 px, medium difficulty.
func BenchmarkMaskQuality(b *testing.B) {
	for _, grabCut := range []bool{false, true} {
		name := "threshold"
		if grabCut {
			name = "grabcut"
		}
		b.Run(name, func(b *testing.B) {
			recs := synthRecords(b, 40, 256, "medium", 1)
			p := newTestPipeline(b, PipelineOptions{Variant: VariantFull, Size: 64, GrabCut: grabCut})
			var q quality
			for i := 0; i < b.N; i++ {
				items, _, err := p.Prepare(context.Background(), recs, nil)
				if err != nil {
					b.Fatal(err)
				}
				q = measureQuality(b, p, recs, items)
			}
			b.ReportMetric(q.MeanIoU, "IoU")
			b.ReportMetric(q.SplitAcc, "split-acc")
			b.ReportMetric(float64(q.TwoHandsHit)/float64(max(1, q.TwoHands)), "two-hand-recall")
			b.ReportMetric(q.CarrierErr, "carrier-px")
			b.ReportMetric(float64(q.Images), "images")
		})
	}
}
