package model_test

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/nettrain/nettrain/internal/model"
)

// A net of 2 inputs, 2 hidden units and 2 classes, worked by hand: the
// loss is the mean cross-entropy plus 0.5*reg*(|W1|² + |W2|²).
func ExampleNet_Loss() {
	net := &model.Net{Layers: []model.Layer{
		{W: mat.NewDense(2, 2, []float64{1, 0, 0, 1}), B: []float64{0, 0}},
		{W: mat.NewDense(2, 2, []float64{1, 0, 0, 1}), B: []float64{0, 0}},
	}}
	x := []float64{
		2, 0, // hidden (2, 0): scores (2, 0)
		0, 1, // hidden (0, 1): scores (0, 1)
	}
	y := []uint8{0, 1}
	grads := model.Zeros(2, 2, 2)
	loss := net.Loss(grads, nil, x, y, 0.1)
	// -log softmax: (log(1+e^-2) + log(1+e^-1)) / 2 = 0.220095, plus
	// 0.05*(2+2). dW2 = h^T (softmax - onehot)/N + reg*W2.
	fmt.Printf("loss %.6f\n", loss)
	fmt.Printf("dW2 %.4f\n", grads.Layers[1].W.RawMatrix().Data)
	// Output:
	// loss 0.420095
	// dW2 [-0.0192 0.1192 0.1345 -0.0345]
}

// Probabilities are the softmax of the scores; Predict picks the largest.
func ExampleNet_Probabilities() {
	net := &model.Net{Layers: []model.Layer{
		{W: mat.NewDense(2, 2, []float64{1, 0, 0, 1}), B: []float64{0, 0}},
		{W: mat.NewDense(2, 3, []float64{1, 0, 0, 0, 1, 0}), B: []float64{0, 0, 0.5}},
	}}
	x := []float64{3, 1} // scores (3, 1, 0.5)
	fmt.Printf("%.4f\n", net.Probabilities(nil, nil, x))
	fmt.Println(net.Predict(nil, nil, x))
	// Output:
	// [0.8214 0.1112 0.0674]
	// [0]
}
