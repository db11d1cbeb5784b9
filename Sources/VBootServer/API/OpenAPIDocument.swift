/// The API's OpenAPI 3.0 description, served at `/api/v1/openapi.json`. Kept beside the routes;
/// tests check that every route is described and every described path answers, and that each
/// schema fits VBootAPI's contract type (`OpenAPIContractTests`).
enum OpenAPIDocument {
    static let json = #"""
        {
          "openapi": "3.0.3",
          "info": {
            "title": "vboot API",
            "version": "1",
            "description": "Machines, profiles and boot timelines of a vboot network boot server. Mutations need `Authorization: Bearer <token>`; reads need it too unless the client is in a configured read network."
          },
          "servers": [{"url": "/api/v1"}],
          "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "parameters": {
              "id": {"name": "id", "in": "path", "required": true, "description": "A MAC address (52:54:00:12:34:56, 52-54-00-12-34-56) or uuid:UUID, serial:SERIAL, hostname:NAME", "schema": {"type": "string"}},
              "limit": {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}},
              "before": {"name": "before", "in": "query", "required": false, "description": "Only events with a smaller id (paging, newest first)", "schema": {"type": "integer"}}
            },
            "schemas": {
              "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
              "NextBoot": {"type": "string", "enum": ["profile", "once", "local", "shell", "hold"]},
              "Machine": {
                "type": "object",
                "required": ["mac", "uuid", "serial", "hostname", "profile", "variables", "next_boot", "once_completion", "install_fetches", "install_handed_out", "proxy_strategy", "loader", "address", "created_at", "updated_at"],
                "properties": {
                  "mac": {"type": "string", "example": "52:54:00:12:34:56"},
                  "uuid": {"type": "string", "nullable": true},
                  "serial": {"type": "string", "nullable": true},
                  "hostname": {"type": "string", "nullable": true},
                  "profile": {"type": "string", "nullable": true},
                  "variables": {"type": "object", "additionalProperties": {"type": "string"}},
                  "next_boot": {"$ref": "#/components/schemas/NextBoot"},
                  "once_completion": {"type": "string", "description": "callback, or fetches:N", "example": "callback"},
                  "install_fetches": {"type": "integer"},
                  "install_handed_out": {"type": "boolean"},
                  "proxy_strategy": {"type": "string", "enum": ["offer", "boot-server"], "nullable": true},
                  "loader": {"type": "string", "enum": ["ipxe", "grub"], "nullable": true, "description": "What the machine loads first; grub: shim -> GRUB for Secure Boot; null: the site's loader"},
                  "address": {"type": "string", "nullable": true, "description": "Reserved IPv4 address (--dhcp full)"},
                  "created_at": {"type": "string", "format": "date-time"},
                  "updated_at": {"type": "string", "format": "date-time"}
                }
              },
              "MachineWrite": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                  "mac": {"type": "string", "pattern": "^[0-9A-Fa-f]{2}([:-]?[0-9A-Fa-f]{2}){5}$"},
                  "uuid": {"type": "string", "nullable": true, "pattern": "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"},
                  "serial": {"type": "string", "nullable": true, "minLength": 1, "maxLength": 64},
                  "hostname": {"type": "string", "nullable": true, "minLength": 1, "maxLength": 253},
                  "profile": {"type": "string", "nullable": true},
                  "variables": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 4096}},
                  "next_boot": {"$ref": "#/components/schemas/NextBoot"},
                  "once_completion": {"type": "string", "pattern": "^(callback|fetches:[1-9][0-9]*)$"},
                  "proxy_strategy": {"type": "string", "enum": ["offer", "boot-server"], "nullable": true},
                  "loader": {"type": "string", "enum": ["ipxe", "grub"], "nullable": true},
                  "address": {"type": "string", "nullable": true, "format": "ipv4"}
                }
              },
              "Event": {
                "type": "object",
                "required": ["id", "mac", "address", "at", "kind", "outcome", "summary", "details", "server"],
                "properties": {
                  "id": {"type": "integer"},
                  "mac": {"type": "string", "nullable": true},
                  "address": {"type": "string", "nullable": true},
                  "at": {"type": "string", "format": "date-time"},
                  "kind": {"type": "string", "enum": ["dhcp", "tftp", "script", "asset", "callback", "change", "wire"]},
                  "outcome": {"type": "string", "enum": ["ok", "aborted", "failed", "refused"]},
                  "summary": {"type": "string"},
                  "details": {"type": "object", "additionalProperties": {"type": "string"}},
                  "server": {"type": "string"}
                }
              },
              "Events": {"type": "object", "required": ["events"], "properties": {"events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}},
              "Machines": {"type": "object", "required": ["machines"], "properties": {"machines": {"type": "array", "items": {"$ref": "#/components/schemas/Machine"}}}},
              "Profile": {"type": "object", "required": ["name", "title", "variables"], "properties": {"name": {"type": "string"}, "title": {"type": "string"}, "variables": {"type": "array", "items": {"type": "object", "required": ["name", "default", "description"], "properties": {"name": {"type": "string"}, "default": {"type": "string", "nullable": true}, "description": {"type": "string"}}}}}},
              "Profiles": {"type": "object", "required": ["profiles", "errors"], "properties": {"profiles": {"type": "array", "items": {"$ref": "#/components/schemas/Profile"}}, "errors": {"type": "array", "items": {"type": "string"}}}},
              "Lease": {"type": "object", "required": ["address", "mac", "state", "active", "expires_at", "hostname", "server"], "properties": {"address": {"type": "string"}, "mac": {"type": "string", "nullable": true}, "state": {"type": "string", "enum": ["offered", "bound", "declined", "released"]}, "active": {"type": "boolean"}, "expires_at": {"type": "string", "format": "date-time"}, "hostname": {"type": "string", "nullable": true}, "server": {"type": "string"}}},
              "Leases": {"type": "object", "required": ["leases"], "properties": {"leases": {"type": "array", "items": {"$ref": "#/components/schemas/Lease"}}}},
              "Access": {"type": "object", "required": ["write"], "properties": {"write": {"type": "boolean", "description": "The request's bearer token is the API's: it may change things"}}},
              "CallbackResult": {"type": "object", "required": ["mac", "next_boot", "changed"], "properties": {"mac": {"type": "string"}, "next_boot": {"$ref": "#/components/schemas/NextBoot"}, "changed": {"type": "boolean", "description": "false when the install was already done"}}}
            },
            "responses": {
              "BadRequest": {"description": "Malformed JSON, an unknown field or an invalid value; the reason is in `error`", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
              "Unauthorized": {"description": "Missing or wrong bearer token", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
              "NotFound": {"description": "No such machine", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
              "Conflict": {"description": "The MAC, UUID, serial or hostname belongs to another machine", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
          },
          "security": [{"bearer": []}],
          "paths": {
            "/machines": {
              "get": {"summary": "All machines", "responses": {"200": {"description": "The inventory", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Machines"}}}}, "401": {"$ref": "#/components/responses/Unauthorized"}}},
              "post": {"summary": "Add a machine", "requestBody": {"required": true, "content": {"application/json": {"schema": {"allOf": [{"$ref": "#/components/schemas/MachineWrite"}], "required": ["mac"]}}}}, "responses": {"201": {"description": "Added", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Machine"}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "409": {"$ref": "#/components/responses/Conflict"}}}
            },
            "/machines/{id}": {
              "parameters": [{"$ref": "#/components/parameters/id"}],
              "get": {"summary": "One machine", "responses": {"200": {"description": "The machine", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Machine"}}}}, "401": {"$ref": "#/components/responses/Unauthorized"}, "404": {"$ref": "#/components/responses/NotFound"}}},
              "patch": {"summary": "Change fields; null clears; setting next_boot to once starts a new install", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/MachineWrite"}}}}, "responses": {"200": {"description": "The changed machine", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Machine"}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "404": {"$ref": "#/components/responses/NotFound"}, "409": {"$ref": "#/components/responses/Conflict"}}},
              "delete": {"summary": "Remove a machine", "responses": {"204": {"description": "Removed"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "404": {"$ref": "#/components/responses/NotFound"}}}
            },
            "/machines/{id}/timeline": {
              "parameters": [{"$ref": "#/components/parameters/id"}, {"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/before"}],
              "get": {"summary": "The machine's boot timeline, newest first; a MAC address need not be in the inventory (its events, possibly none), a host name, uuid: or serial: must", "responses": {"200": {"description": "Events", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Events"}}}}, "401": {"$ref": "#/components/responses/Unauthorized"}, "404": {"$ref": "#/components/responses/NotFound"}}}
            },
            "/machines/{id}/done": {
              "parameters": [{"$ref": "#/components/parameters/id"}, {"name": "token", "in": "query", "required": false, "description": "The install's own token (from the done_url rendered into the install script)", "schema": {"type": "string"}}],
              "get": {"summary": "Installer callback (wget-friendly; also on the boot port): a once machine whose install was handed out goes to local; the install's token repeats with changed false", "security": [{}, {"bearer": []}], "responses": {"200": {"description": "Done (changed: false when it already was)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CallbackResult"}}}}, "403": {"description": "Without the API token, every refusal: unknown machine, wrong token, no install in flight (they look alike)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}, "404": {"description": "With the API token: no such machine", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}, "409": {"description": "With the API token: not installing", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}},
              "post": {"summary": "Installer callback", "security": [{}, {"bearer": []}], "responses": {"200": {"description": "Done (changed: false when it already was)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CallbackResult"}}}}, "403": {"description": "Without the API token, every refusal: unknown machine, wrong token, no install in flight (they look alike)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}, "404": {"description": "With the API token: no such machine", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}, "409": {"description": "With the API token: not installing", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}}
            },
            "/timeline": {
              "parameters": [{"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/before"}],
              "get": {"summary": "All machines' events, newest first", "responses": {"200": {"description": "Events", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Events"}}}}, "401": {"$ref": "#/components/responses/Unauthorized"}}}
            },
            "/timeline/latest": {
              "get": {"summary": "Each machine's newest boot event (changes to its record left out): where every boot stands", "responses": {"200": {"description": "Events, oldest first", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Events"}}}}, "401": {"$ref": "#/components/responses/Unauthorized"}}}
            },
            "/events": {
              "parameters": [{"name": "mac", "in": "query", "required": false, "description": "Only this machine's events", "schema": {"type": "string"}}, {"name": "after", "in": "query", "required": false, "description": "Start after this event id (the Last-Event-ID header wins); default: after the newest; an id above the newest gets event: reset and starts from the newest", "schema": {"type": "integer", "minimum": 0}}, {"name": "Last-Event-ID", "in": "header", "required": false, "description": "Sent by a reconnecting client: everything after this id", "schema": {"type": "integer", "minimum": 0}}],
              "get": {"summary": "The timeline live, as Server-Sent Events: `event: timeline`, `id:` the event's id, `data:` the Event as JSON; a `: keepalive` comment every 15 s", "responses": {"200": {"description": "An endless text/event-stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "503": {"description": "Too many streams open (64 in all, 8 from one address, 32 without the token)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}}
            },
            "/access": {
              "get": {"summary": "What the caller may do: an answer means it may read; write says whether its token is the API's", "responses": {"200": {"description": "Access", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Access"}}}}, "401": {"$ref": "#/components/responses/Unauthorized"}}}
            },
            "/profiles": {
              "get": {"summary": "Profiles in boot-scripts/profiles with their variables", "responses": {"200": {"description": "Profiles, and files that could not be read", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Profiles"}}}}, "401": {"$ref": "#/components/responses/Unauthorized"}}}
            },
            "/leases": {
              "get": {"summary": "The --dhcp full lease table: one row per address", "responses": {"200": {"description": "Leases", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Leases"}}}}, "401": {"$ref": "#/components/responses/Unauthorized"}}}
            },
            "/openapi.json": {
              "get": {"summary": "This document", "security": [{}], "responses": {"200": {"description": "OpenAPI 3.0", "content": {"application/json": {"schema": {"type": "object"}}}}}}
            }
          }
        }
        """#
}
