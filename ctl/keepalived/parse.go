package keepalived

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Pos is where a directive was written: the file as named (an included
// file by the path its include resolved to) and the 1-based line. A
// directive produced by a parameter ($NAME) has the line of the $NAME.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Directive is one keyword line of keepalived.conf with its arguments and,
// when a '{' followed it, the directives of its block.
type Directive struct {
	Pos   Pos
	Name  string
	Args  []string // split as keepalived's alloc_strvec: "…" is one word, its quotes removed
	Raw   string   // the line after the keyword, as written (escapes and quotes kept)
	Block []*Directive
	// HasBlock is true when a '{' opened a block after the keyword, even an
	// empty one.
	HasBlock bool
}

// Options tune Parse.
type Options struct {
	// ConfigID is keepalived's -i/--config-id: a line "@ID …" applies when
	// ID equals it, "@^ID …" when it does not. Empty: no ID, as keepalived
	// run with an ID no line names.
	ConfigID string
	// FS reads the files (the main one and includes); nil is the operating
	// system's. Tests and the fuzz target give their own.
	FS FS
}

// FS is what the parser needs of a file system.
type FS interface {
	ReadFile(name string) ([]byte, error)
	// Glob returns the names matching pattern (filepath.Match syntax), sorted.
	Glob(pattern string) ([]string, error)
}

type osFS struct{}

func (osFS) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }
func (osFS) Glob(pattern string) ([]string, error) {
	return filepath.Glob(pattern)
}

// Limits that keep a hostile file (or a fuzzer) from making the parser run
// away; keepalived's own are its 1024-byte line buffer and the stack.
const (
	maxIncludeDepth = 16
	maxExpandWork   = 1 << 26 // bytes copied by parameter substitution in one parse
	maxLineLen      = 1 << 16 // a line after substitution
	maxNest         = 64      // multi-line parameters expanding into one another
)

// ParseFile reads the keepalived configuration at path, with its includes,
// and returns its top-level directives. Problems that do not stop the parse
// (an unbalanced brace, an include matching nothing, a feature of
// keepalived's parser this one does not implement) are returned as Items;
// the error is for the main file being unreadable.
func ParseFile(path string, o Options) ([]*Directive, []Item, error) {
	fsys := o.FS
	if fsys == nil {
		fsys = osFS{}
	}
	data, err := fsys.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	top, items := Parse(path, data, o)
	return top, items, nil
}

// Parse parses data as the keepalived configuration file name (includes
// are relative to name's directory).
func Parse(name string, data []byte, o Options) ([]*Directive, []Item) {
	p := newParser(o)
	p.file(name, data, 0)
	return p.tree(), p.items
}

type parser struct {
	o          Options
	fs         FS
	defs       map[string]string
	expandWork int
	nest       int // multi-line parameter expansions being read
	condNoted  bool
	lines      []line // logical lines after includes, conditions and substitution
	items      []Item
	stack      []string // files being read, for include loops
}

// line is a logical line: comments removed, continuations joined.
type line struct {
	pos  Pos
	text string
}

func newParser(o Options) *parser {
	p := &parser{o: o, fs: o.FS, defs: map[string]string{}}
	if p.fs == nil {
		p.fs = osFS{}
	}
	return p
}

func (p *parser) item(pos Pos, what, reason string) {
	p.items = append(p.items, Item{Pos: pos, What: what, Reason: reason})
}

// file reads one file's lines: comments, continuations, then each logical
// line through conditions, definitions, substitution and include.
func (p *parser) file(name string, data []byte, depth int) {
	if slices.Contains(p.stack, name) {
		p.item(Pos{name, 0}, "include "+name, "includes itself (through "+strings.Join(p.stack, " → ")+"); not read again")
		return
	}
	p.stack = append(p.stack, name)
	defer func() { p.stack = p.stack[:len(p.stack)-1] }()
	phys := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	for i := 0; i < len(phys); i++ {
		pos := Pos{name, i + 1}
		text, cont := decomment(phys[i])
		// A line ending in '\' continues on the next; a definition keeps
		// the line breaks (a multi-line definition), others join with a
		// space.
		for cont && i+1 < len(phys) {
			i++
			var next string
			next, cont = decomment(phys[i])
			text += "\n" + next
		}
		p.logical(line{pos, text}, depth)
	}
}

// logical handles one logical line: "@ID" conditions, "$NAME=" definitions,
// "$NAME" substitution (whose result is handled again, line by line), ~SEQ
// and ~LST blocks (not implemented), include.
func (p *parser) logical(l line, depth int) {
	t := strings.TrimLeft(l.text, " \t")
	if t == "" {
		return
	}
	if t[0] == '@' {
		id, rest := t[1:], ""
		if i := strings.IndexAny(id, " \t"); i >= 0 {
			id, rest = id[:i], id[i:]
		}
		neg := strings.HasPrefix(id, "^")
		id = strings.TrimPrefix(id, "^")
		if !p.condNoted && p.o.ConfigID == "" {
			p.condNoted = true
			p.item(l.pos, "@"+id, "conditional configuration read without a config-id: @ID lines are left out, @^ID lines kept; give the node's config-id (keepalived -i) with -i ID")
		}
		if (id == p.o.ConfigID && p.o.ConfigID != "") == neg {
			return
		}
		t = strings.TrimLeft(rest, " \t")
		if t == "" {
			return
		}
	}
	if name, value, ok := definition(t); ok {
		p.defs[name] = value
		return
	}
	if strings.HasPrefix(t, "~SEQ") || strings.HasPrefix(t, "~LST") {
		p.item(l.pos, t[:4], "sequence and list blocks are not supported by this importer; expand the line by hand")
		return
	}
	t = strings.ReplaceAll(t, "\n", " ")
	if strings.Contains(t, "$") {
		if out, changed := p.substitute(l.pos, t); changed {
			if p.nest >= maxNest {
				p.item(l.pos, strings.TrimSpace(t), fmt.Sprintf("multi-line parameters nested deeper than %d; line left out", maxNest))
				return
			}
			p.nest++
			for _, s := range strings.Split(out, "\n") {
				p.logical(line{l.pos, s}, depth)
			}
			p.nest--
			return
		}
	}
	if words := splitWords(t); len(words) == 2 && isInclude(words[0]) {
		p.include(l.pos, words[0], words[1], depth)
		return
	}
	p.lines = append(p.lines, line{l.pos, t})
}

func isInclude(w string) bool {
	switch w {
	case "include", "includer", "includem", "includew", "includeb", "includea":
		return true
	}
	return false
}

// include reads the files pattern matches, relative to the including file's
// directory, in sorted order, as keepalived's glob(3) does (brace
// expressions included).
func (p *parser) include(pos Pos, kw, pattern string, depth int) {
	what := kw + " " + pattern
	if depth >= maxIncludeDepth {
		p.item(pos, what, fmt.Sprintf("includes nested deeper than %d; not read", maxIncludeDepth))
		return
	}
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(filepath.Dir(pos.File), pattern)
	}
	var names []string
	for _, pat := range expandBraces(pattern) {
		m, err := p.fs.Glob(pat)
		if err != nil {
			p.item(pos, what, fmt.Sprintf("bad pattern %q: %v", pat, err))
			return
		}
		names = append(names, m...)
	}
	if len(names) == 0 {
		p.item(pos, what, "matches no file; nothing included")
		return
	}
	for _, n := range names {
		data, err := p.fs.ReadFile(n)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			p.item(pos, what, fmt.Sprintf("%s: %v; not included", n, err))
			continue
		}
		p.file(n, data, depth+1)
	}
}

// expandBraces expands csh brace expressions ("{a,b}c" → "ac", "bc"), as
// glob(3) with GLOB_BRACE, which keepalived uses.
func expandBraces(s string) []string {
	open := strings.IndexByte(s, '{')
	if open < 0 {
		return []string{s}
	}
	level := 0
	var alts []string
	start := open + 1
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '{':
			level++
		case ',':
			if level == 1 {
				alts = append(alts, s[start:i])
				start = i + 1
			}
		case '}':
			level--
			if level == 0 {
				alts = append(alts, s[start:i])
				var out []string
				for _, a := range alts {
					for _, rest := range expandBraces(s[i+1:]) {
						out = append(out, expandBraces(s[:open]+a+rest)...)
					}
				}
				return out
			}
		}
	}
	return []string{s} // unbalanced: literal, as glob(3)
}

// definition recognises "$NAME=VALUE" (no space before '='); a multi-line
// value keeps its line breaks.
func definition(t string) (name, value string, ok bool) {
	if len(t) < 3 || t[0] != '$' || !isNameStart(t[1]) {
		return "", "", false
	}
	i := 2
	for i < len(t) && isNameChar(t[i]) {
		i++
	}
	if i >= len(t) || t[i] != '=' {
		return "", "", false
	}
	v := strings.TrimLeft(t[i+1:], " \t")
	var lines []string
	for _, l := range strings.Split(v, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return t[1:i], strings.Join(lines, "\n"), true
}

func isNameStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isNameChar(c byte) bool { return isNameStart(c) || c >= '0' && c <= '9' }

// substitute replaces $NAME (followed by a blank or the end) and ${NAME} of
// defined parameters, again in the replacement (keepalived's replacement is
// recursive); undefined ones stay as written.
func (p *parser) substitute(pos Pos, t string) (string, bool) {
	changed := false
	for i := 0; i < len(t); i++ {
		if t[i] != '$' || i+1 >= len(t) {
			continue
		}
		j, braces := i+1, false
		if t[j] == '{' {
			braces = true
			j++
		}
		k := j
		for k < len(t) && isNameChar(t[k]) {
			k++
		}
		if k == j || !isNameStart(t[j]) {
			continue
		}
		end := k
		if braces {
			if k >= len(t) || t[k] != '}' {
				continue
			}
			end = k + 1
		} else if k < len(t) && t[k] != ' ' && t[k] != '\t' && t[k] != '\n' {
			continue
		}
		v, ok := p.defs[t[j:k]]
		if !ok {
			v, ok = p.predefined(pos, t[j:k])
		}
		if !ok {
			continue
		}
		p.expandWork += len(t) + len(v)
		if p.expandWork > maxExpandWork || len(t)-(end-i)+len(v) > maxLineLen {
			p.item(pos, "$"+t[j:k], "parameter substitution does not end (or grows a line beyond 64 KiB, or the file beyond 64 MiB); line left out")
			return "", true
		}
		t = t[:i] + v + t[end:]
		changed = true
		i-- // the replacement is scanned again
	}
	return t, changed
}

// predefined are keepalived's ${_PWD}, ${_INSTANCE}, ${_HASH} and ${_BANG}.
func (p *parser) predefined(pos Pos, name string) (string, bool) {
	switch name {
	case "_PWD":
		return filepath.Dir(pos.File), true
	case "_INSTANCE":
		return p.o.ConfigID, p.o.ConfigID != ""
	case "_HASH":
		return "#", true
	case "_BANG":
		return "!", true
	}
	return "", false
}

// decomment removes a comment ('#' or '!' outside double quotes; "\#" and
// "\!" stand for the characters) and surrounding blanks, and reports a
// final '\' (a continuation), which it removes.
func decomment(s string) (string, bool) {
	var b strings.Builder
	quote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			quote = !quote
		case c == '\\' && i+1 < len(s):
			if !quote && (s[i+1] == '#' || s[i+1] == '!') {
				i++
				c = s[i]
			} else {
				b.WriteByte(c)
				i++
				c = s[i]
			}
		case c == '\\':
			return strings.TrimSpace(b.String()), true
		case !quote && (c == '#' || c == '!'):
			return strings.TrimSpace(b.String()), false
		}
		b.WriteByte(c)
	}
	return strings.TrimSpace(b.String()), false
}

// splitWords splits a line as keepalived's alloc_strvec: blanks separate
// words, a word starting with '"' runs to the next '"' (quotes removed),
// and '"' also ends an unquoted word.
func splitWords(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		for i < len(s) && isBlank(s[i]) {
			i++
		}
		if i >= len(s) {
			break
		}
		if s[i] == '"' {
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				out = append(out, s[i+1:])
				break
			}
			out = append(out, s[i+1:i+1+j])
			i += j + 2
			continue
		}
		j := i
		for j < len(s) && !isBlank(s[j]) && s[j] != '"' {
			j++
		}
		out = append(out, s[i:j])
		i = j
	}
	return out
}

func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// segments splits a line at every '{' and '}' outside double quotes, as
// keepalived's read_line does: a brace is always a line of its own.
func segments(s string) []string {
	var out []string
	quote := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			quote = !quote
		case !quote && (c == '{' || c == '}'):
			if t := strings.TrimSpace(s[start:i]); t != "" {
				out = append(out, t)
			}
			out = append(out, string(c))
			start = i + 1
		}
	}
	if t := strings.TrimSpace(s[start:]); t != "" {
		out = append(out, t)
	}
	return out
}

// tree builds the directive tree from the logical lines: a '{' opens the
// block of the directive before it, '}' closes the innermost block.
func (p *parser) tree() []*Directive {
	var top []*Directive
	type frame struct {
		d    *Directive
		list *[]*Directive
	}
	stack := []frame{{nil, &top}}
	for _, l := range p.lines {
		if strings.Count(l.text, `"`)%2 == 1 {
			p.item(l.pos, strings.TrimSpace(l.text), "unterminated quote")
		}
		for _, seg := range segments(l.text) {
			cur := stack[len(stack)-1]
			switch seg {
			case "{":
				list := *cur.list
				if len(list) == 0 || list[len(list)-1].HasBlock {
					p.item(l.pos, "{", "a '{' with no keyword before it; its block is ignored")
					d := &Directive{Pos: l.pos, HasBlock: true}
					stack = append(stack, frame{d, &d.Block})
					continue
				}
				d := list[len(list)-1]
				d.HasBlock = true
				stack = append(stack, frame{d, &d.Block})
			case "}":
				if len(stack) == 1 {
					p.item(l.pos, "}", "extra '}'; ignored")
					continue
				}
				stack = stack[:len(stack)-1]
			default:
				words := splitWords(seg)
				if len(words) == 0 {
					continue
				}
				raw := strings.TrimSpace(seg)
				if i := strings.IndexAny(raw, " \t"); i >= 0 && !strings.HasPrefix(raw, `"`) {
					raw = strings.TrimSpace(raw[i:])
				} else {
					raw = ""
				}
				*cur.list = append(*cur.list, &Directive{Pos: l.pos, Name: words[0], Args: words[1:], Raw: raw})
			}
		}
	}
	for _, f := range stack[1:] {
		p.item(f.d.Pos, f.d.Name, "block not closed: a '}' is missing at the end")
	}
	return top
}
