package experiments

import "xraylab/nets"

// modelDefaults are one model's training settings from the paper's
// supplement (.3 augmentation, .4 training details). A spec that leaves a
// field unset gets these; zero fields fall through to the global defaults.
type modelDefaults struct {
	Augmentation string
	Resize       string // preprocess.ResizePad or ResizeFit
	ImageSize    int
	Epochs       int
	BatchSize    int
	Params       map[string]float64 // by the nets parameter names
}

// paperDefaults: supplement .4 per model, and the paper's resize policy
// (AE and DCGAN inputs padded to 512 at native scale, BiGAN and α-GAN
// inputs resized to 128 before augmentation). α-GAN's one lr_d drives
// both of its discriminators, as the supplement gives them one rate. The
// VAE takes z = 1024 from the architecture table, not the 2048 of .4
// (README "Models as coded").
var paperDefaults = map[string]modelDefaults{
	"cae":      {Resize: "pad", Augmentation: "advanced", ImageSize: 512, Epochs: 1000, BatchSize: 32, Params: map[string]float64{"lr": 1e-4}},
	"bae":      {Resize: "pad", Augmentation: "advanced", ImageSize: 512, Epochs: 500, BatchSize: 32, Params: map[string]float64{"lr": 1e-4}},
	"vae":      {Resize: "pad", Augmentation: "default", ImageSize: 512, Epochs: 500, BatchSize: 32, Params: map[string]float64{"lr": 1e-4, "z": 1024}},
	"dcgan":    {Resize: "pad", Augmentation: "default", ImageSize: 512, Epochs: 500, BatchSize: 80, Params: map[string]float64{"lr_g": 1e-3, "lr_d": 1e-5, "z": 2048, "soft_delta": 0.01}},
	"bigan":    {Resize: "fit", Augmentation: "default", ImageSize: 128, Epochs: 500, BatchSize: 16, Params: map[string]float64{"lr_ge": 1e-3, "lr_d": 5e-6, "z": 100, "hinge": 1}},
	"alphagan": {Resize: "fit", Augmentation: "default", ImageSize: 128, Epochs: 500, BatchSize: 16, Params: map[string]float64{"lr_ge": 1e-3, "lr_d": 5e-6, "z": 100, "hinge": 1}},
}

// defaultResize is the model's paper resize policy: pad (native scale)
// for the autoencoders and DCGAN, fit for BiGAN and α-GAN; fit, the
// pipeline's policy before policies existed, for the others.
func defaultResize(model string) string {
	if d, ok := paperDefaults[model]; ok && d.Resize != "" {
		return d.Resize
	}
	return "fit"
}

// defaultAugmentation is the model's paper policy, or none.
func defaultAugmentation(model string) string {
	if d, ok := paperDefaults[model]; ok && d.Augmentation != "" {
		return d.Augmentation
	}
	return "none"
}

// resolveParams returns every parameter the model accepts: the spec's
// value, else the paper's, else the model's own default. A run stores all
// of them, so it keeps what it used when a default changes later.
func resolveParams(ms nets.Spec, given map[string]float64) map[string]float64 {
	if len(ms.Params) == 0 && len(given) == 0 {
		return nil
	}
	out := make(map[string]float64, len(ms.Params))
	for name, r := range ms.Params {
		out[name] = r.Default
	}
	for name, v := range paperDefaults[ms.Name].Params {
		out[name] = v
	}
	for name, v := range given {
		out[name] = v
	}
	return out
}

// pick is the first non-zero of the model's value, the experiment's when
// the spec set it, the model's paper default, and the global default.
func pick(model int, exp int, expSet bool, paper int) int {
	switch {
	case model != 0:
		return model
	case expSet:
		return exp
	case paper != 0:
		return paper
	}
	return exp
}
