package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"text/template"
	tparse "text/template/parse"
	"time"

	"github.com/google/uuid"

	"github.com/groundwork/groundwork/services/chassis"
)

// Templates are tenants' code run on request data, so every dimension of the work is bounded:
// the sizes of templates and data, what a template may call, how deep its ranges nest and so
// how many iterations they make, the time a rendering takes and the size of what it writes.
const (
	MaxSubjectTemplate = 200      // bytes of a subject template
	MaxBodyTemplate    = 16 << 10 // bytes of a body template
	MaxData            = 16 << 10 // bytes of a notification's data, as JSON
	MaxDataDepth       = 8        // nesting of objects and lists in the data
	MaxListItems       = 100      // items of any list in the data
	MaxRangeDepth      = 2        // ranges inside ranges
	// MaxIterations bounds the iterations all of a template's ranges can make together, each
	// range counted as MaxListItems to the power of its depth.
	MaxIterations = 3 * MaxListItems * MaxListItems
	MaxSubject    = 300      // bytes of a rendered subject
	MaxBody       = 64 << 10 // bytes of a rendered body
	MaxFormatPad  = 64       // the largest width or precision printf may pad to
	// RenderTimeout bounds one rendering, within the request's own deadline.
	RenderTimeout = time.Second
)

// allowedFuncs are the functions a template may call: text/template's builtins but call (data
// holds no functions anyway), printf replaced by safePrintf.
var allowedFuncs = map[string]bool{
	"and": true, "or": true, "not": true, "eq": true, "ne": true, "lt": true, "le": true, "gt": true, "ge": true,
	"len": true, "index": true, "slice": true, "print": true, "printf": true, "println": true,
	"html": true, "js": true, "urlquery": true,
}

var funcs = template.FuncMap{"printf": safePrintf}

// formatVerb finds what stands between each '%' of a printf format and its verb: flags,
// argument indexes ([n]), width and precision.
var (
	formatVerb = regexp.MustCompile(`%[^A-Za-z%]*`)
	digits     = regexp.MustCompile(`[0-9]+`)
)

// safePrintf is fmt.Sprintf without the padding blowup: `printf "%0999999d" 1` would allocate a
// megabyte per call, so widths and precisions above MaxFormatPad, or taken from an argument (*),
// are refused.
func safePrintf(format string, args ...any) (string, error) {
	if err := checkFormat(format); err != nil {
		return "", err
	}
	return fmt.Sprintf(format, args...), nil
}

// checkFormat refuses a printf format that pads beyond MaxFormatPad.
func checkFormat(format string) error {
	if len(format) > MaxBodyTemplate {
		return fmt.Errorf("printf: a format of at most %d bytes", MaxBodyTemplate)
	}
	for _, spec := range formatVerb.FindAllString(strings.ReplaceAll(format, "%%", ""), -1) {
		if strings.Contains(spec, "*") {
			return errors.New("printf: a width or precision from an argument (*) is not allowed")
		}
		for _, n := range digits.FindAllString(spec, -1) {
			if len(n) > 2 || atoi(n) > MaxFormatPad {
				return fmt.Errorf("printf: width or precision %s is above %d", n, MaxFormatPad)
			}
		}
	}
	return nil
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// parse parses a subject and body template and checks what they may do (checkTree).
func parse(subject, body string) (*template.Template, error) {
	if len(subject) > MaxSubjectTemplate || len(body) > MaxBodyTemplate {
		return nil, fmt.Errorf("template: subject at most %d bytes, body at most %d", MaxSubjectTemplate, MaxBodyTemplate)
	}
	t, err := template.New("subject").Option("missingkey=error").Funcs(funcs).Parse(subject)
	if err != nil {
		return nil, fmt.Errorf("template: %v", err)
	}
	if _, err := t.New("body").Parse(body); err != nil {
		return nil, fmt.Errorf("template: %v", err)
	}
	if len(t.Templates()) != 2 {
		return nil, errors.New("template: define and block are not allowed")
	}
	iterations := 0
	for _, name := range []string{"subject", "body"} {
		if tt := t.Lookup(name); tt != nil && tt.Tree != nil {
			if err := checkTree(tt.Root, 0, &iterations); err != nil {
				return nil, fmt.Errorf("template %s: %w", name, err)
			}
		}
	}
	return t, nil
}

// checkTree refuses what could make a rendering unbounded: nested templates (recursion), ranges
// nested deeper than MaxRangeDepth or over anything but the data (a number: `range 1000000000`),
// more than MaxIterations in all, and functions outside allowedFuncs.
func checkTree(n tparse.Node, depth int, iterations *int) error {
	switch n := n.(type) {
	case nil:
		return nil
	case *tparse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkTree(c, depth, iterations); err != nil {
				return err
			}
		}
	case *tparse.TemplateNode:
		return errors.New("template and block actions are not allowed")
	case *tparse.RangeNode:
		if depth+1 > MaxRangeDepth {
			return fmt.Errorf("ranges nest at most %d deep", MaxRangeDepth)
		}
		if err := checkRangeOver(n.Pipe); err != nil {
			return err
		}
		cost := 1
		for range depth + 1 {
			cost *= MaxListItems
		}
		if *iterations += cost; *iterations > MaxIterations {
			return fmt.Errorf("ranges could iterate more than %d times in all (each counts %d items per level)", MaxIterations, MaxListItems)
		}
		if err := checkPipe(n.Pipe); err != nil {
			return err
		}
		if err := checkTree(n.List, depth+1, iterations); err != nil {
			return err
		}
		return checkTree(n.ElseList, depth, iterations)
	case *tparse.IfNode:
		return checkBranch(&n.BranchNode, depth, iterations)
	case *tparse.WithNode:
		return checkBranch(&n.BranchNode, depth, iterations)
	case *tparse.ActionNode:
		return checkPipe(n.Pipe)
	}
	return nil
}

func checkBranch(b *tparse.BranchNode, depth int, iterations *int) error {
	if err := checkPipe(b.Pipe); err != nil {
		return err
	}
	if err := checkTree(b.List, depth, iterations); err != nil {
		return err
	}
	return checkTree(b.ElseList, depth, iterations)
}

// checkRangeOver lets a range iterate over data only: a field, a variable or dot.
func checkRangeOver(p *tparse.PipeNode) error {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return errors.New("range over a field of the data only, such as {{range .items}}")
	}
	switch p.Cmds[0].Args[0].(type) {
	case *tparse.FieldNode, *tparse.VariableNode, *tparse.DotNode, *tparse.ChainNode:
		return nil
	}
	return errors.New("range over a field of the data only, such as {{range .items}}")
}

func checkPipe(p *tparse.PipeNode) error {
	if p == nil {
		return nil
	}
	for _, c := range p.Cmds {
		for _, a := range c.Args {
			switch a := a.(type) {
			case *tparse.IdentifierNode:
				if !allowedFuncs[a.Ident] {
					return fmt.Errorf("function %q is not allowed", a.Ident)
				}
				if a.Ident == "printf" && len(c.Args) > 1 {
					if f, ok := c.Args[1].(*tparse.StringNode); ok {
						if err := checkFormat(f.Text); err != nil {
							return err
						}
					}
				}
			case *tparse.PipeNode:
				if err := checkPipe(a); err != nil {
					return err
				}
			case *tparse.ChainNode:
				if pn, ok := a.Node.(*tparse.PipeNode); ok {
					if err := checkPipe(pn); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// validateData bounds a notification's data: MaxData bytes as JSON, lists and objects of at most
// MaxListItems (a range iterates over either, and checkTree counts MaxListItems per level),
// nesting at most MaxDataDepth.
func validateData(data map[string]any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	if len(b) > MaxData {
		return fmt.Errorf("at most %d bytes as JSON", MaxData)
	}
	var walk func(v any, depth int) error
	walk = func(v any, depth int) error {
		if depth > MaxDataDepth {
			return fmt.Errorf("nested at most %d deep", MaxDataDepth)
		}
		switch v := v.(type) {
		case []any:
			if len(v) > MaxListItems {
				return fmt.Errorf("lists of at most %d items", MaxListItems)
			}
			for _, e := range v {
				if err := walk(e, depth+1); err != nil {
					return err
				}
			}
		case map[string]any:
			if len(v) > MaxListItems {
				return fmt.Errorf("objects of at most %d fields", MaxListItems)
			}
			for _, e := range v {
				if err := walk(e, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(map[string]any(data), 0)
}

var (
	errOutputTooLarge = errors.New("rendered output too large")
	errRenderTimeout  = errors.New("rendering took too long")
)

// renderFuncs are the functions that build strings, bound to one rendering. A template may
// compute without writing ({{$x := print .s .s}} in a range), so the writer's checks alone do
// not bound it: each call fails once ctx is done, and refuses arguments that come to more than
// MaxBody bytes, before formatting them. They replace text/template's builtins of the same names
// (a template's own functions are looked up first).
func renderFuncs(ctx context.Context) template.FuncMap {
	bounded := func(f func(...any) string) func(...any) (string, error) {
		return func(args ...any) (string, error) {
			if err := checkArgs(ctx, args); err != nil {
				return "", err
			}
			return f(args...), nil
		}
	}
	return template.FuncMap{
		"print": bounded(fmt.Sprint), "println": bounded(fmt.Sprintln),
		"html": bounded(template.HTMLEscaper), "js": bounded(template.JSEscaper),
		"urlquery": bounded(template.URLQueryEscaper),
		"printf": func(format string, args ...any) (string, error) {
			if err := checkArgs(ctx, append([]any{format}, args...)); err != nil {
				return "", err
			}
			return safePrintf(format, args...)
		},
	}
}

// checkArgs fails once ctx is done, or when args come to more than MaxBody bytes as text.
func checkArgs(ctx context.Context, args []any) error {
	if ctx.Err() != nil {
		return errRenderTimeout
	}
	n := 0
	for _, a := range args {
		if s, ok := a.(string); ok {
			n += len(s)
		} else { // data (bounded by MaxData) or a number
			n += len(fmt.Sprint(a))
		}
		if n > MaxBody {
			return errOutputTooLarge
		}
	}
	return nil
}

// limitedWriter stops a rendering that writes more than max bytes or outlives ctx.
type limitedWriter struct {
	ctx context.Context
	buf []byte
	max int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if w.ctx.Err() != nil {
		return 0, errRenderTimeout
	}
	if len(w.buf)+len(p) > w.max {
		return 0, errOutputTooLarge
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// render renders the subject and body templates on data within RenderTimeout (and ctx), with
// outputs of at most MaxSubject and MaxBody bytes. The subject is a header: it must be one line,
// so CR and LF (header injection) and other control characters are refused in it; the body may
// hold lines but no other control characters.
func render(ctx context.Context, subject, body string, data map[string]any) (string, string, error) {
	t, err := parse(subject, body)
	if err != nil {
		return "", "", err
	}
	if err := validateData(data); err != nil {
		return "", "", fmt.Errorf("data: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, RenderTimeout)
	defer cancel()
	t.Funcs(renderFuncs(ctx))
	type result struct {
		s, b string
		err  error
	}
	done := make(chan result, 1)
	go func() { // once ctx ends, the rendering stops at its next write or function call
		s := &limitedWriter{ctx: ctx, max: MaxSubject}
		b := &limitedWriter{ctx: ctx, max: MaxBody}
		err := t.ExecuteTemplate(s, "subject", data)
		if err == nil {
			err = t.ExecuteTemplate(b, "body", data)
		}
		done <- result{string(s.buf), string(b.buf), err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		<-done // it stops within one bounded step: no rendering outlives its request
		return "", "", errRenderTimeout
	}
	switch {
	case errors.Is(r.err, errOutputTooLarge):
		return "", "", fmt.Errorf("%w: subject at most %d bytes, body at most %d", errOutputTooLarge, MaxSubject, MaxBody)
	case errors.Is(r.err, errRenderTimeout):
		return "", "", errRenderTimeout
	case r.err != nil:
		return "", "", r.err
	}
	if err := chassis.CheckText(r.s, false); err != nil {
		return "", "", fmt.Errorf("rendered subject: %w (a header is one line)", err)
	}
	if err := chassis.CheckText(r.b, true); err != nil {
		return "", "", fmt.Errorf("rendered body: %w", err)
	}
	return r.s, r.b, nil
}

var (
	// E.164 numbers: a '+', a country code that does not start with 0 and at most 15 digits
	// in all (ITU-T E.164 §6.2.1).
	phoneE164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	// APNs device tokens are 64 hex digits, FCM registration tokens about 150 characters of
	// base64url and ':'.
	deviceToken = regexp.MustCompile(`^[A-Za-z0-9_:.-]+$`)
	// hostname labels (RFC 1035 §2.3.1, letters, digits and '-'), at least two of them.
	emailDomain = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
)

// validRecipient reports what is wrong with recipient for channel, or "".
func validRecipient(channel, recipient string) string {
	switch channel {
	case "email":
		// A bare address (no display name, no comments), at most 254 bytes (RFC 5321
		// §4.5.3.1.3 path limit less the brackets), local part at most 64 (§4.5.3.1.1).
		a, err := mail.ParseAddress(recipient)
		at := strings.LastIndexByte(recipient, '@')
		if err != nil || a.Name != "" || a.Address != recipient || len(recipient) > 254 || at < 1 || at > 64 ||
			!emailDomain.MatchString(recipient[at+1:]) || chassis.CheckText(recipient, false) != nil {
			return "an e-mail address such as ada@example.com, at most 254 bytes"
		}
	case "sms":
		if !phoneE164.MatchString(recipient) {
			return "a phone number in E.164 form such as +4915112345678"
		}
	case "push":
		if _, err := uuid.Parse(recipient); err != nil && (len(recipient) < 32 || len(recipient) > 4096 || !deviceToken.MatchString(recipient)) {
			return "a user ID (UUID) or a device token (32-4096 of A-Z a-z 0-9 _ : . -)"
		}
	default:
		return "no recipient is valid for channel " + channel
	}
	return ""
}
