// Package setting is how the packages below the command name a run's
// settings in their errors without knowing the command line. A setting is
// its config key ("lr_decay"); a message refers to it as {lr_decay}, and
// an *Error also carries the key, so that the command can tell which
// setting is wrong without reading the text. cmd/nettrain writes {lr_decay}
// as --lr-decay, in one place.
package setting

import (
	"errors"
	"fmt"
	"regexp"
)

// Error is a setting with a value out of range or unreadable.
type Error struct {
	Key string // the setting, as config files and checkpoints name it: "lr_decay"
	Msg string // the message, naming settings as {key}
}

func (e *Error) Error() string { return e.Msg }

// Errorf returns an *Error about the setting key, its message formatted
// as fmt.Sprintf does.
func Errorf(key, format string, args ...any) error {
	return &Error{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Key returns the setting err is about, if err is or wraps an *Error.
func Key(err error) (string, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Key, true
	}
	return "", false
}

// Ref matches a setting named in a message: {lr_decay}.
var Ref = regexp.MustCompile(`\{([a-z][a-z0-9]*(?:_[a-z0-9]+)*)\}`)

// Plain writes the settings named in msg as files name them: {lr_decay} as
// lr_decay, for text that is stored rather than shown at a command line
// (a sweep's results file).
func Plain(msg string) string { return Ref.ReplaceAllString(msg, "$1") }
