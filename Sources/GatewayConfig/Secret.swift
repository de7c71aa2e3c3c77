/// A secret value that never prints itself: interpolation, logging and dumps show `***`.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The value; read it only where it goes on the wire.
    public let value: String

    /// Wraps a value.
    public init(_ value: String) {
        self.value = value
    }

    /// Always `***`.
    public var description: String { "***" }
    /// Always `***`.
    public var debugDescription: String { "***" }
    /// Hides the value from `dump` and mirrors.
    public var customMirror: Mirror { Mirror(self, children: []) }
}
