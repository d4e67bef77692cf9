//go:build openblas

package ops

// void openblas_set_num_threads(int);
import "C"

import (
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
	G.Use(netlib.Implementation{})
	C.openblas_set_num_threads(1)
	splitGEMM = true
}
