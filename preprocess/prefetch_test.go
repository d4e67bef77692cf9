package preprocess

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// smallItems writes n distinct 24×16 images and prepares them (raw).
func smallItems(t *testing.T, p *Pipeline, n int) []Item {
	t.Helper()
	dir := t.TempDir()
	var recs []Record
	for k := 0; k < n; k++ {
		px := make([]byte, 24*16)
		for i := range px {
			px[i] = byte((i*7 + k*31) % 251)
		}
		path := filepath.Join(dir, fmt.Sprintf("image%d.png", k))
		writeGrey(t, path, 24, 16, px)
		recs = append(recs, Record{Path: path, View: k})
	}
	items, rep, err := p.Prepare(context.Background(), recs, nil)
	if err != nil || len(items) != n {
		t.Fatalf("prepare: %v, %d items, %+v", err, len(items), rep)
	}
	return items
}

func collect(t *testing.T, ch <-chan BatchResult) []BatchResult {
	t.Helper()
	var out []BatchResult
	for b := range ch {
		out = append(out, b)
	}
	return out
}

// TestBatchesDeterministicAcrossWorkers: the same order and seeds give the
// same batches with 1 or 4 workers, in the given order, equal to Load one
// by one; the last batch is short.
func TestBatchesDeterministicAcrossWorkers(t *testing.T) {
	var runs [2][]BatchResult
	var items []Item
	for k, workers := range []int{1, 4} {
		p := newTestPipeline(t, PipelineOptions{Variant: VariantRaw, Size: 16, MinSide: 1, Workers: workers, Prefetch: 1})
		items = smallItems(t, p, 7)
		order := []int{6, 2, 0, 5, 1, 3, 4}
		seeds := []int64{11, 12, 13, 14, 15, 16, 17}
		runs[k] = collect(t, p.Batches(context.Background(), items, order, seeds, 3, AugmentAdvanced))
		if len(runs[k]) != 3 || len(runs[k][2].Samples) != 1 {
			t.Fatalf("workers %d: %d batches", workers, len(runs[k]))
		}
		var got []int
		for _, b := range runs[k] {
			if b.Err != nil {
				t.Fatal(b.Err)
			}
			got = append(got, b.Indices...)
		}
		if !reflect.DeepEqual(got, order) {
			t.Fatalf("workers %d: indices %v, want %v", workers, got, order)
		}
		// Batch 1, sample 0 is item 5 with seed 14.
		want, err := p.Load(items[5], AugmentAdvanced, 14)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(runs[k][1].Samples[0], want) {
			t.Fatalf("workers %d: batch sample differs from Load", workers)
		}
	}
	if !reflect.DeepEqual(runs[0], runs[1]) {
		t.Fatal("1 and 4 workers gave different batches")
	}
	// Different seeds give different augmentations somewhere.
	p := newTestPipeline(t, PipelineOptions{Variant: VariantRaw, Size: 16, MinSide: 1})
	other := collect(t, p.Batches(context.Background(), items, []int{6, 2, 0, 5, 1, 3, 4}, []int64{1, 2, 3, 4, 5, 6, 7}, 3, AugmentAdvanced))
	if reflect.DeepEqual(other, runs[0]) {
		t.Fatal("other seeds gave identical batches")
	}
}

func TestBatchesArgumentErrors(t *testing.T) {
	p := newTestPipeline(t, PipelineOptions{Variant: VariantRaw, Size: 16, MinSide: 1})
	items := []Item{{}, {}}
	cases := []struct {
		order []int
		seeds []int64
		bs    int
		aug   string
		want  string
	}{
		{[]int{0}, []int64{1}, 0, AugmentNone, "preprocess: batches: batch size 0 must be positive"},
		{[]int{0, 1}, []int64{1}, 2, AugmentNone, "preprocess: batches: 1 seeds for 2 order entries"},
		{[]int{0, 2}, []int64{1, 2}, 2, AugmentNone, "preprocess: batches: order[1] = 2 is outside the 2 items"},
		{[]int{0}, []int64{1}, 1, "flip", `preprocess: unknown augmentation "flip" (want none, default or advanced)`},
	}
	for _, c := range cases {
		got := collect(t, p.Batches(context.Background(), items, c.order, c.seeds, c.bs, c.aug))
		if len(got) != 1 || got[0].Err == nil || got[0].Err.Error() != c.want {
			t.Errorf("got %+v, want one batch with error %q", got, c.want)
		}
	}
}

// TestBatchesStopsOnLoadError: a broken item ends the stream with an error
// naming its file.
func TestBatchesStopsOnLoadError(t *testing.T) {
	p := newTestPipeline(t, PipelineOptions{Variant: VariantRaw, Size: 16, MinSide: 1, Workers: 2})
	items := smallItems(t, p, 4)
	items[2].ImagePath = ""
	items[2].img = nil
	items[2].Record.Path = "broken.png"
	got := collect(t, p.Batches(context.Background(), items, []int{0, 1, 2, 3}, []int64{1, 2, 3, 4}, 2, AugmentNone))
	if len(got) != 2 || got[0].Err != nil || got[1].Err == nil ||
		!strings.Contains(got[1].Err.Error(), "preprocess: load broken.png: item has no pixels") {
		t.Fatalf("got %d batches, last error %v", len(got), got[len(got)-1].Err)
	}
}

// TestBatchesCancel: cancelling the context closes the channel without
// delivering everything, and leaves no goroutine blocked (the channel
// closes promptly).
func TestBatchesCancel(t *testing.T) {
	p := newTestPipeline(t, PipelineOptions{Variant: VariantRaw, Size: 16, MinSide: 1, Workers: 2, Prefetch: 1})
	items := smallItems(t, p, 3)
	var order []int
	var seeds []int64
	for i := 0; i < 300; i++ {
		order = append(order, i%3)
		seeds = append(seeds, int64(i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := p.Batches(ctx, items, order, seeds, 1, AugmentDefault)
	<-ch
	cancel()
	n := 0
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				if n >= 299 {
					t.Fatalf("received all %d remaining batches despite cancel", n)
				}
				return
			}
			n++
		case <-deadline:
			t.Fatal("channel not closed after cancel")
		}
	}
}
