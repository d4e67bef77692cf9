//go:build openblas

package ops

// void openblas_set_num_threads(int);
import "C"

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
)

// With -tags openblas the kernels and Gorgonia call OpenBLAS through cgo
// (Debian: libopenblas-dev; build with CGO_LDFLAGS=-lopenblas). OpenBLAS
// runs single-threaded and the kernels split their products over
// GOMAXPROCS goroutines (parallel.go says why).
func init() {
	blasImpl = netlib.Implementation{}
	blasName = "openblas"
	G.Use(graphBLAS{})
	C.openblas_set_num_threads(1)
	splitGEMM = true
}

// graphBLAS is OpenBLAS for Gorgonia's own matrix products (the GANs'
// linear layers, minibatch discrimination) with float32 products split
// over goroutines as the kernels' are: with OpenBLAS single-threaded they
// would otherwise run on one core.
type graphBLAS struct{ netlib.Implementation }

func (graphBLAS) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	splitGemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, netlib.Implementation{}.Sgemm)
}
