package registry

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"xraylab/experiments"
)

func TestArtifacts(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	_, runs := mustCreate(t, s, "art", 2)
	id := runs[0].ID
	sha := func(c string) string { return strings.Repeat(c, 64) }
	fixed := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)

	ckpt := &experiments.Artifact{RunID: id, Name: "checkpoints/epoch-0002.ckpt", Kind: "checkpoint", Size: 1 << 20, SHA256: sha("a")}
	roc := &experiments.Artifact{RunID: id, Name: "roc.png", Kind: "plot", Size: 2048, SHA256: sha("b"), Created: fixed}
	before := time.Now().UTC()
	for _, a := range []*experiments.Artifact{roc, ckpt} {
		if err := s.AddArtifact(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if ckpt.ID == 0 || ckpt.Created.Before(before) || ckpt.Created.Location() != time.UTC {
		t.Errorf("checkpoint not filled in: %+v", ckpt)
	}
	if !roc.Created.Equal(fixed) {
		t.Errorf("given creation time replaced: %v", roc.Created)
	}
	got, err := s.Artifacts(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []*experiments.Artifact{ckpt, roc}) {
		t.Errorf("artifacts\n got %+v\nwant %+v", got, []*experiments.Artifact{ckpt, roc})
	}

	// Re-adding a name replaces the record and keeps its ID.
	roc2 := &experiments.Artifact{RunID: id, Name: "roc.png", Kind: "plot", Size: 4096, SHA256: sha("c")}
	if err := s.AddArtifact(ctx, roc2); err != nil {
		t.Fatal(err)
	}
	if roc2.ID != roc.ID {
		t.Errorf("replacement got ID %d, want %d", roc2.ID, roc.ID)
	}
	got, _ = s.Artifacts(ctx, id)
	if !reflect.DeepEqual(got, []*experiments.Artifact{ckpt, roc2}) {
		t.Errorf("after replace\n got %+v\nwant %+v", got, []*experiments.Artifact{ckpt, roc2})
	}
	if other, err := s.Artifacts(ctx, runs[1].ID); err != nil || other == nil || len(other) != 0 {
		t.Errorf("other run: %v, %v (want an empty, non-nil slice)", other, err)
	}

	for _, tc := range []struct {
		a    experiments.Artifact
		want string
	}{
		{experiments.Artifact{RunID: id, Name: "../escape.png", Kind: "plot", SHA256: sha("a")}, `run 1: artifact name "../escape.png" must be a slash-separated path inside the run's folder (no "..", no leading "/")`},
		{experiments.Artifact{RunID: id, Name: "/etc/passwd", Kind: "plot", SHA256: sha("a")}, `run 1: artifact name "/etc/passwd" must be a slash-separated path inside the run's folder (no "..", no leading "/")`},
		{experiments.Artifact{RunID: id, Name: "a/../../b", Kind: "plot", SHA256: sha("a")}, `run 1: artifact name "a/../../b" must be a slash-separated path inside the run's folder (no "..", no leading "/")`},
		{experiments.Artifact{RunID: id, Name: `a\..\b`, Kind: "plot", SHA256: sha("a")}, `run 1: artifact name "a\\..\\b" must be a slash-separated path inside the run's folder (no "..", no leading "/")`},
		{experiments.Artifact{RunID: id, Name: ".", Kind: "plot", SHA256: sha("a")}, `run 1: artifact name "." must be a slash-separated path inside the run's folder (no "..", no leading "/")`},
		{experiments.Artifact{RunID: id, Name: "", Kind: "plot", SHA256: sha("a")}, `run 1: artifact name "" must be a slash-separated path inside the run's folder (no "..", no leading "/")`},
		{experiments.Artifact{RunID: id, Name: "x.png", SHA256: sha("a")}, `run 1: artifact "x.png" has an empty kind`},
		{experiments.Artifact{RunID: id, Name: "x.png", Kind: "plot", Size: -1, SHA256: sha("a")}, `run 1: artifact "x.png" has a negative size -1`},
		{experiments.Artifact{RunID: id, Name: "x.png", Kind: "plot", SHA256: sha("A")}, `run 1: artifact "x.png": sha256 "` + sha("A") + `" is not 64 lower-case hex digits`},
		{experiments.Artifact{RunID: id, Name: "x.png", Kind: "plot", SHA256: "abc"}, `run 1: artifact "x.png": sha256 "abc" is not 64 lower-case hex digits`},
	} {
		t.Run(tc.a.Name, func(t *testing.T) {
			a := tc.a
			wantErr(t, s.AddArtifact(ctx, &a), experiments.CodeInvalid, tc.want)
		})
	}
	wantErr(t, s.AddArtifact(ctx, nil), experiments.CodeInvalid, "artifact is nil")
}

func TestDatasets(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	_, runs := mustCreate(t, s, "data", 1)
	id := runs[0].ID

	_, err := s.Dataset(ctx, id)
	wantErr(t, err, experiments.CodeNotFound, "run 1 has no dataset record")

	for _, d := range []experiments.DatasetRecord{
		{Fingerprint: "sha256:1111", Summary: json.RawMessage(`{"train":120,"val":30,"test":{"normal":20,"abnormal":20}}`)},
		{Fingerprint: "sha256:2222"}, // replaces, summary dropped
	} {
		if err := s.SetDataset(ctx, id, d); err != nil {
			t.Fatal(err)
		}
		got, err := s.Dataset(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, d) {
			t.Errorf("dataset %+v, want %+v", got, d)
		}
		r, _ := s.GetRun(ctx, id)
		if r.Dataset != d.Fingerprint {
			t.Errorf("run's fingerprint %q, want %q", r.Dataset, d.Fingerprint)
		}
	}
	wantErr(t, s.SetDataset(ctx, id, experiments.DatasetRecord{}), experiments.CodeInvalid, "run 1: dataset fingerprint is empty")
	wantErr(t, s.SetDataset(ctx, id, experiments.DatasetRecord{Fingerprint: "f", Summary: json.RawMessage(`{`)}),
		experiments.CodeInvalid, "run 1: dataset summary is not valid JSON")
}
