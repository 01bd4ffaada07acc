package cifar

import (
	"crypto/md5"
	"encoding/hex"
)

// OfficialMD5 are the MD5 sums of the official binary batch files.
var OfficialMD5 = map[string]string{
	"data_batch_1.bin": "5dd7e06a14cb22eb9f671a540d1b7c25",
	"data_batch_2.bin": "5ea93a67294ea407fff1d09f752e9692",
	"data_batch_3.bin": "942cd6a4bcdd0dd3c604fbe906cb4421",
	"data_batch_4.bin": "ae636b3ba5c66a11e91e8cb52e771fcb",
	"data_batch_5.bin": "53f37980c15c3d472c316c40844f3f0d",
	"test_batch.bin":   "803d5f7f4d78ea53de84dbe85f74fb6d",
}

// BatchFiles are the names of the binary batch files in order.
var BatchFiles = func() []string {
	names := make([]string, TrainBatches+1)
	for i := range names {
		names[i] = BatchName(i, false)
	}
	return names
}()

// Checksums returns the MD5 of each batch as the binary file would hold it
// (label byte, then pixels, per record), keyed by binary file name, whatever
// form ds was read from: for the real data they equal OfficialMD5.
func (ds *Dataset) Checksums() map[string]string {
	sums := map[string]string{}
	for i, name := range BatchFiles {
		s := ds.batch(i)
		h := md5.New()
		for r := range s.N() {
			h.Write(s.Y[r : r+1])
			h.Write(s.Row(r))
		}
		sums[name] = hex.EncodeToString(h.Sum(nil))
	}
	return sums
}
