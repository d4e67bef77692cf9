package server

import (
	"context"
	"strings"
	"testing"

	"xraylab/experiments"
)

// refuseRender is a Heatmaps that fails the test when called: every
// request below must be refused before anything is rendered. (The
// rendering itself is tested end to end, with a trained checkpoint, in
// experiments/local.)
type refuseRender struct{ t *testing.T }

func (r refuseRender) Render(_ context.Context, checkpoint, root, rel string, half int, mapName string) ([]byte, error) {
	r.t.Errorf("rendered %s half %d map %q of %s with %s; the request should have been refused", rel, half, mapName, root, checkpoint)
	return nil, nil
}

func TestRunHeatmapRefusals(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Heatmaps = refuseRender{t} })
	e.submitFile("two.yaml")
	// img0.png test, img1.png val; then a two-hand image split in halves.
	writeScores(t, e, "mean", "test,1,0.9", "val,0,0.2")
	e.get("/api/runs/1/scores", 200)
	ctx := context.Background()
	type tc struct {
		path string
		code int
		want string
	}
	check := func(cases []tc) {
		t.Helper()
		for _, c := range cases {
			if got := e.get(c.path, c.code); got != c.want {
				t.Errorf("%s:\n%s\nwant\n%s", c.path, got, c.want)
			}
		}
	}
	check([]tc{
		{"/api/runs/1/heatmap", 400, `{"error":{"code":"invalid","message":"query parameter image is required","details":{"parameter":"image","value":"","allowed":"a test image path of the run, as in its scores"}}}`},
		{"/api/runs/1/heatmap?image=img0.png&half=3", 400, `{"error":{"code":"invalid","message":"query parameter half: must be 0 (whole image), 1 or 2 (a hand of a two-hand image), got \"3\"","details":{"parameter":"half","value":"3","allowed":"0 (whole image), 1 or 2 (a hand of a two-hand image)"}}}`},
		{"/api/runs/1/heatmap?image=img0.png&half=x", 400, `{"error":{"code":"invalid","message":"query parameter half: must be 0 (whole image), 1 or 2 (a hand of a two-hand image), got \"x\"","details":{"parameter":"half","value":"x","allowed":"0 (whole image), 1 or 2 (a hand of a two-hand image)"}}}`},
		{"/api/runs/99/heatmap?image=img0.png", 404, `{"error":{"code":"not_found","message":"run 99 not found"}}`},
		{"/api/runs/2/heatmap?image=img0.png", 404, `{"error":{"code":"not_found","message":"run 2 has no scores yet (state queued)"}}`},
		// Only recorded paths are accepted: anything else is unknown.
		{"/api/runs/1/heatmap?image=..%2F..%2Fetc%2Fpasswd", 404, `{"error":{"code":"not_found","message":"run 1 has no image \"../../etc/passwd\" among its scored images"}}`},
		{"/api/runs/1/heatmap?image=%2Fetc%2Fpasswd", 404, `{"error":{"code":"not_found","message":"run 1 has no image \"/etc/passwd\" among its scored images"}}`},
		{"/api/runs/1/heatmap?image=img1.png", 400, `{"error":{"code":"invalid","message":"image \"img1.png\" is in run 1's val split, not its test split","details":{"parameter":"image","value":"img1.png","allowed":"a test image path of the run"}}}`},
		{"/api/runs/1/heatmap?image=img0.png&half=1", 400, `{"error":{"code":"invalid","message":"test image \"img0.png\" of run 1 has no half 1; it has: 0","details":{"parameter":"half","value":"1","allowed":"0"}}}`},
		// A test image, but nothing to render it with yet.
		{"/api/runs/1/heatmap?image=img0.png", 409, `{"error":{"code":"conflict","message":"run 1 has no checkpoint yet (state queued)"}}`},
	})
	if err := e.store.AddArtifact(ctx, &experiments.Artifact{RunID: 1, Name: "checkpoint.bin", Kind: "checkpoint", Size: 1, SHA256: strings.Repeat("1", 64)}); err != nil {
		t.Fatal(err)
	}
	check([]tc{{"/api/runs/1/heatmap?image=img0.png", 409, `{"error":{"code":"conflict","message":"run 1 has no dataset record yet (state queued)"}}`}})

	// Without a renderer the endpoint is absent, whatever is asked.
	bare := newEnv(t)
	bare.submitFile("two.yaml")
	if got, want := bare.get("/api/runs/1/heatmap?image=img0.png", 404), `{"error":{"code":"not_found","message":"this server renders no heatmaps"}}`; got != want {
		t.Errorf("no renderer:\n%s\nwant\n%s", got, want)
	}
}
