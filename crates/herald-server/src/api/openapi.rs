//! `GET /openapi.json`: an OpenAPI 3.1 description of herald's own routes —
//! health, metrics, request bins, API keys, the herald actions bound to OData
//! entities, and the Business Central subscription API. The OData tables
//! themselves are described by `$metadata` (CSDL), which OData tools read.

use serde_json::{json, Value};

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ODataError"}}}})
}

pub fn document() -> Value {
    let guid = json!({"type": "string", "format": "uuid"});
    let id_param = |name: &str, what: &str| json!({"name": name, "in": "path", "required": true, "description": what, "schema": guid});
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "herald",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "herald's own routes. The Dataverse-style Web API lives under /api/data/v9.2/ and is described by /api/data/v9.2/$metadata (CSDL)."
        },
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer", "description": "An herald API key (the admin key is printed at first start and kept in <data-dir>/admin.key)."}},
            "schemas": {
                "ODataError": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string", "examples": ["0x80040217"]}, "message": {"type": "string"}}}}},
                "ApiKey": {"type": "object", "properties": {"id": {"type": "string", "description": "The first 12 hex digits of the key's SHA-256 hash"}, "name": {"type": "string"}, "systemuserid": guid, "domainname": {"type": ["string", "null"]}, "fullname": {"type": ["string", "null"]}, "createdon": {"type": "string", "format": "date-time"}}},
                "Bin": {"type": "object", "properties": {"id": guid, "name": {"type": "string"}, "url": {"type": "string", "format": "uri"}, "createdon": {"type": "string", "format": "date-time"}}},
                "CapturedRequest": {"type": "object", "properties": {
                    "id": guid, "receivedon": {"type": "string", "format": "date-time"}, "method": {"type": "string"}, "path": {"type": "string"},
                    "query": {"type": ["string", "null"]}, "headers": {"type": "array", "items": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2}},
                    "body": {"type": "string"}, "json": {}, "bodysize": {"type": "integer"}, "truncated": {"type": "boolean"}}},
                "Attempt": {"type": "object", "properties": {"attempt": {"type": "integer"}, "startedon": {"type": "string", "format": "date-time"}, "durationms": {"type": "integer"}, "status": {"type": ["integer", "null"]}, "error": {"type": ["string", "null"]}, "response": {"type": ["string", "null"]}}},
                "Subscription": {"type": "object", "properties": {"subscriptionId": {"type": "string"}, "notificationUrl": {"type": "string"}, "resource": {"type": "string"}, "userId": {"type": "string"}, "lastModifiedDateTime": {"type": "string", "format": "date-time"}, "clientState": {"type": "string"}, "expirationDateTime": {"type": "string", "format": "date-time"}}}
            }
        },
        "security": [{"apiKey": []}],
        "paths": {
            "/healthz": {"get": {"summary": "Liveness", "security": [], "responses": {"200": {"description": "ok"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics (text format)", "security": [], "responses": {"200": {"description": "OpenMetrics text"}}}},
            "/openapi.json": {"get": {"summary": "This document", "security": [], "responses": {"200": {"description": "OpenAPI 3.1"}}}},
            "/api/herald/bins": {
                "get": {"summary": "List request bins", "responses": {"200": {"description": "Bins", "content": {"application/json": {"schema": {"type": "object", "properties": {"value": {"type": "array", "items": {"$ref": "#/components/schemas/Bin"}}}}}}}, "401": error_response("No or bad API key")}},
                "post": {"summary": "Create a request bin", "requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object", "properties": {"name": {"type": "string"}}}}}},
                         "responses": {"201": {"description": "The bin and its URL", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Bin"}}}}, "401": error_response("No or bad API key")}}
            },
            "/api/herald/bins/{id}": {
                "parameters": [id_param("id", "Bin id")],
                "get": {"summary": "A bin with its captured requests, newest first", "responses": {"200": {"description": "The bin", "content": {"application/json": {"schema": {"allOf": [{"$ref": "#/components/schemas/Bin"}, {"type": "object", "properties": {"requests": {"type": "array", "items": {"$ref": "#/components/schemas/CapturedRequest"}}}}]}}}}, "404": error_response("No such bin")}},
                "delete": {"summary": "Delete a bin", "responses": {"204": {"description": "Deleted"}, "404": error_response("No such bin")}}
            },
            "/api/herald/keys": {
                "get": {"summary": "List API keys (admin key only): id, name, user, created on; never the key", "responses": {"200": {"description": "Keys", "content": {"application/json": {"schema": {"type": "object", "properties": {"value": {"type": "array", "items": {"$ref": "#/components/schemas/ApiKey"}}}}}}}, "403": error_response("Not the admin key")}},
                "post": {"summary": "Add an API key acting as a systemuser (admin key only); the key is in the answer, once", "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["user"], "properties": {"user": {"type": "string", "description": "systemuserid or domainname"}, "name": {"type": "string", "maxLength": 100}}}}}},
                         "responses": {"201": {"description": "The key", "content": {"application/json": {"schema": {"allOf": [{"$ref": "#/components/schemas/ApiKey"}, {"type": "object", "properties": {"key": {"type": "string"}}}]}}}}, "400": error_response("No such user, or a bad body"), "403": error_response("Not the admin key")}}
            },
            "/api/herald/keys/{key}": {
                "parameters": [{"name": "key", "in": "path", "required": true, "description": "The key's id (from the list) or name", "schema": {"type": "string"}}],
                "delete": {"summary": "Remove an API key (admin key only): refused (401) from the next request on, on every node", "responses": {"200": {"description": "The removed key", "content": {"application/json": {"schema": {"allOf": [{"$ref": "#/components/schemas/ApiKey"}, {"type": "object", "properties": {"removed": {"type": "boolean"}}}]}}}}, "403": error_response("Not the admin key"), "404": error_response("No key has that id or name"), "409": error_response("A name several keys share, the admin key herald was started with, or the key making the request")}}
            },
            "/bins/{id}": {
                "parameters": [id_param("id", "Bin id")],
                "post": {"summary": "Capture a request (any method; no key). Answers 200 'ok', or the validationToken query parameter as text.", "security": [], "responses": {"200": {"description": "Captured"}, "404": error_response("No such bin")}}
            },
            "/api/data/v9.2/serviceendpoints({id})/Microsoft.Dynamics.CRM.herald_Notify": {
                "parameters": [id_param("id", "serviceendpointid")],
                "post": {"summary": "Invoke a webhook without a step: post an execution context with the endpoint's auth, headers and retry rule",
                         "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "description": "A RemoteExecutionContext"}}}},
                         "responses": {"200": {"description": "The endpoint's response body", "content": {"application/json": {"schema": {"type": "object", "properties": {"value": {"type": "string"}}}}}}, "502": error_response("Endpoint unavailable"), "404": error_response("No such webhook")}}
            },
            "/api/data/v9.2/asyncoperations({id})/Microsoft.Dynamics.CRM.herald_Retry": {
                "parameters": [id_param("id", "asyncoperationid")],
                "post": {"summary": "Retry a failed or canceled System Job", "responses": {"200": {"description": "The job, Ready again"}, "400": error_response("The job is not failed or canceled")}}
            },
            "/api/data/v9.2/asyncoperations({id})/Microsoft.Dynamics.CRM.herald_Attempts": {
                "parameters": [id_param("id", "asyncoperationid")],
                "get": {"summary": "Every HTTP attempt of a System Job", "responses": {"200": {"description": "Attempts, oldest first", "content": {"application/json": {"schema": {"type": "object", "properties": {"value": {"type": "array", "items": {"$ref": "#/components/schemas/Attempt"}}}}}}}}}
            },
            "/api/v2.0/subscriptions": {
                "get": {"summary": "List Business Central webhook subscriptions", "responses": {"200": {"description": "Subscriptions", "content": {"application/json": {"schema": {"type": "object", "properties": {"value": {"type": "array", "items": {"$ref": "#/components/schemas/Subscription"}}}}}}}}},
                "post": {"summary": "Subscribe (validationToken handshake with notificationUrl)", "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["notificationUrl", "resource"], "properties": {"notificationUrl": {"type": "string"}, "resource": {"type": "string"}, "clientState": {"type": "string", "maxLength": 2048}}}}}},
                         "responses": {"201": {"description": "Created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Subscription"}}}}, "400": error_response("Handshake failed or bad request")}}
            },
            "/api/v2.0/subscriptions('{id}')": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "get": {"summary": "One subscription", "responses": {"200": {"description": "The subscription"}, "404": error_response("No such subscription")}},
                "patch": {"summary": "Renew (new handshake, new expiry); If-Match required", "responses": {"200": {"description": "Renewed"}, "412": error_response("ETag mismatch"), "428": error_response("If-Match missing")}},
                "delete": {"summary": "Unsubscribe; If-Match required", "responses": {"204": {"description": "Deleted"}, "428": error_response("If-Match missing")}}
            },
            "/api/v2.0/webhookSupportedEntities": {"get": {"summary": "What can be subscribed to", "responses": {"200": {"description": "Entities"}}}}
        }
    })
}
