package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	xdraw "golang.org/x/image/draw"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
)

// predict classifies images as eval does: a test image written as a
// PNG gets the class the model's Predict gives its pixels, with the
// softmax probabilities (summing to 1, most probable first); the same
// image scaled up 3x, or as a JPEG, comes back resized; bad files get one
// error line.
func TestPredictCommand(t *testing.T) {
	data := fixtureDir(t)
	tmp := t.TempDir()
	out := filepath.Join(tmp, "m.npz")
	if r := runCmd(t, testEnv(), append([]string{"train", "--data", data, "--iters", "60", "--batch", "10", "--hidden", "16", "--lr", "1e-3", "-q", "--out", out}, small...)...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	ck, err := checkpoint.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := testEnv().loader.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, img image.Image) string {
		p := filepath.Join(tmp, name)
		var buf bytes.Buffer
		if strings.HasSuffix(name, ".jpg") {
			jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95})
		} else {
			png.Encode(&buf, img)
		}
		os.WriteFile(p, buf.Bytes(), 0o644)
		return p
	}
	var paths []string
	var want []int
	for i := range 5 {
		pix := ds.Test.Row(i)
		paths = append(paths, write(filepath.Base(filepath.Join(tmp, "img"+string(rune('0'+i))+".png")), cifar.ToImage(pix)))
		x := make([]float64, cifar.D)
		for j, p := range pix {
			x[j] = float64(p) - ck.Mean[j]
		}
		want = append(want, int(ck.Net.Predict(nil, nil, x)[0]))
	}
	big := image.NewRGBA(image.Rect(0, 0, 96, 96))
	xdraw.NearestNeighbor.Scale(big, big.Bounds(), cifar.ToImage(ds.Test.Row(0)), image.Rect(0, 0, 32, 32), xdraw.Src, nil)
	paths = append(paths, write("big.png", big), write("photo.jpg", cifar.ToImage(ds.Test.Row(1))))

	r := runCmd(t, testEnv(), append([]string{"predict", "--model", out, "--json", "--top", "10"}, paths...)...)
	var got []prediction
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 || len(got) != len(paths) {
		t.Fatalf("predict --json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	for i, p := range got {
		var sum float64
		for k, cp := range p.Top {
			sum += cp.Probability
			if k > 0 && cp.Probability > p.Top[k-1].Probability {
				t.Errorf("%s: not most probable first: %+v", p.Image, p.Top)
			}
			if cp.Class != cifar.DefaultClassNames[cp.Index] {
				t.Errorf("%s: class %q for index %d", p.Image, cp.Class, cp.Index)
			}
		}
		if len(p.Top) != 10 || math.Abs(sum-1) > 1e-12 {
			t.Errorf("%s: %d classes summing to %v", p.Image, len(p.Top), sum)
		}
		if i < 5 && (p.Top[0].Index != want[i] || p.Resized) {
			t.Errorf("%s: top class %d (resized %v), Predict says %d", p.Image, p.Top[0].Index, p.Resized, want[i])
		}
	}
	if !got[5].Resized || got[5].Top[0].Index != want[0] {
		t.Errorf("the 3x image: resized %v, class %d, want resized and %d", got[5].Resized, got[5].Top[0].Index, want[0])
	}
	// Plain output: one line per image, --top classes each.
	r = runCmd(t, testEnv(), "predict", "--model", out, "--top", "2", paths[0])
	if fields := strings.Fields(r.stdout); r.code != 0 || len(fields) != 5 || fields[1] != cifar.DefaultClassNames[want[0]] {
		t.Errorf("plain output: exit %d %q", r.code, r.stdout)
	}
	// Bad input: one line, exit 1 or 2.
	notImage := filepath.Join(tmp, "notes.png")
	os.WriteFile(notImage, []byte("not an image"), 0o644)
	bomb := filepath.Join(tmp, "bomb.png")
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)))
	b := buf.Bytes()
	// The IHDR width and height (bytes 16..23) claim 100000 x 100000.
	copy(b[16:], []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0})
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	os.WriteFile(bomb, b, 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"predict", "--model", out, notImage}, 1, "not a PNG or JPEG"},
		{[]string{"predict", "--model", out, bomb}, 1, "100000x100000 pixels"},
		{[]string{"predict", "--model", out, filepath.Join(tmp, "missing.png")}, 1, "no such file"},
		{[]string{"predict", "--model", out, "--top", "0", paths[0]}, 2, "--top is 0"},
		{[]string{"predict", "--model", out}, 2, "requires at least 1 arg"},
	} {
		r := runCmd(t, testEnv(), tc.args...)
		first, _, _ := strings.Cut(r.stderr, "\n")
		if r.code != tc.code || !strings.Contains(first, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
}
