package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

func items(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"name": "item", "n": float64(i)}
	}
	return out
}

func fields(n int) map[string]any {
	out := make(map[string]any, n)
	for i := range n {
		out[fmt.Sprintf("k%04d", i)] = float64(i)
	}
	return out
}

// No rendering outlives render: when it gives up at the deadline, the template's work has
// stopped too, even where the template writes nothing (each function call checks the deadline).
func TestRenderingStopsWithItsDeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	data := map[string]any{"m": fields(100), "s": strings.Repeat("s", 3000)}
	body := "{{range .m}}{{range $.m}}{{$x := print $.s $.s $.s $.s}}{{end}}{{end}}"
	if _, _, err := render(ctx, "", body, data); !errors.Is(err, errRenderTimeout) {
		t.Fatalf("render after the deadline: %v, want %v", err, errRenderTimeout)
	}
	stacks := make([]byte, 1<<22)
	stacks = stacks[:runtime.Stack(stacks, true)]
	// Each goroutine render started, running or waiting to run, ends its stack with this line.
	if n := strings.Count(string(stacks), "created by github.com/groundwork/groundwork/services/notification.render in"); n > 0 {
		t.Fatalf("%d rendering goroutine(s) still there after render returned:\n%s", n, stacks)
	}
}

func TestTemplatesAreBoundedWhenParsed(t *testing.T) {
	tests := []struct {
		name, subject, body string
		wantErr             string // "" when accepted
	}{
		{"fields and a range", "Hi {{.name}}", "{{range .items}}- {{.name}}\n{{end}}", ""},
		{"two nested ranges", "", "{{range .a}}{{range $.b}}x{{end}}{{end}}", ""},
		{"the issue's three nested ranges", "", "{{range .a}}{{range .a}}{{range .a}}x{{end}}{{end}}{{end}}", "ranges nest at most 2 deep"},
		{"nested ranges in an if", "", "{{range .a}}{{if .x}}{{range .a}}{{range .a}}x{{end}}{{end}}{{end}}{{end}}", "ranges nest at most 2 deep"},
		{"too many ranges in all", "", strings.Repeat("{{range .a}}{{range .a}}x{{end}}{{end}}", 4), "iterate more than"},
		{"range over a number", "", "{{range 1000000000}}x{{end}}", "range over a field of the data only"},
		{"range over a call", "", `{{range (slice .a 0)}}x{{end}}`, "range over a field of the data only"},
		{"the issue's printf width", "", `{{printf "%0999999d" 1}}`, "width or precision 0999999 is above 64"},
		{"printf width in an argument index", "", `{{printf "%[1]0999d" 1}}`, "above 64"},
		{"printf width from an argument", "", `{{printf "%0*d" 999999 1}}`, "(*) is not allowed"},
		{"printf small width", "", `{{printf "%05d" 42}}`, ""},
		{"recursive define", "", `{{define "x"}}{{template "x" .}}{{template "x" .}}{{end}}{{template "x" .}}`, "not allowed"},
		{"block", "", `{{block "x" .}}y{{end}}`, "not allowed"},
		{"call", "", `{{call .f}}`, `function "call" is not allowed`},
		{"body too large", "", strings.Repeat("x", MaxBodyTemplate+1), "body at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(tt.subject, tt.body)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestRenderingIsBounded(t *testing.T) {
	ctx := context.Background()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name, subject, body string
		data                map[string]any
		ctx                 context.Context
		wantErr             string
	}{
		{"fine", "Invoice {{.n}}", "{{range .items}}{{.name}} {{.n}}\n{{end}}", map[string]any{"n": "42", "items": items(3)}, ctx, ""},
		{"the issue's 600 items", "", "{{range .items}}{{range $.items}}x{{end}}{{end}}", map[string]any{"items": items(600)}, ctx, "lists of at most 100 items"},
		{"output too large", "", "{{range .items}}{{range $.items}}" + strings.Repeat("x", 100) + "{{end}}{{end}}", map[string]any{"items": items(100)}, ctx, "rendered output too large"},
		{"subject too large", "{{.s}}{{.s}}", "b", map[string]any{"s": strings.Repeat("s", 200)}, ctx, "rendered output too large"},
		{"printf width from data", "", "{{printf .f 1}}", map[string]any{"f": "%0999999d"}, ctx, "above 64"},
		{"CR LF into the subject", "Welcome {{.name}}", "b", map[string]any{"name": "Ada\r\nBcc: all@example.com"}, ctx, "rendered subject: control character U+000D"},
		{"LF into the subject", "Welcome {{.name}}", "b", map[string]any{"name": "Ada\nBcc: x"}, ctx, "a header is one line"},
		{"NUL into the body", "s", "{{.x}}", map[string]any{"x": "a\x00"}, ctx, "rendered body: control character U+0000"},
		{"deadline passed", "s", "{{range .items}}x{{end}}", map[string]any{"items": items(3)}, canceled, "rendering took too long"},
		{"data too deep", "s", "b", map[string]any{"a": map[string]any{"b": map[string]any{"c": map[string]any{"d": map[string]any{"e": map[string]any{"f": map[string]any{"g": map[string]any{"h": map[string]any{"i": 1}}}}}}}}}, ctx, "nested at most 8 deep"},
		{"data too large", "s", "b", map[string]any{"a": strings.Repeat("a", MaxData)}, ctx, "at most 16384 bytes"},
		// A range iterates over an object's fields as over a list's items: both are bounded.
		{"an object of 1150 fields", "", "{{range .m}}{{range $.m}}x{{end}}{{end}}", map[string]any{"m": fields(1150)}, ctx, "objects of at most 100 fields"},
		{"a top level of 101 fields", "", "{{range .}}x{{end}}", fields(101), ctx, "objects of at most 100 fields"},
		// Strings built and never written are bounded like output.
		{"print of a field 5 times, not written", "", "{{$x := print .s .s .s .s .s}}", map[string]any{"s": strings.Repeat("s", 14000)}, ctx, "rendered output too large"},
		{"html of a field 5 times, not written", "", "{{$x := html .s .s .s .s .s}}", map[string]any{"s": strings.Repeat("s", 14000)}, ctx, "rendered output too large"},
		{"printf of a field 5 times, not written", "", `{{$x := printf "%s%s%s%s%s" .s .s .s .s .s}}`, map[string]any{"s": strings.Repeat("s", 14000)}, ctx, "rendered output too large"},
		{"print within the bounds", "", "{{$x := print .s .s .s .s}}{{len $x}}", map[string]any{"s": strings.Repeat("s", 14000)}, ctx, ""},
		// A template that computes without writing stops at its deadline too.
		{"deadline passed, nothing written", "", "{{range .m}}{{range $.m}}{{$x := print $.s $.s $.s $.s}}{{end}}{{end}}", map[string]any{"m": fields(100), "s": strings.Repeat("s", 3000)}, canceled, "rendering took too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, b, err := render(tt.ctx, tt.subject, tt.body, tt.data)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("got %q (%d bytes of body) %v, want an error containing %q", s, len(b), err, tt.wantErr)
			}
		})
	}
}

func TestRecipientsAreValidatedForTheirChannel(t *testing.T) {
	tests := []struct {
		channel, recipient string
		ok                 bool
	}{
		{"email", "ada@example.com", true},
		{"email", "ada.lovelace+billing@mail.example.co.uk", true},
		{"email", "x", false},
		{"email", "Ada <ada@example.com>", false},
		{"email", "ada@example.com\r\nBcc: all@example.com", false},
		{"email", "ada@localhost", false},
		{"email", "ada@exa mple.com", false},
		{"email", "a@b@example.com", false},
		{"email", strings.Repeat("a", 65) + "@example.com", false},
		{"email", "ada@" + strings.Repeat("a", 250) + ".com", false},
		{"email", "+4915112345678", false},
		{"sms", "+4915112345678", true},
		{"sms", "4915112345678", false},
		{"sms", "+0015112345678", false},
		{"sms", "+49 151 12345678", false},
		{"sms", "+4915112345678901", false},
		{"sms", "ada@example.com", false},
		{"push", "6f1c1d8e-6a38-4b2f-9c1a-2f7d3b9e4a10", true},
		{"push", strings.Repeat("ab12", 16), true},
		{"push", "short", false},
		{"push", strings.Repeat("a", 40) + "\n", false},
		{"fax", "+4915112345678", false},
	}
	for _, tt := range tests {
		if got := validRecipient(tt.channel, tt.recipient) == ""; got != tt.ok {
			t.Errorf("%s %q: valid=%v, want %v", tt.channel, tt.recipient, got, tt.ok)
		}
	}
}

// FuzzTemplate renders arbitrary templates that parse accepts on fixed data: never a panic, and
// whatever renders stays within the output bounds with a one-line subject.
func FuzzTemplate(f *testing.F) {
	for _, s := range []struct{ subject, body string }{
		{"Hi {{.name}}", "{{range .items}}{{.name}}{{end}}"},
		{"", "{{range .items}}{{range $.items}}{{range $.items}}x{{end}}{{end}}{{end}}"},
		{"", `{{printf "%0999999d" 1}}`},
		{"{{.crlf}}", "{{.nul}}"},
		{"", `{{define "a"}}{{template "a"}}{{end}}`},
		{"", "{{range 100000}}{{.}}{{end}}"},
		{"{{printf \"%[1]*d\" 9 1}}", "\u202e"},
	} {
		f.Add(s.subject, s.body)
	}
	data := map[string]any{"name": "Ada", "items": items(100), "crlf": "a\r\nb", "nul": "\x00", "n": 12.0}
	f.Fuzz(func(t *testing.T, subject, body string) {
		if _, err := parse(subject, body); err != nil {
			return
		}
		s, b, err := render(context.Background(), subject, body, data)
		if err != nil {
			return
		}
		if len(s) > MaxSubject || len(b) > MaxBody {
			t.Fatalf("rendered %d and %d bytes, above the bounds", len(s), len(b))
		}
		if strings.ContainsAny(s, "\r\n\x00") || !utf8.ValidString(s) {
			t.Fatalf("subject %q is not one clean line", s)
		}
		if errors.Is(err, errRenderTimeout) {
			t.Fatalf("timed out: %q %q", subject, body)
		}
	})
}

// FuzzRecipient: no recipient is accepted for a channel with a line break, a control character
// or outside the channel's form.
func FuzzRecipient(f *testing.F) {
	for _, s := range []string{"ada@example.com", "ada@example.com\r\nBcc: x", "+4915112345678", "\"a b\"@example.com",
		"a\x00@example.com", "=?utf-8?q?x?=@example.com", "6f1c1d8e-6a38-4b2f-9c1a-2f7d3b9e4a10", "ada@example.com\u202e"} {
		for _, ch := range []string{"email", "sms", "push"} {
			f.Add(ch, s)
		}
	}
	f.Fuzz(func(t *testing.T, channel, recipient string) {
		if validRecipient(channel, recipient) != "" {
			return
		}
		if strings.ContainsAny(recipient, "\r\n\x00<>, ") || !utf8.ValidString(recipient) {
			t.Fatalf("%s accepted %q", channel, recipient)
		}
		switch channel {
		case "email":
			if strings.Count(recipient, "@") < 1 || len(recipient) > 254 {
				t.Fatalf("email accepted %q", recipient)
			}
		case "sms":
			if !phoneE164.MatchString(recipient) {
				t.Fatalf("sms accepted %q", recipient)
			}
		case "push":
		default:
			t.Fatalf("channel %q accepted %q", channel, recipient)
		}
	})
}

// BenchmarkRenderLargestAllowed renders the most work a template may ask for: the iteration
// budget filled by nested ranges over the largest lists, writing close to the body bound.
func BenchmarkRenderLargestAllowed(b *testing.B) {
	pair := "{{range .items}}{{range $.items}}{{.n}},{{end}}{{end}}" // 10100 of the 30000 iterations
	body := pair + pair + strings.Repeat("{{range .items}}{{end}}", 98)
	if _, err := parse("s", body+"{{range .items}}{{end}}"); err == nil {
		b.Fatal("the benchmark is not the largest rendering allowed: one more range is accepted")
	}
	data := map[string]any{"items": items(MaxListItems)}
	for b.Loop() {
		if _, _, err := render(context.Background(), "s", body, data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderLargestBuiltNotWritten is the most work a template may ask for without writing:
// the iteration budget filled with the largest strings print may build (4 x 15000 bytes of the
// 64 KiB bound). It ends at RenderTimeout at the latest, within one call: the time per
// operation is the CPU one request can take.
func BenchmarkRenderLargestBuiltNotWritten(b *testing.B) {
	pair := "{{range .m}}{{range $.m}}{{$x := print $.s $.s $.s $.s}}{{end}}{{end}}"
	body := pair + pair + strings.Repeat("{{range .m}}{{end}}", 98)
	if _, err := parse("s", body+"{{range .m}}{{end}}"); err == nil {
		b.Fatal("the benchmark is not the largest rendering allowed: one more range is accepted")
	}
	data := map[string]any{"m": fields(MaxListItems), "s": strings.Repeat("s", 15000)}
	for b.Loop() {
		if _, _, err := render(context.Background(), "s", body, data); err != nil && !errors.Is(err, errRenderTimeout) {
			b.Fatal(err)
		}
	}
}
