package server

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// GET /api/openapi.json: the API described in OpenAPI 3.0.3. It is built
// in Go from the table below (apiOps) rather than kept as a JSON file, so
// that shared schemas and the error answers are written once; a test
// checks the table against the router both ways and validates real
// answers against it.

type obj = map[string]any

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }
func arrayOf(items obj) obj {
	return obj{"type": "array", "items": items}
}
func str() obj     { return obj{"type": "string"} }
func integer() obj { return obj{"type": "integer"} }
func number() obj  { return obj{"type": "number"} }
func boolean() obj { return obj{"type": "boolean"} }
func datetime() obj {
	return obj{"type": "string", "format": "date-time"}
}

// nullable allows null; a $ref takes no siblings in OpenAPI 3.0, so it is
// wrapped in allOf.
func nullable(s obj) obj {
	if _, isRef := s["$ref"]; isRef {
		return obj{"nullable": true, "allOf": []any{s}}
	}
	out := obj{"nullable": true}
	for k, v := range s {
		out[k] = v
	}
	return out
}
func mapOf(values obj) obj { return obj{"type": "object", "additionalProperties": values} }

// object is a schema with the given properties; required names those
// always present.
func object(required []string, props obj) obj {
	o := obj{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func pageSchema(item obj) obj {
	return object([]string{"items", "total", "limit", "offset"}, obj{
		"items": arrayOf(item), "total": integer(), "limit": integer(), "offset": integer()})
}

// metricValue is a number, or a string for values JSON cannot hold.
var metricValue = obj{"oneOf": []any{number(), obj{"type": "string", "enum": []any{"NaN", "+Inf", "-Inf"}}}}

var stateEnum = obj{"type": "string", "enum": []any{"queued", "running", "succeeded", "failed", "cancelled"}}

var schemas = obj{
	"Error": object([]string{"error"}, obj{"error": object([]string{"code", "message"}, obj{
		"code": str(), "message": str(), "details": obj{}})}),
	"Health": object([]string{"status", "version"}, obj{"status": str(), "version": str()}),
	"Tags":   mapOf(str()),
	"BestFigure": object([]string{"run_id", "key", "value"}, obj{
		"run_id": integer(), "key": str(), "value": number()}),
	"Experiment": object([]string{"id", "name", "spec_hash", "version", "created", "runs", "counts", "best"}, obj{
		"id": integer(), "name": str(), "spec": str(), "spec_hash": str(), "version": str(),
		"created": datetime(), "runs": integer(), "counts": mapOf(integer()),
		"best": nullable(ref("BestFigure")), "priority": integer(), "tags": ref("Tags"), "archived": datetime()}),
	"ExperimentPage": pageSchema(ref("Experiment")),
	"Run": object([]string{"id", "experiment_id", "index", "model", "params", "seed", "state", "attempts", "created"}, obj{
		"id": integer(), "experiment_id": integer(), "index": integer(), "model": str(),
		"params": obj{"type": "object", "description": "the run's full RunSpec"}, "seed": integer(),
		"state": stateEnum, "attempts": integer(), "worker": str(), "error": str(),
		"created": datetime(), "started": datetime(), "finished": datetime(),
		"metrics": mapOf(metricValue), "dataset_fingerprint": str(),
		"priority": integer(), "priority_override": integer(), "tags": ref("Tags"), "archived": datetime()}),
	"RunPage": pageSchema(ref("Run")),
	"Submitted": object([]string{"experiments"}, obj{"experiments": arrayOf(object([]string{"id", "name", "run_ids"}, obj{
		"id": integer(), "name": str(), "run_ids": arrayOf(integer())}))}),
	"MetricSeries": object([]string{"run_id", "series"}, obj{"run_id": integer(), "series": mapOf(arrayOf(object(
		[]string{"step", "epoch", "value", "time"}, obj{"step": integer(), "epoch": integer(), "value": metricValue, "time": datetime()})))}),
	"Artifact": object([]string{"id", "run_id", "name", "kind", "size", "sha256", "created"}, obj{
		"id": integer(), "run_id": integer(), "name": str(), "kind": str(), "size": integer(), "sha256": str(), "created": datetime()}),
	"ArtifactList": object([]string{"run_id", "items"}, obj{"run_id": integer(), "items": arrayOf(ref("Artifact"))}),
	"Dataset":      object([]string{"run_id", "fingerprint"}, obj{"run_id": integer(), "fingerprint": str(), "summary": obj{}}),
	"Scores":       object([]string{"run_id"}, obj{"run_id": integer()}),
	"ROC": object([]string{"run_id", "score", "split", "auc", "points"}, obj{
		"run_id": integer(), "score": str(), "split": str(), "auc": number(),
		"points": arrayOf(object([]string{"fpr", "tpr", "threshold"}, obj{"fpr": number(), "tpr": number(), "threshold": metricValue}))}),
	"Note": object([]string{"id", "experiment_id", "body", "created", "updated"}, obj{
		"id": integer(), "experiment_id": integer(), "body": str(), "created": datetime(), "updated": datetime()}),
	"NoteList":  object([]string{"experiment_id", "items"}, obj{"experiment_id": integer(), "items": arrayOf(ref("Note"))}),
	"NoteBody":  object([]string{"body"}, obj{"body": str()}),
	"Queue":     object([]string{"paused", "items", "total", "limit", "offset"}, obj{"paused": boolean(), "items": arrayOf(ref("Run")), "total": integer(), "limit": integer(), "offset": integer()}),
	"Paused":    object([]string{"paused"}, obj{"paused": boolean()}),
	"Priority":  object([]string{"priority"}, obj{"priority": nullable(integer())}),
	"Cancelled": object([]string{"experiment_id", "cancelled"}, obj{"experiment_id": integer(), "cancelled": arrayOf(integer())}),
	"Attempts": object([]string{"run_id", "items"}, obj{"run_id": integer(), "items": arrayOf(object([]string{"attempt", "state", "retried"}, obj{
		"attempt": integer(), "state": stateEnum, "error": str(), "worker": str(), "started": datetime(), "finished": datetime(), "retried": datetime()}))}),
	"Job": object([]string{"run_id", "state", "attempts", "backend"}, obj{
		"run_id": integer(), "state": stateEnum, "attempts": integer(), "backend": str(), "job_id": str(),
		"node": str(), "slurm_state": str(), "heartbeat": datetime(), "worker_pid": integer()}),
	"SetTags":    object([]string{"tags"}, obj{"tags": ref("Tags")}),
	"Rename":     object([]string{"name"}, obj{"name": str()}),
	"Purged":     object([]string{"purged_runs"}, obj{"experiment_id": integer(), "purged_runs": arrayOf(integer())}),
	"SubmitJSON": object([]string{"spec"}, obj{"spec": str(), "experiment": str()}),
	"WorkerInfo": object([]string{"node", "pid"}, obj{"node": str(), "pid": integer(), "job_id": str()}),
	"WorkerAssignment": object([]string{"run", "heartbeat_seconds"}, obj{
		"run": ref("Run"), "checkpoint": ref("Artifact"), "heartbeat_seconds": number()}),
	"WireMetrics": object([]string{"points"}, obj{"points": arrayOf(object([]string{"key", "step", "epoch", "value", "time"}, obj{
		"key": str(), "step": integer(), "epoch": integer(), "value": metricValue, "time": datetime()}))}),
	"WireFinalMetrics": object([]string{"metrics"}, obj{"metrics": mapOf(metricValue)}),
	"DatasetRecord":    object([]string{"fingerprint"}, obj{"fingerprint": str(), "summary": obj{}}),
	"WireArtifact": object([]string{"name", "kind", "size", "sha256"}, obj{
		"name": str(), "kind": str(), "size": integer(), "sha256": str()}),
	"UploadSize":   object([]string{"size"}, obj{"size": integer()}),
	"WorkerReport": object([]string{"state"}, obj{"state": str(), "error": str()}),
	"Event":        object([]string{"type", "run_id"}, obj{"type": str(), "run_id": integer()}),
}

// param is a query or path parameter.
type param struct {
	name, in, desc string
	schema         obj
}

func pathID(what string) param { return param{"id", "path", "the " + what + "'s id", integer()} }

var (
	pageParams_ = []param{
		{"limit", "query", "page size, 1 to 1000 (default 50)", integer()},
		{"offset", "query", "items to skip (default 0)", integer()},
	}
	archivedParam = param{"archived", "query", "false (default): hide archived; true: include them; only: only them",
		obj{"type": "string", "enum": []any{"false", "true", "only"}}}
)

// apiOp is one documented operation. path is in Fiber's syntax, as
// routes() registers it; okType is the answer's media type ("" = JSON of
// ok, "-" = no body).
type apiOp struct {
	method, path, summary string
	params                []param
	body                  obj    // JSON request body schema (nil = none)
	bodyType              string // another request media type
	status                int
	ok                    obj
	okType                string
	write                 bool
}

// apiOps documents every route of the server (with every optional part
// configured: queue control, workers).
var apiOps = []apiOp{
	{method: "GET", path: "/api/health", summary: "liveness and version", status: 200, ok: ref("Health")},
	{method: "GET", path: "/api/openapi.json", summary: "this document", status: 200, ok: obj{"type": "object"}},
	{method: "POST", path: "/api/experiments", summary: "submit a spec (YAML body, or JSON {spec, experiment}); queues its runs",
		params: []param{{"experiment", "query", "pick one experiment of the file", str()}, {"priority", "query", "queue priority of the experiments", integer()}},
		body:   ref("SubmitJSON"), bodyType: "application/yaml", status: 201, ok: ref("Submitted"), write: true},
	{method: "GET", path: "/api/experiments", summary: "experiments, newest first",
		params: append([]param{{"search", "query", "substring of the name", str()}, archivedParam}, pageParams_...), status: 200, ok: ref("ExperimentPage")},
	{method: "GET", path: "/api/experiments/:id", summary: "one experiment with its spec", params: []param{pathID("experiment")}, status: 200, ok: ref("Experiment")},
	{method: "PATCH", path: "/api/experiments/:id", summary: "rename an experiment", params: []param{pathID("experiment")}, body: ref("Rename"), status: 200, ok: ref("Experiment"), write: true},
	{method: "DELETE", path: "/api/experiments/:id", summary: "purge an experiment: its runs, records and files (409 while a run is running)", params: []param{pathID("experiment")}, status: 200, ok: ref("Purged"), write: true},
	{method: "POST", path: "/api/experiments/:id/tags", summary: "add or replace tags", params: []param{pathID("experiment")}, body: ref("SetTags"), status: 200, ok: ref("Experiment"), write: true},
	{method: "DELETE", path: "/api/experiments/:id/tags", summary: "remove a tag", params: []param{pathID("experiment"), {"key", "query", "the tag", str()}}, status: 200, ok: ref("Experiment"), write: true},
	{method: "POST", path: "/api/experiments/:id/archive", summary: "archive: hide from lists, tables and reports; its runs leave the queue", params: []param{pathID("experiment")}, status: 200, ok: ref("Experiment"), write: true},
	{method: "POST", path: "/api/experiments/:id/restore", summary: "restore an archived experiment", params: []param{pathID("experiment")}, status: 200, ok: ref("Experiment"), write: true},
	{method: "GET", path: "/api/experiments/:id/table", summary: "the comparison table (Table 1 layout)",
		params: []param{pathID("experiment"), {"format", "query", "json, csv, markdown, latex, png or svg", str()}, {"split", "query", "test or val", str()},
			{"metric", "query", "roc_auc or ap", str()}, {"aggregate", "query", "image, study_mean or study_max", str()}},
		status: 200, ok: obj{"type": "object"}, okType: "application/json, text/csv, text/markdown, application/x-latex, image/png, image/svg+xml"},
	{method: "GET", path: "/api/experiments/:id/roc.:ext<regex(png|svg)>", summary: "one score's test ROC curves across the experiment's runs",
		params: []param{pathID("experiment"), {"ext", "path", "png or svg", str()}, {"score", "query", "the score", str()}}, status: 200, okType: "image/png, image/svg+xml"},
	{method: "GET", path: "/api/experiments/:id/report", summary: "self-contained HTML report", params: []param{pathID("experiment")}, status: 200, okType: "text/html"},
	{method: "GET", path: "/api/experiments/:id/notes", summary: "the experiment's notes", params: []param{pathID("experiment")}, status: 200, ok: ref("NoteList")},
	{method: "POST", path: "/api/experiments/:id/notes", summary: "add a note", params: []param{pathID("experiment")}, body: ref("NoteBody"), status: 201, ok: ref("Note"), write: true},
	{method: "PUT", path: "/api/notes/:id", summary: "edit a note", params: []param{pathID("note")}, body: ref("NoteBody"), status: 200, ok: ref("Note"), write: true},
	{method: "DELETE", path: "/api/notes/:id", summary: "delete a note", params: []param{pathID("note")}, status: 204, okType: "-", write: true},
	{method: "GET", path: "/api/runs", summary: "runs across experiments: filter, order, page",
		params: append([]param{
			{"experiment", "query", "an experiment id", integer()}, {"state", "query", "a run state", str()}, {"model", "query", "a model name", str()},
			{"filter", "query", "search expression, e.g. model = 'cae' AND metrics.`test/recon/roc_auc` > 0.6 (see README)", str()},
			{"order_by", "query", "KEY [ASC|DESC], e.g. metrics.`test/recon/roc_auc` DESC (default: id)", str()}, archivedParam}, pageParams_...),
		status: 200, ok: ref("RunPage")},
	{method: "GET", path: "/api/runs/:id", summary: "one run", params: []param{pathID("run")}, status: 200, ok: ref("Run")},
	{method: "DELETE", path: "/api/runs/:id", summary: "purge a run: its records and artifact files (409 while running)", params: []param{pathID("run")}, status: 200, ok: ref("Purged"), write: true},
	{method: "POST", path: "/api/runs/:id/tags", summary: "add or replace tags", params: []param{pathID("run")}, body: ref("SetTags"), status: 200, ok: ref("Run"), write: true},
	{method: "DELETE", path: "/api/runs/:id/tags", summary: "remove a tag", params: []param{pathID("run"), {"key", "query", "the tag", str()}}, status: 200, ok: ref("Run"), write: true},
	{method: "POST", path: "/api/runs/:id/archive", summary: "archive a run (hidden, never leased)", params: []param{pathID("run")}, status: 200, ok: ref("Run"), write: true},
	{method: "POST", path: "/api/runs/:id/restore", summary: "restore an archived run", params: []param{pathID("run")}, status: 200, ok: ref("Run"), write: true},
	{method: "GET", path: "/api/runs/:id/metrics", summary: "metric series by key", params: []param{pathID("run"), {"key", "query", "one key only", str()}}, status: 200, ok: ref("MetricSeries")},
	{method: "GET", path: "/api/runs/:id/dataset", summary: "dataset fingerprint and split summary", params: []param{pathID("run")}, status: 200, ok: ref("Dataset")},
	{method: "GET", path: "/api/runs/:id/scores", summary: "every scored image (JSON, or CSV with format=csv)", params: []param{pathID("run"), {"format", "query", "csv for the file", str()}}, status: 200, ok: ref("Scores"), okType: "application/json, text/csv"},
	{method: "GET", path: "/api/runs/:id/roc", summary: "one score's ROC curve", params: []param{pathID("run"), {"score", "query", "the score", str()}, {"split", "query", "test (default) or val", str()}}, status: 200, ok: ref("ROC")},
	{method: "GET", path: "/api/runs/:id/heatmap", summary: "the run's anomaly map of one test image, rendered from its checkpoint and cached", params: []param{pathID("run"), {"image", "query", "the image's path in the dataset (one of the run's recorded test images)", str()}, {"half", "query", "1 or 2 for a hand of a two-hand image", integer()}, {"map", "query", "the model's map: recon (reconstruction), d_grad or d_gradx (a GAN discriminator's saliency); default the model's first, an unknown name is refused with the run's map names", str()}}, status: 200, okType: "image/png"},
	{method: "POST", path: "/api/runs/:id/cancel", summary: "cancel a queued or running run", params: []param{pathID("run")}, status: 200, ok: ref("Run"), write: true},
	{method: "GET", path: "/api/runs/:id/artifacts", summary: "the run's artifacts", params: []param{pathID("run")}, status: 200, ok: ref("ArtifactList")},
	{method: "GET", path: "/api/runs/:id/artifacts/*", summary: "download an artifact", params: []param{pathID("run"), {"name", "path", "the artifact's name (may hold /)", str()}}, status: 200, okType: "application/octet-stream"},
	{method: "GET", path: "/api/events", summary: "Server-Sent Events: state and progress of runs", params: []param{{"token", "query", "the token, where reads need it (EventSource sends no headers)", str()}}, status: 200, okType: "text/event-stream"},
	{method: "GET", path: "/api/runs/:id/job", summary: "backend, job id, node and scheduler state", params: []param{pathID("run")}, status: 200, ok: ref("Job")},
	{method: "GET", path: "/api/queue", summary: "queued runs in lease order", params: pageParams_, status: 200, ok: ref("Queue")},
	{method: "POST", path: "/api/queue/pause", summary: "stop leasing", status: 200, ok: ref("Paused"), write: true},
	{method: "POST", path: "/api/queue/resume", summary: "restart leasing", status: 200, ok: ref("Paused"), write: true},
	{method: "POST", path: "/api/experiments/:id/priority", summary: "set an experiment's priority", params: []param{pathID("experiment")}, body: ref("Priority"), status: 200, ok: ref("Experiment"), write: true},
	{method: "POST", path: "/api/experiments/:id/cancel-queued", summary: "cancel every queued run of the experiment", params: []param{pathID("experiment")}, status: 200, ok: ref("Cancelled"), write: true},
	{method: "POST", path: "/api/runs/:id/priority", summary: "set (null: clear) a queued run's priority", params: []param{pathID("run")}, body: ref("Priority"), status: 200, ok: ref("Run"), write: true},
	{method: "POST", path: "/api/runs/:id/top", summary: "move a queued run to the top", params: []param{pathID("run")}, status: 200, ok: ref("Run"), write: true},
	{method: "POST", path: "/api/runs/:id/retry", summary: "queue a failed or cancelled run again", params: []param{pathID("run")}, status: 200, ok: ref("Run"), write: true},
	{method: "GET", path: "/api/runs/:id/attempts", summary: "earlier attempts of a retried run", params: []param{pathID("run")}, status: 200, ok: ref("Attempts")},
	{method: "GET", path: "/metrics", summary: "Prometheus metrics", status: 200, okType: "text/plain"},
	// The worker API (Slurm backend): per-run tokens only.
	{method: "POST", path: "/api/worker/runs/:id/start", summary: "worker: start the run", params: []param{pathID("run")}, body: ref("WorkerInfo"), status: 200, ok: ref("WorkerAssignment"), write: true},
	{method: "POST", path: "/api/worker/runs/:id/heartbeat", summary: "worker: heartbeat", params: []param{pathID("run")}, body: ref("WorkerInfo"), status: 204, okType: "-", write: true},
	{method: "POST", path: "/api/worker/runs/:id/metrics", summary: "worker: append metric points", params: []param{pathID("run")}, body: ref("WireMetrics"), status: 204, okType: "-", write: true},
	{method: "GET", path: "/api/worker/runs/:id/metrics", summary: "worker: read the run's series", params: []param{pathID("run"), {"key", "query", "one key only", str()}}, status: 200, ok: ref("WireMetrics"), write: true},
	{method: "DELETE", path: "/api/worker/runs/:id/metrics", summary: "worker: delete points after an epoch", params: []param{pathID("run"), {"after_epoch", "query", "the checkpoint's epoch", integer()}}, status: 204, okType: "-", write: true},
	{method: "PUT", path: "/api/worker/runs/:id/final-metrics", summary: "worker: final metrics", params: []param{pathID("run")}, body: ref("WireFinalMetrics"), status: 204, okType: "-", write: true},
	{method: "PUT", path: "/api/worker/runs/:id/dataset", summary: "worker: dataset record", params: []param{pathID("run")}, body: ref("DatasetRecord"), status: 204, okType: "-", write: true},
	{method: "POST", path: "/api/worker/runs/:id/uploads/*", summary: "worker: upload part of a file", params: []param{pathID("run"), {"name", "path", "the file's name", str()}, {"offset", "query", "where the part starts", integer()}},
		bodyType: "application/octet-stream", status: 200, ok: ref("UploadSize"), write: true},
	{method: "POST", path: "/api/worker/runs/:id/artifacts", summary: "worker: commit an uploaded file", params: []param{pathID("run")}, body: ref("WireArtifact"), status: 201, ok: ref("Artifact"), write: true},
	{method: "GET", path: "/api/worker/runs/:id/artifacts/*", summary: "worker: download an artifact (a checkpoint)", params: []param{pathID("run"), {"name", "path", "the artifact", str()}}, status: 200, okType: "application/octet-stream", write: true},
	{method: "POST", path: "/api/worker/runs/:id/events", summary: "worker: publish a run event", params: []param{pathID("run")}, body: ref("Event"), status: 204, okType: "-", write: true},
	{method: "POST", path: "/api/worker/runs/:id/finish", summary: "worker: the run's outcome", params: []param{pathID("run")}, body: ref("WorkerReport"), status: 204, okType: "-", write: true},
}

var fiberParam = regexp.MustCompile(`:([a-z_]+)(<[^>]*>)?`)

// OpenAPIPath turns a Fiber route path into OpenAPI's: /runs/:id →
// /runs/{id}, a trailing * → {name}.
func OpenAPIPath(p string) string {
	p = fiberParam.ReplaceAllString(p, "{$1}")
	if strings.HasSuffix(p, "/*") {
		p = strings.TrimSuffix(p, "*") + "{name}"
	}
	return p
}

var errorStatuses = map[int]string{
	400: "invalid request (a bad parameter, body or filter; details say which)",
	401: "missing or invalid bearer token", 404: "not found", 409: "conflicts with the current state",
	413: "body too large", 415: "unsupported Content-Type", 429: "too many requests", 500: "internal error",
}

// OpenAPIDocument builds the document.
func OpenAPIDocument(version string) map[string]any {
	paths := obj{}
	for _, o := range apiOps {
		p := OpenAPIPath(o.path)
		item, _ := paths[p].(obj)
		if item == nil {
			item = obj{}
			paths[p] = item
		}
		op := obj{"summary": o.summary, "operationId": operationID(o)}
		var params []any
		for _, pa := range o.params {
			params = append(params, obj{"name": pa.name, "in": pa.in, "description": pa.desc, "required": pa.in == "path", "schema": pa.schema})
		}
		if params != nil {
			op["parameters"] = params
		}
		if o.body != nil || o.bodyType != "" {
			content := obj{}
			if o.body != nil {
				content["application/json"] = obj{"schema": o.body}
			}
			if o.bodyType != "" {
				content[o.bodyType] = obj{"schema": str()}
			}
			op["requestBody"] = obj{"required": true, "content": content}
		}
		resp := obj{"description": "success"}
		switch {
		case o.okType == "-":
		case o.okType == "":
			resp["content"] = obj{"application/json": obj{"schema": o.ok}}
		default:
			content := obj{}
			for _, t := range strings.Split(o.okType, ", ") {
				if t == "application/json" && o.ok != nil {
					content[t] = obj{"schema": o.ok}
				} else {
					content[t] = obj{"schema": obj{"type": "string"}}
				}
			}
			resp["content"] = content
		}
		responses := obj{strconv.Itoa(o.status): resp}
		for code, desc := range errorStatuses {
			if code == 401 && (o.path == "/api/health" || o.path == "/api/openapi.json") {
				continue
			}
			responses[strconv.Itoa(code)] = obj{"description": desc, "content": obj{"application/json": obj{"schema": ref("Error")}}}
		}
		op["responses"] = responses
		if o.write {
			op["security"] = []any{obj{"bearer": []any{}}}
		}
		item[strings.ToLower(o.method)] = op
	}
	return obj{
		"openapi": "3.0.3",
		"info": obj{"title": "xraylab API", "version": version,
			"description": "Experiments, runs, metrics, artifacts, queue control and curation of xraylab. Writes need the bearer token; reads need it when the server is not on a loopback address."},
		"paths": paths,
		"components": obj{
			"schemas":         schemas,
			"securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer"}},
		},
	}
}

func operationID(o apiOp) string {
	p := strings.NewReplacer("/api/", "", "/:id", "_by_id", "/", "_", "*", "name", ":ext<regex(png|svg)>", "ext", ".", "_", "-", "_").Replace(o.path)
	return strings.ToLower(o.method) + "_" + strings.Trim(p, "_")
}

// openAPI answers the document; it is built per request (under a
// millisecond), so it always shows the routes as the table has them.
func (s *Server) openAPI(c *fiber.Ctx) error {
	b, err := json.Marshal(OpenAPIDocument(s.cfg.Version))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b)
}
