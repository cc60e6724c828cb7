package chassis

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"
)

// TextTag is the struct tag that lets a string field hold several lines: `text:"multiline"`
// allows tab, line feed and carriage return in it. Every other string a request carries is one
// line.
const TextTag = "text"

// CheckText reports why s cannot be stored as text, or nil. Refused: invalid UTF-8, NUL and the
// other C0 controls (tab, LF and CR only when multiline), DEL, the C1 controls, and the Unicode
// bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) that make text
// display in another order than it is stored (CVE-2021-42574, "Trojan Source"). PostgreSQL text
// cannot hold NUL at all: refusing it here is a 400 instead of a failed insert.
func CheckText(s string, multiline bool) error {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			return fmt.Errorf("invalid UTF-8 at byte %d", i)
		case multiline && (r == '\t' || r == '\n' || r == '\r'):
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
			return fmt.Errorf("control character %U at byte %d is not allowed", r, i)
		case (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			return fmt.Errorf("bidirectional control %U at byte %d is not allowed", r, i)
		}
	}
	return nil
}

// TextError is a request whose text holds characters no field may hold; it is answered with 400
// and every offending field.
type TextError struct{ Fields Problems }

func (e *TextError) Error() string {
	return fmt.Sprintf("invalid characters: %v", map[string]string(e.Fields))
}

// CheckFields walks v (a decoded request: structs, maps, slices, strings) and returns a
// *TextError naming each string, map key included, that CheckText refuses. A string field tagged
// `text:"multiline"` may hold tab and line breaks; nothing below it inherits that.
func CheckFields(v any) error {
	p := Problems{}
	checkValue(reflect.ValueOf(v), "", false, p, 0)
	if len(p) == 0 {
		return nil
	}
	return &TextError{Fields: p}
}

// maxDepth bounds the walk; encoding/json itself refuses nesting deeper than 10000.
const maxDepth = 10001

func checkValue(v reflect.Value, path string, multiline bool, p Problems, depth int) {
	if !v.IsValid() || depth > maxDepth {
		return
	}
	field := func() string {
		if path == "" {
			return "body"
		}
		return path
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			checkValue(v.Elem(), path, multiline, p, depth+1)
		}
	case reflect.String:
		if err := CheckText(v.String(), multiline); err != nil {
			p.Add(true, field(), err.Error())
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := f.Name
			if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag != "" && tag != "-" {
				name = tag
			}
			checkValue(v.Field(i), join(path, name), f.Tag.Get(TextTag) == "multiline", p, depth+1)
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			k := iter.Key()
			name := fmt.Sprint(k.Interface())
			if k.Kind() == reflect.String {
				if err := CheckText(k.String(), false); err != nil {
					p.Add(true, join(path, "(key)"), err.Error())
					name = fmt.Sprintf("%q", k.String())
				}
			}
			checkValue(iter.Value(), join(path, name), false, p, depth+1)
		}
	case reflect.Slice, reflect.Array:
		if v.Type() == rawMessage {
			// Embedded JSON is stored as jsonb, which cannot hold \u0000 either: walk its strings.
			var x any
			if json.Unmarshal(v.Bytes(), &x) == nil {
				checkValue(reflect.ValueOf(x), path, false, p, depth+1)
			}
			return
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // []byte is data, not text
		}
		for i := range v.Len() {
			checkValue(v.Index(i), fmt.Sprintf("%s[%d]", field(), i), false, p, depth+1)
		}
	}
}

var rawMessage = reflect.TypeFor[json.RawMessage]()

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
