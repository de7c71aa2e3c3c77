import NIOCore
import RedisClient
import ServerTesting
import Testing

/// The client against a real `redis-server` on a free loopback port.
@Suite struct RedisClientTests {
    private func client(_ server: RedisServerProcess, password: String? = nil, database: Int = 0, options: RedisClientOptions = .init())
        -> RedisClient
    {
        RedisClient(endpoint: RedisEndpoint(host: "127.0.0.1", port: server.port, database: database, password: password), options: options)
    }

    @Test func setsGetsAndPipelinesManyCommandsInOrder() async throws {
        try await RedisServerProcess.with { server in
            let redis = client(server)
            defer { redis.close() }
            #expect(try await redis.command(["SET", "greeting", "hello", "PX", "60000"]) == .simpleString("OK"))
            #expect(try await redis.command(["GET", "greeting"]).string == "hello")
            #expect(try await redis.command(["GET", "absent"]).isNull)
            let replies = try await redis.pipeline((0..<500).map { _ in ["INCR", "counter"] })
            #expect(replies.map(\.integer) == (1...500).map { Int64($0) })
            let unknown = try await redis.pipeline([["NOSUCHCOMMAND"], ["PING"]])
            guard case .error(let message) = unknown[0] else { Issue.record("an error reply"); return }
            #expect(message.hasPrefix("ERR"))
            #expect(unknown[1] == .simpleString("PONG"), "an error reply does not put the connection out of step")
        }
    }

    @Test func concurrentCommandsOverThePoolGetTheirOwnReplies() async throws {
        try await RedisServerProcess.with { server in
            let redis = client(server)
            defer { redis.close() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<40 {
                    group.addTask {
                        for step in 0..<25 {
                            let key = "k-\(task)-\(step)"
                            try await redis.command(["SET", .string(key), .string("\(task * 1000 + step)")])
                            #expect(try await redis.command(["GET", .string(key)]).string == "\(task * 1000 + step)")
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    @Test func storesAndReturnsLargeBinaryValues() async throws {
        try await RedisServerProcess.with { server in
            var options = RedisClientOptions()
            options.commandTimeout = .seconds(20)  // 3 MiB each way on a debug build under a loaded test run: fidelity, not speed, is tested here
            let redis = client(server, options: options)
            defer { redis.close() }
            let value = ByteBuffer(bytes: (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            try await redis.command(["SET", "big", .bytes(value)])
            #expect(try await redis.command(["GET", "big"]).bytes == value)
        }
    }

    @Test func aCommandsDeadlineBoundsTheWaitForAConnectionBeingSetUp() async throws {
        let hung = try #require(LoopbackPort.silent(), "a listening socket")
        defer { hung.close() }
        var options = RedisClientOptions()
        options.connectTimeout = .seconds(10)
        options.commandTimeout = .seconds(10)
        let redis = RedisClient(endpoint: RedisEndpoint(host: "127.0.0.1", port: hung.port), options: options)
        defer { redis.close() }
        let started = ContinuousClock.now
        await #expect(throws: RedisError.deadlineReached) { try await redis.command(["PING"], deadline: .now + .milliseconds(200)) }
        #expect(ContinuousClock.now - started < .seconds(5), "the deadline, not the 10 s setup timeout, ended the wait")
    }

    @Test func authenticatesAndSelectsTheDatabase() async throws {
        try await RedisServerProcess.with(password: "s3cret-redis-pass") { server in
            let unauthenticated = client(server)
            defer { unauthenticated.close() }
            await #expect(throws: RedisError.self) { try await unauthenticated.command(["SET", "x", "1"]) }
            let wrong = client(server, password: "wrong-pass")
            defer { wrong.close() }
            do {
                try await wrong.command(["PING"])
                Issue.record("a wrong password connects")
            } catch {
                #expect(!"\(error)".contains("wrong-pass"), "the password is never in an error")
            }
            let one = client(server, password: "s3cret-redis-pass", database: 1)
            let zero = client(server, password: "s3cret-redis-pass", database: 0)
            defer {
                one.close()
                zero.close()
            }
            try await one.command(["SET", "where", "one"])
            #expect(try await zero.command(["GET", "where"]).isNull)
            #expect(try await one.command(["GET", "where"]).string == "one")
        }
    }

    @Test func aRefusedAuthNeverRepeatsWhatTheServerEchoedOfThePassword() async throws {
        // With AUTH renamed away, Redis answers "unknown command 'AUTH', with args beginning with: '<password>'".
        try await RedisServerProcess.with(options: ["--rename-command", "AUTH", ""]) { server in
            let echoed = client(server, password: "hunter2-echoed")
            defer { echoed.close() }
            do {
                try await echoed.command(["PING"])
                Issue.record("a refused AUTH connects")
            } catch {
                #expect("\(error)" == "redis unavailable: setup refused (ERR)", "only the error's code: \(error)")
            }
        }
    }

    @Test func failsFastWhileRedisIsDownAndReconnectsWhenItIsBack() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        var options = RedisClientOptions()
        options.initialBackoff = .milliseconds(50)
        options.maxBackoff = .milliseconds(200)
        let redis = client(server, options: options)
        defer { redis.close() }
        try await redis.command(["SET", "before", "1"])
        server.stop()
        await #expect(throws: RedisError.self) { try await redis.command(["GET", "before"]) }
        let started = ContinuousClock.now
        for _ in 0..<20 { _ = try? await redis.command(["PING"]) }
        #expect(ContinuousClock.now - started < .seconds(5), "down: commands fail without waiting out a timeout each")
        try await server.startAgain()
        var back = false
        for _ in 0..<100 where !back {
            back = (try? await redis.command(["PING"])) == .simpleString("PONG")
            if !back { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(back, "the client reconnects by itself")
        #expect(try await redis.command(["GET", "before"]).isNull, "a restarted server is empty")
    }

    @Test func aCommandWithoutAReplyTimesOutAndTheNextGetsAFreshConnection() async throws {
        try await RedisServerProcess.with { server in
            var options = RedisClientOptions()
            options.commandTimeout = .milliseconds(200)
            options.poolSize = 1
            let redis = client(server, options: options)
            defer { redis.close() }
            try await redis.command(["SET", "k", "v"])
            // The server itself stalls: CLIENT PAUSE holds every client's commands, from its OK on.
            let pauser = RedisClient(endpoint: redis.endpoint)
            defer { pauser.close() }
            #expect(try await pauser.command(["CLIENT", "PAUSE", "800", "ALL"]) == .simpleString("OK"))
            await #expect(throws: RedisError.timedOut) { try await redis.command(["GET", "k"]) }
            try await Task.sleep(for: .milliseconds(900))
            #expect(try await redis.command(["GET", "k"]).string == "v")
        }
    }

    @Test func speaksTLSVerifyingTheServerAgainstTheGivenAuthority() async throws {
        let certificates = try TestCertificates.make()
        try await RedisServerProcess.with(password: "tls-pass", tls: certificates) { server in
            let trusted = RedisClient(
                endpoint: RedisEndpoint(host: "127.0.0.1", port: server.port, password: "tls-pass", tls: RedisTLS(caFile: certificates.authority)))
            defer { trusted.close() }
            try await trusted.command(["SET", "over", "tls"])
            #expect(try await trusted.command(["GET", "over"]).string == "tls")
            let byName = RedisClient(
                endpoint: RedisEndpoint(host: "localhost", port: server.port, password: "tls-pass", tls: RedisTLS(caFile: certificates.authority)))
            defer { byName.close() }
            #expect(try await byName.command(["GET", "over"]).string == "tls")
            // The system store does not know the test CA: the certificate is refused.
            let untrusted = RedisClient(endpoint: RedisEndpoint(host: "127.0.0.1", port: server.port, password: "tls-pass", tls: RedisTLS()))
            defer { untrusted.close() }
            await #expect(throws: RedisError.self) { try await untrusted.command(["PING"]) }
            // Plain TCP to a TLS port gets no answer it can read.
            var quick = RedisClientOptions()
            quick.commandTimeout = .milliseconds(300)
            let plain = RedisClient(endpoint: RedisEndpoint(host: "127.0.0.1", port: server.port, password: "tls-pass"), options: quick)
            defer { plain.close() }
            await #expect(throws: RedisError.self) { try await plain.command(["PING"]) }
        }
    }
}
