import Foundation
import Testing

@testable import VBootServer

/// What `vboot image build` runs, decided before it runs.
@Suite("Diskless images: the build plan and the manifest")
struct ImageBuildPlanTests {
    @Test func theBaseBootsAndMountsOverTheNetworkAndExtrasFollowOnce() {
        var plan = ImageBuildPlan(sourceDateEpoch: 1_764_892_800)
        plan.include = ["openssh-server", "live-boot", "xfce4=4.18.2"]
        plan.architecture = "arm64"
        #expect(
            plan.packages == [
                "linux-image-arm64", "live-boot", "systemd-sysv", "ifupdown", "isc-dhcp-client", "openssh-server",
                "xfce4=4.18.2",
            ])
        let arguments = plan.mmdebstrapArguments(root: "/work/root")
        #expect(arguments.contains("--variant=minbase") && arguments.contains("--mode=root"))
        #expect(arguments.contains("--arch=arm64"))
        #expect(Array(arguments.suffix(3)) == ["bookworm", "/work/root", "http://deb.debian.org/debian"])
        #expect(plan.environment == ["SOURCE_DATE_EPOCH": "1764892800"])
    }

    @Test func hooksRunInOrderWithTheRootAsTheirArgument() {
        var plan = ImageBuildPlan(sourceDateEpoch: 1)
        plan.hooks = ["/etc/vboot/hooks/users", "/srv/it's a hook"]
        let hooks = plan.mmdebstrapArguments(root: "/r").filter { $0.hasPrefix("--customize-hook=") }
        #expect(hooks.first == "--customize-hook='/etc/vboot/hooks/users' \"$1\"")
        #expect(hooks.dropFirst().first == "--customize-hook='/srv/it'\\''s a hook' \"$1\"")
        // And after the site's hooks, nothing of the build machine's identity stays.
        #expect(hooks.last?.contains("/etc/hostname") == true)
    }

    @Test func squashfsLeavesBootOutAndStampsEveryFileWithTheEpoch() {
        var plan = ImageBuildPlan(sourceDateEpoch: 1_764_892_800)
        plan.compression = .xz
        let arguments = plan.mksquashfsArguments(root: "/r", output: "/o/filesystem.squashfs", progress: false)
        #expect(Array(arguments.prefix(2)) == ["/r", "/o/filesystem.squashfs"])
        for pair in [["-comp", "xz"], ["-e", "boot"], ["-all-time", "1764892800"], ["-mkfs-time", "1764892800"]] {
            #expect(arguments.contains(pair[0]) && arguments[arguments.firstIndex(of: pair[0])! + 1] == pair[1])
        }
        #expect(arguments.contains("-no-progress"))
        // Everything after -e is a path to leave out: it must come last.
        #expect(Array(arguments.suffix(2)) == ["-e", "boot"])
        #expect(
            Array(plan.mksquashfsArguments(root: "/r", output: "/o/x", progress: true).suffix(2)) == ["-e", "boot"])
        #expect(ImageBuildPlan.mksquashfsUnset == ["SOURCE_DATE_EPOCH"])
        #expect(!plan.mksquashfsArguments(root: "/r", output: "/o/x", progress: true).contains("-no-progress"))
    }

    /// root.img for NBD machines: nbd-client in the image (its initramfs connects the root),
    /// and an ext4 whose UUID, hash seed and times come from the inputs.
    @Test func aBlockRootBringsNBDClientAndAFileSystemMadeOfTheInputs() {
        var plan = ImageBuildPlan(sourceDateEpoch: 1_764_892_800)
        #expect(!plan.packages.contains("nbd-client"))
        plan.blockRootSize = 0
        #expect(plan.packages.contains("nbd-client"))
        let arguments = plan.mkfsArguments(root: "/w/root", output: "/o/root.img", size: 2 << 30)
        #expect(Array(arguments.suffix(4)) == ["-d", "/w/root", "/o/root.img", "2097152k"])
        let uuid = plan.fileSystemUUID
        #expect(arguments.contains(uuid) && arguments.contains("root_owner=0:0,hash_seed=\(uuid)"))
        #expect(
            (try? #/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/#.wholeMatch(in: uuid)) != nil,
            "\(uuid)")
        #expect(plan.mkfsEnvironment == ["E2FSPROGS_FAKE_TIME": "1764892800"])
        var other = plan
        #expect(other.fileSystemUUID == uuid, "the same inputs, the same UUID")
        other.include = ["openssh-server"]
        #expect(other.fileSystemUUID != uuid)
        plan.blockRootSize = 1 << 20
        #expect(plan.problems() == ["--block-root-size 1048576: less than 64 MiB"])
    }

    @Test func badInputIsRefusedBeforeAnythingRuns() {
        var plan = ImageBuildPlan(sourceDateEpoch: 1)
        plan.include = ["openssh-server", "vim; rm -rf /", "Bad_Name"]
        plan.hooks = ["/nonexistent/hook"]
        plan.mirror = "ftp://mirror"
        plan.suite = "bookworm main"
        let problems = plan.problems()
        #expect(problems.count == 5, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("--include vim; rm -rf /: not a Debian package name") })
        #expect(problems.contains { $0.hasPrefix("--hook /nonexistent/hook: not an executable file") })
        #expect(ImageBuildPlan(sourceDateEpoch: 1).problems().isEmpty)
    }

    @Test func theManifestRoundTripsAndAnotherFormatIsRefused() throws {
        let manifest = ImageServingTests.manifest([("vmlinuz", Array("k".utf8))])
        let data = try manifest.encoded()
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"source_date_epoch\" : 1764892800"))
        #expect(text.contains("\"built_by\" : \"vboot test\""))
        #expect(try ImageManifest.decode(data) == manifest)
        var future = manifest
        future.format = 2
        #expect(throws: ImageManifest.ManifestError.self) { try ImageManifest.decode(try future.encoded()) }
    }
}
