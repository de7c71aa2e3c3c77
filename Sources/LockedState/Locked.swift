import Foundation

/// A value guarded by a pthread-backed lock: every access goes through `withLock`.
///
/// Used instead of `Synchronization.Mutex` because ThreadSanitizer models pthread locks (so
/// the sanitizer can check the gateway's locking) and because it can be shared as a reference.
/// Critical sections must be short and never await.
public final class Locked<Value>: @unchecked Sendable {
    @usableFromInline let lock = NSLock()
    @usableFromInline var value: Value

    /// Guards `value`.
    public init(_ value: Value) {
        self.value = value
    }

    /// Runs `body` with exclusive access to the value (inlinable, so callers in other modules get
    /// a specialised copy instead of a generic call).
    @inlinable
    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
