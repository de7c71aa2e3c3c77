import DynamicJSON
import GatewayCore

/// One RPC method: its JSON-RPC name, Connect path, documentation, and handler.
public struct RPCMethod: Sendable {
    /// One documented parameter, for the OpenRPC document.
    public struct Parameter: Sendable {
        /// The member name in `params`.
        public var name: String
        /// A JSON Schema for it.
        public var schema: JSON
        /// Whether it must be present.
        public var required: Bool
        /// What it means.
        public var summary: String
    }

    /// JSON-RPC method name, e.g. `campaigns.getStats`.
    public var name: String
    /// Connect unary path, e.g. `/gateway.v1.CampaignService/GetStats`; nil for none.
    public var connectPath: String?
    /// One-line description.
    public var summary: String
    /// Its parameters.
    public var parameters: [Parameter]
    /// A JSON Schema of its result.
    public var resultSchema: JSON
    /// JSON-RPC error codes it may answer.
    public var errorCodes: [Int]
    /// Whether every authenticated caller may call it, whatever its method scopes.
    public var isPublic: Bool
    /// Serves one call; parts of the answer may come already encoded (cache hits).
    public var handler: @Sendable (JSON?, CallContext) async throws -> JSONDocument
    /// The whole answer and its expiry when the answer cache holds it (nil: call `handler`), without waiting on anything.
    public var cachedAnswer: (@Sendable (JSON?, CallContext) throws -> CachedAnswer?)? = nil
}
