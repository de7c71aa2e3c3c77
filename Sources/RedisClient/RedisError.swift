/// Why a Redis command did not give an answer.
public enum RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No connection could be made (refused, unreachable, timed out, or backing off after such a failure).
    case unavailable(String)
    /// The command got no reply within its timeout; the connection was closed (its replies would be out of step).
    case timedOut
    /// The caller's deadline came before the reply; the connection is still in use.
    case deadlineReached
    /// The connection closed before the reply came.
    case connectionClosed
    /// The server answered with an error reply (`-ERR …`, `-NOSCRIPT …`).
    case server(String)
    /// The server sent bytes that are not RESP, or a reply nobody asked for.
    case protocolViolation(String)

    /// A short account of the failure (server error text is Redis' own, never a secret of ours).
    public var description: String {
        switch self {
        case .unavailable(let reason): return "redis unavailable: \(reason)"
        case .timedOut: return "redis command timed out"
        case .deadlineReached: return "the request's deadline came before redis answered"
        case .connectionClosed: return "redis connection closed"
        case .server(let message): return "redis error: \(message)"
        case .protocolViolation(let reason): return "redis protocol violation: \(reason)"
        }
    }
}
