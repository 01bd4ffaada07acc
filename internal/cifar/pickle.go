package cifar

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"codeberg.org/sbinet/npyio/npy"
	"github.com/nlpodyssey/gopickle/pickle"
	py "github.com/nlpodyssey/gopickle/types"
)

// readPickleBatch fills dst from one batch of the Python version of
// CIFAR-10 (cifar-10-batches-py): a pickled dict whose "data" is a uint8
// numpy array of shape (N, 3072) and whose "labels" is a list of N ints.
// Only numpy's array and dtype classes are rebuilt; any other class in the
// pickle is an error, so a hostile file cannot run code.
func readPickleBatch(dst Set, r io.Reader) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed pickle (%v)", p)
		}
	}()
	b, err := io.ReadAll(io.LimitReader(r, maxPickle+1))
	if err != nil {
		return err
	}
	if len(b) > maxPickle {
		return fmt.Errorf("more than %d MiB, not a CIFAR-10 Python batch (31 MB)", maxPickle>>20)
	}
	if err := checkPickle(b); err != nil {
		return fmt.Errorf("not a CIFAR-10 Python batch (%v)", err)
	}
	u := pickle.NewUnpickler(bytes.NewReader(b))
	u.FindClass = findClass
	v, err := u.Load()
	if err != nil {
		return fmt.Errorf("not a CIFAR-10 Python batch (%v)", err)
	}
	d, ok := v.(*py.Dict)
	if !ok {
		return fmt.Errorf("not a CIFAR-10 Python batch (a pickled %T, want a dict)", v)
	}
	data, labels := dictGet(d, "data"), dictGet(d, "labels")
	if data == nil || labels == nil {
		return errors.New(`not a CIFAR-10 Python batch (no "data" or "labels")`)
	}
	arr, ok := data.(*pyArray)
	if !ok {
		return fmt.Errorf(`"data" is a %T, want a numpy array`, data)
	}
	pix, ok := arr.Data().([]uint8)
	if shape := arr.Shape(); !ok || len(shape) != 2 || shape[0] != dst.N() || shape[1] != D || len(pix) != dst.N()*D {
		return fmt.Errorf(`"data" has shape %v and type %T, want (%d, %d) uint8`, arr.Shape(), arr.Data(), dst.N(), D)
	}
	list, ok := labels.(*py.List)
	if !ok || list.Len() != dst.N() {
		return fmt.Errorf(`"labels" is not a list of %d labels`, dst.N())
	}
	for i := range dst.N() {
		y, ok := list.Get(i).(int)
		if !ok || y < 0 || y >= Classes {
			return fmt.Errorf("record %d: label %v, want 0..%d (corrupted: %s)", i, list.Get(i), Classes-1, GetDataHint)
		}
		dst.Y[i] = uint8(y)
	}
	copy(dst.X, pix)
	return nil
}

// dictGet looks key up as a Python 2 str (a Go string) or Python 3 bytes.
func dictGet(d *py.Dict, key string) any {
	for _, e := range *d {
		switch k := e.Key.(type) {
		case string:
			if k == key {
				return e.Value
			}
		case []byte:
			if string(k) == key {
				return e.Value
			}
		}
	}
	return nil
}

// findClass admits numpy's array machinery and nothing else.
func findClass(module, name string) (any, error) {
	if module == "numpy" && name == "ndarray" {
		return ndarrayClass{}, nil
	}
	return npy.ClassLoader(module, name)
}

// ndarrayClass is numpy.ndarray as npyio rebuilds it, with one change: a
// Python 2 pickle (as CIFAR-10's) holds the raw data as str, which gopickle
// gives as a Go string, where npyio wants bytes.
type ndarrayClass struct{}

func (ndarrayClass) PyNew(args ...any) (any, error) {
	if len(args) > 0 {
		args[0] = &npy.Array{}
	}
	a, err := (&npy.Array{}).PyNew(args...)
	if err != nil {
		return nil, err
	}
	return &pyArray{a.(*npy.Array)}, nil
}

type pyArray struct{ *npy.Array }

func (a *pyArray) PySetState(arg any) error {
	if t, ok := arg.(*py.Tuple); ok && t.Len() > 0 {
		if s, ok := (*t)[t.Len()-1].(string); ok {
			(*t)[t.Len()-1] = []byte(s)
		}
	}
	return a.Array.PySetState(arg)
}

// picklePickledNames reads "label_names" from a pickled batches.meta.
func picklePickledNames(b []byte) (names []string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed pickle (%v)", p)
		}
	}()
	if err := checkPickle(b); err != nil {
		return nil, err
	}
	u := pickle.NewUnpickler(bytes.NewReader(b))
	u.FindClass = findClass
	v, err := u.Load()
	if err != nil {
		return nil, fmt.Errorf("not a pickled batches.meta (%v)", err)
	}
	d, ok := v.(*py.Dict)
	if !ok {
		return nil, errors.New("not a pickled batches.meta (want a dict)")
	}
	list, ok := dictGet(d, "label_names").(*py.List)
	if !ok {
		return nil, errors.New(`no "label_names" list`)
	}
	for i := range list.Len() {
		switch s := list.Get(i).(type) {
		case string:
			names = append(names, s)
		case []byte:
			names = append(names, string(s))
		default:
			return nil, fmt.Errorf("label_names[%d] is a %T", i, s)
		}
	}
	return names, nil
}
