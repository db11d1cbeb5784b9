// swift-tools-version:6.2
import PackageDescription

// Targets follow docs/architecture.md: codecs → policy → server adapters → CLI.
// Dependencies point down only; CI builds with --explicit-target-dependency-import-check error.
/// Our own targets build warning-free; a new warning fails the build (dependencies are unaffected).
let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

// Linux only: the services use epoll, eventfd and sendmmsg (CLinux) and Glibc; no other
// platform is claimed.
let package = Package(
    name: "vboot",
    products: [
        .executable(name: "vboot", targets: ["vboot"]),
        // For FuzzTesting/, a separate package that depends on this one by path: only products
        // cross a package boundary. The server and CLI targets stay private.
        .library(name: "DHCPv4", targets: ["DHCPv4"]),
        .library(name: "TFTP", targets: ["TFTP"]),
        .library(name: "BootPolicy", targets: ["BootPolicy"]),
        .library(name: "Firmware", targets: ["Firmware"]),
        .library(name: "WireTrace", targets: ["WireTrace"]),
        .library(name: "NBD", targets: ["NBD"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // Already in the graph through Hummingbird; named for the HTTP/1 codec the sendfile path writes through.
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        // Already in the graph through postgres-nio; SHA-256 for iPXE build manifests and cache keys.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    ],
    targets: [
        // Codecs read and write NIO's ByteBuffer directly so the servers never copy a datagram.
        .target(name: "DHCPv4", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
        .target(name: "TFTP", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
        // Network block devices (diskless roots): the fixed newstyle handshake and requests.
        .target(name: "NBD", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
        .target(
            name: "BootPolicy",
            dependencies: ["DHCPv4", "TFTP", "VBootAPI", .product(name: "Mustache", package: "swift-mustache")]
        ),
        // The inventory: machines, timelines, leases. SQLite embedded, PostgreSQL shared.
        .target(
            name: "VBootStore",
            dependencies: [
                "BootPolicy", "DHCPv4",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Linux interfaces not in Swift's Glibc module: malloc statistics and trim, epoll, eventfd.
        .target(name: "CLinux"),
        .target(name: "VBootAPI"),
        .target(
            name: "VBootServer",
            dependencies: [
                "VBootAPI",
                "DHCPv4", "TFTP", "NBD", "BootPolicy", "VBootStore", "CLinux", "PacketCapture", "WireTrace",
                "UpstreamFetch",
                .product(name: "Yams", package: "Yams"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                // The API listener's optional TLS (already in the graph through Hummingbird).
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                // SHA-256 of upstream files (already in the graph through Firmware).
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // libpcap (Debian's libpcap-dev) for `vboot trace`: one system-library target, one wrapper type.
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),
        .target(name: "PacketCapture", dependencies: ["CPcap"]),
        // libcurl (Debian's libcurl4-openssl-dev) for the upstream asset cache: one system-library
        // target, one wrapper type.
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(name: "UpstreamFetch", dependencies: ["CCurl"]),
        // Boot conversations read off the wire: frames → per-client stories → verdicts. No I/O.
        .target(
            name: "WireTrace",
            dependencies: ["DHCPv4", "TFTP", "BootPolicy", .product(name: "NIOCore", package: "swift-nio")]
        ),
        // iPXE build plan and runner, option ROM and EFI image parsing, OVMF variable stores.
        .target(name: "Firmware", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .executableTarget(
            name: "vboot",
            dependencies: [
                "VBootAPI",
                "VBootServer", "BootPolicy", "DHCPv4", "Firmware", "WireTrace", "PacketCapture",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "DHCPv4Tests",
            dependencies: ["DHCPv4", .product(name: "NIOCore", package: "swift-nio")],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "TFTPTests",
            dependencies: ["TFTP", .product(name: "NIOCore", package: "swift-nio")],
            exclude: ["Fixtures"]
        ),
        .testTarget(name: "NBDTests", dependencies: ["NBD", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(
            name: "BootPolicyTests",
            dependencies: ["BootPolicy", "DHCPv4", "TFTP", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "WireTraceTests",
            dependencies: [
                "WireTrace", "PacketCapture", "DHCPv4", "TFTP", .product(name: "NIOCore", package: "swift-nio"),
            ],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(name: "FirmwareTests", dependencies: ["Firmware"], exclude: ["Fixtures"]),
        .testTarget(
            name: "VBootStoreTests",
            dependencies: [
                "VBootStore", "BootPolicy", "DHCPv4",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "VBootServerTests",
            dependencies: [
                "VBootServer", "VBootStore", "VBootAPI", "BootPolicy", "DHCPv4", "TFTP", "UpstreamFetch",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "VBootCommandTests",
            dependencies: [
                "vboot", "VBootServer", "BootPolicy",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
    ]
)

for target in package.targets where !["CLinux", "CPcap", "CCurl"].contains(target.name) {
    target.swiftSettings = (target.swiftSettings ?? []) + strict
}
