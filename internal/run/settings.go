package run

import (
	"cmp"
	"reflect"
	"strings"

	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/sgd"
)

// Normalized returns c with every zero value that older versions wrote (or
// left out) for a default written as that default, as the schema gives it
// ("" optimizer is sgd, momentum 0 is 0.9, and so on), so that two configs
// that train alike compare equal. A checkpoint without a precision (numpy's,
// or older nettrain's) is float64, not today's default.
func (c Config) Normalized() Config {
	d := Defaults()
	c.Optimizer = cmp.Or(c.Optimizer, d.Optimizer)
	c.Momentum = cmp.Or(c.Momentum, d.Momentum)
	c.Schedule = cmp.Or(c.Schedule, d.Schedule)
	c.Preprocess = cmp.Or(c.Preprocess, d.Preprocess)
	c.ZCAEps = cmp.Or(c.ZCAEps, d.ZCAEps)
	c.Precision = cmp.Or(c.Precision, model.Float64)
	c.TranslatePad = cmp.Or(c.TranslatePad, d.TranslatePad)
	c.NormTrack = cmp.Or(c.NormTrack, d.NormTrack)
	c.Init = cmp.Or(c.Init, d.Init)
	c.BiasLR = cmp.Or(c.BiasLR, d.BiasLR)
	c.MuonLR = cmp.Or(c.MuonLR, d.MuonLR)
	c.Matmul = cmp.Or(c.Matmul, d.Matmul)
	if c.Optimizer != sgd.Muon {
		// Only muon trains with it; 0 is a valid momentum of its own.
		c.MuonMomentum = d.MuonMomentum
	}
	return c
}

// Keys returns the settings of a run by their keys, as checkpoints and
// sweep files name them: "hidden", "lr", ..., "optimizer", "patience".
func Keys() []string {
	var keys []string
	eachField(reflect.ValueOf(&Config{}).Elem(), func(key string, _ reflect.Value) bool {
		keys = append(keys, key)
		return false
	})
	return keys
}

// eachField calls f with the JSON key and value of each field of the
// struct v, embedded structs' fields in place, until f returns true; it
// reports whether f did.
func eachField(v reflect.Value, f func(key string, v reflect.Value) bool) bool {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			if eachField(v.Field(i), f) {
				return true
			}
			continue
		}
		key, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if key != "" && key != "-" && f(key, v.Field(i)) {
			return true
		}
	}
	return false
}
