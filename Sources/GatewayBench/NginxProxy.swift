import Foundation

/// nginx 1.22 with `proxy_cache` in front of an origin: POSTs cached, keyed on the body, with
/// `proxy_cache_lock on` — what an operator would put in front of MoEngage instead of the gateway.
struct NginxProxy {
    /// The port nginx listens on (127.0.0.1).
    let port: Int
    private let prefix: URL

    /// Writes a config into a fresh folder (world-writable: nginx workers run as `www-data`) and starts nginx.
    static func start(originPort: Int, port: Int) throws -> NginxProxy {
        let prefix = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-bench-nginx-\(UUID().uuidString)")
        for folder in ["", "cache", "temp"] {
            let url = prefix.appendingPathComponent(folder)
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: url.path)
        }
        let config = """
            worker_processes 2;
            pid \(prefix.path)/nginx.pid;
            error_log \(prefix.path)/error.log warn;
            events { worker_connections 1024; }
            http {
                access_log off;
                client_body_temp_path \(prefix.path)/temp;
                proxy_temp_path \(prefix.path)/temp;
                client_body_buffer_size 64k;
                proxy_cache_path \(prefix.path)/cache levels=1:2 keys_zone=answers:10m max_size=64m inactive=1h;
                upstream origin { server 127.0.0.1:\(originPort); keepalive 16; }
                server {
                    listen 127.0.0.1:\(port) reuseport;
                    location / {
                        proxy_pass http://origin;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_cache answers;
                        proxy_cache_methods POST;
                        proxy_cache_key "$request_uri|$request_body";
                        proxy_cache_valid 200 10m;
                        proxy_cache_lock on;
                        add_header X-Cache-Status $upstream_cache_status;
                    }
                }
            }
            """
        try config.write(to: prefix.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
        try Self.nginx(["-p", prefix.path, "-c", prefix.appendingPathComponent("nginx.conf").path])
        return NginxProxy(port: port, prefix: prefix)
    }

    /// Stops nginx (graceful quit) and removes its folder.
    func stop() {
        try? Self.nginx(["-p", prefix.path, "-c", prefix.appendingPathComponent("nginx.conf").path, "-s", "quit"])
        for _ in 0..<50 where FileManager.default.fileExists(atPath: prefix.appendingPathComponent("nginx.pid").path) {
            Thread.sleep(forTimeInterval: 0.1)
        }
        try? FileManager.default.removeItem(at: prefix)
    }

    /// Runs the nginx binary and waits for it (with `daemon on`, the master detaches and this returns).
    private static func nginx(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchFailure("nginx \(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
        }
    }
}
