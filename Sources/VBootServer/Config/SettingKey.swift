import BootPolicy
import DHCPv4
import Logging

/// Every `vboot serve` setting, by its config file key (`api.listen` is `listen:` under `api:`).
/// `setting` is the one description of each: the switch is exhaustive, so a new key cannot be
/// added without its flag, default, reload rule and help.
public enum SettingKey: String, CaseIterable, Sendable {
    case listen, interface, dhcp
    case httpPort = "http_port", tftpPort = "tftp_port", dhcpPort = "dhcp_port", pxePort = "pxe_port"
    case nbdPort = "nbd_port"
    case bootScripts = "boot_scripts", ipxeDir = "ipxe_dir", assets
    case dataDir = "data_dir", database
    case unknownMachines = "unknown_machines", pxeStrategy = "pxe_strategy", loader
    case maxTFTPTransfers = "max_tftp_transfers", maxTFTPTransfersPerAddress = "max_tftp_transfers_per_address"
    case tftpTransferLifetime = "tftp_transfer_lifetime", tftpReadAheadBudget = "tftp_read_ahead_budget"
    case tftpSharedCopies = "tftp_shared_copies", tftpThreads = "tftp_threads"
    case dhcpQueueLimit = "dhcp_queue_limit", unknownEventRate = "unknown_event_rate"
    case unknownEventRateTotal = "unknown_event_rate_total", registrationRate = "registration_rate"
    case registrationRateTotal = "registration_rate_total", unassignedMachineLimit = "unassigned_machine_limit"
    case maxHTTPConnections = "max_http_connections", maxHTTPConnectionsPerClient = "max_http_connections_per_client"
    case httpRequestTimeout = "http_request_timeout", httpIdleTimeout = "http_idle_timeout"
    case apiTokenFile = "api.token_file", apiReadNetworks = "api.read_networks", apiListen = "api.listen"
    case apiHosts = "api.hosts", apiTLSCert = "api.tls_cert", apiTLSKey = "api.tls_key"
    case poolRange = "pool.range", poolNetmask = "pool.netmask", poolRouters = "pool.routers", poolDNS = "pool.dns"
    case poolDomain = "pool.domain", poolLeaseTime = "pool.lease_time"
    case poolDeclineQuarantine = "pool.decline_quarantine"
    case timelinePerMachine = "timeline.per_machine", timelineDays = "timeline.days"
    case user, capture
    case upstreams, cacheDir = "cache.dir", cacheProxy = "cache.proxy", cacheCABundle = "cache.ca_bundle"
    case cacheSHA256 = "cache.sha256", cacheChecksums = "cache.checksums", cacheMaxSize = "cache.max_size",
        cacheMaxAge = "cache.max_age"
    case cacheMode = "cache.mode", cacheFillsPerClient = "cache.fills_per_client"
    case logLevel = "log_level"

    public var setting: Setting {
        switch self {
        case .listen:
            Setting(
                flag: "listen", valueName: "IP", default: .described("all addresses"),
                help:
                    "Address to bind TFTP and HTTP to and to announce to clients (without it, DHCP announces the address of the interface each request arrived on).",
                example: "10.0.0.2",
                apply: Setting.parsed("an IPv4 address", { IPv4Address($0) }, \.configuration.listenAddress))
        case .interface:
            Setting(
                flag: "interface", valueName: "NAME", default: .described("all"),
                help: "Answer DHCP only on this interface.",
                example: "eth1", apply: Setting.text(\.configuration.interface))
        case .dhcp:
            Setting(
                flag: "dhcp", valueName: "proxy|full|off", default: .value("proxy"),
                help:
                    "proxyDHCP beside the site's DHCP server, vboot as the DHCP server (needs --listen and --dhcp-range; see Full DHCP), or no DHCP at all.",
                example: "full", apply: Setting.choice(\.configuration.dhcpMode))
        case .httpPort:
            Setting(
                flag: "http-port", valueName: "PORT", default: .value("8080"),
                help:
                    "The boot listener (plain HTTP on --listen): scripts, iPXE binaries, assets, /health and the installer callback; not the API.",
                example: "8080", apply: Setting.integer(0...65535, \.configuration.httpPort))
        case .tftpPort:
            Setting(
                flag: "tftp-port", valueName: "PORT", default: .value("69"), help: "TFTP.", example: "69",
                apply: Setting.integer(0...65535, \.configuration.tftpPort))
        case .nbdPort:
            Setting(
                flag: "nbd-port", valueName: "PORT", default: .described("off"),
                help:
                    "NBD for diskless machines whose root is a block device (the diskless-nbd profile): IMAGE is the image's root.img read-only, IMAGE/MAC/TOKEN that machine's own copy-on-write view of it, given only to an address that is that machine's MAC on the wire, with the boot token of its boot script (one layer per boot); kept across boots for machines with layer=persistent, under DATA_DIR/overlays.",
                example: "10809",
                apply: Setting.parsed(
                    "a TCP port (1-65535)", { Int($0).flatMap { (0...65535).contains($0) ? $0 : nil } },
                    \.configuration.nbdPort))
        case .dhcpPort:
            Setting(
                flag: "dhcp-port", valueName: "PORT", default: .value("67"), help: "Where the DHCP server listens.",
                example: "67", apply: Setting.integer(0...65535, \.configuration.dhcpPort))
        case .pxePort:
            Setting(
                flag: "pxe-port", valueName: "PORT", default: .value("4011"),
                help: "PXE boot server port, PXE 2.1 §2.2.4 (firmware that asks the boot server directly).",
                example: "4011", apply: Setting.integer(0...65535, \.configuration.pxePort))
        case .bootScripts:
            Setting(
                flag: "boot-scripts", valueName: "DIR",
                default: .described(
                    "`./boot-scripts`, else `/usr/share/vboot/boot-scripts` beside an installed `/usr/bin/vboot`"),
                help: "default.ipxe, machines/<mac>.ipxe and profiles/<name>.ipxe or <name>.profile.",
                example: "/etc/vboot/boot-scripts",
                paths: .path, apply: Setting.text(\.configuration.bootScriptsDirectory))
        case .ipxeDir:
            Setting(
                flag: "ipxe-dir", valueName: "DIR", form: .list,
                default: .described(
                    "`./out/ipxe` if `vboot rom build` wrote it, then Debian's `/usr/lib/ipxe` and `/boot`, then Debian's netboot directories (signed shim and GRUB)"
                ),
                help: "Boot files (iPXE binaries; shim and GRUB for loader grub), searched in order; repeatable.",
                example: "/usr/lib/ipxe", paths: .path,
                apply: Setting.list("a directory", { $0 }, \.configuration.ipxeDirectories))
        case .assets:
            Setting(
                flag: "assets", valueName: "DIR", default: .described("none"),
                help:
                    "Files served under /assets/ over HTTP (with Range) and by relative path over TFTP: kernels, initrds, images; nothing outside it.",
                example: "/srv/vboot/assets", paths: .path, apply: Setting.text(\.configuration.assetsDirectory))
        case .dataDir:
            Setting(
                flag: "data-dir", valueName: "DIR", default: .value("/var/lib/vboot"),
                help:
                    "vboot's state: vboot.sqlite (the inventory), api-token, boot-token.key (the key of the boot tokens) and overlays/ (diskless machines' kept layers); the directory is made (or tightened to) mode 700, its files 600.",
                example: "/var/lib/vboot", paths: .path, apply: Setting.text(\.configuration.dataDirectory))
        case .database:
            Setting(
                flag: "database", valueName: "URL", default: .described("SQLite in the data dir"),
                help:
                    "postgres://user:pass@host/db[?sslmode=disable&schema=NAME] to share one inventory between servers, or an SQLite file.",
                example: "postgres://vboot:secret@db.lan/vboot", paths: .pathUnlessURL,
                apply: { values, target throws(SettingError) in
                    do { target.configuration.database = try DatabaseLocation(Setting.last(values)) } catch {
                        throw SettingError("\(error)")
                    }
                })
        case .unknownMachines:
            Setting(
                flag: "unknown-machines", valueName: "script|register|ignore", default: .value("script"),
                reloadable: true,
                help:
                    "Machines not in the inventory: script (their machines/<mac>.ipxe, else default.ipxe), register (added to the inventory, then as script) or ignore (no proxy offer, no script).",
                example: "register", apply: Setting.choice(\.configuration.unknownMachines))
        case .loader:
            Setting(
                flag: "loader", valueName: "ipxe|grub", default: .value("ipxe"), reloadable: true,
                help:
                    "What UEFI PXE machines load first: ipxe, or grub (the signed shim, then GRUB over TFTP with a configuration from the machine's declarative profile: the chain Secure Boot accepts); a machine can override it.",
                example: "grub", apply: Setting.choice(\.configuration.loader))
        case .pxeStrategy:
            Setting(
                flag: "pxe-strategy", valueName: "FAMILY=STRATEGY", form: .pairs,
                default: .described("`bios=offer`, `uefi=offer`"),
                reloadable: true,
                help:
                    "How PXE firmware (bios, uefi) gets its boot file: offer (in the proxy offer, discovery control \"skip discovery\") or boot-server (the offer lists vboot as the only boot server; the firmware asks port 4011); repeatable; a machine can override it.",
                example: "uefi=boot-server",
                apply: { values, target throws(SettingError) in
                    for value in values {
                        do { try target.configuration.proxyStrategies.apply(value) } catch {
                            throw SettingError("\(error)")
                        }
                    }
                })
        case .maxTFTPTransfers:
            Setting(
                flag: "max-tftp-transfers", valueName: "N", default: .value("1024"),
                help:
                    "Concurrent TFTP transfers; a request beyond them gets no answer, so the client retransmits it (and is served if a place is free by then) instead of giving up on an ERROR.",
                example: "1024",
                apply: Setting.integer(1...65536, \.configuration.maximumTFTPTransfers))
        case .maxTFTPTransfersPerAddress:
            Setting(
                flag: "max-tftp-transfers-per-address", valueName: "N", default: .value("16"),
                help:
                    "Concurrent TFTP transfers from one IP address (a machine needs 2: EDK2's size probe and its download); more get ERROR 0 \"too many transfers from your address\"; raise it when many machines boot through one NAT or relay address.",
                example: "16",
                apply: Setting.integer(
                    TFTPResourceLimits.perAddressRange, \.configuration.tftpResources.maximumTransfersPerAddress))
        case .tftpThreads:
            Setting(
                flag: "tftp-threads", valueName: "N", default: .described("one per CPU vboot may use"),
                help:
                    "Threads running TFTP transfers; each new transfer goes to the one running the fewest, and stays there.",
                example: "4",
                apply: Setting.integer(1...256, \.configuration.tftpThreads))
        case .tftpTransferLifetime:
            Setting(
                flag: "tftp-transfer-lifetime", valueName: "SECONDS", default: .value("300"),
                help:
                    "A TFTP transfer not finished within this is ended with an ERROR (a 1 GiB image at 10 MB/s takes 100 s); a client that goes silent is dropped sooner: 63 s after its last ACK (six retransmissions from 1 s, doubling up to 16 s), at most 10 + 6 × 16 = 106 s when it asked for a 10 s timeout.",
                example: "300",
                apply: Setting.seconds(
                    TFTPResourceLimits.lifetimeSecondsRange, \.configuration.tftpResources.transferLifetime))
        case .tftpReadAheadBudget:
            Setting(
                flag: "tftp-read-ahead-budget", valueName: "MIB", default: .value("256"),
                help:
                    "Memory all TFTP transfers read from disk may hold in read-ahead buffers together; each wants blksize × windowsize (up to 4 MiB) and gets at least a block, a window bigger than its share goes out in pieces.",
                example: "256",
                apply: Setting.mebibytes(
                    TFTPResourceLimits.readAheadMiBRange, \.configuration.tftpResources.readAheadBudget))
        case .tftpSharedCopies:
            Setting(
                flag: "tftp-shared-copies", valueName: "MIB", default: .value("256"),
                help:
                    "In-memory copies of hot TFTP files up to 64 MiB each, one per file shared by all its transfers (0: none, every transfer reads from disk).",
                example: "256",
                apply: Setting.mebibytes(
                    TFTPResourceLimits.sharedCopiesMiBRange, \.configuration.tftpResources.sharedFileCopies))
        case .dhcpQueueLimit:
            Setting(
                flag: "dhcp-queue-limit", valueName: "N", default: .value("1024"),
                help:
                    "--dhcp full: messages waiting for the lease store (one consumer), those that finish an exchange (REQUEST, RELEASE, DECLINE, INFORM) before DISCOVERs; more are dropped, a REQUEST in place of the oldest DISCOVER, counted as dhcp_queue_dropped (clients retransmit).",
                example: "1024",
                apply: Setting.integer(1...10_000_000, \.configuration.unauthenticatedLimits.dhcpQueueLimit))
        case .unknownEventRate:
            Setting(
                flag: "unknown-event-rate", valueName: "N", default: .value("10"),
                help:
                    "Timeline events a second per source (HTTP client, DHCP relay or client address) for machines not in the inventory; more are counted (timeline_unknown_events_limited), not stored; known machines are never limited.",
                example: "10",
                apply: Setting.rate(
                    1...10_000_000, \.configuration.unauthenticatedLimits.unknownEventsPerSecondPerSource))
        case .unknownEventRateTotal:
            Setting(
                flag: "unknown-event-rate-total", valueName: "N", default: .value("200"),
                help: "The same, from all sources together.", example: "200",
                apply: Setting.rate(1...10_000_000, \.configuration.unauthenticatedLimits.unknownEventsPerSecond))
        case .registrationRate:
            Setting(
                flag: "registration-rate", valueName: "N", default: .value("10"),
                help: "--unknown-machines register: new machines a minute per client address (registrations_limited).",
                example: "10",
                apply: Setting.rate(
                    1...10_000_000, \.configuration.unauthenticatedLimits.registrationsPerMinutePerSource))
        case .registrationRateTotal:
            Setting(
                flag: "registration-rate-total", valueName: "N", default: .value("120"),
                help: "The same, from all clients together.", example: "120",
                apply: Setting.rate(1...10_000_000, \.configuration.unauthenticatedLimits.registrationsPerMinute))
        case .unassignedMachineLimit:
            Setting(
                flag: "unassigned-machine-limit", valueName: "N", default: .value("10000"),
                help:
                    "--unknown-machines register stops at this many machines without a profile (registrations_unassigned_full).",
                example: "10000",
                apply: Setting.integer(1...10_000_000, \.configuration.unauthenticatedLimits.unassignedMachineLimit))
        case .maxHTTPConnections:
            Setting(
                flag: "max-http-connections", valueName: "N", default: .value("4096"),
                help: "Open HTTP connections per listener; more get a 503 (Retry-After: 5) and are closed at once.",
                example: "4096", apply: Setting.integer(1...1_000_000, \.configuration.httpLimits.maximumConnections))
        case .maxHTTPConnectionsPerClient:
            Setting(
                flag: "max-http-connections-per-client", valueName: "N", default: .value("64"),
                help:
                    "Open HTTP connections from one IP address (a PXE client keeps one or two); raise it if many clients reach vboot through one NAT address.",
                example: "64",
                apply: Setting.integer(1...1_000_000, \.configuration.httpLimits.maximumConnectionsPerClient))
        case .httpRequestTimeout:
            Setting(
                flag: "http-request-timeout", valueName: "SECONDS", default: .value("10"),
                help:
                    "A client sends a whole HTTP request (head and body) within this of its first byte, or of connecting; trickled bytes do not extend it (slowloris); a response being written, however slowly, never times out.",
                example: "10", apply: Setting.seconds(1...3600, \.configuration.httpLimits.requestTimeout))
        case .httpIdleTimeout:
            Setting(
                flag: "http-idle-timeout", valueName: "SECONDS", default: .value("30"),
                help: "A kept-alive HTTP connection waits this long for its next request.", example: "30",
                apply: Setting.seconds(1...86400, \.configuration.httpLimits.idleTimeout))
        case .apiTokenFile:
            Setting(
                flag: "api-token-file", valueName: "FILE", default: .described("`DATA_DIR/api-token`"),
                help:
                    "The API's bearer token; generated (mode 600) when missing, and read from the file: the log names the file, never the token.",
                example: "/etc/vboot/api-token", paths: .path, apply: Setting.text(\.configuration.apiTokenFile))
        case .apiReadNetworks:
            Setting(
                flag: "api-read-network", valueName: "CIDR", form: .list, default: .described("none"), reloadable: true,
                help: "Clients in this network may read the API without the token; repeatable.", example: "10.0.0.0/24",
                apply: Setting.list(
                    "a network like 10.0.0.0/24", { IPv4Network($0) }, \.configuration.apiAccess.readNetworks))
        case .apiListen:
            Setting(
                flag: "api-listen", valueName: "ADDRESS:PORT", form: .list, default: .described("`127.0.0.1:8081`"),
                help:
                    "Where the API and /metrics listen (IPv4 or [IPv6] literal); repeatable. Named addresses are added to the loopback default, which is dropped only when you name a loopback or wildcard address yourself (127.0.0.1:9081 moves it).",
                example: "10.0.0.2:8443",
                apply: Setting.list(
                    "ADDRESS:PORT like 10.0.0.2:8081 or [::1]:8081", { APIListenAddress($0) }, \.configuration.apiListen
                )
            )
        case .apiHosts:
            Setting(
                flag: "api-host", valueName: "NAME", form: .list, default: .described("none"),
                help:
                    "A name the API answers to besides IP literals, localhost and this host's name (gethostname); any other Host gets 421 (DNS rebinding guard, counted as api_host_refused); repeatable.",
                example: "vboot.lab",
                apply: Setting.list("a DNS name like vboot.lab", { APIHostPolicy.name($0) }, \.configuration.apiHosts))
        case .apiTLSCert:
            Setting(
                flag: "api-tls-cert", valueName: "FILE", default: .described("none (plain HTTP)"),
                help:
                    "PEM certificate (chain): every API listener speaks HTTPS (TLS 1.2+); needs api.tls_key. An unreadable file, a bad PEM or a key that is not the certificate's stops the start with the reason.",
                example: "/etc/vboot/api.crt", paths: .path, apply: Setting.text(\.apiTLSCertificate))
        case .apiTLSKey:
            Setting(
                flag: "api-tls-key", valueName: "FILE", default: .described("none"),
                help: "PEM private key of api.tls_cert.",
                example: "/etc/vboot/api.key", paths: .path, apply: Setting.text(\.apiTLSKey))
        case .poolRange:
            Setting(
                flag: "dhcp-range", valueName: "FIRST-LAST", default: .described("none"),
                help: "--dhcp full: the addresses handed out.", example: "10.0.0.100-10.0.0.199",
                apply: { values, target throws(SettingError) in
                    let text = Setting.last(values)
                    // The syntax now; the netmask and the listen address are checked once all are in.
                    do { _ = try AddressPool.range(text, subnetMask: IPv4Address(0, 0, 0, 0)) } catch {
                        throw SettingError("\(error)")
                    }
                    target.pool.range = text
                })
        case .poolNetmask:
            Setting(
                flag: "dhcp-netmask", valueName: "MASK", default: .described("the --listen interface's"),
                help: "--dhcp full: subnet mask (option 1).", example: "255.255.255.0",
                apply: Setting.parsed("a netmask", { IPv4Address($0) }, \.pool.netmask))
        case .poolRouters:
            Setting(
                flag: "dhcp-router", valueName: "IP", form: .list, default: .described("none"),
                help: "--dhcp full: router (option 3); repeatable.", example: "10.0.0.1",
                apply: Setting.list("an IPv4 address", { IPv4Address($0) }, \.pool.routers))
        case .poolDNS:
            Setting(
                flag: "dhcp-dns", valueName: "IP", form: .list, default: .described("none"),
                help: "--dhcp full: DNS server (option 6); repeatable.", example: "10.0.0.1",
                apply: Setting.list("an IPv4 address", { IPv4Address($0) }, \.pool.dnsServers))
        case .poolDomain:
            Setting(
                flag: "dhcp-domain", valueName: "NAME", default: .described("none"),
                help: "--dhcp full: domain name (option 15).",
                example: "lab.test", apply: Setting.text(\.pool.domain))
        case .poolLeaseTime:
            Setting(
                flag: "dhcp-lease-time", valueName: "SECONDS", default: .value("3600"),
                help: "--dhcp full: lease time (option 51).", example: "7200",
                apply: { values, target throws(SettingError) in
                    target.pool.leaseSeconds = UInt32(try Setting.number(Setting.last(values), in: 60...31_536_000))
                })
        case .poolDeclineQuarantine:
            Setting(
                flag: "dhcp-decline-quarantine", valueName: "SECONDS", default: .value("600"),
                help: "--dhcp full: how long an address a client DECLINEd (RFC 2131 §4.3.3) is not handed out.",
                example: "600",
                apply: { values, target throws(SettingError) in
                    target.pool.declineQuarantineSeconds = UInt32(
                        try Setting.number(Setting.last(values), in: 0...86_400))
                })
        case .timelinePerMachine:
            Setting(
                flag: "timeline-per-machine", valueName: "N", default: .value("1000"), reloadable: true,
                help: "Timeline events kept per machine; older ones are pruned.", example: "500",
                apply: Setting.integer(1...1_000_000, \.configuration.timelineRetention.perMachine))
        case .timelineDays:
            Setting(
                flag: "timeline-days", valueName: "DAYS", default: .value("30"), reloadable: true,
                help: "Timeline events older than this are pruned.", example: "7",
                apply: Setting.integer(1...36500, \.configuration.timelineRetention.days))
        case .user:
            Setting(
                flag: "user", valueName: "NAME", default: .described("`vboot`"),
                help:
                    "Started as root: the account vboot becomes before it binds anything, keeping only CAP_NET_BIND_SERVICE (and CAP_NET_RAW with --capture; see Security); root keeps root, which is not recommended.",
                example: "vboot", apply: Setting.text(\.configuration.user))
        case .capture:
            Setting(
                flag: "capture", valueName: "INTERFACE", default: .described("off"),
                help:
                    "Watch DHCP on this interface (libpcap) and add other servers' answers to boot clients to their timelines (kind wire): a site server or a second proxy that also offers a boot file shows up where the boot went wrong. Keeps CAP_NET_RAW after the switch to --user.",
                example: "eth1", apply: Setting.text(\.configuration.captureInterface))
        case .upstreams:
            Setting(
                flag: "upstream", valueName: "NAME=URL", form: .pairs, default: .described("none"),
                help:
                    "An upstream mirror (HTTP or HTTPS): /assets/NAME/PATH that is not in --assets is fetched from URL/PATH once, kept in the cache and served from it, while it arrives to every client that asks (see Upstream asset cache); repeatable.",
                example: "debian=http://mirror.lan/debian",
                apply: Setting.list(
                    "NAME=URL with an http:// or https:// URL", { Upstream($0) }, \.configuration.upstreams))
        case .cacheDir:
            Setting(
                flag: "cache-dir", valueName: "DIR", default: .described("`cache` in the data directory"),
                help: "Where upstream files are kept (by upstream and path; downloads in progress under .partial).",
                example: "/var/cache/vboot", paths: .path, apply: Setting.text(\.configuration.cache.directory))
        case .cacheProxy:
            Setting(
                flag: "cache-proxy", valueName: "URL", default: .described("direct"),
                help: "HTTP proxy for upstream fetches (the environment's http_proxy is not read).",
                example: "http://proxy.lan:3128",
                apply: Setting.parsed(
                    "an http:// or https:// URL", { $0.hasPrefix("http://") || $0.hasPrefix("https://") ? $0 : nil },
                    \.configuration.cache.proxy))
        case .cacheCABundle:
            Setting(
                flag: "cache-ca-bundle", valueName: "FILE", default: .described("the system's CAs"),
                help: "PEM file of the certificate authorities HTTPS upstreams are checked against.",
                example: "/etc/vboot/mirror-ca.pem", paths: .path, apply: Setting.text(\.configuration.cache.caBundle))
        case .cacheSHA256:
            Setting(
                flag: "cache-sha256", valueName: "UPSTREAM/PATH=SHA256", form: .pairs, default: .described("none"),
                help:
                    "The SHA-256 an upstream file must have: a download that does not match is never published or handed to a client whole, and is counted; repeatable.",
                example: "d-i/netboot/debian-installer/amd64/linux=" + String(repeating: "0", count: 64),
                apply: Setting.dictionary(
                    "UPSTREAM/PATH=SHA256 (64 hex digits)", { CachePin($0).map { ($0.key, $0.sha256) } },
                    \.configuration.cache.pins))
        case .cacheChecksums:
            Setting(
                flag: "cache-checksums", valueName: "UPSTREAM=URL", form: .pairs, default: .described("none"),
                help:
                    "A SHA-256 list (sha256sum's or the BSD form, e.g. Debian's SHA256SUMS) that every file of the upstream must match before it is published; names in it are relative to the list's URL; a file it does not name is refused. Pins win; repeatable.",
                example:
                    "d-i=https://deb.debian.org/debian/dists/bookworm/main/installer-amd64/current/images/SHA256SUMS",
                // Same form as --upstream: a name and an http(s) URL.
                apply: Setting.dictionary(
                    "UPSTREAM=URL with an http:// or https:// URL", { Upstream($0).map { ($0.name, $0.url) } },
                    \.configuration.cache.checksumLists))
        case .cacheMaxSize:
            Setting(
                flag: "cache-max-size", valueName: "SIZE", default: .value("32G"),
                help:
                    "The most the cache keeps (K, M, G or T; unlimited for no bound): past it the files used least recently are removed, never one on its way or just published.",
                example: "100G",
                apply: { values, target throws(SettingError) in
                    target.configuration.cache.maxSize = try Setting.item(
                        Setting.last(values), "a size such as 500M, 32G or unlimited", CacheSize.parse)
                })
        case .cacheMaxAge:
            Setting(
                flag: "cache-max-age", valueName: "AGE", default: .value("1d"),
                help:
                    "How long a cached file is served before the upstream is asked whether it changed (ETag, Last-Modified; s, m, h or d; never to keep files as they are). Pinned files are never asked about; an upstream that cannot answer leaves the cached copy served.",
                example: "12h",
                apply: { values, target throws(SettingError) in
                    target.configuration.cache.maxAge = try Setting.item(
                        Setting.last(values), "an age such as 30m, 12h, 7d, 0 or never", CacheAge.parse)
                })
        case .cacheMode:
            Setting(
                flag: "cache-mode", valueName: "MODE", default: .value("online"),
                help:
                    "offline: no upstream is contacted; cached files are served as they are and a miss is a 502 that says the file is not cached.",
                example: "offline", apply: Setting.choice(\.configuration.cache.mode))
        case .cacheFillsPerClient:
            Setting(
                flag: "cache-fills-per-client", valueName: "N", default: .value("16"),
                help:
                    "Upstream downloads one client address may have started and still running (of 64 at once; joining a download on its way does not count). Raise it for a downstream vboot or a NAT that many machines share.",
                example: "64", apply: Setting.integer(1...64, \.configuration.cache.fillsPerClient))
        case .logLevel:
            Setting(
                flag: "log-level", valueName: "LEVEL", default: .value("info"),
                help:
                    "trace, debug, info, notice, warning, error or critical: one line per decision on stderr (DHCP answers, TFTP transfers, HTTP requests, config reloads).",
                example: "debug", apply: Setting.choice(\.configuration.logLevel))
        }
    }
}
