package config

import (
	"fmt"
	"reflect"
	"strings"
)

// typeProblem is a key whose value is of another TOML type than the key
// takes (a string where a number goes…), found before decoding so that it
// is reported beside every other problem of the file.
type typeProblem struct {
	key  string // indexed path, as the validator names keys: port[1].queues
	want string
	got  any
}

// pruneTypes walks doc (the file decoded without a schema) along the raw
// type t, records every value of the wrong type in probs and deletes it
// from doc, so that the typed decoding of what remains cannot fail on a
// type. Keys the schema does not have are left for the unknown-key check.
func pruneTypes(doc map[string]any, t reflect.Type, path string, probs *[]typeProblem) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		v, ok := doc[name]
		if name == "" || !ok {
			continue
		}
		key := name
		if path != "" {
			key = path + "." + name
		}
		if want, good := typeFits(v, f.Type, key, probs); !good {
			*probs = append(*probs, typeProblem{key: key, want: want, got: v})
			delete(doc, name)
		}
	}
}

// typeFits reports whether TOML value v fits Go type t (checking inside
// tables and arrays of tables, pruning those), and what t takes.
func typeFits(v any, t reflect.Type, key string, probs *[]typeProblem) (string, bool) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int:
		_, ok := v.(int64)
		return "an integer", ok
	case reflect.String:
		_, ok := v.(string)
		return "a string", ok
	case reflect.Bool:
		_, ok := v.(bool)
		return "true or false", ok
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if ok {
			pruneTypes(m, t, key, probs)
		}
		return "a table", ok
	case reflect.Slice:
		switch t.Elem().Kind() {
		case reflect.Struct:
			tables, ok := v.([]map[string]any)
			if a, inline := v.([]any); inline { // [{...}, {...}]
				ok = true
				for _, e := range a {
					m, table := e.(map[string]any)
					ok = ok && table
					tables = append(tables, m)
				}
			}
			if !ok {
				return "an array of tables", false
			}
			for i, m := range tables {
				pruneTypes(m, t.Elem(), fmt.Sprintf("%s[%d]", key, i), probs)
			}
			return "", true
		default:
			a, ok := v.([]any)
			if !ok {
				return "an array", false
			}
			for _, e := range a {
				if w, good := typeFits(e, t.Elem(), key, probs); !good {
					return "an array of " + strings.TrimPrefix(strings.TrimPrefix(w, "an "), "a ") + "s", false
				}
			}
			return "", true
		}
	}
	return "", true
}

// describe names a TOML value's type and shows it, for messages.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", x)
	case int64:
		return fmt.Sprintf("the integer %d", x)
	case float64:
		return fmt.Sprintf("the number %v", x)
	case bool:
		return fmt.Sprintf("%t", x)
	case []any:
		return "an array"
	case map[string]any, []map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%v", v)
}
