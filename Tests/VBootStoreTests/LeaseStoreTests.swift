import BootPolicy
import DHCPv4
import Testing
import VBootStore

@Suite("Lease table (SQLite and PostgreSQL)")
struct LeaseStoreTests {
    static func address(_ last: UInt8) -> IPv4Address { IPv4Address(10, 0, 0, last) }
    static func mac(_ last: UInt8) -> HardwareAddress { HardwareAddress([0x52, 0x54, 0, 0xbb, 0, last]) }

    static func lease(_ last: UInt8, _ mac: UInt8, _ state: Lease.State = .bound, until: Int64 = 1000) -> Lease {
        Lease(address: address(last), mac: Self.mac(mac), state: state, expiresAt: until, server: "s", updatedAt: 1)
    }

    /// The race two servers leave behind: an offer to a MAC that got bound on another address
    /// (the ACK's clean-up ran before the offer committed). Another client may claim it at once.
    @Test(arguments: StoreBackend.available)
    func anOfferToAMACBoundElsewhereCanBeClaimed(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            #expect(try await store.claim(Self.lease(20, 1, .bound, until: 5000), now: 100))
            // The offer commits after the binding: a second row for MAC 1.
            #expect(try await store.claim(Self.lease(21, 1, .offered, until: 160), now: 100))
            #expect(try await store.claim(Self.lease(22, 3, .offered, until: 160), now: 100))
            #expect(try await store.claim(Self.lease(21, 2, .offered, until: 170), now: 101))
            // A live offer to a client bound nowhere else still holds; so does MAC 1's binding.
            #expect(!(try await store.claim(Self.lease(22, 4, .offered, until: 170), now: 101)))
            #expect(!(try await store.claim(Self.lease(20, 4, .offered, until: 170), now: 101)))
            let leases = try await store.leases()
            #expect(leases.map(\.address) == [Self.address(20), Self.address(21), Self.address(22)])
            #expect(leases.map(\.mac) == [Self.mac(1), Self.mac(2), Self.mac(3)])
            #expect(leases.map(\.state) == [.bound, .offered, .offered])
        }
    }

    @Test(arguments: StoreBackend.available)
    func claimsRespectHoldersExpiryAndQuarantine(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            #expect(try await store.claim(Self.lease(10, 1), now: 100))
            // Another MAC while it is held: refused; the same MAC: renewed.
            #expect(!(try await store.claim(Self.lease(10, 2), now: 100)))
            #expect(try await store.claim(Self.lease(10, 1, until: 2000), now: 100))
            // After expiry anyone may have it.
            #expect(try await store.claim(Self.lease(10, 2), now: 2001))
            // One MAC, one lease: MAC 2 moving to .11 frees .10.
            #expect(try await store.claim(Self.lease(11, 2, until: 5000), now: 2001))
            #expect(try await store.leases().map(\.address) == [Self.address(11)])
            // Released: free at once, for anyone.
            #expect(
                try await store.updateLease(
                    address: Self.address(11), mac: Self.mac(2), state: .released, expiresAt: 2002, now: 2002))
            #expect(try await store.claim(Self.lease(11, 3, until: 9000), now: 2003))
            // Declined: quarantined until its expiry, even for the MAC that declined it.
            #expect(
                try await store.updateLease(
                    address: Self.address(11), mac: Self.mac(3), state: .declined, expiresAt: 3000, now: 2004))
            #expect(!(try await store.claim(Self.lease(11, 3), now: 2005)))
            #expect(!(try await store.claim(Self.lease(11, 4), now: 2005)))
            #expect(try await store.claim(Self.lease(11, 4, until: 9999), now: 3001))
            // Only the holder can change a lease.
            #expect(
                !(try await store.updateLease(
                    address: Self.address(11), mac: Self.mac(9), state: .released, expiresAt: 1, now: 3002)))
            #expect(try await store.claim(Self.lease(12, 5, .offered), now: 3002))
            try await store.dropLease(address: Self.address(12), mac: Self.mac(5), state: .offered)
            #expect(try await store.leases().map(\.address) == [Self.address(11)])
        }
    }

    /// Two servers answering one DISCOVER late must not cost a client its lease: an offer never
    /// turns a binding back into an offer, and an offer elsewhere drops nothing.
    @Test(arguments: StoreBackend.available)
    func offersNeverUndoABinding(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            #expect(try await store.claim(Self.lease(20, 1, .bound, until: 9000), now: 100))
            #expect(try await store.claim(Self.lease(20, 1, .offered, until: 200), now: 150))
            #expect(try await store.claim(Self.lease(21, 1, .offered, until: 200), now: 150))
            let rows = try await store.leases()
            #expect(rows.map(\.address) == [Self.address(20), Self.address(21)])
            #expect(rows[0].state == .bound && rows[0].expiresAt == 9000)
            // Withdrawing the offer for .21 leaves the binding.
            try await store.dropLease(address: Self.address(21), mac: Self.mac(1), state: .offered)
            try await store.dropLease(address: Self.address(20), mac: Self.mac(1), state: .offered)
            #expect(try await store.leases().map(\.state) == [.bound])
            // An ACK elsewhere moves the client: its old lease goes.
            #expect(try await store.claim(Self.lease(22, 1, .bound, until: 9000), now: 300))
            #expect(try await store.leases().map(\.address) == [Self.address(22)])
        }
    }

    /// 40 clients, 10 addresses, two connections claiming at once: no address twice.
    @Test(arguments: StoreBackend.available)
    func concurrentClaimsNeverShareAnAddress(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, factory in
            let second = try await factory.concurrentPeer(of: store)
            let outcome = await catching {
                try await withThrowingTaskGroup(of: (UInt8, UInt8?).self) { group in
                    for client in UInt8(1)...40 {
                        let target = client.isMultiple(of: 2) ? store : second
                        group.addTask {
                            for last in UInt8(1)...10 where try await target.claim(Self.lease(last, client), now: 0) {
                                return (client, last)
                            }
                            return (client, nil)
                        }
                    }
                    return try await group.reduce(into: [(UInt8, UInt8?)]()) { $0.append($1) }
                }
            }
            if second !== store { try await second.close() }
            let won = try outcome.get()
            let addresses = won.compactMap(\.1)
            #expect(addresses.count == 10)
            #expect(Set(addresses).count == 10)
            let stored = try await store.leases()
            #expect(stored.count == 10 && Set(stored.compactMap(\.mac)).count == 10)
        }
    }

    /// One DHCP message reads its MAC's rows and the addresses it names, not the table; the
    /// client identifier a lease was taken with comes back with it.
    @Test(arguments: StoreBackend.available)
    func lookupByMACAndAddressReadsOnlyThoseRows(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            var withID = Self.lease(30, 1)
            withID.clientID = "01525400bb0001"
            #expect(try await store.claim(withID, now: 100))
            #expect(try await store.claim(Self.lease(31, 2, .offered), now: 100))
            #expect(try await store.claim(Self.lease(32, 3), now: 100))
            let rows = try await store.leases(macs: [Self.mac(1)], addresses: [Self.address(32), Self.address(99)])
            #expect(rows.map(\.address) == [Self.address(30), Self.address(32)])
            #expect(rows.map(\.clientID) == ["01525400bb0001", nil])
            #expect(try await store.leases(macs: [], addresses: []).isEmpty)
        }
    }
}
