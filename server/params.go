package server

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"xraylab/experiments"
)

// paramDetails tells a client which parameter was rejected and what it sent.
type paramDetails struct {
	Parameter string `json:"parameter"`
	Value     string `json:"value"`
	Allowed   string `json:"allowed"`
}

// page is the pagination of a list request.
type page struct{ limit, offset int }

// pageParams reads ?limit= (1..MaxPageLimit, default DefaultPageLimit) and
// ?offset= (>= 0, default 0).
func pageParams(c *fiber.Ctx) (page, error) {
	p := page{limit: DefaultPageLimit}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageLimit {
			allowed := "an integer from 1 to " + strconv.Itoa(MaxPageLimit)
			return p, invalid(paramDetails{"limit", utils.CopyString(v), allowed},
				"query parameter limit: must be %s, got %q", allowed, v)
		}
		p.limit = n
	}
	if v := c.Query("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			const allowed = "an integer >= 0"
			return p, invalid(paramDetails{"offset", utils.CopyString(v), allowed},
				"query parameter offset: must be %s, got %q", allowed, v)
		}
		p.offset = n
	}
	return p, nil
}

// idQuery reads an optional positive id from the query (0 when absent).
func idQuery(c *fiber.Ctx, name string) (int64, error) {
	v := c.Query(name)
	if v == "" {
		return 0, nil
	}
	id, err := parseID(v)
	if err != nil {
		const allowed = "a positive integer id"
		return 0, invalid(paramDetails{name, utils.CopyString(v), allowed},
			"query parameter %s: must be %s, got %q", name, allowed, v)
	}
	return id, nil
}

// stateQuery reads an optional run state.
func stateQuery(c *fiber.Ctx) (experiments.State, error) {
	v := c.Query("state")
	if v == "" {
		return "", nil
	}
	st := experiments.State(v)
	if !st.Valid() {
		names := make([]string, len(experiments.States))
		for i, s := range experiments.States {
			names[i] = string(s)
		}
		allowed := strings.Join(names, ", ")
		return "", invalid(paramDetails{"state", utils.CopyString(v), allowed},
			"query parameter state: unknown state %q; allowed: %s", v, allowed)
	}
	return experiments.State(utils.CopyString(v)), nil
}

// idParam reads the :id path parameter; what names the resource ("run",
// "experiment") for the message.
func idParam(c *fiber.Ctx, what string) (int64, error) {
	v := c.Params("id")
	id, err := parseID(v)
	if err != nil {
		const allowed = "a positive integer id"
		return 0, invalid(paramDetails{"id", utils.CopyString(v), allowed},
			"%s id: must be %s, got %q", what, allowed, v)
	}
	return id, nil
}

// parseID accepts an id only in its one canonical spelling (decimal
// digits, no sign, no leading zero), so "+1", "01" and "1" cannot name the
// same run under different URLs.
func parseID(v string) (int64, error) {
	if v == "" || v[0] < '1' || v[0] > '9' {
		return 0, strconv.ErrSyntax
	}
	for i := 1; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.ParseInt(v, 10, 64)
}

// enumQuery reads an optional query parameter that must be one of allowed;
// def when absent.
func enumQuery(c *fiber.Ctx, name, def string, allowed ...string) (string, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	for _, a := range allowed {
		if v == a {
			return a, nil
		}
	}
	list := strings.Join(allowed, ", ")
	return "", invalid(paramDetails{name, utils.CopyString(v), list},
		"query parameter %s: must be one of %s, got %q", name, list, v)
}
