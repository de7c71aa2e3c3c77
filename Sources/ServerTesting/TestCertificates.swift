import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOSSL

/// A throwaway certificate authority and a server certificate it signed for `localhost` and
/// 127.0.0.1, made with the `openssl` command in a new temporary folder (for TLS tests).
public struct TestCertificates: Sendable {
    /// The CA's certificate (PEM): what a client trusts.
    public let authority: String
    /// The server's certificate (PEM).
    public let serverCertificate: String
    /// The server's private key (PEM).
    public let serverKey: String

    /// Makes a new CA and server certificate.
    public static func make() throws -> TestCertificates {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("test-certificates-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let script = """
            set -e
            cd '\(folder)'
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ext.cnf
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf 2>/dev/null
            chmod 0644 server.key
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw RedisServerFailure("openssl could not make test certificates") }
        return TestCertificates(authority: folder + "/ca.pem", serverCertificate: folder + "/server.pem", serverKey: folder + "/server.key")
    }

    /// A Hummingbird server builder speaking HTTP/1.1 over TLS with the server certificate and key.
    public func httpsServer() throws -> HTTPServerBuilder {
        let chain = try NIOSSLCertificate.fromPEMFile(serverCertificate).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: serverKey, format: .pem)
        return try .tls(.http1(), tlsConfiguration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
    }
}
