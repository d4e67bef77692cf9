package experiments

import (
	"encoding/json"
	"reflect"
	"testing"

	"xraylab/nets"
)

// A run's stored params hold every setting it resolved at expansion: each
// parameter its model accepts, the augmentation, size, epochs and batch.
func TestRunSpecStoresResolvedSettings(t *testing.T) {
	spec, err := ParseSpec([]byte(`experiments:
  e:
    dataset: {synthetic: {}}
    models: [{name: vae}, {name: dcgan, params: {z: 64}}, {name: pixelgauss}]
`))
	if err != nil {
		t.Fatal(err)
	}
	e, _ := spec.Find("e")
	for _, rs := range e.Expand() {
		params, err := json.Marshal(rs)
		if err != nil {
			t.Fatal(err)
		}
		var stored map[string]any
		if err := json.Unmarshal(params, &stored); err != nil {
			t.Fatal(err)
		}
		model := stored["model"].(map[string]any)
		got, _ := model["params"].(map[string]any)
		ms, _ := nets.Lookup(rs.Model.Name)
		for name := range ms.Params {
			if _, ok := got[name]; !ok {
				t.Errorf("%s: stored params lack %s: %s", rs.Label(), name, params)
			}
		}
		if model["augmentation"] == "" || stored["image_size"] == nil || stored["epochs"] == nil || stored["batch_size"] == nil {
			t.Errorf("%s: stored spec lacks resolved settings: %s", rs.Label(), params)
		}
		back, err := DecodeRunSpec(params)
		if err != nil || !reflect.DeepEqual(back, rs) {
			t.Errorf("%s: round trip = %+v, %v; want %+v", rs.Label(), back, err, rs)
		}
	}
	vae := e.Expand()[0].Model.Params
	if vae["lr"] != 1e-4 || vae["z"] != 1024 || vae["width"] != 1 || vae["beta1"] != 0.9 {
		t.Errorf("vae params = %v", vae)
	}
	if dc := e.Expand()[1].Model.Params; dc["z"] != 64 || dc["lr_g"] != 1e-3 || dc["mbd_kernels"] != 100 {
		t.Errorf("dcgan params = %v", dc)
	}
}

// A run recorded before the paper defaults (no lr or z in its params,
// augmentation none) decodes to exactly what it ran with: decoding applies
// no default, so the model falls back to the values it used then.
func TestDecodeOldRunSpecKeepsItsSettings(t *testing.T) {
	old := []byte(`{"experiment":"cpu","dataset":{"synthetic":{"patients":600,"size":256,"seed":1,"difficulty":"medium"}},"split_seed":42,"image_size":64,"epochs":30,"batch_size":32,"checkpoint_every":1,"model":{"name":"vae","scores":["kld"],"topk":[200],"augmentation":"none","params":{"width":0.5}},"preprocessing":"full","histogram_equalization":false,"seed":42}`)
	r, err := DecodeRunSpec(old)
	if err != nil {
		t.Fatal(err)
	}
	want := RunSpec{
		Experiment: "cpu", Dataset: DatasetSpec{Synthetic: &SyntheticSpec{Patients: 600, Size: 256, Seed: 1, Difficulty: "medium"}},
		SplitSeed: 42, ImageSize: 64, Epochs: 30, BatchSize: 32, CheckpointEvery: 1,
		Model:         ModelSpec{Name: "vae", Scores: []string{"kld"}, TopK: []int{200}, Augmentation: "none", Params: map[string]float64{"width": 0.5}},
		Preprocessing: "full", Seed: 42,
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("old record decodes to\n%+v\nwant\n%+v", r, want)
	}
	// Re-encoding it (a requeue from a bundle) keeps it as it was.
	again, _ := json.Marshal(r)
	if r2, _ := DecodeRunSpec(again); !reflect.DeepEqual(r2, want) {
		t.Errorf("re-encoded old record = %+v", r2)
	}
}

// checkpoint_select defaults to last; best_val selects on the model's
// first score unless select_score names one of its scores.
func TestCheckpointSelectSpec(t *testing.T) {
	spec, err := ParseSpec([]byte(`experiments:
  e:
    dataset: {synthetic: {}}
    models:
      - {name: cae, topk: [20]}
      - {name: cae, topk: [20], checkpoint_select: best_val}
      - {name: vae, checkpoint_select: best_val, select_score: mse_top200}
`))
	if err != nil {
		t.Fatal(err)
	}
	e, _ := spec.Find("e")
	got := []string{}
	for _, r := range e.Expand() {
		got = append(got, r.Model.CheckpointSelect+":"+r.Model.SelectScore)
	}
	if want := []string{"last:", "best_val:mse", "best_val:mse_top200"}; !reflect.DeepEqual(got, want) {
		t.Errorf("selections = %v, want %v", got, want)
	}
	for _, c := range []struct{ model, want string }{
		{`{name: cae, checkpoint_select: best}`, `experiments.e.models[0].checkpoint_select: unknown value "best"; allowed: last, best_val (line 4, column 45)`},
		{`{name: cae, select_score: mse}`, `experiments.e.models[0].select_score: only applies with checkpoint_select: best_val (line 4, column 40)`},
		{`{name: cae, checkpoint_select: best_val, select_score: kld}`, `experiments.e.models[0].select_score: model cae has no score "kld" among its selected ones; known: mse, mse_top200 (line 4, column 69)`},
	} {
		_, err := ParseSpec([]byte("experiments:\n  e:\n    dataset: {synthetic: {}}\n    models: [" + c.model + "]\n"))
		ps := SpecProblems(err)
		if len(ps) != 1 || ps[0].String() != c.want {
			t.Errorf("%s: problems %v, want %s", c.model, ps, c.want)
		}
	}
}
