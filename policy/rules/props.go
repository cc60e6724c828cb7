package rules

import (
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

// get reads a nested property by a dotted path ("spec.template.spec"). A missing key or a
// non-map on the way gives the null value; a computed value on the way gives computed.
func get(m property.Map, path string) property.Value {
	v := property.New(m)
	for _, part := range strings.Split(path, ".") {
		if v.IsComputed() {
			return v
		}
		if !v.IsMap() {
			return property.Value{}
		}
		v = v.AsMap().Get(part)
	}
	return v
}

// unknown reports whether a value is not known yet (a preview of a value computed by a
// provider). Policies never report what they cannot see.
func unknown(v property.Value) bool { return v.IsComputed() }

// str reads a string property; "" when missing, unknown or not a string.
func str(m property.Map, path string) string {
	v := get(m, path)
	if v.IsString() {
		return v.AsString()
	}
	return ""
}

// tri is a boolean that may be unset or unknown.
type tri int

const (
	unset tri = iota
	isTrue
	isFalse
	isUnknown
)

// boolean reads a boolean property, accepting the "true"/"false" strings some providers use.
func boolean(m property.Map, path string) tri {
	v := get(m, path)
	switch {
	case v.IsComputed():
		return isUnknown
	case v.IsBool():
		if v.AsBool() {
			return isTrue
		}
		return isFalse
	case v.IsString():
		switch strings.ToLower(v.AsString()) {
		case "true":
			return isTrue
		case "false":
			return isFalse
		}
	}
	return unset
}

// number reads a numeric property (or a numeric string). ok is false when missing or not a
// number; known is false when the value is unknown.
func number(m property.Map, path string) (n float64, ok, known bool) {
	v := get(m, path)
	switch {
	case v.IsComputed():
		return 0, false, false
	case v.IsNumber():
		return v.AsNumber(), true, true
	case v.IsString():
		f, err := strconv.ParseFloat(strings.TrimSpace(v.AsString()), 64)
		return f, err == nil, true
	}
	return 0, false, true
}

// list reads an array property; nil when missing or not an array.
func list(m property.Map, path string) []property.Value {
	v := get(m, path)
	if !v.IsArray() {
		return nil
	}
	return v.AsArray().AsSlice()
}

// mapsOf reads the map elements of an array property.
func mapsOf(m property.Map, path string) []property.Map {
	var out []property.Map
	for _, e := range list(m, path) {
		if e.IsMap() {
			out = append(out, e.AsMap())
		}
	}
	return out
}

// stringList reads an array of strings; known is false when the array or an element is unknown.
func stringList(m property.Map, path string) (out []string, known bool) {
	v := get(m, path)
	if v.IsComputed() {
		return nil, false
	}
	for _, e := range list(m, path) {
		if e.IsComputed() {
			return out, false
		}
		if e.IsString() {
			out = append(out, e.AsString())
		}
	}
	return out, true
}

// stringMap reads a map of strings (labels, tags); known is false when it or a value is unknown.
func stringMap(m property.Map, path string) (out map[string]string, known bool) {
	v := get(m, path)
	if v.IsComputed() {
		return nil, false
	}
	out = map[string]string{}
	if !v.IsMap() {
		return out, true
	}
	known = true
	for k, e := range v.AsMap().All {
		switch {
		case e.IsNull():
			// A null entry is no entry.
		case e.IsComputed():
			known = false
			out[k] = ""
		case e.IsString():
			out[k] = e.AsString()
		default:
			out[k] = ""
		}
	}
	return out, known
}

// has reports whether a property is present and not null.
func has(m property.Map, path string) bool {
	return !get(m, path).IsNull()
}
