#include "hands_dnnprobe.h"
#include <opencv2/dnn.hpp>
#include <cstring>
#include <string>

static int fail(char* err, int errlen, const std::string& msg) {
    std::strncpy(err, msg.c_str(), errlen - 1);
    err[errlen - 1] = 0;
    return 1;
}

int xl_probe_net(const char* model, int size, char* err, int errlen) {
    try {
        cv::dnn::Net net = cv::dnn::readNet(model);
        if (net.empty()) return fail(err, errlen, "the model has no layers");
        int dims[4] = {1, 3, size, size};
        cv::Mat blob(4, dims, CV_32F, cv::Scalar(0));
        net.setInput(blob);
        cv::Mat out = net.forward();
        if (out.dims != 4 || out.size[0] != 1 || out.size[1] != 1 || out.size[3] != 7) {
            std::string shape = "[";
            for (int i = 0; i < out.dims; i++)
                shape += (i ? "," : "") + std::to_string(out.size[i]);
            return fail(err, errlen, "output has shape " + shape + "], want SSD detections [1,1,N,7]");
        }
        return 0;
    } catch (const cv::Exception& e) {
        return fail(err, errlen, e.err.empty() ? e.what() : e.err);
    } catch (const std::exception& e) {
        return fail(err, errlen, e.what());
    } catch (...) {
        return fail(err, errlen, "unknown error");
    }
}
