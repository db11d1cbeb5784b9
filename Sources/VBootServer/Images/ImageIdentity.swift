import Foundation

/// What `vboot image build` adds to every image so a machine knows itself: a unit that reads
/// the `vboot.NAME=VALUE` words vboot put on the kernel line (`MachineArguments`) into
/// `/run/vboot/machine.env`, shell-quoted `NAME='VALUE'` lines a site's services can source.
/// The host name needs nothing: systemd takes `systemd.hostname=` itself.
enum ImageIdentity {
    static let scriptPath = "usr/local/sbin/vboot-machine"
    static let unitPath = "etc/systemd/system/vboot-machine.service"
    static let wantsPath = "etc/systemd/system/sysinit.target.wants/vboot-machine.service"

    /// bash (essential in Debian, unlike a percent decoder): `printf %b` turns `\xHH` into bytes.
    /// VBOOT_CMDLINE and VBOOT_RUN are for the tests.
    static let script = #"""
        #!/bin/bash
        # vboot-machine: this machine's variables from vboot (vboot.NAME=VALUE words on the kernel
        # command line, values percent-encoded) into /run/vboot/machine.env as NAME='VALUE' lines.
        # Written by vboot image build.
        set -eu
        run=${VBOOT_RUN:-/run/vboot}
        mkdir -p "$run"
        out=$run/machine.env.new
        : >"$out"
        read -r -a words <"${VBOOT_CMDLINE:-/proc/cmdline}"
        for word in "${words[@]}"; do
            [[ $word =~ ^vboot\.([A-Za-z0-9_]+)=(.*)$ ]] || continue
            name=${BASH_REMATCH[1]} encoded=${BASH_REMATCH[2]}
            encoded=${encoded//\\/%5C}
            printf -v value '%b' "${encoded//%/\\x}"
            printf "%s='%s'\n" "$name" "${value//\'/\'\\\'\'}" >>"$out"
        done
        mv "$out" "$run/machine.env"
        """#

    static let unit = """
        [Unit]
        Description=vboot: this machine's variables from the kernel command line
        DefaultDependencies=no
        After=local-fs.target
        Before=sysinit.target

        [Service]
        Type=oneshot
        RemainAfterExit=yes
        ExecStart=/\(scriptPath)

        [Install]
        WantedBy=sysinit.target

        """

    /// Writes the script and the unit into the root tree and enables the unit.
    static func install(into root: String) throws {
        let files = FileManager.default
        for (path, text, mode) in [(scriptPath, script + "\n", 0o755), (unitPath, unit, 0o644)] {
            let full = root + "/" + path
            try files.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: full))
            try files.setAttributes([.posixPermissions: mode], ofItemAtPath: full)
        }
        let wants = root + "/" + wantsPath
        try files.createDirectory(
            atPath: (wants as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try? files.removeItem(atPath: wants)
        try files.createSymbolicLink(atPath: wants, withDestinationPath: "/" + unitPath)
    }
}
