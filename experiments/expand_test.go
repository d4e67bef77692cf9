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
