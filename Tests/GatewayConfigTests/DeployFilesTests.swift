import Foundation
import ServerTesting
import Testing

private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
private let gatewayBinary = repositoryRoot.appendingPathComponent(".build/debug/campaign-gateway").path

private func run(_ path: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
    try await ChildProcess.run(path, arguments)
}

/// The deploy files work as shipped: the systemd unit verifies, and its start check agrees with `serve`.
@Suite struct DeployFilesTests {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze"), "systemd-analyze is installed"))
    func theSystemdUnitVerifiesCleanly() async throws {
        let unit = try String(contentsOf: repositoryRoot.appendingPathComponent("deploy/campaign-gateway.service"), encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/campaign-gateway", with: gatewayBinary)
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("campaign-gateway-\(UUID().uuidString).service")
        try unit.write(to: copy, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: copy) }
        let verified = try await run("/usr/bin/systemd-analyze", ["verify", copy.path])
        #expect(verified.status == 0, "\(verified.output)")
        #expect(verified.output.isEmpty, "systemd-analyze warned: \(verified.output)")
    }

    @Test func theUnitsStartCheckLetsServeStartWithoutASecretButNotWithABrokenFile() async throws {
        let unit = try String(contentsOf: repositoryRoot.appendingPathComponent("deploy/campaign-gateway.service"), encoding: .utf8)
        let startCheck = try #require(unit.split(separator: "\n").first { $0.hasPrefix("ExecStartPre=") })
        let arguments = startCheck.split(separator: " ").dropFirst().map(String.init).dropLast()
        let example = repositoryRoot.appendingPathComponent("deploy/gateway.example.yaml").path
        let missingSecrets = try await run(gatewayBinary, Array(arguments) + [example])
        #expect(missingSecrets.status == 0, "\(missingSecrets.output)")
        #expect(missingSecrets.output.contains("warning: workspace marketing: api key"))
        let broken = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(UUID().uuidString).yaml")
        try "listen: {port: 99999}\n".write(to: broken, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: broken) }
        #expect(try await run(gatewayBinary, Array(arguments) + [broken.path]).status == 2)
        #expect(try await run(gatewayBinary, ["check-config", example]).status == 2, "without the flag a missing secret is an error")
    }
}
