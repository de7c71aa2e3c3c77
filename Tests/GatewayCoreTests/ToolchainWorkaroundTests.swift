import Foundation
import Testing

private let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Sources")

/// Swift 6.3.1 at `-O` miscompiles a `try await` written inside a tuple or `.success(…)` in a
/// task-group child (heap corruption in release builds: Tests/ToolchainRepro). No source may
/// write an `await` there: the awaited value is bound to a `let` first.
@Suite struct ToolchainWorkaroundTests {
    @Test func noSourceAwaitsInsideATupleOrAResult() throws {
        // An enum payload (`.success(await`, `.value(try await`), or a tuple (`(index, await`).
        let pattern =
            /(^|[^A-Za-z0-9_)\]])\.[A-Za-z]+\(\s*(try\s+)?await|return\s+\([^()\n]*,[^\n]*\bawait|\(\s*[A-Za-z_][A-Za-z0-9_.]*\s*,\s*(try\s+)?await/
        var offending: [String] = []
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)
        while let file = files?.nextObject() as? URL {
            guard file.pathExtension == "swift", !file.path.contains("/Generated/") else { continue }
            for (number, line) in try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where line.contains(pattern) && !line.trimmingCharacters(in: .whitespaces).hasPrefix("//") {
                offending.append(
                    "\(file.path.replacingOccurrences(of: sources.path + "/", with: "")):\(number + 1): \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
        #expect(offending.isEmpty, "bind the awaited value first:\n\(offending.joined(separator: "\n"))")
    }
}
