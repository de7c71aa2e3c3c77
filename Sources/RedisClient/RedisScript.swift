import LockedState

/// A Lua script run with `EVALSHA`: loaded once (`SCRIPT LOAD`) and loaded again when Redis has
/// forgotten it (`NOSCRIPT`, e.g. after a restart).
public final class RedisScript: Sendable {
    /// The Lua source.
    public let source: String
    private let sha = Locked<String?>(nil)

    /// A script of `source`.
    public init(_ source: String) {
        self.source = source
    }

    /// Runs the script with `keys` and `arguments`; an error reply is thrown as `RedisError.server`.
    /// With a `deadline`, stops waiting then (see `RedisClient.pipeline`).
    public func run(
        on client: RedisClient, keys: [String], arguments: [RESPArgument], deadline: ContinuousClock.Instant? = nil
    ) async throws(RedisError) -> RESPValue {
        for attempt in 0..<2 {
            let digest: String
            if let known = sha.withLock({ $0 }), attempt == 0 {
                digest = known
            } else {
                guard let loaded = try await client.command(["SCRIPT", "LOAD", .string(source)], deadline: deadline).string else {
                    throw .protocolViolation("SCRIPT LOAD answered without a digest")
                }
                sha.withLock { $0 = loaded }
                digest = loaded
            }
            let command: [RESPArgument] = ["EVALSHA", .string(digest), .int(keys.count)] + keys.map(RESPArgument.string) + arguments
            let reply = try await client.pipeline([command], deadline: deadline)[0]
            if case .error(let message) = reply {
                if message.hasPrefix("NOSCRIPT"), attempt == 0 { continue }
                throw .server(message)
            }
            return reply
        }
        throw .server("NOSCRIPT after loading the script")
    }
}
