import Foundation
import GatewayConfig
import MoEngageSimulator
import ServerTesting
import Testing

/// Runs Tests/ThirdPartyClients/test_generated_clients.py (grpcio, grpcio-tools and protobuf from
/// PyPI, in the virtual environment `make python-env` makes) against the simulator and a gateway
/// started here: stubs generated from proto-docs/ call every RPC over native gRPC, Connect binary
/// and Connect JSON.
@Suite(.serialized) struct ThirdPartyClientTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let python = repositoryRoot.appendingPathComponent(".build/python-env/bin/python").path

    /// The harness config plus `tight` (one call per 20 s, its own upstream account) and a call cap of 20.
    static func yaml(grpc: String) -> String {
        GatewayHarness.yaml(limits: ["max_upstream_calls_per_request": 20, "max_in_flight_per_caller": 200], extra: "grpc: \(grpc)").replacingOccurrences(
            of: "workspaces:\n",
            with: "workspaces:\n  tight: {provider: moengage, base_url: SIM, workspace_id: WS_TIGHT, api_key_env: MAIN_KEY, rate_limits: [{calls: 1, per_seconds: 20}]}\n"
        )
    }

    static var simulator: SimulatorConfiguration {
        var configuration = GatewayHarness.simulatorConfiguration(forbidden: ["WS_OTHER"])
        configuration.workspaces["WS_TIGHT"] = TestSecrets.mainKey
        return configuration
    }

    @Test func generatedPythonClientsCallEveryRPCOverGRPCAndConnect() async throws {
        try await GatewayHarness.with(simulator: Self.simulator, yaml: Self.yaml(grpc: "{port: 0}")) { gateway in
            let outcome = try await Self.runPython(gateway: gateway, target: "127.0.0.1:\(gateway.grpcPort!)")
            #expect(outcome.status == 0, "the generated clients' tests failed:\n\(outcome.output)")
        }
    }

    @Test func generatedPythonClientsCallOverGRPCWithTLS() async throws {
        let certificates = try TestCertificates.make()
        let tls = "{port: 0, tls: {cert_file: \(certificates.serverCertificate), key_file: \(certificates.serverKey)}}"
        try await GatewayHarness.with(simulator: Self.simulator, yaml: Self.yaml(grpc: tls)) { gateway in
            let outcome = try await Self.runPython(
                gateway: gateway, target: "localhost:\(gateway.grpcPort!)", extraEnvironment: ["GATEWAY_GRPC_CA": certificates.authority],
                tests: ["NativeGRPCTests.test_every_rpc_answers_its_declared_message", "NativeGRPCTests.test_without_a_token_the_status_is_unauthenticated"])
            #expect(outcome.status == 0, "the generated clients' TLS tests failed:\n\(outcome.output)")
        }
    }

    /// Runs the Python tests (all, or `tests`) and returns their exit status and output.
    static func runPython(
        gateway: GatewayHarness, target: String, extraEnvironment: [String: String] = [:], tests: [String] = []
    ) async throws -> (status: Int32, output: String) {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            return (127, "no Python environment at \(python): run `make python-env` (make test does)")
        }
        var environment = ProcessInfo.processInfo.environment.merging(TestSecrets.environment) { _, ours in ours }
        environment.merge(extraEnvironment) { _, ours in ours }
        environment["GATEWAY_HTTP"] = gateway.gatewayBase
        environment["GATEWAY_GRPC"] = target
        environment["SIM_BASE"] = gateway.simBase
        environment["PROTO_DIR"] = repositoryRoot.appendingPathComponent("proto-docs").path
        for (index, secret) in TestSecrets.all.enumerated() { environment["SECRET_\(index)"] = secret }
        let script = repositoryRoot.appendingPathComponent("Tests/ThirdPartyClients/test_generated_clients.py").path
        return try await ChildProcess.run(python, [script, "-v"] + tests, environment: environment)
    }
}
