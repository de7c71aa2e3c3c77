// swift-tools-version:6.0
import PackageDescription

/// campaign-gateway: one internal RPC surface in front of MoEngage and Migma.
let package = Package(
    name: "campaign-gateway",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "campaign-gateway", targets: ["CampaignGatewayCLI"]),
        .executable(name: "moengage-sim", targets: ["MoEngageSimCLI"]),
        .executable(name: "gateway-bench", targets: ["GatewayBench"]),
        .library(name: "MoEngageSimulator", targets: ["MoEngageSimulator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
    ],
    targets: [
        // libcurl as a system library plus a shim of typed, non-variadic wrappers.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // glibc malloc's knobs (arena limit, trim, usage), no-ops on other C libraries.
        .target(name: "CAllocator"),
        // A lock-guarded value (pthread-backed, so ThreadSanitizer can check it).
        .target(name: "LockedState"),
        // Async HTTP client driving a curl multi handle on one dedicated thread.
        .target(name: "CurlHTTP", dependencies: ["CCurl", "LockedState"]),
        // A dynamic JSON value shared by the simulator and the gateway.
        .target(name: "DynamicJSON"),
        // Strict calendar days and inclusive day ranges, as the providers' dates mean.
        .target(name: "Dates"),
        // A small Redis client over SwiftNIO: RESP2 codec, pipelined connections, a pool with backoff, optional TLS.
        .target(
            name: "RedisClient",
            dependencies: [
                "LockedState",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // Runs an in-process Hummingbird application on an ephemeral port, over TLS if asked; a scripted raw HTTP server (tests, benchmarks).
        .target(
            name: "ServerTesting",
            dependencies: [
                "LockedState",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The MoEngage/Migma simulator, as a library that tests start in-process.
        .target(
            name: "MoEngageSimulator",
            dependencies: [
                "DynamicJSON", "Dates", "LockedState",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The API's messages and gRPC service code, generated from proto-docs/ and third_party/proto/ by `make generate` (committed).
        .target(
            name: "GatewayProto",
            dependencies: [
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            ]
        ),
        // The YAML configuration: schema, validation, secret resolution.
        .target(
            name: "GatewayConfig",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Gateway core: errors, upstream provider clients, the stats service.
        .target(
            name: "GatewayCore",
            dependencies: [
                "CurlHTTP", "DynamicJSON", "GatewayConfig", "Dates", "LockedState", "RedisClient", "GatewayProto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // The RPC surface: JSON-RPC 2.0, Connect paths, auth, ops endpoints, application.
        .target(
            name: "GatewayRPC",
            dependencies: [
                "GatewayCore", "GatewayConfig", "DynamicJSON", "CurlHTTP", "RedisClient", "GatewayProto", "CAllocator",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "CampaignGatewayCLI",
            dependencies: [
                "GatewayRPC", "GatewayConfig", "CAllocator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "MoEngageSimCLI",
            dependencies: [
                "MoEngageSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        // The limit of the HTTP layer in `make bench`: Hummingbird answering fixed bytes.
        .target(
            name: "BareHTTP",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `make bench`: measures the curl fan-out and the gateway against the simulator, nginx and BareHTTP.
        .executableTarget(
            name: "GatewayBench",
            dependencies: [
                "CurlHTTP", "ServerTesting", "MoEngageSimulator", "GatewayRPC", "GatewayConfig", "GatewayCore", "DynamicJSON", "BareHTTP",
                "RedisClient", "LockedState", "Dates", "GatewayProto", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "CurlHTTPTests",
            dependencies: [
                "CurlHTTP", "ServerTesting", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .testTarget(name: "MoEngageSimulatorTests", dependencies: ["MoEngageSimulator", "CurlHTTP", "DynamicJSON", "Dates", "ServerTesting"]),
        .testTarget(name: "GatewayConfigTests", dependencies: ["GatewayConfig", "ServerTesting"]),
        .testTarget(name: "DynamicJSONTests", dependencies: ["DynamicJSON"]),
        .testTarget(name: "RedisClientTests", dependencies: ["RedisClient", "ServerTesting", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(
            name: "GatewayCoreTests",
            dependencies: [
                "GatewayCore", "GatewayConfig", "CurlHTTP", "DynamicJSON", "Dates", "RedisClient", "ServerTesting", "LockedState",
                .product(name: "ZIPFoundation", package: "ZIPFoundation"), .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "GatewayRPCTests",
            dependencies: [
                "GatewayRPC", "GatewayCore", "MoEngageSimulator", "CurlHTTP", "DynamicJSON", "GatewayConfig", "Dates", "ServerTesting", "LockedState",
                "RedisClient", "GatewayProto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ]
)
