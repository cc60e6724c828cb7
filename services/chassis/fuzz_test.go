package chassis

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

// forbidden is CheckText's rule restated rune by rune, so the fuzzer compares two spellings.
func forbidden(r rune, multiline bool) bool {
	if multiline && (r == '\t' || r == '\n' || r == '\r') {
		return false
	}
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

func FuzzCheckText(f *testing.F) {
	for _, s := range []string{"", "plain", "a\x00b", "\u202egnp.exe", "a\u2066b\u2069", "line\nline", "tab\there",
		"\r\n", "\x7f", "\u0085", "\xff\xfe", "\uFFFD", "Grüße 東京"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, multiline bool) {
		err := CheckText(s, multiline)
		want := !utf8.ValidString(s)
		for _, r := range s {
			want = want || forbidden(r, multiline)
		}
		if (err != nil) != want {
			t.Fatalf("CheckText(%q, %v) = %v, want refused=%v", s, multiline, err, want)
		}
	})
}

// FuzzDecodeJSON sends arbitrary bodies through DecodeJSON: it never panics, and whatever it
// accepts holds no character CheckText refuses, anywhere, so nothing it lets through can fail in
// PostgreSQL or display reordered.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"name":"x"}`, `{"name":"a\u0000b"}`, "{\"name\":\"a\x00b\"}", `{"name":"\u202e"}`,
		`{"body":"l1\nl2"}`, `{"data":{"k":["\u2066",1,{"x\u0001":true}]}}`, `{"name":"x"}{}`, `{"tags":["a","\ud800"]}`, `[]`, `null`} {
		f.Add(s)
	}
	type req struct {
		Name string         `json:"name"`
		Body string         `json:"body" text:"multiline"`
		Tags []string       `json:"tags"`
		Data map[string]any `json:"data"`
	}
	f.Fuzz(func(t *testing.T, body string) {
		var v req
		err := DecodeJSON(httptest.NewRequest("POST", "/", strings.NewReader(body)), &v)
		if err != nil {
			var te *TextError
			var tooLarge *http.MaxBytesError
			if !errors.As(err, &te) && !errors.Is(err, errBadJSON) && !errors.As(err, &tooLarge) {
				t.Fatalf("error %T %v would be a 500: DecodeJSON must answer 400 or 413", err, err)
			}
			return
		}
		var all []string
		var collect func(any)
		collect = func(x any) {
			switch x := x.(type) {
			case string:
				all = append(all, x)
			case []any:
				for _, e := range x {
					collect(e)
				}
			case map[string]any:
				for k, e := range x {
					all = append(all, k)
					collect(e)
				}
			}
		}
		all = append(all, v.Name)
		all = append(all, v.Tags...)
		collect(v.Data)
		for _, s := range all {
			if CheckText(s, false) != nil {
				t.Fatalf("DecodeJSON accepted %q in %q", s, body)
			}
		}
		if CheckText(v.Body, true) != nil {
			t.Fatalf("DecodeJSON accepted body %q", v.Body)
		}
	})
}
