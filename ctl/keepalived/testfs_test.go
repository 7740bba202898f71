package keepalived

import (
	"io/fs"
	"path/filepath"
	"sort"
)

// mapFS is an in-memory file system for the parser: name → content.
type mapFS map[string]string

func (m mapFS) ReadFile(name string) ([]byte, error) {
	s, ok := m[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return []byte(s), nil
}

func (m mapFS) Glob(pattern string) ([]string, error) {
	if _, err := filepath.Match(pattern, ""); err != nil {
		return nil, err
	}
	var out []string
	for n := range m {
		if ok, _ := filepath.Match(pattern, n); ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}
