package synth

import (
	"context"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkGenerate measures whole-dataset generation, including PNG
// encoding and writing the image, both masks and the JSON. It reports
// images/s (wall clock, so it depends on what else the machine runs) and
// the process's user and system (file creation, mostly) CPU per image,
// which depend on it less. Run with
//
//	go test ./preprocess/synth/ -run '^$' -bench 'Generate|Render$' -benchtime 5x
func BenchmarkGenerate(b *testing.B) {
	for _, size := range []int{512, 128} {
		b.Run(strconv.Itoa(size)+"px", func(b *testing.B) {
			dir := b.TempDir()
			images := 0
			user0, sys0 := processCPU(b)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rep, err := Generate(context.Background(), Options{
					Out: filepath.Join(dir, strconv.Itoa(i)), Patients: 40, Size: size, Seed: int64(i),
				}, nil)
				if err != nil {
					b.Fatal(err)
				}
				images += rep.Images
			}
			b.StopTimer()
			user, sys := processCPU(b)
			b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "images/s")
			b.ReportMetric((user-user0).Seconds()*1000/float64(images), "user-ms/image")
			b.ReportMetric((sys-sys0).Seconds()*1000/float64(images), "sys-ms/image")
		})
	}
}

// processCPU is the user and the system CPU time this process has used.
func processCPU(b *testing.B) (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// BenchmarkRender isolates drawing one 512 px image (no encoding, no I/O).
func BenchmarkRender(b *testing.B) {
	sc := &synthScratch{}
	var out rendered
	for i := 0; i < b.N; i++ {
		sc.renderTo(imageJob{Seed: mix64(1, uint64(i)), PatientSeed: 3, Size: 512}, &out)
	}
}
