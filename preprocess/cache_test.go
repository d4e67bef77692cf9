package preprocess

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestCacheSkipsOfflineWork: a second Prepare over the same files hits the
// cache for every image (skips included) and gives the same items and
// samples; a changed file and changed settings miss.
func TestCacheSkipsOfflineWork(t *testing.T) {
	dir := t.TempDir()
	var recs []Record
	for k := 0; k < 4; k++ {
		px := make([]byte, 40*36)
		for i := range px {
			px[i] = byte((i*3 + k*17) % 200)
		}
		path := filepath.Join(dir, fmt.Sprintf("image%d.png", k))
		writeGrey(t, path, 40, 36, px)
		recs = append(recs, Record{Path: path, View: k})
	}
	bad := filepath.Join(dir, "bad.png")
	os.WriteFile(bad, []byte("not a png"), 0o644)
	recs = append(recs, Record{Path: bad})
	cache := filepath.Join(t.TempDir(), "cache")

	o := PipelineOptions{Variant: VariantRaw, Size: 32, CacheDir: cache, Workers: 2}
	p1 := newTestPipeline(t, o)
	items1, rep1, err := p1.Prepare(context.Background(), recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep1.CacheMisses != 5 || rep1.CacheHits != 0 || rep1.Items != 4 || rep1.Skipped != 1 {
		t.Fatalf("first run: %+v", rep1)
	}
	p2 := newTestPipeline(t, o)
	var calls []int
	items2, rep2, err := p2.Prepare(context.Background(), recs, func(done, total int) { calls = append(calls, done*10+total) })
	if err != nil {
		t.Fatal(err)
	}
	if rep2.CacheHits != 5 || rep2.CacheMisses != 0 || rep2.Skipped != 1 || rep2.Skips[0].Reason != rep1.Skips[0].Reason {
		t.Fatalf("second run: %+v", rep2)
	}
	if !reflect.DeepEqual(calls, []int{15, 25, 35, 45, 55}) {
		t.Fatalf("progress calls %v", calls)
	}
	if !reflect.DeepEqual(items1, items2) {
		t.Fatalf("items differ:\n%+v\n%+v", items1, items2)
	}
	// Cached items load exactly like in-memory ones.
	mem := newTestPipeline(t, PipelineOptions{Variant: VariantRaw, Size: 32})
	itemsMem, _, err := mem.Prepare(context.Background(), recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if items2[0].ImagePath == "" || itemsMem[0].ImagePath != "" {
		t.Fatalf("cached item path %q, in-memory item path %q", items2[0].ImagePath, itemsMem[0].ImagePath)
	}
	for i := range items2 {
		a, err1 := p2.Load(items2[i], AugmentAdvanced, int64(i))
		b, err2 := mem.Load(itemsMem[i], AugmentAdvanced, int64(i))
		if err1 != nil || err2 != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("item %d: cached and in-memory samples differ (%v, %v)", i, err1, err2)
		}
	}

	// Change one file: only it misses.
	px := make([]byte, 40*36)
	for i := range px {
		px[i] = byte(i % 97)
	}
	writeGrey(t, recs[2].Path, 40, 36, px)
	_, rep3, err := p2.Prepare(context.Background(), recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep3.CacheHits != 4 || rep3.CacheMisses != 1 {
		t.Fatalf("after changing one file: %+v", rep3)
	}
	// Other offline settings: all miss.
	p4 := newTestPipeline(t, PipelineOptions{Variant: VariantRaw, Size: 32, CacheDir: cache, MinSide: 20})
	_, rep4, err := p4.Prepare(context.Background(), recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep4.CacheHits != 0 || rep4.CacheMisses != 5 {
		t.Fatalf("other settings: %+v", rep4)
	}
	// Online settings are not part of the key.
	p5 := newTestPipeline(t, PipelineOptions{Variant: VariantRaw, Size: 64, HistEq: true, CacheDir: cache})
	_, rep5, err := p5.Prepare(context.Background(), recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep5.CacheHits != 5 {
		t.Fatalf("online settings changed the key: %+v", rep5)
	}
}

// TestCacheIgnoresDamagedEntry: an entry whose image file vanished is a miss
// and is rewritten.
func TestCacheIgnoresDamagedEntry(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "image1.png")
	px := make([]byte, 40*40)
	for i := range px {
		px[i] = byte(i % 150)
	}
	writeGrey(t, path, 40, 40, px)
	p := newTestPipeline(t, PipelineOptions{Variant: VariantRaw, Size: 32, CacheDir: filepath.Join(dir, "c")})
	items, _, err := p.Prepare(context.Background(), []Record{{Path: path}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(items[0].ImagePath)
	_, rep, err := p.Prepare(context.Background(), []Record{{Path: path}}, nil)
	if err != nil || rep.CacheMisses != 1 {
		t.Fatalf("%v %+v", err, rep)
	}
	if _, err := os.Stat(items[0].ImagePath); err != nil {
		t.Fatalf("entry not rewritten: %v", err)
	}
}
