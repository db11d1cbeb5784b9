// swift-tools-version:6.2
import PackageDescription

// Coverage-guided fuzz targets for vboot's parsers and pure decisions (libFuzzer). A package of
// its own so the instrumented build has its own .build and Package.resolved (pinned like the
// main package's). Build and run with scripts/fuzz; each executable is one libFuzzer target.
let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "vboot-fuzz",
    dependencies: [
        .package(name: "vboot", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // LLVMFuzzerRunDriver's declaration: SwiftPM links an executable's own main, so the
        // targets start libFuzzer themselves instead of using libFuzzer's main.
        .target(name: "CFuzzerDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzerDriver"]),
        .executableTarget(
            name: "FuzzDHCP",
            dependencies: [
                "FuzzSupport", .product(name: "DHCPv4", package: "vboot"),
                .product(name: "BootPolicy", package: "vboot"), .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "FuzzTFTP",
            dependencies: [
                "FuzzSupport", .product(name: "TFTP", package: "vboot"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "FuzzBootScript",
            dependencies: [
                "FuzzSupport", .product(name: "BootPolicy", package: "vboot"),
                .product(name: "DHCPv4", package: "vboot"),
            ]
        ),
        .executableTarget(
            name: "FuzzOptionROM", dependencies: ["FuzzSupport", .product(name: "Firmware", package: "vboot")]),
        .executableTarget(
            name: "FuzzPEImage", dependencies: ["FuzzSupport", .product(name: "Firmware", package: "vboot")]),
        .executableTarget(
            name: "FuzzVariableStore", dependencies: ["FuzzSupport", .product(name: "Firmware", package: "vboot")]),
        .executableTarget(
            name: "FuzzLibvirtXML", dependencies: ["FuzzSupport", .product(name: "Firmware", package: "vboot")]),
        .executableTarget(
            name: "FuzzWireTrace", dependencies: ["FuzzSupport", .product(name: "WireTrace", package: "vboot")]),
        .executableTarget(
            name: "FuzzNBD",
            dependencies: [
                "FuzzSupport", .product(name: "NBD", package: "vboot"), .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "FuzzConfigYAML", dependencies: ["FuzzSupport", .product(name: "Yams", package: "Yams")]),
    ]
)

for target in package.targets where target.name != "CFuzzerDriver" {
    target.swiftSettings = (target.swiftSettings ?? []) + strict
}
