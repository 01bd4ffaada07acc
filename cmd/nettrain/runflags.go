package main

import (
	"errors"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	trainrun "github.com/nettrain/nettrain/internal/run"
)

// bindSettings registers a flag for each setting of run.Schema that keep
// accepts, bound to its field of c, with the schema's help and, as its
// default, c's value (call it on trainrun.Defaults()). Flags and config
// keys come from the one description: --lr-decay is the key lr_decay.
func bindSettings(f *pflag.FlagSet, c *trainrun.Config, keep func(trainrun.Setting) bool) {
	for _, s := range trainrun.Schema {
		if !keep(s) {
			continue
		}
		fl := f.VarPF(settingFlag{c, s}, s.Flag(), "", flagText(s.Help))
		if s.Kind == trainrun.Bool {
			fl.NoOptDefVal = "true"
		}
		if fl.DefValue == "0" || fl.DefValue == "false" {
			fl.DefValue = "" // the help shows no "(default 0)", as for pflag's own flags
		}
	}
}

// settingFlag is the flag of one setting of a Config: it parses as the
// schema says (Config.Set); Validate checks the range before any work.
type settingFlag struct {
	c *trainrun.Config
	s trainrun.Setting
}

func (f settingFlag) String() string {
	if f.c == nil {
		return ""
	}
	return f.c.Value(f.s.Key)
}

func (f settingFlag) Set(v string) error {
	if err := f.c.Set(f.s.Key, v); err != nil {
		// pflag names the flag and the value already.
		msg := flagText(err.Error())
		if f.s.Key == "hidden" {
			return errors.New(strings.TrimPrefix(msg, "--hidden "+strconv.Quote(v)+": "))
		}
		return errors.New(strings.TrimPrefix(msg, "--"+f.s.Flag()+" "+strconv.Quote(v)+" "))
	}
	return nil
}

func (f settingFlag) Type() string {
	switch f.s.Kind {
	case trainrun.Float:
		return "float"
	case trainrun.Int:
		return "int"
	case trainrun.Uint:
		return "uint"
	case trainrun.Bool:
		return "bool"
	case trainrun.Layers:
		return "widths"
	case trainrun.Path:
		return "dir"
	}
	return "string"
}

// IsBoolFlag lets a bool setting be given as --flip, without a value.
func (f settingFlag) IsBoolFlag() bool { return f.s.Kind == trainrun.Bool }

// hiddenFlag is --hidden of gradcheck: the widths of the hidden layers, "50"
// or "1000,500" (or "1000-500", as a sweep writes a choice). It parses; the
// command checks the values.
type hiddenFlag struct{ h *trainrun.Hidden }

func (f hiddenFlag) String() string {
	if f.h == nil {
		return ""
	}
	return f.h.String()
}

func (f hiddenFlag) Set(s string) error {
	h, err := trainrun.ParseHidden(s)
	if err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "{hidden} "+strconv.Quote(s)+": "))
	}
	*f.h = h
	return nil
}

func (hiddenFlag) Type() string { return "widths" }
