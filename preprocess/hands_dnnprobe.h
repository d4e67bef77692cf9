#ifndef XRAYLAB_HANDS_DNNPROBE_H
#define XRAYLAB_HANDS_DNNPROBE_H
#ifdef __cplusplus
extern "C" {
#endif
// xl_probe_net loads a detection model and runs one forward pass on a zero
// blob of 1×3×size×size inside try/catch, so a bad model file becomes an
// error message instead of an uncaught C++ exception (gocv's ReadNet does
// not catch them). Returns 0 on success, else writes a message into err.
int xl_probe_net(const char* model, int size, char* err, int errlen);
#ifdef __cplusplus
}
#endif
#endif
