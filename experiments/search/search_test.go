package search

import (
	"reflect"
	"strings"
	"testing"

	"xraylab/experiments"
)

// show renders a tree with explicit grouping, so precedence is visible.
func show(e Expr) string {
	switch e := e.(type) {
	case *And:
		return "(" + show(e.L) + " AND " + show(e.R) + ")"
	case *Or:
		return "(" + show(e.L) + " OR " + show(e.R) + ")"
	case *Cond:
		vals := make([]string, len(e.Values))
		for i, v := range e.Values {
			vals[i] = v.Type.String() + ":" + v.literal()
		}
		return e.Key.String() + " " + e.Op + " " + strings.Join(vals, ",")
	}
	return "nil"
}

func TestParse(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"model = 'cae'", `model = string:"cae"`},
		{`model="cae" and state = 'succeeded'`, `(model = string:"cae" AND state = string:"succeeded")`},
		{"metrics.`test/mse/roc_auc` > 0.6", "metrics.test/mse/roc_auc > number:0.6"},
		// AND binds tighter than OR; parentheses override.
		{"model = 'a' OR model = 'b' AND seed = 1", `(model = string:"a" OR (model = string:"b" AND seed = number:1))`},
		{"(model = 'a' OR model = 'b') AND seed = 1", `((model = string:"a" OR model = string:"b") AND seed = number:1)`},
		{"seed IN (42, 4242)", "seed IN number:42,number:4242"},
		{"tags.stage LIKE 'fin%'", `tags.stage LIKE string:"fin%"`},
		{"params.lr <= 1e-3", "params.lr <= number:0.001"},
		{"params.histogram_equalization = TRUE", "params.histogram_equalization = boolean:true"},
		{"params.dataset.synthetic.size >= 128", "params.dataset.synthetic.size >= number:128"},
		{"params.augmentation != 'none'", `params.augmentation != string:"none"`},
		{"seed <> -1", "seed != number:-1"},
		{"model = 'it''s'", `model = string:"it's"`},
		{"experiment_id = 3 OR id = 7", "(experiment_id = number:3 OR id = number:7)"},
	} {
		e, err := Parse(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if got := show(e); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.in, got, c.want)
		}
	}
	if e, err := Parse("   "); e != nil || err != nil {
		t.Errorf("blank: %v %v", e, err)
	}
}

// Params resolve against RunSpec: top-level fields, then model fields,
// then model hyperparameters.
func TestResolveParam(t *testing.T) {
	for in, want := range map[string][]string{
		"params.image_size":             {"image_size"},
		"params.augmentation":           {"model", "augmentation"},
		"params.lr":                     {"model", "params", "lr"},
		"params.model.params.width":     {"model", "params", "width"},
		"params.dataset.synthetic.seed": {"dataset", "synthetic", "seed"},
	} {
		e, err := Parse(in + " = 1")
		if strings.Contains(in, "augmentation") {
			e, err = Parse(in + " = 'x'")
		}
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := e.(*Cond).Key.Path; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: path %v, want %v", in, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		in, want string
		pos      int
	}{
		{"model = ", `filter: expected a value (a 'string', a number, true or false), got the end of the expression at position 9`, 9},
		{"model 'cae'", `filter: expected an operator (=, !=, <, <=, >, >=, LIKE, IN) after model, got the string "cae" at position 7`, 7},
		{"foo = 1", `filter: unknown key "foo"; known: params.<name>, metrics.<key>, tags.<key>, state, model, experiment, experiment_id, id, seed, created at position 1`, 1},
		{"params.dataset.nope = 1", `filter: unknown key params.dataset.nope: params.dataset has no setting "nope" at position 1`, 1},
		{"params.scores = 'x'", `filter: params.model.scores is a list, not a single value: name one of its settings at position 1`, 1},
		{"metrics.`test/mse/roc_auc > 0.6", "filter: unterminated backtick-quoted name at position 9", 9},
		{"metrics.test/mse/roc_auc > 0.6", `filter: unexpected "/" (quote names containing / with backticks: metrics.` + "`test/mse/roc_auc`" + `) at position 13`, 13},
		{"metrics.auc > '0.6'", `filter: metrics.auc is a number; got the string "0.6" at position 15`, 15},
		{"seed = 'a'", `filter: seed is a number; got the string "a" at position 8`, 8},
		{"model = 3", `filter: model is a string; got the number 3 at position 9`, 9},
		{"metrics.auc LIKE 0.5", `filter: LIKE needs a string key; metrics.auc is a number at position 13`, 13},
		{"state = 'runing'", `filter: unknown state "runing"; known: queued, running, succeeded, failed, cancelled at position 9`, 9},
		{"state > 'queued'", `filter: state has no order: use =, != or IN at position 7`, 7},
		{"created > 'yesterday'", `filter: created: "yesterday" is not a time (use RFC 3339, e.g. '2026-01-02T15:04:05Z', or a date '2026-01-02') at position 11`, 11},
		{"(model = 'a'", `filter: expected ) to close the ( at position 1, got the end of the expression at position 13`, 13},
		{"model = 'a' model = 'b'", `filter: unexpected "model" after a complete condition (join conditions with AND or OR) at position 13`, 13},
		{"model = 'a", `filter: unterminated string at position 9`, 9},
		{"seed IN (1 2)", `filter: expected , or ) in the IN list, got the number 2 at position 12`, 12},
		{"model = cae", `filter: expected a value (a 'string', a number, true or false), got "cae" (quote strings) at position 9`, 9},
		{"params.histogram_equalization > true", `filter: params.histogram_equalization is a boolean: use = or != at position 31`, 31},
		{"params.preprocesing = 'crop'", `filter: params.preprocesing is no setting of a run, so it names a model hyperparameter (a number); got the string "crop" at position 23`, 23},
		{"tags. = 'x'", `filter: expected a name after tags., got "=" at position 7`, 7},
		{"modèle = 1", `filter: unexpected character 'è' at position 4`, 4},
		{"é model = ?", `filter: unexpected character 'é' at position 1`, 1},
	} {
		_, err := Parse(c.in)
		if err == nil {
			t.Errorf("%s: no error", c.in)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.in, err, c.want)
		}
		var ee *experiments.Error
		if !asError(err, &ee) || ee.Code != experiments.CodeInvalid || ee.Details.(Problem).Position != c.pos {
			t.Errorf("%s: code or position wrong: %#v", c.in, err)
		}
	}
}

// Long or deep expressions are refused before SQLite sees them; the
// longest allowed one still runs.
func TestParseLimits(t *testing.T) {
	many := strings.Repeat("seed = 1 AND ", MaxConditions) + "seed = 2"
	if _, err := Parse(many); err == nil || err.Error() != "filter: more than 100 conditions at position 1301" {
		t.Errorf("many: %v", err)
	}
	deep := strings.Repeat("(", MaxDepth+1) + "seed = 1" + strings.Repeat(")", MaxDepth+1)
	if _, err := Parse(deep); err == nil || err.Error() != "filter: parentheses nest deeper than 20 at position 21" {
		t.Errorf("deep: %v", err)
	}
	if _, err := Parse(strings.Repeat("x", MaxLength+1)); err == nil || err.Error() != "filter: longer than 4096 bytes at position 1" {
		t.Errorf("long: %v", err)
	}
	ok := strings.Repeat("(", MaxDepth) + strings.TrimSuffix(strings.Repeat("seed = 1 OR ", MaxConditions), " OR ") + strings.Repeat(")", MaxDepth)
	if _, err := Parse(ok); err != nil {
		t.Errorf("at the limits: %v", err)
	}
}

func asError(err error, out **experiments.Error) bool {
	e, ok := err.(*experiments.Error)
	*out = e
	return ok
}

func TestParseOrder(t *testing.T) {
	o, err := ParseOrder("metrics.`test/recon/roc_auc` desc")
	if err != nil || !o.Desc || o.Key.Kind != Metric || o.Key.Name != "test/recon/roc_auc" {
		t.Fatalf("%+v %v", o, err)
	}
	o, err = ParseOrder("created")
	if err != nil || o.Desc || o.Key.Name != "created" {
		t.Fatalf("%+v %v", o, err)
	}
	if _, err := ParseOrder("seed sideways"); err == nil || err.Error() != `order_by: unexpected "sideways": order_by is KEY [ASC|DESC] at position 6` {
		t.Errorf("bad direction: %v", err)
	}
	if _, err := ParseOrder("bogus"); err == nil || !strings.HasPrefix(err.Error(), `order_by: unknown key "bogus"`) {
		t.Errorf("unknown key: %v", err)
	}
}
