package config

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// value is a flag value bound to a Config field. Besides pflag.Value's
// Set, String and Type it can check a text without storing it, so that
// every layer's value is validated, not only the one that wins.
type value interface {
	Set(string) error
	String() string
	Type() string
	check(string) error
}

// typed is a value of type T with its parser and formatter.
type typed[T any] struct {
	p      *T
	parse  func(string) (T, error)
	format func(T) string
	kind   string
}

// Set parses s and stores it.
func (v *typed[T]) Set(s string) error {
	x, err := v.parse(s)
	if err != nil {
		return err
	}
	*v.p = x
	return nil
}

// String formats the stored value.
func (v *typed[T]) String() string { return v.format(*v.p) }

// Type names the value's kind in the usage text.
func (v *typed[T]) Type() string { return v.kind }

func (v *typed[T]) check(s string) error {
	_, err := v.parse(s)
	return err
}

// newTyped stores def in *p and returns the value bound to p.
func newTyped[T any](p *T, def T, kind string, parse func(string) (T, error), format func(T) string) *typed[T] {
	*p = def
	return &typed[T]{p: p, parse: parse, format: format, kind: kind}
}

// trueWords and falseWords are the booleans accepted everywhere: oslo.config's
// (1/0, true/false, yes/no, on/off) and the single letters oslo's
// bool_from_string takes for ipa-debug, in any case.
var (
	trueWords  = []string{"1", "t", "true", "y", "yes", "on"}
	falseWords = []string{"0", "f", "false", "n", "no", "off"}
)

// parseBool reads a boolean as oslo.config does, case-insensitively.
func parseBool(s string) (bool, error) {
	w := strings.ToLower(strings.TrimSpace(s))
	switch {
	case slices.Contains(trueWords, w):
		return true, nil
	case slices.Contains(falseWords, w):
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (use true/false, 1/0, yes/no or on/off)", s)
}

func boolVar(p *bool, def bool) value {
	return newTyped(p, def, "bool", parseBool, strconv.FormatBool)
}

// intRange reads an integer in [lo, hi].
func intRange(lo, hi int) func(string) (int, error) {
	return func(s string) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return 0, fmt.Errorf("%q is not an integer", s)
		}
		if n < lo || n > hi {
			return 0, fmt.Errorf("%d is out of range: %s", n, rangeText(lo, hi))
		}
		return n, nil
	}
}

func rangeText(lo, hi int) string {
	if hi == math.MaxInt {
		return fmt.Sprintf("must be at least %d", lo)
	}
	return fmt.Sprintf("must be between %d and %d", lo, hi)
}

// intVar is an integer of at least lo (oslo IntOpt with min).
func intVar(p *int, def, lo int) value {
	return newTyped(p, def, "int", intRange(lo, math.MaxInt), strconv.Itoa)
}

// boundedIntVar is an integer in [lo, hi] (oslo IntOpt with min and max).
func boundedIntVar(p *int, def, lo, hi int) value {
	return newTyped(p, def, "int", intRange(lo, hi), strconv.Itoa)
}

// portVar is a TCP port, 0 to 65535 (oslo PortOpt).
func portVar(p *int, def int) value {
	return newTyped(p, def, "port", intRange(0, 65535), strconv.Itoa)
}

// secondsVar is a whole number of seconds of at least lo, as IPA's IntOpt
// timeouts and intervals.
func secondsVar(p *time.Duration, def, lo int) value {
	parse := intRange(lo, math.MaxInt32)
	return newTyped(p, time.Duration(def)*time.Second, "seconds",
		func(s string) (time.Duration, error) {
			n, err := parse(s)
			return time.Duration(n) * time.Second, err
		},
		func(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) })
}

// floatSecondsVar is a number of seconds with a fraction, at least lo.
func floatSecondsVar(p *time.Duration, def, lo float64) value {
	return newTyped(p, seconds(def), "seconds",
		func(s string) (time.Duration, error) {
			f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return 0, fmt.Errorf("%q is not a number of seconds", s)
			}
			if f < lo || f > float64(math.MaxInt64/int64(time.Second)) {
				return 0, fmt.Errorf("%g seconds is out of range: must be at least %g", f, lo)
			}
			return seconds(f), nil
		},
		func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) })
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

func identity(s string) string { return s }

// stringVar is free text, surrounding blanks removed.
func stringVar(p *string, def string) value {
	return newTyped(p, def, "string", func(s string) (string, error) { return strings.TrimSpace(s), nil }, identity)
}

// choiceVar is one of choices (oslo StrOpt with choices), compared exactly
// as oslo does.
func choiceVar(p *string, def string, choices ...string) value {
	return newTyped(p, def, "string", func(s string) (string, error) {
		s = strings.TrimSpace(s)
		if !slices.Contains(choices, s) {
			return "", fmt.Errorf("%q is not one of %s", s, strings.Join(choices, ", "))
		}
		return s, nil
	}, identity)
}

// patternVar is text matching re, or empty (unset).
func patternVar(p *string, def string, re *regexp.Regexp, what string) value {
	return newTyped(p, def, "string", func(s string) (string, error) {
		s = strings.TrimSpace(s)
		if s != "" && !re.MatchString(s) {
			return "", fmt.Errorf("%q is not %s", s, what)
		}
		return s, nil
	}, identity)
}

// splitList splits a comma-separated list, dropping blanks around and
// between the items, as oslo's ListOpt does for plain items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// listValue is a comma-separated list. Like pflag's string slices, the
// first Set replaces the default and later ones (a repeated flag) append.
type listValue struct {
	p       *[]string
	item    func(string) error
	changed bool
	// whole: each Set adds s as one item, commas included (oslo's
	// MultiStrOpt, for paths).
	whole bool
}

// listVar is a comma-separated list whose items item accepts (nil: any).
func listVar(p *[]string, def []string, item func(string) error) value {
	*p = slices.Clone(def)
	return &listValue{p: p, item: item}
}

// multiVar is a repeatable option whose every value is one item.
func multiVar(p *[]string, def []string) value {
	*p = slices.Clone(def)
	return &listValue{p: p, whole: true}
}

// Set parses s and replaces or extends the list.
func (v *listValue) Set(s string) error {
	items, err := v.parse(s)
	if err != nil {
		return err
	}
	if v.changed {
		*v.p = append(*v.p, items...)
	} else {
		*v.p = items
	}
	v.changed = true
	return nil
}

func (v *listValue) parse(s string) ([]string, error) {
	if v.whole {
		if s = strings.TrimSpace(s); s == "" {
			return nil, nil
		}
		return []string{s}, nil
	}
	items := splitList(s)
	if v.item != nil {
		for _, it := range items {
			if err := v.item(it); err != nil {
				return nil, err
			}
		}
	}
	return items, nil
}

// String formats the list comma-separated.
func (v *listValue) String() string { return strings.Join(*v.p, ",") }

// Type names the value's kind in the usage text.
func (v *listValue) Type() string { return "list" }

func (v *listValue) check(s string) error {
	_, err := v.parse(s)
	return err
}
