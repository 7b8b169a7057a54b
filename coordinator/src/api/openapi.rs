//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`.

use axum::Json;
use serde_json::{Value, json};

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn job_id_param() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}})
}

fn control(summary: &str) -> Value {
    json!({"post": {
        "summary": summary,
        "parameters": [job_id_param()],
        "responses": {
            "200": {"description": "the job's state afterwards", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ControlAnswer"}}}},
            "400": error_response("not a job id"),
            "404": error_response("no such job (or another tenant's)"),
            "409": error_response("the job's state does not allow it")
        }
    }})
}

fn job_document(summary: &str, description: &str, media: &str, schema: Value) -> Value {
    json!({"get": {
        "summary": summary,
        "parameters": [job_id_param()],
        "responses": {
            "200": {"description": description, "content": {media: {"schema": schema}}},
            "400": error_response("not a job id"),
            "404": error_response("no such job (or another tenant's)")
        }
    }})
}

/// Schemas of the verification and billing documents.
fn billing_schemas() -> Value {
    json!({
            "CostReport": {"type": "object", "properties": {
                "job_id": {"type": "string"}, "job_name": {"type": "string"}, "state": {"type": "string"}, "currency": {"type": "string"},
                "frames": {"type": "array", "items": {"type": "object", "properties": {
                    "frame": {"type": "integer"}, "state": {"type": "string"}, "verification": {"type": "string"},
                    "worker_id": {"type": ["string", "null"]}, "worker_name": {"type": ["string", "null"]},
                    "device_class": {"type": ["string", "null"]}, "render_seconds": {"type": "number"},
                    "cost_micros": {"type": "integer"}, "copies": {"type": "integer"}}}},
                "totals": {"type": "object", "properties": {
                    "frames": {"type": "integer"}, "frames_done": {"type": "integer"}, "frames_verified": {"type": "integer"},
                    "frames_replicated": {"type": "integer"}, "replication_percent": {"type": "number"},
                    "billed_render_seconds": {"type": "number"}, "total_render_seconds": {"type": "number"},
                    "cost_micros": {"type": "integer"}, "verification_overhead_micros": {"type": "integer"},
                    "verification_overhead_percent": {"type": "number"}}},
                "estimate": {"type": ["object", "null"], "description": "the estimate the job was submitted with against what it took: node_class (most frames rendered there), basis, estimated_cost_micros and estimated_time_secs {low, typical, high}, actual_cost_micros, actual_time_secs (submission to last frame), cost_within_range, time_within_range"}}},
            "Verdict": {"type": "object", "properties": {
                "frame": {"type": "integer"}, "replica_a": {"type": "integer"}, "replica_b": {"type": "integer"},
                "worker_a": {"type": ["string", "null"]}, "worker_b": {"type": ["string", "null"]},
                "verdict": {"type": "string", "enum": ["identical", "within_tolerance", "inconclusive", "mismatch"]},
                "reasons": {"type": "array", "items": {"type": "string"}},
                "mean_error": {"type": ["number", "null"]}, "rms_error": {"type": ["number", "null"]}, "psnr": {"type": ["number", "null"]},
                "max_error": {"type": ["number", "null"]}, "worst_tile": {"type": ["array", "null"]},
                "flip_mean": {"type": ["number", "null"]}, "flip_worst_tile_mean": {"type": ["number", "null"]},
                "created_ms": {"type": "integer"}}},
            "Payout": {"type": "object", "properties": {
                "worker_id": {"type": "string"}, "name": {"type": "string"}, "owner": {"type": "string"}, "device_class": {"type": "string"},
                "frames_delivered": {"type": "integer"}, "frames_verified": {"type": "integer"}, "frames_wrong": {"type": "integer"},
                "earned_micros": {"type": "integer"}, "held_micros": {"type": "integer"}, "forfeited_micros": {"type": "integer"},
                "strikes": {"type": "integer"}, "blocklisted": {"type": "boolean"}}}
    })
}

/// The token routes, admin only.
fn token_paths() -> Value {
    json!({
        "/api/v1/tokens": {
            "post": {
                "summary": "Create an API token (admin only); the answer carries the token, shown this once",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreateToken"}}}},
                "responses": {
                    "201": {"description": "created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IssuedToken"}}}},
                    "422": error_response("bad role, tenant, owner, label or expiry")
                }
            },
            "get": {"summary": "List API tokens, newest first, without secrets (admin only)",
                "responses": {"200": {"description": "tokens", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/TokenInfo"}}}}}}}
        },
        "/api/v1/tokens/{id}/revoke": {"post": {
            "summary": "Revoke an API token (admin only): it stops working at once",
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9a-f]{12}$"}}],
            "responses": {
                "200": {"description": "the token, with revoked_ms", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TokenInfo"}}}},
                "400": error_response("not a token id"),
                "404": error_response("no such token")
            }
        }}
    })
}

/// Schemas of the token documents.
fn token_schemas() -> Value {
    let info = json!({
        "id": {"type": "string", "pattern": "^[0-9a-f]{12}$"},
        "role": {"type": "string", "enum": ["submitter", "provider", "admin"]},
        "tenant": {"type": "string", "description": "submitter tokens"},
        "owner": {"type": "string", "description": "provider tokens: the workers' owner"},
        "label": {"type": "string"}, "created_ms": {"type": "integer"},
        "expires_ms": {"type": ["integer", "null"]}, "revoked_ms": {"type": ["integer", "null"]}});
    let mut issued = info.clone();
    issued["token"] = json!({"type": "string", "pattern": "^rf_[0-9a-f]{12}_[0-9a-f]{64}$",
        "description": "send as `Authorization: Bearer <token>`; shown only in this answer"});
    json!({
        "CreateToken": {"type": "object", "required": ["role"], "additionalProperties": false, "properties": {
            "role": {"type": "string", "enum": ["submitter", "provider", "admin"]},
            "tenant": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$", "description": "required for submitter tokens"},
            "owner": {"type": "string", "maxLength": 128, "description": "required for provider tokens: the workers' `owner`"},
            "label": {"type": "string", "maxLength": 200},
            "expires_in_days": {"type": "integer", "minimum": 1, "maximum": crate::auth::MAX_EXPIRY_DAYS}}},
        "TokenInfo": {"type": "object", "properties": info},
        "IssuedToken": {"type": "object", "properties": issued}
    })
}

/// Add the bearer scheme: global security, `security: []` on the public
/// routes, and the 401 and 403 answers on every other operation.
fn secure(document: &mut Value) {
    const PUBLIC: [&str; 3] = [
        "/api/v1/health",
        "/api/v1/openapi.json",
        "/api/v1/workers/enroll",
    ];
    document["security"] = json!([{"bearer": []}]);
    document["components"]["securitySchemes"] = json!({"bearer": {
        "type": "http", "scheme": "bearer",
        "description": "An API token `rf_<id>_<secret>`, from `coordinator token create` or POST /api/v1/tokens. \
            Roles: submitter (one tenant's scenes and jobs), provider (one owner's workers and payouts), admin (everything)."}});
    document["components"]["responses"] = json!({
        "Unauthenticated": {"description": "no token, or one malformed, unknown, revoked or expired",
            "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "Forbidden": error_response("the token's role may not do this")});
    let Some(paths) = document["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(operations) = item.as_object_mut() else {
            continue;
        };
        for operation in operations.values_mut() {
            if PUBLIC.contains(&path.as_str()) {
                operation["security"] = json!([]);
            } else {
                operation["responses"]["401"] =
                    json!({"$ref": "#/components/responses/Unauthenticated"});
                operation["responses"]["403"] = json!({"$ref": "#/components/responses/Forbidden"});
            }
        }
    }
}

/// `GET /api/v1/openapi.json`.
pub async fn spec() -> Json<Value> {
    let mut document = json!({
        "openapi": "3.1.0",
        "info": {"title": "Render farm coordinator", "version": env!("CARGO_PKG_VERSION")},
        "paths": {
            "/api/v1/health": {"get": {"summary": "Liveness", "responses": {"200": {"description": "ok"}}}},
            "/api/v1/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "the OpenAPI document"}}}},
            "/api/v1/scenes": {"post": {
                "summary": "Upload a scene (streamed; content-addressed by blake3; re-uploads store nothing)",
                "parameters": [{"name": "filename", "in": "query", "required": true, "schema": {"type": "string"}, "example": "shot010.blend"}],
                "requestBody": {"required": true, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                "responses": {
                    "201": {"description": "stored", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Uploaded"}}}},
                    "200": {"description": "already stored", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Uploaded"}}}},
                    "400": error_response("bad or path-like file name, empty body"),
                    "413": error_response("larger than jobs.max_upload_bytes"),
                    "415": error_response("not application/octet-stream")
                }
            }},
            "/api/v1/jobs": {
                "post": {
                    "summary": "Create a job",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreateJob"}}}},
                    "responses": {
                        "201": {"description": "accepted", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
                        "400": error_response("not JSON"),
                        "415": error_response("not application/json"),
                        "409": error_response("the bundle lacks blobs (the message names the files)"),
                        "422": error_response("bad frame spec, unknown renderer, scene, bundle, region or node class, out-of-range field")
                    }
                },
                "get": {"summary": "List jobs, newest first: every tenant's for admins, its own tenant's for a submitter", "responses": {"200": {"description": "jobs", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}}}}}}}
            },
            "/api/v1/jobs/validate": {"post": {
                "summary": "Check a submission without creating anything, before uploading its files: every field, and the scene (uploaded) or bundle (described) when given",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreateJob"}}}},
                "responses": {
                    "200": {"description": "it would be accepted", "content": {"application/json": {"schema": {"type": "object", "properties": {
                        "frame_count": {"type": "integer"}, "tasks": {"type": "integer"}}}}}},
                    "422": error_response("the same refusals as job creation")}}},
            "/api/v1/jobs/estimate": {"post": {
                "summary": "Before submitting: per node class the job's placement admits, its online workers, and the time to complete and cost from the farm's history of render times (the coordinator's observed times of accepted copies: of the same scene when it rendered here before, else of every scene), low (10th percentile frame), typical (median) and high (90th); nothing is created",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreateJob"}}}},
                "responses": {
                    "200": {"description": "the estimate: frames, parity_percent, currency, classes[{node_class, workers, basis (scene, farm or none), scaled_from (the class whose times, scaled by the speed scores, stand in for a class without history), samples, seconds_per_frame, time_to_complete_secs, cost_micros}], each range {low, typical, high}"},
                    "422": error_response("the same refusals as job creation")}}},
            "/api/v1/farm": {"get": {
                "summary": "What a job may ask for: renderers, and the regions and node classes of the farm's enrolled workers",
                "responses": {"200": {"description": "the lists", "content": {"application/json": {"schema": {"type": "object", "properties": {
                    "renderers": {"type": "array", "items": {"type": "object"}, "description": "the renderers the registered workers announced: renderer, version, formats"},
                    "regions": {"type": "array", "items": {"type": "string"}},
                    "node_classes": {"type": "array", "items": {"type": "string"}}}}}}}}}},
            "/api/v1/events": {"get": {
                "summary": "The change feed as Server-Sent Events, limited to what the token may see (admin: everything; submitter: its tenant's jobs and frames; provider: its own workers). Opens with a `ready` event whose id is where it starts; then one event per change, named `job`, `frame`, `copy` or `worker`, its data the change as JSON (`seq`, `at_ms`, `kind`, the ids, and the states before (`was`, `was_check`) and after (`now`, `now_check`)), its id the change's `seq`. Send `Last-Event-ID` (EventSource does) or `after` to resume; a `reset` event means the changes asked for are no longer kept: reload and follow again",
                "parameters": [
                    {"name": "job", "in": "query", "required": false, "schema": {"type": "string", "format": "uuid"}, "description": "only this job's changes"},
                    {"name": "after", "in": "query", "required": false, "schema": {"type": "integer"}, "description": "start after this change (default: now)"},
                    {"name": "Last-Event-ID", "in": "header", "required": false, "schema": {"type": "string"}, "description": "the id of the last event received; wins over `after`"}
                ],
                "responses": {
                    "200": {"description": "the stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                    "400": error_response("a Last-Event-ID that is not a number, or a bad query"),
                    "403": error_response("a provider token with `job`"),
                    "404": error_response("no such job (or another tenant's)")
                }
            }},
            "/api/v1/jobs/{id}": {"get": {
                "summary": "One job with per-frame status",
                "parameters": [job_id_param()],
                "responses": {
                    "200": {"description": "the job", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobDetail"}}}},
                    "400": error_response("not a job id"),
                    "404": error_response("no such job (or another tenant's)")
                }
            }},
            "/api/v1/jobs/{id}/cancel": control("Cancel a job"),
            "/api/v1/jobs/{id}/pause": control("Pause a job: no new task of it starts"),
            "/api/v1/jobs/{id}/resume": control("Resume a paused job"),
            "/api/v1/jobs/{id}/requeue": control("Put a job's failed frames back in the queue"),
            "/api/v1/jobs/{id}/priority": {"post": {
                "summary": "Give a job another priority: frames not yet taken follow it (those on the queue are published again under the new queue priority); frames being rendered finish where they are",
                "parameters": [job_id_param()],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["priority"], "properties": {
                    "priority": {"type": "integer", "minimum": 0, "maximum": 100}}}}}},
                "responses": {
                    "200": {"description": "the new priority", "content": {"application/json": {"schema": {"type": "object", "properties": {
                        "id": {"type": "string"}, "priority": {"type": "integer"},
                        "republished_tasks": {"type": "integer", "description": "tasks published again under the new queue priority"}}}}}},
                    "400": error_response("not a job id"),
                    "404": error_response("no such job (or another tenant's)"),
                    "409": error_response("the job is done, failed or cancelled"),
                    "422": error_response("a priority outside 0 to 100, or a body without one")}}},
            "/api/v1/bundles": {"post": {
                "summary": "Describe a scene bundle (main file and every file it uses, by blake3 and relative path) before uploading; answers which blobs the caller's tenant still has to send",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["main", "files"], "properties": {
                    "main": {"type": "string", "description": "path of the file the renderer opens, one of files"},
                    "files": {"type": "array", "items": {"type": "object", "required": ["path", "hash", "bytes"], "properties": {
                        "path": {"type": "string", "description": "relative, `/`-separated, no `..`"},
                        "hash": {"type": "string", "description": "blake3, 64 hex digits"},
                        "bytes": {"type": "integer"}}}}}}}}},
                "responses": {
                    "200": {"description": "a known bundle, with what is missing"},
                    "201": {"description": "a new bundle, with what is missing"},
                    "422": error_response("a path escapes the bundle, a file is listed twice, a limit is exceeded (the message names the file)")}}},
            "/api/v1/bundles/{id}": {"get": {
                "summary": "A bundle of the caller's tenant and the blobs it still lacks",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "the bundle"}, "404": error_response("no such bundle (or another tenant's)")}}},
            "/api/v1/blobs/{hash}": {"put": {
                "summary": "Upload one file of a bundle, as raw bytes; they must hash to the URL's blake3",
                "parameters": [{"name": "hash", "in": "path", "required": true, "schema": {"type": "string"}}],
                "requestBody": {"required": true, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                "responses": {
                    "200": {"description": "the tenant had uploaded it before"},
                    "201": {"description": "stored"},
                    "400": error_response("not a blake3 hash"),
                    "413": error_response("larger than jobs.max_upload_bytes"),
                    "415": error_response("not application/octet-stream"),
                    "422": error_response("the bytes do not hash to the URL's blake3; nothing is kept")}}},
            "/api/v1/jobs/{id}/frames/{frame}/download": {"get": {
                "summary": "Download an accepted frame: a redirect to a short-lived link to the coordinator's copy",
                "parameters": [
                    {"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}},
                    {"name": "frame", "in": "path", "required": true, "schema": {"type": "integer"}}],
                "responses": {
                    "303": {"description": "the link, in Location (good for grants.download_link_secs)"},
                    "400": error_response("not a job id or frame number"),
                    "404": error_response("no such job (or another tenant's)"),
                    "409": error_response("the frame has no accepted copy yet")}}},
            "/api/v1/jobs/{id}/frames/{frame}/copies/{replica}/preview": {"get": {
                "summary": "A rendered copy's preview: a tone-mapped PNG the coordinator made from its own copy after the copy was delivered",
                "parameters": [
                    {"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}},
                    {"name": "frame", "in": "path", "required": true, "schema": {"type": "integer"}},
                    {"name": "replica", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 0}},
                    {"name": "size", "in": "query", "required": false, "schema": {"type": "string", "enum": ["thumb", "full"], "default": "thumb"},
                        "description": "thumb: longer side 256 px at most; full: longer side 2048 px at most (never scaled up)"}],
                "responses": {
                    "200": {"description": "the preview (Cache-Control: private, max-age=3600)", "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}},
                    "400": error_response("not a job id, frame or replica number, or a size other than thumb and full"),
                    "404": error_response("no such job (or another tenant's), or no preview (yet): code no_preview")}}},
            "/api/v1/jobs/{id}/frames/{frame}/heatmap": {"get": {
                "summary": "The parity heat map of two copies of a frame: per pixel their largest absolute difference through the magma colour map, a PNG of the frame's size drawn when the checker compared them",
                "parameters": [
                    {"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}},
                    {"name": "frame", "in": "path", "required": true, "schema": {"type": "integer"}},
                    {"name": "a", "in": "query", "required": true, "schema": {"type": "integer", "minimum": 0}, "description": "one copy's replica (as in the verdicts)"},
                    {"name": "b", "in": "query", "required": true, "schema": {"type": "integer", "minimum": 0}, "description": "the other copy's replica; either order"}],
                "responses": {
                    "200": {"description": "the heat map (Cache-Control: private, max-age=3600)", "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}},
                    "400": error_response("not a job id or frame number, or a and b missing or equal"),
                    "404": error_response("no such job (or another tenant's), or the pair was not compared (yet): code no_preview")}}},
            "/api/v1/jobs/{id}/report": job_document("Cost report: every frame with its cost, verification state and totals",
                "the report", "application/json", json!({"$ref": "#/components/schemas/CostReport"})),
            "/api/v1/jobs/{id}/report.csv": job_document("Cost report as CSV (also written to reports/<job>/cost.csv when the job ends)",
                "the report", "text/csv", json!({"type": "string"})),
            "/api/v1/jobs/{id}/verdicts": job_document("Every parity comparison of the job's frames, with its numbers",
                "verdicts", "application/json", json!({"type": "array", "items": {"$ref": "#/components/schemas/Verdict"}})),
            "/api/v1/workers": {"get": {"summary": "Workers seen, with their reputation: all for admins, its own for a provider", "responses": {"200": {"description": "workers", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Worker"}}}}}}}},
            "/api/v1/workers/{id}/reinstate": {"post": {
                "summary": "Take a worker off the blocklist (strikes and verified streak reset); admin only",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
                "responses": {
                    "200": {"description": "the worker", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Worker"}}}},
                    "400": error_response("not a worker id"),
                    "404": error_response("no such worker"),
                    "409": error_response("the worker is not blocklisted")
                }
            }},
            "/api/v1/workers/{id}/drain": {"post": {
                "summary": "Drain a worker: the task it is rendering finishes and is paid, copies directed at it go to other workers, it takes nothing more (a task it starts anyway goes to another worker); an admin, or the worker's own provider",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
                "responses": {
                    "200": {"description": "the worker, with draining_ms", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Worker"}}}},
                    "400": error_response("not a worker id"),
                    "403": error_response("a submitter token"),
                    "404": error_response("no such worker (or another provider's)"),
                    "409": error_response("the worker is draining already")}}},
            "/api/v1/workers/{id}/undrain": {"post": {
                "summary": "End a worker's drain: it takes tasks again; an admin, or the worker's own provider",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
                "responses": {
                    "200": {"description": "the worker", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Worker"}}}},
                    "400": error_response("not a worker id"),
                    "403": error_response("a submitter token"),
                    "404": error_response("no such worker (or another provider's)"),
                    "409": error_response("the worker is not draining")}}},
            "/api/v1/workers/{id}/blocklist": {"post": {
                "summary": "Blocklist a worker by an admin's decision: no more tasks, its current task goes elsewhere, its unverified frames are rendered again; admin only",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["reason"],
                    "properties": {"reason": {"type": "string", "description": "why, 1 to 500 characters; its operator sees it"}}}}}},
                "responses": {
                    "200": {"description": "the worker", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Worker"}}}},
                    "400": error_response("not a worker id"),
                    "403": error_response("not an admin"),
                    "404": error_response("no such worker"),
                    "409": error_response("the worker is blocklisted already"),
                    "422": error_response("no reason, or one over 500 characters")
                }
            }},
            "/api/v1/node-classes": {"get": {"summary": "The node classes the farm sells, by name: device (cpu or gpu), price per render second of a frame and minimum per frame (micro-units; no price: billed at the device class rates), speed score, registration benchmark limit",
                "responses": {"200": {"description": "the classes", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/NodeClass"}}}}}}}},
            "/api/v1/node-classes/{name}": {
                "put": {"summary": "Define or redefine a node class (admins). Enrollment tokens grant, and jobs ask for, defined classes only; frames already rendered keep their price",
                    "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["device"], "properties": {
                        "device": {"enum": ["cpu", "gpu"]}, "price_micros_per_second": {"type": "integer"}, "min_micros_per_frame": {"type": "integer"},
                        "speed_score": {"type": "number"}, "benchmark_max_secs": {"type": "number"}, "description": {"type": "string"}}}}}},
                    "responses": {"200": {"description": "the class", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NodeClass"}}}},
                        "403": error_response("not an admin"),
                        "422": error_response("a bad name, a negative price, a speed score not above 0")}},
                "delete": {"summary": "Remove a node class (admins)",
                    "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": {"204": {"description": "removed"}, "403": error_response("not an admin"),
                        "404": error_response("no such class"),
                        "409": error_response("an enrollment token not revoked or a worker uses it")}}},
            "/api/v1/payouts": {"get": {"summary": "Per worker: frames delivered, verified, found wrong; amounts earned, held in escrow, forfeited (micro-units). All workers for admins, its own for a provider",
                "responses": {"200": {"description": "payouts", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Payout"}}}}}}}}
        },
        "components": {"schemas": {
            "NodeClass": {"type": "object", "properties": {
                "name": {"type": "string"}, "device": {"enum": ["cpu", "gpu"]},
                "price_micros_per_second": {"type": ["integer", "null"]}, "min_micros_per_frame": {"type": "integer"},
                "speed_score": {"type": "number"}, "benchmark_max_secs": {"type": ["number", "null"]}, "description": {"type": "string"}}},
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}}}}},
            "Uploaded": {"type": "object", "properties": {
                "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "ext": {"type": "string"},
                "bytes": {"type": "integer"}, "created": {"type": "boolean"}}},
            "CreateJob": {"type": "object", "required": ["renderer", "frames"], "additionalProperties": false, "properties": {
                "name": {"type": "string"},
                "scene": {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "an uploaded single-file scene; give this or bundle"},
                "bundle": {"type": "string", "description": "a described bundle whose files are all uploaded; give this or scene"},
                "paused": {"type": "boolean", "default": false, "description": "create the job paused"},
                "region": {"type": "string", "examples": ["EU", "DE,FR", "UK", "US"],
                    "description": "regions to render in, comma-separated: ISO country codes, the groups EU, EEA, UK and US, or a region workers enrolled in; enforced (only workers enrolled there get its tasks, scene and upload grants)"},
                "node_class": {"type": "string", "description": "node classes to render on, comma-separated, cheapest first"},
                "gpu_model": {"type": "string", "description": "GPU model as a device class (rtx4090, h100), as the workers' enrollments grant"},
                "min_vram_mib": {"type": "integer", "minimum": 1, "description": "least GPU memory, MiB"},
                "renderer": {"type": "string", "enum": ["blender", "octane", "cinema4d"]},
                "renderer_version": {"type": "string", "examples": ["2024.4", ">=2024.1, <2025"],
                    "description": "versions of the renderer the job may render on; only workers that announced one inside it get its tasks"},
                "take": {"type": "string", "description": "cinema4d jobs: the take to render (default the main take)"},
                "render_target": {"type": "string", "description": "octane jobs: the render target node (default the scene's only one)"},
                "frames": {"type": "string", "examples": ["1-100", "1-100x5", "1,5,10-12", "100-1"]},
                "chunk_size": {"type": "integer", "minimum": 1, "maximum": 10000},
                "priority": {"type": "integer", "minimum": 0, "maximum": 100, "default": 50},
                "output": {"type": "object", "properties": {"depth": {"type": "string", "enum": ["half", "float"], "default": "half"}}},
                "overrides": {"type": "object", "properties": {
                    "resolution": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
                    "samples": {"type": "integer", "minimum": 1}}},
                "task_timeout_secs": {"type": "integer", "minimum": 1},
                "parity_percent": {"type": "number", "minimum": 0, "maximum": 100, "description": "share of frames rendered twice to verify them; default verification.default_parity_percent (5)"},
                "tenant": {"type": "string", "description": "admin tokens only: the tenant the job belongs to (a submitter's jobs are its tenant's)"}}},
            "Job": {"type": "object", "properties": {
                "id": {"type": "string", "format": "uuid"}, "name": {"type": "string"}, "scene": {"type": "string"},
                "renderer": {"type": "string"}, "frames": {"type": "string"}, "frame_count": {"type": "integer"},
                "chunk_size": {"type": "integer"}, "priority": {"type": "integer"},
                "depth": {"type": "string"}, "overrides": {"type": "object"}, "task_timeout_secs": {"type": "integer"},
                "state": {"type": "string", "enum": ["queued", "running", "paused", "done", "failed", "cancelled"]},
                "progress": {"type": "object", "properties": {"pending": {"type": "integer"}, "rendering": {"type": "integer"},
                    "done": {"type": "integer"}, "failed": {"type": "integer"}, "cancelled": {"type": "integer"}}},
                "created_ms": {"type": "integer"}, "finished_ms": {"type": ["integer", "null"]},
                "parity_percent": {"type": "number"}, "verification": {"type": "object", "additionalProperties": {"type": "integer"}},
                "report_key": {"type": ["string", "null"]},
                "bundle": {"type": "string", "description": "the bundle its scene came in, if any"},
                "region": {"type": "string"}, "node_class": {"type": "string"},
                "gpu_model": {"type": "string"}, "min_vram_mib": {"type": "integer"},
                "renderer_version": {"type": "string"}, "take": {"type": "string"}, "render_target": {"type": "string"},
                "waiting": {"type": ["string", "null"], "description": "why its queued frames wait: no online worker can render it"},
                "tenant": {"type": "string", "description": "the tenant it belongs to; absent for an admin's own job"}}},
            "JobDetail": {"allOf": [{"$ref": "#/components/schemas/Job"}, {"type": "object", "properties": {
                "tasks": {"type": "object"},
                "frame_list": {"type": "array", "items": {"type": "object", "properties": {
                    "frame": {"type": "integer"},
                    "state": {"type": "string", "enum": ["pending", "rendering", "done", "failed", "cancelled"]},
                    "task_id": {"type": "string"}, "worker_id": {"type": ["string", "null"]},
                    "download": {"type": ["string", "null"], "description": "API path of the accepted EXR's download, once accepted"},
                    "pixel_hash": {"type": ["string", "null"]},
                    "render_seconds": {"type": ["number", "null"]}, "error": {"type": ["string", "null"]},
                    "verification": {"type": "string", "enum": ["unchecked", "awaiting", "comparing", "arbitrating", "verified",
                        "non_deterministic", "rerendering", "unverifiable"]},
                    "replica": {"type": "integer"}, "copies": {"type": "integer"}}}}}}]},
            "ControlAnswer": {"type": "object", "properties": {
                "id": {"type": "string"}, "state": {"type": "string"}, "requeued_frames": {"type": "integer"}}},
            "Worker": {"type": "object", "properties": {
                "id": {"type": "string"}, "name": {"type": "string"}, "owner": {"type": "string"},
                "region": {"type": "string"}, "node_class": {"type": "string"},
                "renderers": {"type": "array", "items": {"type": "object"}}, "cpu": {"type": "object"},
                "gpus": {"type": "array", "items": {"type": "object"}}, "hostname": {"type": "string"},
                "state": {"type": "string", "enum": ["online", "lost", "left"]},
                "current_task": {"type": ["string", "null"]}, "current_frame": {"type": ["integer", "null"]},
                "progress": {"type": ["number", "null"]}, "first_seen_ms": {"type": "integer"}, "last_seen_ms": {"type": "integer"},
                "draining_ms": {"type": ["integer", "null"], "description": "since when it drains, if it does"},
                "reputation": {"type": "object", "properties": {
                    "device_family": {"type": "string"}, "device_class": {"type": "string"},
                    "verified_streak": {"type": "integer"}, "strikes": {"type": "integer"},
                    "blocklist_reason": {"type": ["string", "null"]}, "blocklisted_ms": {"type": ["integer", "null"]},
                    "refused_events": {"type": "integer"}, "last_refusal": {"type": ["string", "null"]}}}}}
        }}
    });
    for more in [billing_schemas(), token_schemas()] {
        if let (Some(schemas), Value::Object(more)) =
            (document["components"]["schemas"].as_object_mut(), more)
        {
            schemas.extend(more);
        }
    }
    for more in [
        token_paths(),
        super::enrollments::openapi_paths(),
        super::benchmarks::openapi_paths(),
        super::benchmark_reference::openapi_paths(),
    ] {
        if let (Some(paths), Value::Object(more)) = (document["paths"].as_object_mut(), more) {
            paths.extend(more);
        }
    }
    secure(&mut document);
    Json(document)
}
