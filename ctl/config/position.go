package config

import (
	"strconv"
	"strings"
)

// posIndex maps the keys of a TOML document to their line numbers. The
// toml package keeps key positions private, so this is a small scanner of
// its own: it understands table headers, array-of-tables headers (each
// element gets an index: "service[1].dest[0]"), dotted and quoted keys,
// multi-line arrays and strings. Keys inside inline tables are not indexed;
// a lookup then falls back to the nearest indexed parent.
type posIndex struct {
	line  map[string]int // indexed path ("port[1].addrs") -> line
	order []posEntry     // every key and header in document order
}

type posEntry struct {
	plain   string // path without indices: "port.addrs"
	indexed string
	line    int
}

// lookup returns the line of path or of its nearest indexed parent (0 when
// none is known).
func (p *posIndex) lookup(path string) int {
	for path != "" {
		if n, ok := p.line[path]; ok {
			return n
		}
		if i := strings.LastIndexAny(path, ".["); i >= 0 {
			path = path[:i]
		} else {
			path = ""
		}
	}
	return 0
}

func buildIndex(data string) *posIndex {
	p := &posIndex{line: map[string]int{}}
	arrayCount := map[string]int{} // indexed parent + name -> elements so far
	current := ""                  // indexed path of the current table
	depth := 0                     // open brackets of a multi-line value
	inML := ""                     // open multi-line string delimiter
	lines := strings.Split(data, "\n")
	for n, raw := range lines {
		lineNo := n + 1
		s := raw
		if inML != "" {
			i := strings.Index(s, inML)
			if i < 0 {
				continue
			}
			s = s[i+3:]
			inML = ""
		}
		if depth > 0 {
			depth, inML = scanValue(s, depth)
			continue
		}
		t := strings.TrimSpace(s)
		switch {
		case t == "" || t[0] == '#':
			continue
		case strings.HasPrefix(t, "[["):
			end := strings.Index(t, "]]")
			if end < 0 {
				continue
			}
			segs := splitKey(t[2:end])
			if len(segs) == 0 {
				continue
			}
			parent := resolve(p, segs[:len(segs)-1])
			base := join(parent, segs[len(segs)-1])
			i := arrayCount[base]
			arrayCount[base] = i + 1
			current = base + "[" + strconv.Itoa(i) + "]"
			p.add(strings.Join(segs, "."), current, lineNo)
			p.line[base] = lineNo
		case t[0] == '[':
			end := strings.IndexByte(t, ']')
			if end < 0 {
				continue
			}
			segs := splitKey(t[1:end])
			current = resolve(p, segs)
			p.add(strings.Join(segs, "."), current, lineNo)
		default:
			eq := keyEnd(t)
			if eq < 0 {
				continue
			}
			segs := splitKey(t[:eq])
			if len(segs) == 0 {
				continue
			}
			path := join(current, strings.Join(segs, "."))
			p.add(plainOf(path), path, lineNo)
			depth, inML = scanValue(t[eq+1:], 0)
		}
	}
	return p
}

func (p *posIndex) add(plain, indexed string, line int) {
	p.order = append(p.order, posEntry{plain, indexed, line})
	if _, ok := p.line[indexed]; !ok {
		p.line[indexed] = line
	}
}

// resolve turns header segments into an indexed path, using the latest
// element of every array of tables on the way.
func resolve(p *posIndex, segs []string) string {
	path := ""
	for _, s := range segs {
		path = join(path, s)
		// The latest element of an array of tables named path, if any.
		best := -1
		for i := len(p.order) - 1; i >= 0; i-- {
			e := p.order[i]
			if strings.HasPrefix(e.indexed, path+"[") && !strings.Contains(e.indexed[len(path):], ".") {
				idx, err := strconv.Atoi(strings.TrimSuffix(e.indexed[len(path)+1:], "]"))
				if err == nil {
					best = idx
				}
				break
			}
		}
		if best >= 0 {
			path += "[" + strconv.Itoa(best) + "]"
		}
	}
	return path
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// plainOf removes the "[i]" indices of a path.
func plainOf(path string) string {
	var b strings.Builder
	skip := false
	for _, c := range path {
		switch {
		case c == '[':
			skip = true
		case c == ']':
			skip = false
		case !skip:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// splitKey splits a dotted key, honouring quotes.
func splitKey(s string) []string {
	var segs []string
	var cur strings.Builder
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '.':
			segs = append(segs, strings.TrimSpace(cur.String()))
			cur.Reset()
		case c == ' ' || c == '\t':
		default:
			cur.WriteByte(c)
		}
	}
	segs = append(segs, strings.TrimSpace(cur.String()))
	for _, s := range segs {
		if s == "" {
			return nil
		}
	}
	return segs
}

// keyEnd returns the index of the '=' ending the key of a key/value line.
func keyEnd(t string) int {
	quote := byte(0)
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '=':
			return i
		case c == '#':
			return -1
		}
	}
	return -1
}

// scanValue follows brackets and strings through a value, returning the
// bracket depth still open at the end of the line and an open multi-line
// string delimiter, if any.
func scanValue(s string, depth int) (int, string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '#':
			return depth, ""
		case '[', '{':
			depth++
		case ']', '}':
			if depth > 0 {
				depth--
			}
		case '"', '\'':
			if strings.HasPrefix(s[i:], `"""`) || strings.HasPrefix(s[i:], `'''`) {
				delim := s[i : i+3]
				j := strings.Index(s[i+3:], delim)
				if j < 0 {
					return depth, delim
				}
				i += 3 + j + 2
				continue
			}
			for j := i + 1; j < len(s); j++ {
				if c == '"' && s[j] == '\\' {
					j++
					continue
				}
				if s[j] == c {
					i = j
					break
				}
				if j == len(s)-1 {
					i = j
				}
			}
		}
	}
	return depth, ""
}
