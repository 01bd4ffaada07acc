"""A stand-in for the onnxruntime Python package where it cannot be
installed (it comes from PyPI, which CI cannot reach): InferenceSession.run
interprets the operators nettrain export uses with numpy, as ONNX defines
them. TestReadmeOnnxSnippets runs the README's Python snippet with it; with
the real onnxruntime installed, the test uses that instead."""

import numpy as np
import onnx
from onnx import helper, numpy_helper


class InferenceSession:
    def __init__(self, path):
        self.model = onnx.load(path)

    def run(self, outputs, feeds):
        g = self.model.graph
        v = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        v.update(feeds)
        for n in g.node:
            a = [v[i] for i in n.input]
            at = {x.name: helper.get_attribute_value(x) for x in n.attribute}
            op = n.op_type
            if op == "Flatten":
                r = a[0].reshape(a[0].shape[0], -1)
            elif op == "Sub":
                r = a[0] - a[1]
            elif op == "Add":
                r = a[0] + a[1]
            elif op == "MatMul":
                r = a[0] @ a[1]
            elif op == "Relu":
                r = np.maximum(a[0], 0)
            elif op == "LayerNormalization":
                mu = a[0].mean(-1, keepdims=True)
                var = a[0].var(-1, keepdims=True)
                r = (a[0] - mu) / np.sqrt(var + at["epsilon"]) * a[1] + a[2]
            elif op == "Softmax":
                e = np.exp(a[0] - a[0].max(-1, keepdims=True))
                r = e / e.sum(-1, keepdims=True)
            else:
                raise NotImplementedError(op)
            v[n.output[0]] = r.astype(np.float32)
        return [v[o] for o in (outputs or [o.name for o in g.output])]
