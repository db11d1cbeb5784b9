import ArgumentParser
import VBootServer

/// The upstream cache's flags, one group for `vboot serve` and `vboot assets`: both read the
/// same settings, so the CLI fetches, checks and keeps files exactly as the server would.
struct CacheFlags: ParsableArguments {
    @Option(.upstreams) var upstream: [String] = []
    @Option(.cacheDir) var cacheDir: String?
    @Option(.cacheProxy) var cacheProxy: String?
    @Option(.cacheCABundle) var cacheCaBundle: String?
    @Option(.cacheSHA256) var cacheSha256: [String] = []
    @Option(.cacheChecksums) var cacheChecksums: [String] = []
    @Option(.cacheMaxSize) var cacheMaxSize: String?
    @Option(.cacheMaxAge) var cacheMaxAge: String?
    @Option(.cacheMode) var cacheMode: CacheMode?

    var given: [(SettingKey, [String])] {
        [
            (.upstreams, upstream), (.cacheDir, one(cacheDir)), (.cacheProxy, one(cacheProxy)),
            (.cacheCABundle, one(cacheCaBundle)), (.cacheSHA256, cacheSha256), (.cacheChecksums, cacheChecksums),
            (.cacheMaxSize, one(cacheMaxSize)), (.cacheMaxAge, one(cacheMaxAge)),
            (.cacheMode, one(cacheMode?.rawValue)),
        ]
    }

    private func one(_ value: String?) -> [String] { value.map { [$0] } ?? [] }
}

/// The cache's flag only `vboot serve` has (`vboot assets` fetches for no client): shown in the
/// same help section.
struct CacheServeFlags: ParsableArguments {
    @Option(.cacheFillsPerClient) var cacheFillsPerClient: String?

    var given: [(SettingKey, [String])] { [(.cacheFillsPerClient, cacheFillsPerClient.map { [$0] } ?? [])] }
}
