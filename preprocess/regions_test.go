package preprocess

import "testing"

// 8-connectivity: pixels touching at a corner form one region; a gap of
// one pixel separates; pixels outside the loss mask belong to no region.
func TestRegions(t *testing.T) {
	cases := []struct {
		name        string
		truth, mask []float32
		want        int
	}{
		{"diagonal", []float32{1, 0, 0, 0, 1, 0, 0, 0, 1}, nil, 1},
		{"gap", []float32{1, 0, 1, 1, 0, 1, 0, 0, 0}, nil, 2},
		{"mask splits", []float32{1, 1, 1, 0, 0, 0, 0, 0, 0}, []float32{1, 0, 1, 1, 1, 1, 1, 1, 1}, 2},
		{"none", make([]float32, 9), nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lab, n, err := LabelRegions(c.truth, c.mask, 3, 3)
			if err != nil {
				t.Fatal(err)
			}
			if n != c.want {
				t.Errorf("%d regions, want %d (labels %v)", n, c.want, lab)
			}
			for j, l := range lab {
				inRegion := c.truth[j] >= 0.5 && (c.mask == nil || c.mask[j] >= 0.5)
				if (l > 0) != inRegion || int(l) > n {
					t.Errorf("pixel %d label %d, in region %v", j, l, inRegion)
				}
			}
		})
	}
}
