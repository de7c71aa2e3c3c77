import DynamicJSON
import SwiftProtobuf

/// The methods the gateway serves, found by JSON-RPC name; source of the OpenRPC document.
public struct MethodRegistry: Sendable {
    private let methods: [RPCMethod]
    private let byName: [String: RPCMethod]

    /// Registers `methods`, plus `rpc.discover` describing them all.
    public init(methods: [RPCMethod], version: String, catalog: ProtoCatalog = .generated) {
        let document = OpenRPCDocument.make(methods, version: version, catalog: catalog)
        let discover = RPCMethod(
            name: "rpc.discover", rpcPath: nil, summary: "Returns the OpenRPC document of this gateway.", request: Google_Protobuf_Empty.self,
            response: Google_Protobuf_Struct.self, errorCodes: [], isPublic: true, handler: { _, _ in .value(document) })
        let all = methods + [discover]
        self.methods = all
        byName = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
    }

    /// The method with this JSON-RPC name.
    public func method(named name: String) -> RPCMethod? {
        byName[name]
    }

    /// Every method's JSON-RPC name.
    public var names: [String] { methods.map(\.name) }

    /// Methods that serve an RPC of the .proto files (Connect and gRPC).
    public var rpcMethods: [RPCMethod] {
        methods.filter { $0.rpc != nil }
    }
}
