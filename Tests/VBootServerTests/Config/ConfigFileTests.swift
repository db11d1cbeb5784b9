import BootPolicy
import DHCPv4
import Testing
import VBootServer

@Suite("Config file")
struct ConfigFileTests {
    static let example = """
        # vboot.yaml
        listen: 10.0.0.2
        interface: eth1
        dhcp: off
        http_port: 8081
        boot_scripts: scripts
        ipxe_dir: [/usr/lib/ipxe, ipxe]
        assets: /srv/assets
        database: inventory.sqlite
        unknown_machines: register
        pxe_strategy: {uefi: boot-server}
        max_tftp_transfers: 64
        log_level: debug
        api:
          token_file: token
          read_networks: [10.0.0.0/24, 192.168.1.7]
        timeline: {per_machine: 50, days: 7}
        pool:
          range: 10.0.0.100-10.0.0.199
          netmask: 255.255.255.0
          routers: 10.0.0.1
          dns: [10.0.0.1, 10.0.0.3]
          domain: lab.test
          lease_time: 7200
        variables:
          mirror: http://mirror.lan/debian
        machines:
          - mac: 52:54:00:12:34:56
            hostname: Node1
            profile: debian
            next_boot: once
            variables: {suite: trixie}
          - {mac: "52-54-00-12-34-57", uuid: 4C4C4544-0000-1000-8000-00000000AA01, proxy_strategy: offer}
        """

    @Test func everySettingIsRead() throws {
        let file = try ConfigFile.parse(Self.example, path: "/etc/vboot/vboot.yaml")
        let configuration = try ServerConfiguration.merged(base: ServerConfiguration(), file: file)
        #expect(configuration.listenAddress == IPv4Address(10, 0, 0, 2))
        #expect(configuration.interface == "eth1" && configuration.dhcpMode == .off && configuration.httpPort == 8081)
        // Relative paths are relative to the file.
        #expect(configuration.bootScriptsDirectory == "/etc/vboot/scripts")
        #expect(configuration.ipxeDirectories == ["/usr/lib/ipxe", "/etc/vboot/ipxe"])
        #expect(configuration.database == .sqlite(path: "/etc/vboot/inventory.sqlite"))
        #expect(configuration.apiTokenFile == "/etc/vboot/token")
        #expect(configuration.unknownMachines == .register)
        #expect(configuration.proxyStrategies.strategy(for: .uefi) == .bootServer)
        #expect(configuration.maximumTFTPTransfers == 64 && configuration.logLevel == .debug)
        #expect(configuration.apiAccess.readNetworks.map(\.description) == ["10.0.0.0/24", "192.168.1.7/32"])
        #expect(configuration.timelineRetention.perMachine == 50 && configuration.timelineRetention.days == 7)
        #expect(configuration.siteVariables == ["mirror": "http://mirror.lan/debian"])
        let pool = try #require(configuration.pool)
        #expect(pool.first == IPv4Address(10, 0, 0, 100) && pool.last == IPv4Address(10, 0, 0, 199))
        #expect(pool.routers == [IPv4Address(10, 0, 0, 1)] && pool.dnsServers.count == 2)
        #expect(pool.domain == "lab.test" && pool.leaseSeconds == 7200)
        #expect(file.machines.count == 2)
        #expect(file.machines[0].hostname == "node1" && file.machines[0].nextBoot == .once)
        #expect(file.machines[0].variables == ["suite": "trixie"])
        #expect(file.machines[1].mac == HardwareAddress("52:54:00:12:34:57"))
        #expect(file.machines[1].uuid == "4c4c4544-0000-1000-8000-00000000aa01")
        #expect(file.machines[1].proxyStrategy == .bootFileInOffer)
    }

    @Test func pathsAreRelativeToTheFileURLsAreNot() throws {
        let base = ServerConfiguration()
        for (text, expected) in [
            ("database: sqlite:state/v.sqlite", DatabaseLocation.sqlite(path: "/etc/vboot/state/v.sqlite")),
            ("database: /var/v.sqlite", .sqlite(path: "/var/v.sqlite")),
        ] {
            let file = try ConfigFile.parse(text, path: "/etc/vboot/vboot.yaml")
            #expect(try ServerConfiguration.merged(base: base, file: file).database == expected, "\(text)")
        }
        let remote = try ConfigFile.parse("database: postgres://v:s@db.lan/v", path: "/etc/vboot/vboot.yaml")
        #expect(remote.settings[.database] == ["postgres://v:s@db.lan/v"])
        let tls = try ConfigFile.parse("api: {tls_cert: tls/a.crt, tls_key: tls/a.key}", path: "/etc/vboot/vboot.yaml")
        #expect(
            try ServerConfiguration.merged(base: base, file: tls).apiTLS
                == APITLSFiles(certificate: "/etc/vboot/tls/a.crt", key: "/etc/vboot/tls/a.key"))
    }

    @Test func unauthenticatedTrafficLimitsAreRead() throws {
        let file = try ConfigFile.parse(
            "dhcp_queue_limit: 7\nunknown_event_rate: 3\nregistration_rate_total: 9\nunassigned_machine_limit: 50\n",
            path: "x.yaml")
        let configuration = try ServerConfiguration.merged(base: ServerConfiguration(), file: file)
        let limits = configuration.unauthenticatedLimits
        #expect(limits.dhcpQueueLimit == 7 && limits.unknownEventsPerSecondPerSource == 3)
        #expect(limits.registrationsPerMinute == 9 && limits.unassignedMachineLimit == 50)
        #expect(limits.unknownEventsPerSecond == UnauthenticatedTrafficLimits().unknownEventsPerSecond)
    }

    @Test func anEmptyFileChangesNothing() throws {
        let file = try ConfigFile.parse("# nothing yet\n", path: "x.yaml")
        #expect(file.machines.isEmpty && file.settings == SettingValues())
    }

    @Test(arguments: [
        ("listen: 10.0.0.2\nhttp_prot: 80\n", 2, 1, "unknown key \"http_prot\""),
        ("http_port: 70000\n", 1, 12, "http_port: \"70000\" is not a number from 0 to 65535"),
        // YAML 1.1's base-60 integer that overflows: Yams' Node.int traps on it (found by
        // FuzzConfigYAML); vboot reads the text and refuses it.
        ("tftp_threads: 33333327:3333333333333333333\n", 1, 15, "is not a number from 1 to 256"),
        ("dhcp: full-ish\n", 1, 7, "dhcp: \"full-ish\" is not one of"),
        ("listen: 10.0.0.300\n", 1, 9, "listen: \"10.0.0.300\" is not an IPv4 address"),
        ("machines:\n  - mac: 52:54:00:12:34:56\n    next_boot: sometimes\n", 3, 16, "next_boot: expected one of"),
        ("machines:\n  - mac: 52:54:00:12:34:56\n    hostnme: x\n", 3, 5, "unknown key \"hostnme\""),
        ("machines:\n  - hostname: a\n", 2, 5, "mac: required"),
        (
            "machines:\n  - {mac: 52:54:00:12:34:56, hostname: a}\n  - {mac: 52:54:00:12:34:57, hostname: a}\n", 3, 5,
            "a is already used by the machine on line 2"
        ),
        ("variables:\n  bad-name: x\n", 2, 13, "\"bad-name\" is not a variable name"),
        ("api:\n  read_networks: [10.0.0.0/33]\n", 2, 19, "is not a network"),
        ("listen: [1, 2\n", 2, 1, "YAML:"),
        ("listen: 10.0.0.1\nlisten: 10.0.0.2\n", 1, 1, "listen appears more than once"),
        ("timeline: {days: 0}\n", 1, 18, "timeline.days"),
        ("- just\n- a list\n", 1, 1, "the top level: expected a mapping"),
        ("pool:\n  range: 10.0.0.9-10.0.0.1\n", 2, 10, "the first address is after the last"),
        ("pool:\n  lease_time: 5\n", 2, 15, "pool.lease_time"),
    ])
    func errorsNameLineColumnAndReason(text: String, line: Int, column: Int, reason: String) {
        do {
            _ = try ConfigFile.parse(text, path: "vboot.yaml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.line == line && error.column == column, "\(error)")
            #expect(error.description.hasPrefix("vboot.yaml:\(line):\(column): "), "\(error)")
            #expect(error.reason.contains(reason), "\(error)")
        }
    }
}

extension ConfigFileTests {
    /// Issue 11 (medium 5): the TFTP limits, in seconds and MiB like their flags.
    @Test func tftpLimitsAreRead() throws {
        let file = try ConfigFile.parse(
            """
            max_tftp_transfers_per_address: 4
            tftp_transfer_lifetime: 60
            tftp_read_ahead_budget: 32
            tftp_shared_copies: 0
            """, path: "vboot.yaml")
        let configuration = try ServerConfiguration.merged(base: ServerConfiguration(), file: file)
        #expect(configuration.tftpResources.maximumTransfersPerAddress == 4)
        #expect(configuration.tftpResources.transferLifetime == .seconds(60))
        #expect(configuration.tftpResources.readAheadBudget == 32 << 20)
        #expect(configuration.tftpResources.sharedFileCopies == 0)
        #expect(throws: ConfigError.self) { try ConfigFile.parse("tftp_transfer_lifetime: 0\n", path: "vboot.yaml") }
    }
}
