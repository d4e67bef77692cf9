//go:build !race

package testenv

// slowdown stretches the tests' waiting bounds under the race detector.
const slowdown = 1
