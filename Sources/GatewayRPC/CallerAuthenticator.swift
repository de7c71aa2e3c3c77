import Crypto
import Foundation
import GatewayConfig
import GatewayCore

/// Finds the caller of a bearer token by comparing SHA-256 digests in constant time.
///
/// Every configured digest is compared on every call, so timing does not reveal which caller
/// (if any) nearly matched. Tokens themselves are never stored or logged.
public struct CallerAuthenticator: Sendable {
    private let callers: [(identity: CallerIdentity, digest: [UInt8])]

    /// Builds the table from the configured callers and their resolved digests; callers without one are skipped.
    public init(callers: [CallerConfiguration], digests: [String: [UInt8]]) {
        self.callers = callers.compactMap { caller in
            digests[caller.name].map { (CallerIdentity(configuration: caller), $0) }
        }
    }

    /// The caller for an `Authorization` header value, or nil when missing, malformed or unknown.
    public func authenticate(authorization: String?) -> CallerIdentity? {
        guard let authorization else { return nil }
        let bytes = Array(authorization.utf8)
        guard bytes.count > 7, Self.isBearerScheme(bytes[0..<7]) else { return nil }
        let token = bytes[7...].drop { $0 == 0x20 || $0 == 0x09 }.reversed().drop { $0 == 0x20 || $0 == 0x09 }.reversed()
        guard !token.isEmpty else { return nil }
        let presented = Array(SHA256.hash(data: Array(token)))
        var found: CallerIdentity?
        for caller in callers where Self.constantTimeEqual(caller.digest, presented) {
            found = caller.identity
        }
        return found
    }

    /// Whether the bytes are `Bearer ` in any letter case.
    private static func isBearerScheme(_ bytes: ArraySlice<UInt8>) -> Bool {
        zip(bytes, "bearer ".utf8).allSatisfy { byte, expected in expected == 0x20 ? byte == 0x20 : byte | 0x20 == expected }
    }

    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

extension CallerIdentity {
    /// The identity of a configured caller.
    init(configuration caller: CallerConfiguration) {
        self.init(name: caller.name, workspaces: caller.workspaces, methods: caller.methods, isAdmin: caller.admin)
    }
}
