package preprocess

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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
