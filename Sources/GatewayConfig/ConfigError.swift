/// A configuration problem, naming the key path and, where the YAML parser knows it, the line.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Dotted path of the offending key, e.g. `workspaces.demo.data_center`.
    public let key: String
    /// 1-based line in the file, when known.
    public let line: Int?
    /// What is wrong, in plain words (never a secret value).
    public let reason: String

    /// Creates an error for `key`.
    public init(key: String, line: Int?, reason: String) {
        self.key = key
        self.line = line
        self.reason = reason
    }

    /// `key (line N): reason`.
    public var description: String {
        let location = line.map { " (line \($0))" } ?? ""
        return "\(key.isEmpty ? "<root>" : key)\(location): \(reason)"
    }
}
