/// Every vboot counter on `/metrics`, exported as `vboot_<name>_total` (with a `reason` label where
/// the call gives one). One list, so the code, the tests and the dashboards name the same thing.
public enum CounterName: String, CaseIterable, Sendable {
    case apiCallbacksRefused = "api_callbacks_refused", apiHostRefused = "api_host_refused"
    case configReloads = "config_reloads", configReloadsRefused = "config_reloads_refused"
    case dhcpPacketsReceived = "dhcp_packets_received", dhcpPacketsMalformed = "dhcp_packets_malformed"
    case dhcpRepliesSent = "dhcp_replies_sent", dhcpSilent = "dhcp_silent", dhcpSocketErrors = "dhcp_socket_errors"
    case dhcpStoreErrors = "dhcp_store_errors", dhcpQueueDropped = "dhcp_queue_dropped"
    case dhcpClaimsLost = "dhcp_claims_lost", dhcpReleaseRefused = "dhcp_release_refused"
    case dhcpDeclineRefused = "dhcp_decline_refused"
    case heapTrims = "heap_trims", loadersSilent = "loaders_silent"
    case httpConnectionsRefused = "http_connections_refused", httpConnectionsClosed = "http_connections_closed"
    case httpScriptsServed = "http_scripts_served", httpScriptsRefused = "http_scripts_refused"
    case httpScriptErrors = "http_script_errors", httpFilesServed = "http_files_served"
    case registrationsLimited = "registrations_limited"
    case registrationsUnassignedFull = "registrations_unassigned_full"
    case tftpPacketsMalformed = "tftp_packets_malformed", tftpRequestsRefused = "tftp_requests_refused"
    case tftpDuplicateRequests = "tftp_duplicate_requests", tftpTransferLimitHits = "tftp_transfer_limit_hits"
    case tftpPerAddressLimitHits = "tftp_per_address_limit_hits"
    case tftpReadAheadBudgetHits = "tftp_read_ahead_budget_hits", tftpReadAheadReduced = "tftp_read_ahead_reduced"
    case tftpSocketErrors = "tftp_socket_errors", tftpTransfersStarted = "tftp_transfers_started"
    case tftpTransfersCompleted = "tftp_transfers_completed", tftpTransfersFailed = "tftp_transfers_failed"
    case tftpTransfersExpired = "tftp_transfers_expired", tftpSizeProbes = "tftp_size_probes"
    case tftpBytesSent = "tftp_bytes_sent"
    case timelineEventsRecorded = "timeline_events_recorded", timelineEventsDropped = "timeline_events_dropped"
    case timelineUnknownEventsLimited = "timeline_unknown_events_limited"
    case wireSightings = "wire_sightings", wireCompetingOffers = "wire_competing_offers"
    case wireFramesSkipped = "wire_frames_skipped", wireKernelDrops = "wire_kernel_drops"
    case wireTableOverflow = "wire_table_overflow"
    case cacheHits = "cache_hits", cacheMisses = "cache_misses", cacheCoalesced = "cache_coalesced_waiters"
    case cacheUpstreamBytes = "cache_upstream_bytes", cacheVerificationFailures = "cache_verification_failures"
    case cacheUpstreamFailures = "cache_upstream_failures", cacheFillsRefused = "cache_fills_refused"
    case cacheRevalidations = "cache_revalidations", cacheNotModified = "cache_not_modified"
    case cacheStaleServed = "cache_stale_served", cacheEvictions = "cache_evictions"
    case cacheOfflineMisses = "cache_offline_misses"
    case imageFilesVerified = "image_files_verified", imageVerificationFailures = "image_verification_failures"
    case nbdBytesRead = "nbd_bytes_read", nbdBytesWritten = "nbd_bytes_written"
    case nbdRequestsRefused = "nbd_requests_refused", nbdConnectionsDropped = "nbd_connections_dropped"
}

/// Every gauge on `/metrics`, exported as `vboot_<name>`: read when `/metrics` is asked (a
/// current count or a configured limit), summed over the parts that report one.
public enum GaugeName: String, CaseIterable, Sendable {
    case httpConnectionsOpen = "http_connections_open"
    case tftpTransfersActive = "tftp_transfers_active", tftpTransfersLimit = "tftp_transfers_limit"
    case tftpTransfersPerAddressLimit = "tftp_transfers_per_address_limit"
    case tftpReadAheadBytes = "tftp_read_ahead_bytes", tftpReadAheadBudgetBytes = "tftp_read_ahead_budget_bytes"
    case tftpSharedCopiesBytes = "tftp_shared_copies_bytes"
}
