import Crypto
import DynamicJSON
import Foundation
import GatewayProto
import GatewayRPC
import SwiftProtobuf
import Testing

/// The .proto files are the API: the committed generated code is made from them, every RPC in
/// them is served and documented once, and each transport reads their messages as declared.
@Suite struct ProtoContractTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// What scripts/proto-inputs-hash.sh prints: SHA-256 over `== PATH\n` and the content of each .proto input, paths in byte order.
    static func protoInputsHash() throws -> String {
        var paths: [String] = []
        for folder in ["proto-docs", "third_party/proto"] {
            let base = repositoryRoot.appendingPathComponent(folder)
            let walker = FileManager.default.enumerator(atPath: base.path)
            while let relative = walker?.nextObject() as? String {
                if relative.hasSuffix(".proto") { paths.append("\(folder)/\(relative)") }
            }
        }
        var hasher = SHA256()
        for path in paths.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
            hasher.update(data: Data("== \(path)\n".utf8))
            hasher.update(data: try Data(contentsOf: repositoryRoot.appendingPathComponent(path)))
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    @Test func theCommittedGeneratedCodeIsMadeFromTheProtoFilesAsTheyAre() throws {
        #expect(
            try Self.protoInputsHash() == GeneratedProtoDescriptors.inputsSHA256,
            "a .proto file changed since Sources/GatewayProto was generated: run `make generate` and commit the result")
    }

    @Test func everyRPCIsServedAndDocumentedOnceUnderItsJSONRPCName() async throws {
        let catalog = ProtoCatalog.generated
        let apiMethods = catalog.serviceNames.filter { $0.hasPrefix("gateway.") }.flatMap { service in
            catalog.files.flatMap(\.service).filter { "gateway.v1.\($0.name)" == service }.flatMap(\.method).map { "/\(service)/\($0.name)" }
        }
        #expect(apiMethods.count == 7)
        let readme = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let tableRows = readme.split(separator: "\n").filter { $0.hasPrefix("| `") }
        try await GatewayHarness.with { gateway in
            let document = try #require(try await gateway.call("rpc.discover", [:]).json?["result"])
            let served = (document["methods"]?.arrayValue ?? []).compactMap { method -> (String, String)? in
                guard let path = method["x-connect-path"]?.stringValue, let name = method["name"]?.stringValue else { return nil }
                return (name, path)
            }
            #expect(Set(served.map(\.1)) == Set(apiMethods), "every RPC of the .proto files is served, and nothing else")
            for (name, path) in served {
                let rpc = try #require(catalog.method(path: path))
                #expect(rpc.comment.hasPrefix("JSON-RPC `\(name)`; Connect `\(path)`"), "the .proto comment of \(path) names \(name)")
                let rows = tableRows.filter { $0.hasPrefix("| `\(name)` | `\(path)` |") }
                #expect(rows.count == 1, "README's API table has one row for \(name) at \(path)")
            }
        }
    }

    @Test func theOpenRPCDocumentDescribesEachRequestFieldFromItsDescriptor() async throws {
        try await GatewayHarness.with { gateway in
            let document = try #require(try await gateway.call("rpc.discover", [:]).json?["result"])
            let method = try #require(document["methods"]?.arrayValue?.first { $0["name"] == "campaigns.getStats" })
            let params = method["params"]?.arrayValue ?? []
            #expect(params.compactMap { $0["name"]?.stringValue } == Gateway_V1_GetStatsRequest.fieldNames)
            let timeout = try #require(params.first { $0["name"] == "timeout_ms" })
            #expect(timeout["schema"]?["type"] == ["integer", "null"], "an optional field may be null (absent)")
            #expect(timeout["summary"]?.stringValue?.contains("600000") == true)
            #expect(method["result"]?["schema"]?["properties"]?["campaigns"] != nil)
        }
    }

    @Test func jsonRPCKeepsTheProtoNamesAndConnectJSONTakesBothSpellings() async throws {
        try await GatewayHarness.with { gateway in
            let camel: JSON = ["workspace": "main", "startDate": "2025-03-01", "endDate": "2025-03-01", "dryRun": true, "timeoutMs": "5000"]
            let refused = try await gateway.call("campaigns.getStats", camel)
            #expect(refused.json?["error"]?["code"] == -32602)
            #expect(refused.json?["error"]?["data"]?["field"] == "dryRun")
            let stringTimeout = try await gateway.call(
                "campaigns.getStats", ["workspace": "main", "start_date": "2025-03-01", "end_date": "2025-03-01", "timeout_ms": "5000"])
            #expect(stringTimeout.json?["error"]?["data"]?["field"] == "timeout_ms")
            let connect = try await gateway.connect("/gateway.v1.CampaignService/GetStats", camel)
            #expect(connect.status == 200)
            #expect(connect.json?["dry_run"] == true)
            let twice = try await gateway.connect(
                "/gateway.v1.CampaignService/GetStats", ["start_date": "2025-03-01", "startDate": "2025-03-02", "end_date": "2025-03-02"])
            #expect(twice.status == 400)
            #expect(twice.json?["data"]?["field"] == "start_date")
            #expect(twice.json?["data"]?["reason"]?.stringValue?.hasPrefix("given twice") == true)
            let wrongKind = try await gateway.connect(
                "/gateway.v1.CampaignService/GetStats", ["workspace": "main", "startDate": "2025-03-01", "endDate": "2025-03-01", "timeoutMs": "1.5"])
            #expect(wrongKind.status == 400)
            #expect(wrongKind.json?["data"]?["field"] == "timeoutMs")
        }
    }

    @Test func connectErrorsCarryTheirDetailsAsTypedValues() async throws {
        try await GatewayHarness.with { gateway in
            let answer = try await gateway.connect(
                "/gateway.v1.CampaignService/GetStats", ["workspace": "main", "startDate": "2025-03-02", "endDate": "2025-03-01"])
            #expect(answer.status == 400)
            let details = answer.json?["details"]?.arrayValue ?? []
            let badRequest = try #require(details.first { $0["type"] == "google.rpc.BadRequest" })
            var base64 = try #require(badRequest["value"]?.stringValue)
            base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
            let decoded = try Google_Rpc_BadRequest(serializedBytes: try #require(Data(base64Encoded: base64)))
            #expect(decoded.fieldViolations.first?.field == "end_date")
            let info = try #require(details.first { $0["type"] == "google.rpc.ErrorInfo" })
            #expect(info["debug"]?["metadata"]?["jsonrpc_code"] == "-32602")
        }
    }
}

extension SwiftProtobuf.Message {
    /// The field names of this message type, in declaration order, from the catalog.
    static var fieldNames: [String] {
        ProtoCatalog.generated.message(protoMessageName)?.fields.map(\.name) ?? []
    }
}
