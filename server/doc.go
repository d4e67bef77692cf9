// Package server owns xraylab's HTTP face: the Fiber routes of the JSON API
// under /api, the mapping of coded errors to HTTP statuses and JSON bodies,
// the Server-Sent Events stream of run progress, guarded artifact downloads,
// and serving an (optionally) embedded dashboard at /.
//
// It knows the domain only through the experiments package: reads go to an
// experiments.Store, writes (submit, cancel) and the event stream go
// through the Service interface declared here (experiments.Manager).
//
// # Endpoints
//
//	GET  /api/health                      {"status":"ok","version"}
//	POST /api/experiments                 201 {"experiments":[{"id","name","run_ids"}]}
//	     body: the YAML spec (Content-Type application/yaml, application/x-yaml
//	     or text/yaml) or JSON {"spec": "<yaml>", "experiment": "name"};
//	     ?experiment=NAME also picks one experiment of a multi-experiment file.
//	     Location names the experiment when exactly one was queued.
//	GET  /api/experiments?search=&limit=&offset=
//	                                      {items,total,limit,offset}; items newest first,
//	                                      each {id,name,spec_hash,version,created,runs,counts,best}
//	GET  /api/experiments/:id             the same fields plus "spec" (the YAML text);
//	                                      its runs are /api/runs?experiment=:id
//	GET  /api/runs?experiment=&state=&model=&limit=&offset=
//	                                      {items,total,limit,offset}; items are experiments.Run, by id
//	GET  /api/runs/:id                    experiments.Run (params, seed, state, attempts, metrics, error)
//	GET  /api/runs/:id/metrics?key=       {"run_id", "series": {"<key>": [{"step","epoch","value","time"}]}}
//	                                      grouped by key, each series ordered by step
//	GET  /api/runs/:id/dataset            {"run_id","fingerprint","summary"}
//	GET  /api/runs/:id/scores?format=     the run's per-image scores (JSON, or csv: scores.csv)
//	GET  /api/runs/:id/roc?score=&split=  {"run_id","score","split","auc","points":[{"fpr","tpr","threshold"}]}
//	                                      one score's ROC curve on test (default) or val images;
//	                                      the first point's threshold is "+Inf"
//	POST /api/runs/:id/cancel             the run as it now is; 409 when finished
//	GET  /api/runs/:id/artifacts          {"run_id", "items": [artifact + "url"]}
//	GET  /api/runs/:id/artifacts/<name>   the file; only names the store lists for the run
//	GET  /api/events?experiment=          text/event-stream: "event: state|progress",
//	                                      "data: <experiments.Event JSON>", ": heartbeat" comments
//
// limit is 1..1000 (default 50), offset >= 0 (default 0); counts always
// hold every state, zeros included; best is null until a run has a test
// ROC-AUC.
//
// # Errors
//
// Every error is {"error": {"code", "message", "details"}} (details only
// when there are some: the problems of an invalid spec with line and
// column; the parameter, value and what is allowed for a bad query or path
// parameter). Codes and statuses: invalid 400, unauthorized 401, forbidden
// 403, not_found 404 (unknown routes too), method_not_allowed 405, conflict
// 409, too_large 413 (body over Config.BodyLimit, or a spec or grid over
// experiments' limits), unsupported_media_type 415, too_many_requests 429,
// internal 500 (message always "internal server error"; the cause is
// logged).
//
// # Extension points
//
// Config.ReadGuard and Config.WriteGuard are middleware run before every
// read-only and every mutating /api route (not /api/health): access control
// plugs in there. Config.Frontend serves the dashboard.
package server
