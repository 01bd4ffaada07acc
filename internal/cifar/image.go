package cifar

import (
	"fmt"
	"image"
	"io"

	// The formats predict reads.
	_ "image/jpeg"
	_ "image/png"

	"golang.org/x/image/draw"
)

// Side is the width and height of a CIFAR-10 image.
const Side = 32

// MaxImagePixels bounds the images FromImage is given to decode: a small
// file can claim a huge size (a decompression bomb), and 50 megapixels is
// more than any photograph to classify needs.
const MaxImagePixels = 50_000_000

// DecodeImage decodes a PNG or JPEG from r, refusing one that claims more
// than MaxImagePixels before decoding it. It also returns the format name.
func DecodeImage(r io.ReadSeeker) (image.Image, string, error) {
	cfg, format, err := image.DecodeConfig(r)
	if err != nil {
		return nil, "", fmt.Errorf("not a PNG or JPEG image (%v)", err)
	}
	if cfg.Width < 1 || cfg.Height < 1 {
		return nil, "", fmt.Errorf("%s of %dx%d pixels: an image with no pixels", format, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels {
		return nil, "", fmt.Errorf("%s of %dx%d pixels: want at most %d pixels", format, cfg.Width, cfg.Height, MaxImagePixels)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, "", err
	}
	img, format, err := image.Decode(r)
	if err != nil {
		return nil, "", fmt.Errorf("damaged %s image (%v)", format, err)
	}
	return img, format, nil
}

// FromImage returns img as a CIFAR-10 record's 3072 pixels: the red plane,
// then green, then blue, each 32 rows of 32. An image of another size is
// cropped to its centre square and scaled to 32x32 (Catmull-Rom), so that
// its aspect is kept; resized reports that. Transparent pixels count as
// black, as their colour is premultiplied.
func FromImage(img image.Image) (pix []uint8, resized bool) {
	b := img.Bounds()
	src := img
	if b.Dx() != Side || b.Dy() != Side {
		side := min(b.Dx(), b.Dy())
		crop := image.Rect(0, 0, side, side).Add(b.Min).Add(image.Pt((b.Dx()-side)/2, (b.Dy()-side)/2))
		dst := image.NewRGBA(image.Rect(0, 0, Side, Side))
		draw.CatmullRom.Scale(dst, dst.Bounds(), img, crop, draw.Src, nil)
		src, resized = dst, true
	}
	sb := src.Bounds()
	pix = make([]uint8, D)
	for y := range Side {
		for x := range Side {
			r, g, bl, _ := src.At(sb.Min.X+x, sb.Min.Y+y).RGBA()
			i := y*Side + x
			pix[i], pix[Side*Side+i], pix[2*Side*Side+i] = uint8(r>>8), uint8(g>>8), uint8(bl>>8)
		}
	}
	return pix, resized
}

// ToImage returns the record pixels pix (as FromImage gives them) as an
// image, for tests and for looking at the data.
func ToImage(pix []uint8) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, Side, Side))
	for y := range Side {
		for x := range Side {
			i := y*Side + x
			o := img.PixOffset(x, y)
			img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = pix[i], pix[Side*Side+i], pix[2*Side*Side+i], 255
		}
	}
	return img
}
