import Foundation

/// nginx 1.22 with `proxy_cache` in front of an origin: POSTs cached, keyed on the body, with
/// `proxy_cache_lock on` — what an operator would put in front of MoEngage instead of the gateway.
struct NginxProxy {
    /// The port nginx listens on (127.0.0.1).
    let port: Int
    private let prefix: URL
    /// The master process, run in the foreground (`daemon off`) as this process's child.
    private let master: Process

    /// Writes a config into a fresh folder (world-writable: nginx workers run as `www-data`) and starts nginx.
    static func start(originPort: Int, port: Int) throws -> NginxProxy {
        let prefix = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-bench-nginx-\(UUID().uuidString)")
        for folder in ["", "cache", "temp"] {
            let url = prefix.appendingPathComponent(folder)
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: url.path)
        }
        let config = """
            daemon off;
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
        let master = Process()
        master.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        master.arguments = ["-p", prefix.path, "-c", prefix.appendingPathComponent("nginx.conf").path]
        master.standardOutput = FileHandle.nullDevice
        master.standardError = FileHandle.nullDevice
        try master.run()
        return NginxProxy(port: port, prefix: prefix, master: master)
    }

    /// Stops nginx (SIGTERM: its master stops the workers; SIGKILL after 5 s) and removes its folder.
    func stop() async {
        master.terminate()
        for _ in 0..<50 where master.isRunning {
            try? await Task.sleep(for: .milliseconds(100))
        }
        if master.isRunning { kill(master.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: prefix)
    }
}
