import Crypto
import Foundation

/// The secret values a configuration refers to, and what could not be found.
public struct ResolvedSecrets: Sendable {
    /// API key by workspace name.
    public var apiKeys: [String: Secret] = [:]
    /// Daily-report secret key by workspace name.
    public var secretKeys: [String: Secret] = [:]
    /// SHA-256 of each caller's token, by caller name.
    public var tokenDigests: [String: [UInt8]] = [:]
    /// The Redis password, when one is configured and found.
    public var redisPassword: Secret?
    /// Each missing or unreadable secret, named by where it should come from (never its value).
    public var problems: [String] = []
}

/// Reads secrets from environment variables and files.
public struct SecretResolver: Sendable {
    private let environment: [String: String]

    /// Resolves against this environment (the process environment by default).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// Resolves every secret of the configuration; missing ones are listed in `problems`. Two
    /// callers with the same token are a configuration error: one token must mean one caller.
    public func resolve(_ configuration: GatewayConfiguration) throws(ConfigError) -> ResolvedSecrets {
        var result = ResolvedSecrets()
        for workspace in configuration.workspaces {
            switch value(of: workspace.apiKey) {
            case .success(let key): result.apiKeys[workspace.name] = key
            case .failure(let problem): result.problems.append("workspace \(workspace.name): api key \(problem)")
            }
            if let reference = workspace.secretKey {
                switch value(of: reference) {
                case .success(let key): result.secretKeys[workspace.name] = key
                case .failure(let problem): result.problems.append("workspace \(workspace.name): secret key \(problem)")
                }
            }
        }
        for caller in configuration.callers {
            switch caller.token {
            case .sha256Hex(let hex):
                result.tokenDigests[caller.name] = Self.bytes(fromHex: hex)
            case .environment(let name):
                if let token = environment[name], !token.isEmpty {
                    result.tokenDigests[caller.name] = Array(SHA256.hash(data: Data(token.utf8)))
                } else {
                    result.problems.append("caller \(caller.name): token env \(name) is not set")
                }
            case .file(let path):
                switch value(of: .file(path)) {
                case .success(let token): result.tokenDigests[caller.name] = Array(SHA256.hash(data: Data(token.value.utf8)))
                case .failure(let problem): result.problems.append("caller \(caller.name): token \(problem)")
                }
            }
        }
        if let reference = configuration.redis?.password {
            switch value(of: reference) {
            case .success(let password): result.redisPassword = password
            case .failure(let problem): result.problems.append("redis: password \(problem)")
            }
        }
        try Self.checkDistinctTokens(configuration.callers, digests: result.tokenDigests)
        return result
    }

    private static func checkDistinctTokens(_ callers: [CallerConfiguration], digests: [String: [UInt8]]) throws(ConfigError) {
        var owner: [[UInt8]: String] = [:]
        for (index, caller) in callers.enumerated() {
            guard let digest = digests[caller.name] else { continue }
            if let first = owner[digest] {
                throw ConfigError(
                    key: "callers[\(index)]", line: nil,
                    reason: "caller \(caller.name) has the same token as caller \(first); every caller needs its own token")
            }
            owner[digest] = caller.name
        }
    }

    private struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    private func value(of reference: SecretReference) -> Result<Secret, Missing> {
        switch reference {
        case .inline(let value):
            return .success(Secret(value))
        case .environment(let name):
            guard let value = environment[name], !value.isEmpty else { return .failure(Missing(description: "env \(name) is not set")) }
            return .success(Secret(value))
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else { return .failure(Missing(description: "file \(path) is not readable")) }
            let value = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !value.isEmpty else { return .failure(Missing(description: "file \(path) is empty")) }
            return .success(Secret(value))
        }
    }

    private static func bytes(fromHex hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        return bytes
    }
}
