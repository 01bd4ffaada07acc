package cifar

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// maxPickle bounds the bytes of one pickled batch: a Python CIFAR-10 batch
// is 31.0 MB (10,000 images of 3072 bytes, labels and file names).
const maxPickle = 64 << 20

// maxMarks bounds the MARKs open at once in a pickle, and so the memory its
// unpickling takes in proportion to its size: a CIFAR-10 batch nests two or
// three.
const maxMarks = 1000

// checkPickle walks the opcodes of the pickle in b and fails if one is
// unknown or claims an argument longer than what is left of b. gopickle
// allocates whatever a length field says before it reads (13 bytes claiming
// 1 TiB ended in a fatal out-of-memory), so the claims are checked against
// the bytes in hand first. It does not judge what the pickle builds; the
// unpickler with findClass does that.
func checkPickle(b []byte) error {
	i := 0
	need := func(n uint64, op byte) error {
		if n > uint64(len(b)-i) {
			return fmt.Errorf("malformed pickle: opcode 0x%02x at byte %d claims %d bytes, %d are left", op, i-1, n, len(b)-i)
		}
		i += int(n)
		return nil
	}
	line := func(op byte) error {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return fmt.Errorf("malformed pickle: opcode 0x%02x at byte %d has no end of line", op, i-1)
		}
		i += j + 1
		return nil
	}
	lenArg := func(width int, op byte) error {
		if len(b)-i < width {
			return fmt.Errorf("malformed pickle: truncated at byte %d", i)
		}
		var n uint64
		switch width {
		case 1:
			n = uint64(b[i])
		case 4:
			n = uint64(binary.LittleEndian.Uint32(b[i:]))
		case 8:
			n = binary.LittleEndian.Uint64(b[i:])
		}
		i += width
		return need(n, op)
	}
	marks := 0 // open MARKs: 8 MB of them took gopickle 2.3 GB and 19 s (measured in issue 22)
	for i < len(b) {
		op := b[i]
		i++
		var err error
		switch op {
		case '(': // MARK
			if marks++; marks > maxMarks {
				return fmt.Errorf("malformed pickle: more than %d nested MARKs at byte %d (a CIFAR-10 batch has a few)", maxMarks, i-1)
			}
		case 'e', 'u', 't', 'l', 'd', 'o', '1', 0x90, 0x91: // APPENDS SETITEMS TUPLE LIST DICT OBJ POP_MARK ADDITEMS FROZENSET
			marks = max(marks-1, 0)
		case 'i': // INST: pops to the MARK; module and name lines
			marks = max(marks-1, 0)
			if err = line(op); err == nil {
				err = line(op)
			}
		case '.': // STOP
			return nil
		case '0', '2', 'N', 'a', 'b', '}', ']', ')', 'R', 's', 'Q',
			0x85, 0x86, 0x87, 0x88, 0x89, 0x81, 0x92, 0x93, 0x94, 0x8f, 0x97, 0x98:
			// no argument
		case 'K', 'h', 'q', 0x80, 0x82: // BININT1 BINGET BINPUT PROTO EXT1
			err = need(1, op)
		case 'M', 0x83: // BININT2 EXT2
			err = need(2, op)
		case 'J', 'j', 'r', 0x84: // BININT LONG_BINGET LONG_BINPUT EXT4
			err = need(4, op)
		case 'G': // BINFLOAT
			err = need(8, op)
		case 0x95: // FRAME: a length that the frame's bytes must fit in
			if err = need(8, op); err == nil && binary.LittleEndian.Uint64(b[i-8:]) > uint64(len(b)-i) {
				err = fmt.Errorf("malformed pickle: a frame at byte %d claims more bytes than are left", i-9)
			}
		case 'I', 'L', 'F', 'S', 'V', 'g', 'p', 'P': // INT LONG FLOAT STRING UNICODE GET PUT PERSID
			err = line(op)
		case 'c': // GLOBAL: module and name lines
			if err = line(op); err == nil {
				err = line(op)
			}
		case 'U', 0x8c, 'C', 0x8a: // SHORT_BINSTRING SHORT_BINUNICODE SHORT_BINBYTES LONG1
			err = lenArg(1, op)
		case 'T', 'X', 'B', 0x8b: // BINSTRING BINUNICODE BINBYTES LONG4
			err = lenArg(4, op)
		case 0x8d, 0x8e, 0x96: // BINUNICODE8 BINBYTES8 BYTEARRAY8
			err = lenArg(8, op)
		default:
			err = fmt.Errorf("malformed pickle: unknown opcode 0x%02x at byte %d", op, i-1)
		}
		if err != nil {
			return err
		}
	}
	return fmt.Errorf("malformed pickle: no STOP opcode in %d bytes (truncated?)", len(b))
}
