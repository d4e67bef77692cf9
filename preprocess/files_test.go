package preprocess

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// copyTree puts a copy of the fixture's MURA-v1.1 at dst.
func copyTree(t *testing.T, dst string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(copyFixture(t), dst); err != nil {
		t.Fatal(err)
	}
}

// rootFiles opens dir as the data root for the test's duration.
func rootFiles(t *testing.T, dir string) *Files {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	f, err := RootFiles(r)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Through a root the loader finds exactly what it finds on the OS.
func TestRootFilesLoadTheSame(t *testing.T) {
	data := t.TempDir()
	root := filepath.Join(data, "MURA-v1.1")
	copyTree(t, root)
	want, err := LoadMURA(root, LoadOptions{Parts: []string{"train", "valid"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := LoadMURA(root, LoadOptions{Parts: []string{"train", "valid"}, Files: rootFiles(t, data)})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("through the root:\n%+v\nwant\n%+v", got, want)
	}
}

// A dataset root that is a link out of the data root, a file linked from
// outside and a path outside are refused; the OS reads would follow them.
func TestRootFilesConfineTheLoader(t *testing.T) {
	tmp := t.TempDir()
	data, outside := filepath.Join(tmp, "data"), filepath.Join(tmp, "outside")
	copyTree(t, filepath.Join(outside, "MURA-v1.1"))
	copyTree(t, filepath.Join(data, "MURA-v1.1"))
	if err := os.Symlink(filepath.Join(outside, "MURA-v1.1"), filepath.Join(data, "link")); err != nil {
		t.Fatal(err)
	}
	files := rootFiles(t, data)

	linked := filepath.Join(data, "link")
	if _, err := LoadMURA(linked, LoadOptions{}); err != nil {
		t.Fatalf("on the OS the link is followed: %v", err)
	}
	_, err := LoadMURA(linked, LoadOptions{Files: files})
	if want := "MURA root " + linked + ": statat link: path escapes from parent"; err == nil || err.Error() != want {
		t.Errorf("root linked out: %v\nwant %s", err, want)
	}
	_, err = LoadMURA(filepath.Join(outside, "MURA-v1.1"), LoadOptions{Files: files})
	if want := "MURA root " + filepath.Join(outside, "MURA-v1.1") + ": " + filepath.Join(outside, "MURA-v1.1") + " is outside the data root " + data; err == nil || err.Error() != want {
		t.Errorf("root outside: %v\nwant %s", err, want)
	}

	// One image replaced by a link to a file outside: skipped, not read.
	root := filepath.Join(data, "MURA-v1.1")
	img := filepath.Join(root, "train/XR_HAND/patient00001/study1_positive/image2.png")
	if err := os.Remove(img); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "MURA-v1.1/train/XR_HAND/patient00001/study1_positive/image2.png"), img); err != nil {
		t.Fatal(err)
	}
	if ds, err := LoadMURA(root, LoadOptions{}); err != nil || len(ds.Skipped) != 0 {
		t.Fatalf("on the OS the linked image is read: %v", err)
	}
	ds, err := LoadMURA(root, LoadOptions{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	wantSkip := []Skip{{Path: img, Reason: "unreadable: openat MURA-v1.1/train/XR_HAND/patient00001/study1_positive/image2.png: path escapes from parent"}}
	if !reflect.DeepEqual(ds.Skipped, wantSkip) || len(ds.Records) != 22 {
		t.Errorf("linked image: %d records, skipped %+v\nwant 22 and %+v", len(ds.Records), ds.Skipped, wantSkip)
	}
}

// A file swapped for a link after loading (before the run reads it) is
// not read by a pipeline reading through the root.
func TestRootFilesConfineThePipeline(t *testing.T) {
	tmp := t.TempDir()
	data, outside := filepath.Join(tmp, "data"), filepath.Join(tmp, "outside")
	copyTree(t, filepath.Join(data, "MURA-v1.1"))
	copyTree(t, filepath.Join(outside, "MURA-v1.1"))
	files := rootFiles(t, data)
	ds, err := LoadMURA(filepath.Join(data, "MURA-v1.1"), LoadOptions{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	rec := ds.Records[0]
	if err := os.Remove(rec.Path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "MURA-v1.1", filepath.FromSlash(rec.RelPath)), rec.Path); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*Files{nil, files} {
		p, err := NewPipeline(PipelineOptions{Variant: VariantRaw, Size: 16, Workers: 1, MinSide: 1, Files: f})
		if err != nil {
			t.Fatal(err)
		}
		items, rep, err := p.Prepare(context.Background(), []Record{rec}, nil)
		p.Close()
		if err != nil {
			t.Fatal(err)
		}
		if f == nil {
			if len(items) != 1 {
				t.Errorf("on the OS the link is followed: %d items, %+v", len(items), rep.Skips)
			}
			continue
		}
		want := []Skip{{Path: rec.Path, Reason: "cannot read file: openat MURA-v1.1/" + rec.RelPath + ": path escapes from parent"}}
		if len(items) != 0 || !reflect.DeepEqual(rep.Skips, want) {
			t.Errorf("through the root: %d items, skips %+v\nwant %+v", len(items), rep.Skips, want)
		}
	}
}
