// Package gradtest checks Gorgonia gradients against central differences:
// the numerical tools the tests of ops, losses and models share.
package gradtest

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// RandDense is a float64 tensor of uniform values in [-1, 1).
func RandDense(r *rand.Rand, shape ...int) *tensor.Dense {
	t := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(shape...))
	for i := range t.Float64s() {
		t.Float64s()[i] = r.Float64()*2 - 1
	}
	return t
}

// CentralDiff is the numerical derivative (f(v+ε) − f(v−ε)) / 2ε of f
// with respect to v = data[i], ε = 1e-6; data[i] is left as it was.
func CentralDiff(f func() float64, data []float64, i int) float64 {
	const eps = 1e-6
	orig := data[i]
	data[i] = orig + eps
	up := f()
	data[i] = orig - eps
	down := f()
	data[i] = orig
	return (up - down) / (2 * eps)
}

// RunGraph runs g once on a new tape machine, closed when the test ends.
func RunGraph(t *testing.T, g *G.ExprGraph, opts ...G.VMOpt) {
	t.Helper()
	vm := G.NewTapeMachine(g, opts...)
	t.Cleanup(func() { vm.Close() })
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
}

// Bound is a float64 input node bound to v.
func Bound(g *G.ExprGraph, name string, v *tensor.Dense) *G.Node {
	return G.NewTensor(g, tensor.Float64, v.Dims(), G.WithShape(v.Shape()...), G.WithName(name), G.WithValue(v))
}

// GradCheck builds a float64 graph from bound input tensors, runs it once
// for the analytic gradients of cost with respect to wrt, then compares
// every entry against central differences obtained by perturbing the bound
// tensors in place and rerunning the machine.
func GradCheck(t *testing.T, build func(g *G.ExprGraph) (cost *G.Node, wrt []*G.Node, data []*tensor.Dense)) {
	t.Helper()
	g := G.NewGraph()
	cost, wrt, data := build(g)
	if _, err := G.Grad(cost, wrt...); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(wrt...))
	defer vm.Close()
	run := func() float64 {
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		return cost.Value().Data().(float64)
	}
	run()
	// read every gradient before rerunning: some ops accumulate into it
	analytics := make([][]float64, len(wrt))
	for k, n := range wrt {
		gv, err := n.Grad()
		if err != nil {
			t.Fatal(err)
		}
		analytics[k] = append([]float64(nil), gv.Data().([]float64)...)
	}
	for k, n := range wrt {
		analytic := analytics[k]
		d := data[k].Float64s()
		for i := range d {
			num := CentralDiff(run, d, i)
			if math.Abs(num-analytic[i]) > 1e-6+1e-5*math.Abs(num) {
				t.Fatalf("d cost/d %s[%d]: analytic %.9g, numerical %.9g", n.Name(), i, analytic[i], num)
			}
		}
	}
}
