package run

import (
	"cmp"
	"fmt"
	"reflect"
	"strings"

	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/preprocess"
	"github.com/nettrain/nettrain/internal/sgd"
)

// Normalized returns c with every zero value that stands for a default
// written as that default ("" optimizer is sgd, momentum 0 is 0.9, and so
// on), so that two configs that train alike compare equal. A checkpoint
// without a precision (numpy's, or older nettrain's) is float64.
func (c Config) Normalized() Config {
	c.Optimizer = cmp.Or(c.Optimizer, sgd.SGD)
	c.Momentum = cmp.Or(c.Momentum, 0.9)
	c.Schedule = cmp.Or(c.Schedule, sgd.Step)
	c.Preprocess = cmp.Or(c.Preprocess, preprocess.Mean)
	c.ZCAEps = cmp.Or(c.ZCAEps, 0.1)
	c.Precision = cmp.Or(c.Precision, model.Float64)
	c.TranslatePad = cmp.Or(c.TranslatePad, sgd.PadZero)
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

// Setting returns the value of setting key in c as text ("0.001",
// "1000,500", "true"), and whether c has such a setting.
func (c Config) Setting(key string) (string, bool) {
	var s string
	found := eachField(reflect.ValueOf(&c).Elem(), func(k string, v reflect.Value) bool {
		if k == key {
			s = fmt.Sprint(v.Interface())
		}
		return k == key
	})
	return s, found
}

// Take sets the option key of o to its value in from, and reports whether
// key is an option: a sweep file's options with the flags given on the
// command line over them, one by one.
func (o *Options) Take(from Options, key string) bool {
	dst, src := reflect.ValueOf(o).Elem(), reflect.ValueOf(from)
	for i := range dst.NumField() {
		if k, _, _ := strings.Cut(dst.Type().Field(i).Tag.Get("json"), ","); k == key {
			dst.Field(i).Set(src.Field(i))
			return true
		}
	}
	return false
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
