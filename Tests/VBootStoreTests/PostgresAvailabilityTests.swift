import Foundation
import Testing

/// `scripts/test` sets VBOOT_REQUIRE_POSTGRES: there, a store suite that ran against SQLite only
/// is a failure, not a quiet pass.
@Test func postgresIsThereWhenRequired() {
    let required = ProcessInfo.processInfo.environment["VBOOT_REQUIRE_POSTGRES"] == "1"
    #expect(!required || StoreBackend.available.contains(.postgres), "VBOOT_TEST_POSTGRES is not set")
}
