// Package search parses the run search language of GET /api/runs?filter=
// and ?order_by=: conditions on a run's resolved settings (params.<name>),
// final metrics (metrics.<key>), tags (tags.<key>) and attributes (state,
// model, experiment, experiment_id, id, seed, created), joined with AND, OR
// and parentheses, in the style of MLflow's search filter.
//
// The parser is written by hand (recursive descent): no maintained Go
// library parses MLflow's filter grammar (MLflow's own parser is Python,
// built on sqlparse), and a general SQL parser would accept far more than
// the language and report problems in SQL's terms. Parse checks keys and
// the types of values against experiments.RunSpec, so that a problem is
// reported with its position before any SQL runs; registry compiles the
// tree into parameterised SQL.
package search

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"xraylab/experiments"
)

// Kind is what a key names.
type Kind int

const (
	Param  Kind = iota // params.<path>: a field of the run's RunSpec
	Metric             // metrics.<key>: a final metric
	Tag                // tags.<key>: a run tag
	Attr               // state, model, experiment, experiment_id, id, seed, created
)

// Type is the type of a key's values.
type Type int

const (
	String Type = iota
	Number
	Bool
	Time
)

func (t Type) String() string {
	return [...]string{"string", "number", "boolean", "time"}[t]
}

// Key is a resolved key. Path is the JSON path of a Param inside the
// run's params (e.g. ["model", "params", "lr"]); Name is the metric or tag
// key, or the attribute.
type Key struct {
	Kind Kind
	Name string
	Path []string
	Type Type
	Pos  int // 1-based character position in the expression
}

func (k Key) String() string {
	switch k.Kind {
	case Param:
		return "params." + k.Name
	case Metric:
		return "metrics." + k.Name
	case Tag:
		return "tags." + k.Name
	}
	return k.Name
}

// Value is a literal. Time values are unix nanoseconds in N.
type Value struct {
	Type Type
	S    string
	N    float64
	B    bool
	Pos  int
}

// Expr is a parsed filter: *And, *Or or *Cond.
type Expr interface{ isExpr() }

// And and Or join two expressions.
type And struct{ L, R Expr }
type Or struct{ L, R Expr }

// Cond compares a key with values: Op is one of = != < <= > >= LIKE IN.
type Cond struct {
	Key    Key
	Op     string
	Values []Value // one, or the list of IN
}

func (*And) isExpr()  {}
func (*Or) isExpr()   {}
func (*Cond) isExpr() {}

// Order is a parsed order_by.
type Order struct {
	Key  Key
	Desc bool
}

// Problem is the Details of a parse error: the query parameter, the
// 1-based character position and what is wrong there.
type Problem struct {
	Parameter string `json:"parameter"`
	Position  int    `json:"position"`
	Problem   string `json:"problem"`
}

// Limits of an expression: its length in bytes, its conditions and how
// deep parentheses nest (SQLite refuses expression trees deeper than
// 1000, which a long chain of ANDs would otherwise reach).
const (
	MaxLength     = 4096
	MaxConditions = 100
	MaxDepth      = 20
)

// Attributes are the attribute keys with their types.
var Attributes = map[string]Type{
	"state": String, "model": String, "experiment": String, "experiment_id": Number,
	"id": Number, "seed": Number, "created": Time,
}

const knownKeys = "params.<name>, metrics.<key>, tags.<key>, state, model, experiment, experiment_id, id, seed, created"

// Parse parses a filter expression; "" (or blanks) is nil, matching every run.
func Parse(src string) (Expr, error) {
	p, err := newParser("filter", src)
	if err != nil {
		return nil, err
	}
	if p.peek().kind == tEOF {
		return nil, nil
	}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t.pos, "unexpected %s after a complete condition (join conditions with AND or OR)", t.describe())
	}
	return e, nil
}

// ParseOrder parses "KEY [ASC|DESC]"; "" is nil (by id).
func ParseOrder(src string) (*Order, error) {
	p, err := newParser("order_by", src)
	if err != nil {
		return nil, err
	}
	if p.peek().kind == tEOF {
		return nil, nil
	}
	k, err := p.key()
	if err != nil {
		return nil, err
	}
	o := &Order{Key: k}
	if t := p.peek(); t.kind == tIdent && (t.upper() == "ASC" || t.upper() == "DESC") {
		o.Desc = t.upper() == "DESC"
		p.next()
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t.pos, "unexpected %s: order_by is KEY [ASC|DESC]", t.describe())
	}
	return o, nil
}

type parser struct {
	param string
	src   string
	toks  []token
	i     int
	conds int // conditions read so far
	depth int // open parentheses
}

func newParser(param, src string) (*parser, error) {
	p := &parser{param: param, src: src}
	if len(src) > MaxLength {
		return nil, p.errAt(1, "longer than %d bytes", MaxLength)
	}
	if !utf8.ValidString(src) {
		return nil, p.errAt(1, "not valid UTF-8")
	}
	toks, err := p.lex()
	if err != nil {
		return nil, err
	}
	p.toks = toks
	return p, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

// errAt builds the 400 for a problem at byte offset-based position pos
// (already 1-based characters).
func (p *parser) errAt(pos int, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &experiments.Error{Code: experiments.CodeInvalid,
		Message: fmt.Sprintf("%s: %s at position %d", p.param, msg, pos),
		Details: Problem{Parameter: p.param, Position: pos, Problem: msg}}
}

func (p *parser) or() (Expr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tIdent && p.peek().upper() == "OR" {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &Or{l, r}
	}
	return l, nil
}

func (p *parser) and() (Expr, error) {
	l, err := p.primary()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tIdent && p.peek().upper() == "AND" {
		p.next()
		r, err := p.primary()
		if err != nil {
			return nil, err
		}
		l = &And{l, r}
	}
	return l, nil
}

func (p *parser) primary() (Expr, error) {
	t := p.peek()
	if t.kind == tLParen {
		p.next()
		if p.depth++; p.depth > MaxDepth {
			return nil, p.errAt(t.pos, "parentheses nest deeper than %d", MaxDepth)
		}
		defer func() { p.depth-- }()
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if c := p.peek(); c.kind != tRParen {
			return nil, p.errAt(c.pos, "expected ) to close the ( at position %d, got %s", t.pos, c.describe())
		}
		p.next()
		return e, nil
	}
	return p.cond()
}

func (p *parser) cond() (Expr, error) {
	if p.conds++; p.conds > MaxConditions {
		return nil, p.errAt(p.peek().pos, "more than %d conditions", MaxConditions)
	}
	k, err := p.key()
	if err != nil {
		return nil, err
	}
	t := p.next()
	var op string
	switch {
	case t.kind == tOp:
		op = t.text
		if op == "<>" {
			op = "!="
		}
	case t.kind == tIdent && (t.upper() == "LIKE" || t.upper() == "IN"):
		op = t.upper()
	default:
		return nil, p.errAt(t.pos, "expected an operator (=, !=, <, <=, >, >=, LIKE, IN) after %s, got %s", k, t.describe())
	}
	c := &Cond{Key: k, Op: op}
	if op == "IN" {
		if l := p.next(); l.kind != tLParen {
			return nil, p.errAt(l.pos, "expected ( after IN, got %s", l.describe())
		}
		for {
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			c.Values = append(c.Values, v)
			sep := p.next()
			if sep.kind == tRParen {
				break
			}
			if sep.kind != tComma {
				return nil, p.errAt(sep.pos, "expected , or ) in the IN list, got %s", sep.describe())
			}
		}
	} else {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		c.Values = []Value{v}
	}
	if err := p.check(c, t.pos); err != nil {
		return nil, err
	}
	return c, nil
}

// check applies the key's type rules to the operator and values.
func (p *parser) check(c *Cond, opPos int) error {
	k := c.Key
	switch c.Op {
	case "LIKE":
		if k.Type != String {
			return p.errAt(opPos, "LIKE needs a string key; %s is a %s", k, k.Type)
		}
	case "<", "<=", ">", ">=":
		if k.Type == Bool {
			return p.errAt(opPos, "%s is a boolean: use = or !=", k)
		}
		if k.Kind == Attr && k.Name == "state" {
			return p.errAt(opPos, "state has no order: use =, != or IN")
		}
	}
	for i := range c.Values {
		v := &c.Values[i]
		if k.Type == Time && v.Type == String {
			n, err := parseTime(v.S)
			if err != nil {
				return p.errAt(v.Pos, "%s: %q is not a time (use RFC 3339, e.g. '2026-01-02T15:04:05Z', or a date '2026-01-02')", k, v.S)
			}
			v.Type, v.N = Time, n
		}
		if v.Type != k.Type {
			if k.Kind == Param && len(k.Path) == 3 && k.Path[1] == "params" && !strings.Contains(k.Name, ".") {
				// Not a setting of the run: read as one of the model's
				// hyperparameters, which are numbers. Most likely a typo.
				return p.errAt(v.Pos, "%s is no setting of a run, so it names a model hyperparameter (a number); got the %s %s", k, v.Type, v.literal())
			}
			return p.errAt(v.Pos, "%s is a %s; got the %s %s", k, k.Type, v.Type, v.literal())
		}
		if k.Kind == Attr && k.Name == "state" && !experiments.State(v.S).Valid() {
			return p.errAt(v.Pos, "unknown state %q; known: %s", v.S, stateList())
		}
	}
	return nil
}

func (v Value) literal() string {
	switch v.Type {
	case String:
		return strconv.Quote(v.S)
	case Bool:
		return strconv.FormatBool(v.B)
	}
	return strconv.FormatFloat(v.N, 'g', -1, 64)
}

func parseTime(s string) (float64, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			if t.Year() < 1678 || t.Year() > 2261 {
				return 0, fmt.Errorf("out of range")
			}
			return float64(t.UnixNano()), nil
		}
	}
	return 0, fmt.Errorf("not a time")
}

func stateList() string {
	names := make([]string, len(experiments.States))
	for i, s := range experiments.States {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

func (p *parser) value() (Value, error) {
	t := p.next()
	switch t.kind {
	case tString:
		return Value{Type: String, S: t.text, Pos: t.pos}, nil
	case tNumber:
		n, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return Value{}, p.errAt(t.pos, "malformed number %q", t.text)
		}
		return Value{Type: Number, N: n, Pos: t.pos}, nil
	case tIdent:
		switch t.upper() {
		case "TRUE", "FALSE":
			return Value{Type: Bool, B: t.upper() == "TRUE", Pos: t.pos}, nil
		}
		return Value{}, p.errAt(t.pos, "expected a value (a 'string', a number, true or false), got %s (quote strings)", t.describe())
	}
	return Value{}, p.errAt(t.pos, "expected a value (a 'string', a number, true or false), got %s", t.describe())
}

// key reads params.<name>, metrics.<key>, tags.<key> or an attribute.
func (p *parser) key() (Key, error) {
	t := p.next()
	if t.kind != tIdent {
		return Key{}, p.errAt(t.pos, "expected a key (%s), got %s", knownKeys, t.describe())
	}
	prefix := strings.ToLower(t.text)
	if typ, ok := Attributes[prefix]; ok && p.peek().kind != tDot {
		return Key{Kind: Attr, Name: prefix, Type: typ, Pos: t.pos}, nil
	}
	var kind Kind
	switch prefix {
	case "params", "param":
		kind = Param
	case "metrics", "metric":
		kind = Metric
	case "tags", "tag":
		kind = Tag
	default:
		return Key{}, p.errAt(t.pos, "unknown key %q; known: %s", t.text, knownKeys)
	}
	if d := p.next(); d.kind != tDot {
		return Key{}, p.errAt(d.pos, "expected . and a name after %s, got %s", prefix, d.describe())
	}
	var segs []string
	for {
		s := p.next()
		if s.kind != tIdent && s.kind != tQuoted {
			return Key{}, p.errAt(s.pos, "expected a name after %s., got %s", prefix, s.describe())
		}
		segs = append(segs, s.text)
		if kind == Param && p.peek().kind == tDot {
			p.next()
			continue
		}
		break
	}
	k := Key{Kind: kind, Name: strings.Join(segs, "."), Pos: t.pos}
	switch kind {
	case Metric:
		k.Type = Number
	case Tag:
		k.Type = String
	case Param:
		path, typ, err := resolveParam(segs)
		if err != nil {
			return Key{}, p.errAt(t.pos, "%s", err)
		}
		k.Path, k.Type = path, typ
	}
	return k, nil
}

var (
	runSpecType   = reflect.TypeOf(experiments.RunSpec{})
	modelSpecType = reflect.TypeOf(experiments.ModelSpec{})
)

// resolveParam maps params.<name> to a JSON path in the run's RunSpec: a
// field of RunSpec (image_size, preprocessing, dataset.synthetic.size...),
// else a field of its model (augmentation, name), else one of the model's
// hyperparameters (lr, width: model.params.<name>, numbers).
func resolveParam(segs []string) ([]string, Type, error) {
	if len(segs) == 1 {
		if _, ok := field(runSpecType, segs[0]); !ok {
			if _, ok := field(modelSpecType, segs[0]); ok {
				segs = []string{"model", segs[0]}
			} else {
				return []string{"model", "params", segs[0]}, Number, nil
			}
		}
	}
	t := runSpecType
	for i, s := range segs {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Struct:
			f, ok := field(t, s)
			if !ok {
				return nil, 0, fmt.Errorf("unknown key params.%s: %s has no setting %q", strings.Join(segs, "."), pathName(segs[:i]), s)
			}
			t = f
		case reflect.Map:
			t = t.Elem()
		default:
			return nil, 0, fmt.Errorf("unknown key params.%s: %s has no settings below it", strings.Join(segs, "."), pathName(segs[:i]))
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return segs, String, nil
	case reflect.Bool:
		return segs, Bool, nil
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64, reflect.Float32:
		return segs, Number, nil
	}
	return nil, 0, fmt.Errorf("params.%s is a %s, not a single value: name one of its settings", strings.Join(segs, "."), kindName(t))
}

func pathName(segs []string) string {
	if len(segs) == 0 {
		return "the run"
	}
	return "params." + strings.Join(segs, ".")
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice:
		return "list"
	case reflect.Map, reflect.Struct:
		return "group of settings"
	}
	return t.Kind().String()
}

// field finds the struct field whose JSON name is name.
func field(t reflect.Type, name string) (reflect.Type, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == name && tag != "-" {
			return f.Type, true
		}
	}
	return nil, false
}
