package preprocess

import "testing"

// pad keeps an image that fits at its native scale (a 4×2 image in an 8×8
// input: two columns of padding left and right, three rows above and
// below) and shrinks one that does not as fit does; fit enlarges it.
func TestResizePad(t *testing.T) {
	px := []byte{10, 20, 30, 40, 50, 60, 70, 80}
	p := newTestPipeline(t, PipelineOptions{Variant: VariantRaw, Size: 8, MinSide: 1, Resize: ResizePad})
	s, err := p.Load(prepareOneItem(t, p, 4, 2, px), AugmentNone, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, 64)
	wantMask := make([]float32, 64)
	for r := 0; r < 2; r++ {
		for c := 0; c < 4; c++ {
			want[(3+r)*8+2+c], wantMask[(3+r)*8+2+c] = float32(px[r*4+c])/255, 1
		}
	}
	approxEq(t, "image", s.Image, want)
	approxEq(t, "mask", s.Mask, wantMask)

	f := newTestPipeline(t, PipelineOptions{Variant: VariantRaw, Size: 8, MinSide: 1, Resize: ResizeFit})
	s, err = f.Load(prepareOneItem(t, f, 4, 2, px), AugmentNone, 0)
	if err != nil {
		t.Fatal(err)
	}
	in := 0
	for _, v := range s.Mask {
		if v == 1 {
			in++
		}
	}
	if in != 8*4 {
		t.Fatalf("fit: %d mask pixels, want the 8×4 of the enlarged image", in)
	}

	// larger than Size: pad shrinks like fit, 2×2 blocks averaged
	big := make([]byte, 32)
	for i := range big {
		big[i] = byte(8 * i)
	}
	for _, r := range []string{ResizePad, ResizeFit} {
		q := newTestPipeline(t, PipelineOptions{Variant: VariantRaw, Size: 4, MinSide: 1, Resize: r})
		s, err := q.Load(prepareOneItem(t, q, 8, 4, big), AugmentNone, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float32, 16)
		for y := 0; y < 2; y++ {
			for x := 0; x < 4; x++ {
				sum := 0
				for dy := 0; dy < 2; dy++ {
					for dx := 0; dx < 2; dx++ {
						sum += int(big[(2*y+dy)*8+2*x+dx])
					}
				}
				want[(y+1)*4+x] = float32((sum+2)/4) / 255
			}
		}
		approxEq(t, r+" image", s.Image, want)
	}
	if _, err := NewPipeline(PipelineOptions{Variant: VariantRaw, Size: 4, Resize: "stretch"}); err == nil ||
		err.Error() != `preprocess: options: unknown Resize "stretch" (want pad or fit)` {
		t.Fatalf("unknown policy: %v", err)
	}
}

// fit resizes before augmenting, as the paper does for BiGAN and α-GAN;
// runs from before policies ("") augment at native scale first. Brightness
// 1.5 on a 2×2 block {100, 200, 100, 200} tells them apart: averaged first
// it is 150 × 1.5 = 225; brightened first, 200 saturates at 255 and the
// average is (150+255+150+255+2)/4 = 203.
func TestResizeFitBeforeAugmentation(t *testing.T) {
	px := []byte{100, 200, 100, 200, 100, 200, 100, 200}
	a := augParams{Bright: 1.5, ScaleX: 1, ScaleY: 1}
	for _, c := range []struct {
		resize string
		level  float32
	}{{ResizeFit, 225}, {"", 203}} {
		p := newTestPipeline(t, PipelineOptions{Variant: VariantRaw, Size: 2, MinSide: 1, Resize: c.resize})
		s, err := p.loadWith(prepareOneItem(t, p, 4, 2, px), a)
		if err != nil {
			t.Fatal(err)
		}
		// 4×2 → 2×1 in a 2×2 input: the odd row of padding goes below
		approxEq(t, "image under "+c.resize, s.Image, []float32{c.level / 255, c.level / 255, 0, 0})
	}
}
