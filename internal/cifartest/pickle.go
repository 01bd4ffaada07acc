package cifartest

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/nettrain/nettrain/internal/cifar"
)

// Pickle returns s as one batch of the Python version of CIFAR-10, pickled
// as Python 2's cPickle wrote those files (protocol 2, str keys and raw
// data): a dict with "batch_label", "labels" (a list of ints), "data" (a
// uint8 numpy array of shape (N, 3072)) and "filenames".
func Pickle(s cifar.Set, batchLabel string) []byte {
	var b bytes.Buffer
	str := func(v string) { // SHORT_BINSTRING or BINSTRING: a Python 2 str
		if len(v) < 256 {
			b.WriteByte('U')
			b.WriteByte(byte(len(v)))
		} else {
			b.WriteByte('T')
			binary.Write(&b, binary.LittleEndian, int32(len(v)))
		}
		b.WriteString(v)
	}
	integer := func(v int) {
		switch {
		case v >= 0 && v < 256:
			b.WriteByte('K')
			b.WriteByte(byte(v))
		case v >= 0 && v < 65536:
			b.WriteByte('M')
			binary.Write(&b, binary.LittleEndian, uint16(v))
		default:
			b.WriteByte('J')
			binary.Write(&b, binary.LittleEndian, int32(v))
		}
	}
	global := func(module, name string) { fmt.Fprintf(&b, "c%s\n%s\n", module, name) }
	const (
		mark, tuple, reduce, build, setitems, stop = '(', 't', 'R', 'b', 'u', '.'
		tuple1, tuple2, tuple3, newFalse           = 0x85, 0x86, 0x87, 0x89
	)

	b.Write([]byte{0x80, 2}) // PROTO 2
	b.WriteByte('}')         // EMPTY_DICT
	b.WriteByte(mark)
	str("batch_label")
	str(batchLabel)
	str("labels")
	b.WriteByte(']') // EMPTY_LIST
	b.WriteByte(mark)
	for _, y := range s.Y {
		integer(int(y))
	}
	b.WriteByte('e') // APPENDS
	str("data")
	// numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), 'b')
	global("numpy.core.multiarray", "_reconstruct")
	global("numpy", "ndarray")
	integer(0)
	b.WriteByte(tuple1)
	str("b")
	b.WriteByte(tuple3)
	b.WriteByte(reduce)
	// .__setstate__((1, (N, 3072), dtype('u1'), False, raw))
	b.WriteByte(mark)
	integer(1)
	integer(s.N())
	integer(cifar.D)
	b.WriteByte(tuple2)
	global("numpy", "dtype")
	str("u1")
	integer(0)
	integer(1)
	b.WriteByte(tuple3)
	b.WriteByte(reduce)
	b.WriteByte(mark) // dtype.__setstate__((3, '|', None, None, None, -1, -1, 0))
	integer(3)
	str("|")
	b.WriteString("NNN")
	b.WriteByte('J')
	binary.Write(&b, binary.LittleEndian, int32(-1))
	b.WriteByte('J')
	binary.Write(&b, binary.LittleEndian, int32(-1))
	integer(0)
	b.WriteByte(tuple)
	b.WriteByte(build)
	b.WriteByte(newFalse)
	str(string(s.X))
	b.WriteByte(tuple)
	b.WriteByte(build)
	str("filenames")
	b.WriteByte(']')
	b.WriteByte(mark)
	for i := range s.N() {
		str(fmt.Sprintf("image_%05d.png", i))
	}
	b.WriteByte('e')
	b.WriteByte(setitems)
	b.WriteByte(stop)
	return b.Bytes()
}

// PickleMeta returns a Python batches.meta: a pickled dict with
// "num_cases_per_batch", "label_names" and "num_vis".
func PickleMeta(names []string, per int) []byte {
	var b bytes.Buffer
	str := func(v string) {
		b.WriteByte('U')
		b.WriteByte(byte(len(v)))
		b.WriteString(v)
	}
	b.Write([]byte{0x80, 2, '}', '('})
	str("num_cases_per_batch")
	b.WriteByte('J')
	binary.Write(&b, binary.LittleEndian, int32(per))
	str("label_names")
	b.Write([]byte{']', '('})
	for _, n := range names {
		str(n)
	}
	b.WriteByte('e')
	str("num_vis")
	b.WriteByte('M')
	binary.Write(&b, binary.LittleEndian, uint16(3072))
	b.Write([]byte{'u', '.'})
	return b.Bytes()
}
