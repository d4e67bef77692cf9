package ops

import (
	"gonum.org/v1/gonum/blas"
	gblas "gonum.org/v1/gonum/blas/gonum"
)

// floatBLAS is the part of BLAS the package's kernels call.
type floatBLAS interface {
	blas.Float32
	blas.Float64
}

// blasImpl is the BLAS behind the package's own kernels (convolutions) and,
// through gorgonia.Use, Gorgonia's matrix products: gonum's pure-Go
// implementation with address-independent float32 dot products
// (blas_gonum.go), or OpenBLAS when built with -tags openblas
// (blas_openblas.go). Both give the same results run after run and model
// after model, so seeded training stays bit-identical within one build.
var (
	blasImpl floatBLAS = gblas.Implementation{}
	blasName           = "gonum"
)

// BLASName says which BLAS this binary computes with: "gonum" or "openblas".
func BLASName() string { return blasName }
