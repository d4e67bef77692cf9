package server

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"xraylab/experiments"
)

func TestRunScores(t *testing.T) {
	e := newEnv(t)
	e.submitFile("two.yaml")
	csv := "part,path,patient,study,view,half,label,mean,mean_top5\n" +
		"val,train/XR_HAND/patient00001/study1_positive/image1.png,00001,train/00001/study1,1,0,1,0.5,0.75\n" +
		"test,train/XR_HAND/patient00002/study1_negative/image2.png,00002,train/00002/study1,2,1,0,0.125,1e-05\n"
	dir := filepath.Join(e.arts, "1")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "scores.csv"), []byte(csv), 0o644)
	if err := e.store.AddArtifact(context.Background(), &experiments.Artifact{RunID: 1, Name: "scores.csv", Kind: "scores", Size: int64(len(csv)),
		SHA256: "0000000000000000000000000000000000000000000000000000000000000000"}); err != nil {
		t.Fatal(err)
	}
	want := `{"run_id":1,"scores":["mean","mean_top5"],"rows":[` +
		`{"part":"val","path":"train/XR_HAND/patient00001/study1_positive/image1.png","patient":"00001","study":"train/00001/study1","view":1,"half":0,"label":1,"scores":{"mean":0.5,"mean_top5":0.75}},` +
		`{"part":"test","path":"train/XR_HAND/patient00002/study1_negative/image2.png","patient":"00002","study":"train/00002/study1","view":2,"half":1,"label":0,"scores":{"mean":0.125,"mean_top5":0.00001}}]}`
	if got := e.get("/api/runs/1/scores", 200); got != want {
		t.Errorf("scores JSON:\n%s\nwant\n%s", got, want)
	}
	if got := e.get("/api/runs/1/scores?format=csv", 200); got != csv {
		t.Errorf("scores CSV:\n%s", got)
	}
	if got := e.get("/api/runs/2/scores", 404); got != `{"error":{"code":"not_found","message":"run 2 has no scores yet (state queued)"}}` {
		t.Errorf("no scores: %s", got)
	}
	if got := e.get("/api/runs/1/scores?format=xml", 400); got != `{"error":{"code":"invalid","message":"query parameter format: must be one of json, csv, got \"xml\"","details":{"parameter":"format","value":"xml","allowed":"json, csv"}}}` {
		t.Errorf("bad format: %s", got)
	}
	if got := e.get("/api/runs/99/scores", 404); got != `{"error":{"code":"not_found","message":"run 99 not found"}}` {
		t.Errorf("missing run: %s", got)
	}
}
