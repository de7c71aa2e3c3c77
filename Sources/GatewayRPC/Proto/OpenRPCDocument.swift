import DynamicJSON
import GatewayCore

/// The OpenRPC document of `rpc.discover`, made from the .proto descriptors: each method's params
/// are its request message's fields, its result its response message, with their comments.
enum OpenRPCDocument {
    /// Nesting of message schemas written out before `{"type": "object"}` stands for the rest.
    private static let maxDepth = 4

    static func make(_ methods: [RPCMethod], version: String, catalog: ProtoCatalog) -> JSON {
        [
            "openrpc": "1.2.6",
            "info": [
                "title": "campaign-gateway", "version": .string(version),
                "description":
                    "One RPC surface in front of MoEngage and Migma: fewest upstream calls, shared rate budget, no credentials at the caller.",
            ],
            "methods": .array(
                methods.map { method in
                    [
                        "name": .string(method.name), "summary": .string(method.summary),
                        "description": .string(method.rpc?.comment ?? method.summary),
                        "paramStructure": "by-name",
                        "params": .array(
                            method.request.message.fields.map {
                                [
                                    "name": .string($0.name), "required": false, "summary": .string($0.comment),
                                    "schema": schema(of: $0, catalog: catalog, depth: 0, described: false),
                                ]
                            }),
                        "result": [
                            "name": .string(method.response.fullName),
                            "schema": schema(of: method.response, catalog: catalog, depth: 0),
                        ],
                        "errors": .array(method.errorCodes.map { ["code": .int($0), "message": .string(ErrorCatalog.meaning(of: $0))] }),
                        "x-connect-path": method.rpc.map { .string($0.path) } ?? .null,
                    ]
                }),
        ]
    }

    private static func schema(of message: ProtoCatalog.Message, catalog: ProtoCatalog, depth: Int) -> JSON {
        var properties: [String: JSON] = [:]
        if depth < maxDepth {
            for field in message.fields { properties[field.name] = schema(of: field, catalog: catalog, depth: depth + 1, described: true) }
        }
        var schema: [String: JSON] = ["type": "object", "properties": .object(properties), "additionalProperties": false]
        if !message.comment.isEmpty { schema["description"] = .string(message.comment) }
        return .object(schema)
    }

    /// A field's schema: its JSON type (with null for an `optional` one), and its comment when `described`.
    private static func schema(of field: ProtoCatalog.Field, catalog: ProtoCatalog, depth: Int, described: Bool) -> JSON {
        var single: JSON
        switch field.type {
        case .string: single = ["type": "string"]
        case .bool: single = ["type": "boolean"]
        case .int32, .int64, .uint32, .uint64, .sint32, .sint64, .fixed32, .fixed64, .sfixed32, .sfixed64: single = ["type": "integer"]
        case .double, .float: single = ["type": "number"]
        case .enum: single = ["type": "string"]
        default:
            switch field.typeName {
            case "google.protobuf.Struct": single = ["type": ["object", "null"]]
            case "google.protobuf.ListValue": single = ["type": "array"]
            case "google.protobuf.Value": single = [:]
            default: single = catalog.message(field.typeName).map { schema(of: $0, catalog: catalog, depth: depth) } ?? ["type": "object"]
            }
        }
        let whole: JSON = field.isRepeated ? ["type": "array", "items": single] : single
        guard case .object(var members) = whole else { return whole }
        if field.isOptional, case .string(let type)? = members["type"] { members["type"] = [.string(type), "null"] }
        if described, !field.comment.isEmpty { members["description"] = .string(field.comment) }
        return .object(members)
    }
}

/// What each JSON-RPC error code means, for documentation.
enum ErrorCatalog {
    static func meaning(of code: Int) -> String {
        switch code {
        case -32700: return "body is not JSON"
        case -32600: return "not a JSON-RPC 2.0 request"
        case -32601: return "unknown method"
        case -32602: return "bad params (data: field, reason)"
        case -32001: return "caller not authenticated (HTTP 401)"
        case -32003: return "caller may not use this workspace or method (data: workspace or method)"
        case -32013: return "the plan needs more upstream calls than one request may spend (data: estimated_calls, limit)"
        case -32029: return "the rate budget cannot serve the plan before the deadline (data: retry_after_ms, estimated_calls)"
        case -32050: return "the upstream failed after retries (data: upstream_status, code, title)"
        case -32004: return "deadline passed, or the client closed its connection (Cancelled)"
        default: return "internal error"
        }
    }
}
