import Yams

/// A YAML node together with its key path, with typed readers that fail with a `ConfigError`.
struct ConfigNode {
    let node: Node
    let path: String

    var line: Int? { node.mark.map(\.line) }

    func error(_ reason: String) -> ConfigError {
        ConfigError(key: path, line: line, reason: reason)
    }

    /// The members of a mapping; any key outside `allowed` is an error naming it.
    func mapping(allowed: Set<String>) throws -> [String: ConfigNode] {
        guard case .mapping(let mapping) = node else { throw error("expected a mapping") }
        var members: [String: ConfigNode] = [:]
        for (keyNode, valueNode) in mapping {
            guard let key = keyNode.string else { throw error("keys must be strings") }
            let childPath = path.isEmpty ? key : "\(path).\(key)"
            guard allowed.contains(key) else {
                throw ConfigError(
                    key: childPath, line: keyNode.mark?.line, reason: "unknown key (allowed: \(allowed.sorted().joined(separator: ", ")))")
            }
            members[key] = ConfigNode(node: valueNode, path: childPath)
        }
        return members
    }

    /// Every entry of a mapping whose keys are free-form names (e.g. workspace names).
    func namedEntries() throws -> [(name: String, node: ConfigNode)] {
        guard case .mapping(let mapping) = node else { throw error("expected a mapping of names") }
        return try mapping.map { keyNode, valueNode in
            guard let key = keyNode.string, !key.isEmpty else { throw error("names must be non-empty strings") }
            return (key, ConfigNode(node: valueNode, path: path.isEmpty ? key : "\(path).\(key)"))
        }
    }

    /// The elements of a sequence.
    func sequence() throws -> [ConfigNode] {
        guard case .sequence(let sequence) = node else { throw error("expected a list") }
        return sequence.enumerated().map { ConfigNode(node: $1, path: "\(path)[\($0)]") }
    }

    /// A non-empty string scalar.
    func string() throws -> String {
        guard case .scalar(let scalar) = node, !scalar.string.isEmpty else { throw error("expected a non-empty string") }
        return scalar.string
    }

    /// An integer scalar within `range`.
    func int(in range: ClosedRange<Int>) throws -> Int {
        guard let value = node.int else { throw error("expected an integer") }
        guard range.contains(value) else { throw error("must be between \(range.lowerBound) and \(range.upperBound), got \(value)") }
        return value
    }

    /// A finite number within `range`.
    func number(in range: ClosedRange<Double>) throws -> Double {
        guard let value = node.int.map(Double.init) ?? node.float, value.isFinite else { throw error("expected a number") }
        guard range.contains(value) else { throw error("must be between \(range.lowerBound) and \(range.upperBound), got \(value)") }
        return value
    }

    /// A boolean scalar.
    func bool() throws -> Bool {
        guard let value = node.bool else { throw error("expected true or false") }
        return value
    }

    /// A list of non-empty strings.
    func strings() throws -> [String] {
        try sequence().map { try $0.string() }
    }
}
