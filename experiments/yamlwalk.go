package experiments

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a spec, located in its YAML text.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
}

func (p Problem) String() string {
	if p.Line == 0 {
		return fmt.Sprintf("%s: %s", p.Path, p.Message)
	}
	return fmt.Sprintf("%s: %s (line %d, column %d)", p.Path, p.Message, p.Line, p.Column)
}

// walker decodes a yaml.Node tree by hand so that every problem keeps its
// line, column and field path, unknown keys are caught, and all problems
// are collected instead of stopping at the first.
type walker struct {
	problems []Problem
	budget   int // nodes left to visit; guards against alias bombs
}

const maxSpecNodes = 200_000

func (w *walker) addf(n *yaml.Node, path, format string, args ...any) {
	if path == "" {
		path = "(file)" // e.g. an empty key at the top level
	}
	p := Problem{Path: path, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	w.problems = append(w.problems, p)
}

// resolve follows aliases and charges the node budget.
func (w *walker) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	w.budget--
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unsupported node"
}

// mapping visits the keys of a mapping node, reporting unknown and
// duplicate keys. handlers maps each known key to its decoder.
func (w *walker) mapping(n *yaml.Node, path string, handlers map[string]func(*yaml.Node, string)) bool {
	n = w.resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		if n != nil {
			w.addf(n, path, "must be a mapping, got %s", kindName(n))
		}
		return false
	}
	known := make([]string, 0, len(handlers))
	for k := range handlers {
		known = append(known, k)
	}
	sort.Strings(known)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if w.budget <= 0 {
			return false
		}
		k, v := w.resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			w.addf(k, path, "keys must be plain strings")
			continue
		}
		fp := join(path, k.Value)
		if seen[k.Value] {
			w.addf(k, fp, "duplicate key %q", k.Value)
			continue
		}
		seen[k.Value] = true
		h, ok := handlers[k.Value]
		if !ok {
			w.addf(k, fp, "unknown field %q; known: %s", k.Value, strings.Join(known, ", "))
			continue
		}
		h(v, fp)
	}
	return true
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (w *walker) scalar(n *yaml.Node, path, what string) (*yaml.Node, bool) {
	n = w.resolve(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		w.addf(n, path, "must be %s, got %s", what, kindName(n))
		return n, false
	}
	return n, true
}

func (w *walker) str(n *yaml.Node, path string, allowed ...string) string {
	s, ok := w.scalar(n, path, "a string")
	if !ok {
		return ""
	}
	if len(allowed) > 0 && !contains(allowed, s.Value) {
		w.addf(s, path, "unknown value %q; allowed: %s", s.Value, strings.Join(allowed, ", "))
		return ""
	}
	return s.Value
}

func (w *walker) integer(n *yaml.Node, path string, min, max int64) (int64, bool) {
	s, ok := w.scalar(n, path, "an integer")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(s.Value, 10, 64)
	if err != nil || s.ShortTag() != "!!int" {
		w.addf(s, path, "must be an integer, got %q", s.Value)
		return 0, false
	}
	if v < min || v > max {
		w.addf(s, path, "%d is out of range; allowed: %d to %d", v, min, max)
		return 0, false
	}
	return v, true
}

func (w *walker) number(n *yaml.Node, path string, min, max float64) (float64, bool) {
	s, ok := w.scalar(n, path, "a number")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(s.Value, 64)
	if tag := s.ShortTag(); tag != "!!int" && tag != "!!float" {
		err = fmt.Errorf("not a number")
	}
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		w.addf(s, path, "must be a finite number, got %q", s.Value)
		return 0, false
	}
	if v < min || v > max {
		w.addf(s, path, "%g is out of range; allowed: %g to %g", v, min, max)
		return 0, false
	}
	return v, true
}

func (w *walker) boolean(n *yaml.Node, path string) (bool, bool) {
	s, ok := w.scalar(n, path, "true or false")
	if !ok {
		return false, false
	}
	switch s.Value {
	case "true", "True", "TRUE":
		return true, true
	case "false", "False", "FALSE":
		return false, true
	}
	w.addf(s, path, "must be true or false, got %q", s.Value)
	return false, false
}

// list visits the items of a sequence; a single scalar is accepted as a
// one-item list so that `seeds: 42` works like `seeds: [42]`.
func (w *walker) list(n *yaml.Node, path string, maxItems int, item func(*yaml.Node, string)) int {
	n = w.resolve(n)
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	} else if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		w.addf(n, path, "must be a list, got %s", kindName(n))
		return 0
	}
	if len(items) == 0 {
		w.addf(n, path, "must not be empty")
		return 0
	}
	if len(items) > maxItems {
		w.addf(n, path, "has %d items; at most %d allowed", len(items), maxItems)
		return 0
	}
	for i, it := range items {
		if w.budget <= 0 {
			return i
		}
		item(it, fmt.Sprintf("%s[%d]", path, i))
	}
	return len(items)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
