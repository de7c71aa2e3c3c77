import Foundation

/// Runs a program to its end (for tests: command-line clients, checkers), without blocking a thread while it runs.
public enum ChildProcess {
    /// Runs `path` with `arguments` and `environment`, reading `input` on stdin (else nothing);
    /// returns its exit status and its output (stdout and stderr together).
    public static func run(_ path: String, _ arguments: [String], environment: [String: String] = [:], input: Data = Data()) async throws -> (
        status: Int32, output: String
    ) {
        let inputFile = FileManager.default.temporaryDirectory.appendingPathComponent("child-process-\(UUID().uuidString).in")
        FileManager.default.createFile(atPath: inputFile.path, contents: input)
        defer { try? FileManager.default.removeItem(at: inputFile) }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("child-process-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let handle = try FileHandle(forWritingTo: output)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = environment
        process.standardInput = try FileHandle(forReadingFrom: inputFile)
        process.standardOutput = handle
        process.standardError = handle
        let status = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int32, any Error>) in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        try handle.close()
        return (status, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
    }
}
