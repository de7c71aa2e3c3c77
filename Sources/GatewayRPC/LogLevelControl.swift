import LockedState
import Logging

/// The level every gateway log line is filtered at, changeable while running (a reload sets `log.level`).
public final class LogLevelControl: Sendable {
    private let current: Locked<Logger.Level>

    /// Starts at `level`.
    public init(_ level: Logger.Level) {
        current = Locked(level)
    }

    /// The level now.
    public var level: Logger.Level {
        get { current.withLock { $0 } }
        set { current.withLock { $0 = newValue } }
    }
}

/// A log handler filtered at a `LogLevelControl`'s level, whatever level its own copy was given.
public struct ControlledLevelLogHandler: LogHandler {
    private var handler: any LogHandler
    private let control: LogLevelControl

    /// Writes through `handler` at `control`'s level.
    public init(_ handler: any LogHandler, control: LogLevelControl) {
        self.handler = handler
        self.control = control
    }

    /// The controlled level (setting it sets the control's).
    public var logLevel: Logger.Level {
        get { control.level }
        set { control.level = newValue }
    }

    /// The wrapped handler's metadata.
    public var metadata: Logger.Metadata {
        get { handler.metadata }
        set { handler.metadata = newValue }
    }

    /// One metadata value of the wrapped handler.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { handler[metadataKey: key] }
        set { handler[metadataKey: key] = newValue }
    }

    /// Writes through the wrapped handler.
    public func log(event: LogEvent) {
        handler.log(event: event)
    }
}
