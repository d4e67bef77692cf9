//go:build openblas

package ops

import (
	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
)

// With -tags openblas the kernels and Gorgonia call OpenBLAS through cgo
// (Debian: libopenblas-dev; build with CGO_LDFLAGS=-lopenblas). Its thread
// count follows OPENBLAS_NUM_THREADS (default: every core).
func init() {
	blasImpl = netlib.Implementation{}
	blasName = "openblas"
	G.Use(netlib.Implementation{})
}
