// Package ops holds the custom Gorgonia ops the models are built from:
// convolution and transposed convolution, BatchNorm2d (with ReLU), max
// pooling with indices and unpooling, spectral normalisation, minibatch
// discrimination, LeakyReLU and copying Reshape/Concat, with the raw
// kernels and the BLAS they run on. It knows nothing of models.
package ops
