"""Builds the tiny ONNX detection models that test preprocess's DNN hand
localiser (PipelineOptions.Detector) end to end. No pretrained detector can be
fetched here, so these models compute their detections from the input with
fixed, simple operations; the Go test (hands_dnn_model_test.go) recomputes the
same boxes from the image and checks the pipeline follows them.

tiny-ssd.onnx takes the detector blob the pipeline feeds (1x3x300x300, RGB
scaled to [-1, 1]) and returns SSD detections [1, 1, 6, 7], rows of
(image_id, class, score, x1, y1, x2, y2) with normalised coordinates:

  rows 0, 1  class 1 (hand), one per image half (columns [0,150) and
             [150,300)): the bounding box of the pixels brighter than mid
             grey (blob value > 0) in that half; score = min(0.99, 4 x the
             bright share of the half). An empty half gives score 0.
  row 2      class 2 (not a hand), score 0.99, the whole image: a hand
             detector must ignore other classes.
  row 3      class 1, score 0.45 (below the pipeline's 0.5), the bottom-right
             corner box [0.9, 0.9, 1, 1].
  row 4      image_id 1 (another image of a batch), class 1, score 0.98, the
             top-left corner box [0, 0, 0.1, 0.1].
  row 5      class 1, score 0.97, x2 < x1 (an invalid box) over the middle.

bad-shape.onnx returns [1, 1, 3, 5] (five numbers a row): the pipeline must
refuse it with a clear error.

Only MaxPool, AvgPool, Relu, Mul, Add, Sub, Slice, Concat and Reshape are
used, which OpenCV 4.6's ONNX importer supports.

Regenerate (Debian's python3-torch, offline):
  /usr/bin/python3 preprocess/testdata/detector/make_detector.py
"""

import os

import torch
import torch.nn.functional as F

SIZE = 300
HALF = SIZE // 2


def step(x):
    # 1 where x > 0, else 0: blob values are multiples of 1/127.5, so the
    # smallest positive one times 1e4 is far above 1.
    y = x * 1e4
    return F.relu(y) - F.relu(y - 1)


class TinySSD(torch.nn.Module):
    def __init__(self):
        super().__init__()
        idx = torch.arange(HALF, dtype=torch.float32)
        ridx = torch.arange(SIZE, dtype=torch.float32)
        # max(on * (i+1)) = last on index + 1; max(on * (n-i)) = n - first.
        self.register_buffer("col_end", (idx + 1).view(1, 1, 1, HALF))
        self.register_buffer("col_start", (HALF - idx).view(1, 1, 1, HALF))
        self.register_buffer("row_end", (ridx + 1).view(1, 1, SIZE, 1))
        self.register_buffer("row_start", (SIZE - ridx).view(1, 1, SIZE, 1))
        self.register_buffer("fixed", torch.tensor([
            [0, 2, 0.99, 0.0, 0.0, 1.0, 1.0],
            [0, 1, 0.45, 0.9, 0.9, 1.0, 1.0],
            [1, 1, 0.98, 0.0, 0.0, 0.1, 0.1],
            [0, 1, 0.97, 0.6, 0.2, 0.4, 0.8],
        ], dtype=torch.float32).view(1, 1, 4, 7))

    def half_row(self, on, offset):
        # on: [1, 1, SIZE, HALF] of 0/1.
        cols = F.max_pool2d(on, kernel_size=(SIZE, 1))  # [1,1,1,HALF]
        rows = F.max_pool2d(on, kernel_size=(1, HALF))  # [1,1,SIZE,1]
        gmax = lambda t: F.max_pool2d(t, kernel_size=t.shape[2:]).view(1, 1)
        x2 = (gmax(cols * self.col_end) + offset) / SIZE
        x1 = (offset + HALF - gmax(cols * self.col_start)) / SIZE
        y2 = gmax(rows * self.row_end) / SIZE
        y1 = (SIZE - gmax(rows * self.row_start)) / SIZE
        share = F.avg_pool2d(on, kernel_size=(SIZE, HALF)).view(1, 1)
        y = share * 4
        score = y - F.relu(y - 0.99)  # min(0.99, 4*share)
        # image_id 0 and class 1 are derived from score rather than taken
        # from one shared constant: OpenCV 4.6's importer refuses a constant
        # that feeds two Concat nodes ("Layer ... already into net").
        image_id = score * 0
        return torch.cat([image_id, image_id + 1, score, x1, y1, x2, y2], dim=1)

    def forward(self, x):
        on = step(x[:, 0:1])
        left = self.half_row(on[:, :, :, :HALF], 0.0)
        right = self.half_row(on[:, :, :, HALF:], float(HALF))
        hands = torch.cat([left, right], dim=0).view(1, 1, 2, 7)
        return torch.cat([hands, self.fixed], dim=2)


class BadShape(torch.nn.Module):
    def forward(self, x):
        m = F.avg_pool2d(x[:, 0:1], kernel_size=(SIZE, SIZE))  # [1,1,1,1]
        return torch.cat([m] * 15, dim=3).view(1, 1, 3, 5)


def export(model, name):
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    x = torch.zeros(1, 3, SIZE, SIZE)
    torch.onnx.export(model.eval(), x, out, opset_version=11,
                      input_names=["image"], output_names=["detections"],
                      do_constant_folding=True)
    print(out, os.path.getsize(out), "bytes")


if __name__ == "__main__":
    export(TinySSD(), "tiny-ssd.onnx")
    export(BadShape(), "bad-shape.onnx")
