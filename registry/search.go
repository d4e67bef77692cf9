package registry

import (
	"strconv"
	"strings"

	"xraylab/experiments/search"
)

// Search filters compile to parameterised SQL over runs: every value of
// the expression, metric and tag keys and params' JSON paths included, is
// a bound argument; only the operators and the shape come from the tree.

// compileFilter compiles a search expression into a WHERE condition.
func compileFilter(src string) (string, []any, error) {
	e, err := search.Parse(src)
	if err != nil || e == nil {
		return "", nil, err
	}
	var args []any
	cond := compileExpr(e, &args)
	return cond, args, nil
}

func compileExpr(e search.Expr, args *[]any) string {
	switch e := e.(type) {
	case *search.And:
		return "(" + compileExpr(e.L, args) + " AND " + compileExpr(e.R, args) + ")"
	case *search.Or:
		return "(" + compileExpr(e.L, args) + " OR " + compileExpr(e.R, args) + ")"
	case *search.Cond:
		return compileCond(e, args)
	}
	panic("search: unknown expression type")
}

// attrColumns are the attributes stored as columns of runs.
var attrColumns = map[string]string{
	"state": "runs.state", "model": "runs.model", "seed": "runs.seed", "id": "runs.id",
	"experiment_id": "runs.experiment_id", "created": "runs.created",
}

// compileCond: a metric or tag condition is a subquery over its own table
// (final_metrics_key_value and run_tags_key_value serve it); a run without
// that metric or tag never matches, with != as with =.
func compileCond(c *search.Cond, args *[]any) string {
	switch c.Key.Kind {
	case search.Metric:
		*args = append(*args, c.Key.Name)
		return "runs.id IN (SELECT run_id FROM final_metrics WHERE key = ? AND value " + compareTo(c, args) + ")"
	case search.Tag:
		*args = append(*args, c.Key.Name)
		return "runs.id IN (SELECT run_id FROM run_tags WHERE key = ? AND value " + compareTo(c, args) + ")"
	case search.Param:
		*args = append(*args, jsonPath(c.Key.Path))
		return "json_extract(runs.params, ?) " + compareTo(c, args)
	}
	if c.Key.Name == "experiment" {
		return "runs.experiment_id IN (SELECT id FROM experiments WHERE name " + compareTo(c, args) + ")"
	}
	return attrColumns[c.Key.Name] + " " + compareTo(c, args)
}

// compareTo appends c's values to args and returns "op ?" or "IN (?, ?)".
func compareTo(c *search.Cond, args *[]any) string {
	for _, v := range c.Values {
		*args = append(*args, sqlValue(c.Key, v))
	}
	if c.Op == "IN" {
		return "IN (" + placeholders(len(c.Values)) + ")"
	}
	return c.Op + " ?"
}

// sqlValue is a literal as SQLite compares it: json_extract gives 1 or 0
// for JSON booleans; integers stay integers so that seeds and ids compare
// exactly; times are unix nanoseconds like the created column.
func sqlValue(k search.Key, v search.Value) any {
	switch v.Type {
	case search.String:
		return v.S
	case search.Bool:
		if v.B {
			return 1
		}
		return 0
	case search.Time:
		return int64(v.N)
	}
	if v.N == float64(int64(v.N)) && (k.Kind == search.Attr || k.Kind == search.Param) {
		return int64(v.N)
	}
	return v.N
}

// jsonPath quotes each segment: $."model"."params"."lr".
func jsonPath(segs []string) string {
	var b strings.Builder
	b.WriteString("$")
	for _, s := range segs {
		b.WriteString(".")
		b.WriteString(strconv.Quote(s))
	}
	return b.String()
}

// compileOrder compiles order_by into an ORDER BY list ending in the id,
// so pages are stable; runs without the key (a missing metric or tag)
// come last either way. (ListRuns serves a metric order with metricPage,
// which breaks ties by id in the order's direction.)
func compileOrder(src string) (string, []any, *search.Order, error) {
	o, err := search.ParseOrder(src)
	if err != nil {
		return "", nil, nil, err
	}
	if o == nil {
		return "runs.id", nil, nil, nil
	}
	dir := " ASC"
	if o.Desc {
		dir = " DESC"
	}
	var expr string
	var args []any
	switch o.Key.Kind {
	case search.Metric:
		expr, args = "(SELECT value FROM final_metrics WHERE run_id = runs.id AND key = ?)", []any{o.Key.Name}
	case search.Tag:
		expr, args = "(SELECT value FROM run_tags WHERE run_id = runs.id AND key = ?)", []any{o.Key.Name}
	case search.Param:
		expr, args = "json_extract(runs.params, ?)", []any{jsonPath(o.Key.Path)}
	default:
		if o.Key.Name == "experiment" {
			expr = "(SELECT name FROM experiments WHERE experiments.id = runs.experiment_id)"
		} else {
			expr = attrColumns[o.Key.Name]
		}
	}
	if o.Key.Kind == search.Attr && o.Key.Name == "id" {
		return "runs.id" + dir, nil, o, nil
	}
	return expr + dir + " NULLS LAST, runs.id", args, o, nil
}
