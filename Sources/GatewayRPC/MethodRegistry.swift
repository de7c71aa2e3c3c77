import DynamicJSON

/// The methods the gateway serves, found by JSON-RPC name or Connect path; source of the OpenRPC document.
public struct MethodRegistry: Sendable {
    private let methods: [RPCMethod]
    private let byName: [String: RPCMethod]

    /// Registers `methods`, plus `rpc.discover` describing them all.
    public init(methods: [RPCMethod], version: String) {
        var all = methods
        let described = methods
        let discover = RPCMethod(
            name: "rpc.discover", connectPath: nil, summary: "Returns the OpenRPC document of this gateway.", parameters: [],
            resultSchema: ["type": "object"], errorCodes: [], isPublic: true,
            handler: { _, _ in .value(MethodRegistry.openRPC(described, version: version)) })
        all.append(discover)
        self.methods = all
        self.byName = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
    }

    /// The method with this JSON-RPC name.
    public func method(named name: String) -> RPCMethod? {
        byName[name]
    }

    /// Every method's JSON-RPC name.
    public var names: [String] { methods.map(\.name) }

    /// Methods that have a Connect path.
    public var connectMethods: [RPCMethod] {
        methods.filter { $0.connectPath != nil }
    }

    static func openRPC(_ methods: [RPCMethod], version: String) -> JSON {
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
                        "paramStructure": "by-name",
                        "params": .array(
                            method.parameters.map {
                                ["name": .string($0.name), "required": .bool($0.required), "summary": .string($0.summary), "schema": $0.schema]
                            }),
                        "result": ["name": "result", "schema": method.resultSchema],
                        "errors": .array(method.errorCodes.map { ["code": .int($0), "message": .string(ErrorCatalog.meaning(of: $0))] }),
                        "x-connect-path": method.connectPath.map(JSON.string) ?? .null,
                    ]
                }),
        ]
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
