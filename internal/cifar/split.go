package cifar

import "github.com/nettrain/nettrain/internal/setting"

// Default split sizes, as cs231n's get_CIFAR10_data.
const (
	DefaultNumTrain = 49000
	DefaultNumVal   = 1000
	DefaultNumTest  = 1000
)

// Sizes says how many images each split takes.
type Sizes struct {
	Train int // the first Train training images
	Val   int // the next Val training images
	Test  int // the first Test test images
}

// Splits are the three splits of a dataset; they share the dataset's memory.
type Splits struct {
	Train, Val, Test Set
}

// Check reports whether the sizes fit a dataset of nTrain training and nTest
// test images, with an error that names the flag to change.
func (sz Sizes) Check(nTrain, nTest int) error {
	switch {
	case sz.Train < 1:
		return setting.Errorf("num_train", "{num_train} is %d, want at least 1", sz.Train)
	case sz.Val < 1:
		return setting.Errorf("num_val", "{num_val} is %d, want at least 1", sz.Val)
	case sz.Test < 1:
		return setting.Errorf("num_test", "{num_test} is %d, want at least 1", sz.Test)
	case sz.Train+sz.Val > nTrain:
		return setting.Errorf("num_train", "{num_train} %d plus {num_val} %d is %d, but the training batches hold %d images", sz.Train, sz.Val, sz.Train+sz.Val, nTrain)
	case sz.Test > nTest:
		return setting.Errorf("num_test", "{num_test} is %d, but the test batch holds %d images", sz.Test, nTest)
	}
	return nil
}

// Split cuts ds as cs231n does: train is the first sz.Train training images,
// val the next sz.Val, test the first sz.Test test images.
func (ds *Dataset) Split(sz Sizes) (Splits, error) {
	if err := sz.Check(ds.Train.N(), ds.Test.N()); err != nil {
		return Splits{}, err
	}
	return Splits{
		Train: ds.Train.Slice(0, sz.Train),
		Val:   ds.Train.Slice(sz.Train, sz.Train+sz.Val),
		Test:  ds.Test.Slice(0, sz.Test),
	}, nil
}
