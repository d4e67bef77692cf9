package server

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
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

// writeScores gives run 1 a scores.csv of the score columns names, one row
// per (part, label, scores).
func writeScores(t *testing.T, e *env, names string, rows ...string) {
	t.Helper()
	csv := "part,path,patient,study,view,half,label," + names + "\n"
	for i, r := range rows {
		part, rest, _ := strings.Cut(r, ",")
		csv += fmt.Sprintf("%s,img%d.png,%05d,s%d,1,0,%s\n", part, i, i, i, rest)
	}
	dir := filepath.Join(e.arts, "1")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "scores.csv"), []byte(csv), 0o644)
	arts, _ := e.store.Artifacts(context.Background(), 1)
	if len(arts) == 0 {
		if err := e.store.AddArtifact(context.Background(), &experiments.Artifact{RunID: 1, Name: "scores.csv", Kind: "scores",
			Size: int64(len(csv)), SHA256: strings.Repeat("0", 64)}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRunROC(t *testing.T) {
	e := newEnv(t)
	e.submitFile("two.yaml")
	// Test: labels 1 0 1 0 with mean 0.9 0.8 0.7 0.1 and tied mse; val:
	// two images tied on mean.
	writeScores(t, e, "mean,mse",
		"test,1,0.9,0.5", "test,0,0.8,0.5", "test,1,0.7,0.5", "test,0,0.1,0.5", "val,1,0.5,1", "val,0,0.5,2")
	cases := []struct{ query, want string }{
		// The corners by hand: threshold 0.9 catches one of two abnormal
		// images, 0.8 one of two normal ones, and so on; AUC by trapezoids
		// 0.5·0.5 + 0.5·1 = 0.75.
		{"score=mean", `{"run_id":1,"score":"mean","split":"test","auc":0.75,"points":[` +
			`{"fpr":0,"tpr":0,"threshold":"+Inf"},{"fpr":0,"tpr":0.5,"threshold":0.9},{"fpr":0.5,"tpr":0.5,"threshold":0.8},` +
			`{"fpr":0.5,"tpr":1,"threshold":0.7},{"fpr":1,"tpr":1,"threshold":0.1}]}`},
		// Tied scores move both rates at once: one diagonal step.
		{"score=mse&split=test", `{"run_id":1,"score":"mse","split":"test","auc":0.5,"points":[` +
			`{"fpr":0,"tpr":0,"threshold":"+Inf"},{"fpr":1,"tpr":1,"threshold":0.5}]}`},
		{"score=mean&split=val", `{"run_id":1,"score":"mean","split":"val","auc":0.5,"points":[` +
			`{"fpr":0,"tpr":0,"threshold":"+Inf"},{"fpr":1,"tpr":1,"threshold":0.5}]}`},
		// On val the abnormal image has the lower mse: AUC 0.
		{"score=mse&split=val", `{"run_id":1,"score":"mse","split":"val","auc":0,"points":[` +
			`{"fpr":0,"tpr":0,"threshold":"+Inf"},{"fpr":1,"tpr":0,"threshold":2},{"fpr":1,"tpr":1,"threshold":1}]}`},
	}
	for _, c := range cases {
		if got := e.get("/api/runs/1/roc?"+c.query, 200); got != c.want {
			t.Errorf("%s:\n%s\nwant\n%s", c.query, got, c.want)
		}
	}

	errs := []struct {
		path string
		code int
		want string
	}{
		{"/api/runs/1/roc?score=ssim", 400, `{"error":{"code":"invalid","message":"run 1 has no score \"ssim\"; it has: mean, mse","details":{"parameter":"score","value":"ssim","allowed":"mean, mse"}}}`},
		{"/api/runs/1/roc?score=mean&split=train", 400, `{"error":{"code":"invalid","message":"query parameter split: must be one of test, val, got \"train\"","details":{"parameter":"split","value":"train","allowed":"test, val"}}}`},
		{"/api/runs/1/roc", 400, `{"error":{"code":"invalid","message":"query parameter score is required","details":{"parameter":"score","value":"","allowed":"a score name of the run, e.g. mean"}}}`},
		{"/api/runs/99/roc?score=mean", 404, `{"error":{"code":"not_found","message":"run 99 not found"}}`},
		{"/api/runs/2/roc?score=mean", 404, `{"error":{"code":"not_found","message":"run 2 has no scores yet (state queued)"}}`},
	}
	for _, c := range errs {
		if got := e.get(c.path, c.code); got != c.want {
			t.Errorf("%s:\n%s\nwant\n%s", c.path, got, c.want)
		}
	}

	// Scores the Go ROC refuses are refused here, not dropped.
	writeScores(t, e, "mean", "test,1,0.9", "test,0,NaN", "test,1,0.1")
	if got, want := e.get("/api/runs/1/roc?score=mean", 400), `{"error":{"code":"invalid","message":"run 1 has no ROC curve of score mean on its test images: score 1 is NaN"}}`; got != want {
		t.Errorf("NaN score:\n%s\nwant\n%s", got, want)
	}
	writeScores(t, e, "mean", "test,1,0.9", "test,1,0.1", "val,0,0.3")
	if got, want := e.get("/api/runs/1/roc?score=mean", 400), `{"error":{"code":"invalid","message":"run 1 has no ROC curve of score mean on its test images: ROC needs both classes; got 0 normal and 2 abnormal"}}`; got != want {
		t.Errorf("one class:\n%s\nwant\n%s", got, want)
	}
}

// The AUC is the Mann-Whitney statistic with ties counted half (moved
// from the dashboard's unit test of its own ROC, on the same data).
func TestRunROCMannWhitney(t *testing.T) {
	e := newEnv(t)
	e.submitFile("two.yaml")
	// A fixed pseudo-random sequence (LCG, seed 7) rounded to make ties.
	s := 7.0
	rnd := func() float64 { s = math.Mod(s*1103515245+12345, 2147483648); return s / 2147483648 }
	var rows []string
	var labels []int
	var scores []float64
	for i := 0; i < 200; i++ {
		l := 0
		if rnd() < 0.4 {
			l = 1
		}
		v := math.Round((rnd()+0.3*float64(l))*20) / 20
		labels, scores = append(labels, l), append(scores, v)
		rows = append(rows, fmt.Sprintf("test,%d,%v", l, v))
	}
	writeScores(t, e, "mean", rows...)
	var sum, pairs float64
	for i := range labels {
		for j := range labels {
			if labels[i] == 1 && labels[j] == 0 {
				pairs++
				switch {
				case scores[i] > scores[j]:
					sum++
				case scores[i] == scores[j]:
					sum += 0.5
				}
			}
		}
	}
	var got struct{ AUC float64 }
	if err := json.Unmarshal([]byte(e.get("/api/runs/1/roc?score=mean", 200)), &got); err != nil {
		t.Fatal(err)
	}
	if math.Abs(got.AUC-sum/pairs) > 1e-12 {
		t.Errorf("AUC %v, Mann-Whitney %v", got.AUC, sum/pairs)
	}
}
