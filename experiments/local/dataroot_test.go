package local_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/internal/testenv"
	"xraylab/experiments/local"
	"xraylab/preprocess/synth"
)

// With data roots, a run reads its dataset through an os.Root on the root
// holding it: a dataset folder that became a link out of the root after
// submission fails the run instead of being read, a folder outside every
// root (a spec that reached the executor unchecked) fails it too, and data
// inside trains as usual, its anomaly masks beside it included.
func TestRunsReadDataThroughTheDataRoot(t *testing.T) {
	e := testenv.New(t)
	tmp := t.TempDir()
	data, outside := filepath.Join(tmp, "data"), filepath.Join(tmp, "outside")
	for _, out := range []string{data, outside} {
		if _, err := synth.Generate(context.Background(), synth.Options{Out: out, Patients: 12, Size: 64, Seed: 7, Difficulty: "easy", Workers: 1}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// A second root missing here, as on a node that lacks the data.
	absent := filepath.Join(tmp, "absent")
	e.Exec = local.NewExecutor(e.Store, e.Hub, local.Options{ArtifactsDir: filepath.Join(e.Dir, "artifacts"),
		CacheDir: filepath.Join(e.Dir, "cache"), DataRoots: []string{data, absent}, LoadWorkers: 1})
	spec := func(root string) []byte {
		return []byte("experiments:\n  e:\n    dataset: {mura: {root: '" + root + "', parts: [train, valid]}}\n" +
			"    image_size: 16\n    epochs: 1\n    batch_size: 8\n    models: [{name: pixelgauss, topk: [5]}]\n    preprocessing: [raw]\n")
	}
	checked := experiments.NewManager(e.Store, e.Hub, nil, "test")
	checked.SetDataRoots([]string{data})
	unchecked := experiments.NewManager(e.Store, e.Hub, nil, "test")
	link := filepath.Join(data, "later")
	cases := []struct {
		m          *experiments.Manager
		root, want string
	}{
		{checked, filepath.Join(data, "MURA-v1.1"), ""},
		// Accepted: the name does not exist yet and lies inside the root.
		{checked, link, "load dataset: MURA root " + link + ": statat later: path escapes from parent"},
		{unchecked, filepath.Join(outside, "MURA-v1.1"), "dataset path " + filepath.Join(outside, "MURA-v1.1") +
			" is outside the data roots this server allows (" + data + ", " + absent + ")"},
		{unchecked, filepath.Join(absent, "MURA-v1.1"), "load dataset: MURA root " + filepath.Join(absent, "MURA-v1.1") + ": no such folder"},
	}
	ids := make([]int64, len(cases))
	for i, c := range cases {
		exps, _, err := c.m.Submit(context.Background(), spec(c.root), "")
		if err != nil {
			t.Fatalf("submit %s: %v", c.root, err)
		}
		ids[i] = exps[0].ID
	}
	// After submission, before any run starts: the link leads out.
	if err := os.Symlink(filepath.Join(outside, "MURA-v1.1"), link); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := e.Runner(1)
	r.Start(ctx)
	defer func() { cancel(); r.Wait() }()
	for i, c := range cases {
		runs := e.WaitAll(t, ids[i], 2*time.Minute)
		if len(runs) != 1 {
			t.Fatalf("%s: %d runs", c.root, len(runs))
		}
		run := runs[0]
		switch {
		case c.want == "" && run.State != experiments.StateSucceeded:
			t.Errorf("%s: %s %q, want success", c.root, run.State, run.Error)
		case c.want != "" && (run.State != experiments.StateFailed || run.Error != c.want):
			t.Errorf("%s: %s %q\nwant failed %q", c.root, run.State, run.Error, c.want)
		}
	}
}
