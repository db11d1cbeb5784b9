import BootPolicy
import DHCPv4

/// Lease statements, the same for both backends (`?` placeholders; PostgreSQL's store numbers
/// them). `claim`'s conditional upsert is the whole concurrency story: the row for an address is
/// overwritten only when it is free, expired, or already this MAC's.
enum LeaseSQL {
    static let select = "SELECT \(LeaseRow.columns.joined(separator: ", ")) FROM leases ORDER BY address"

    /// The rows of these MACs and at these addresses: what one DHCP message needs, by index
    /// (`leases_by_mac`, the primary key), never the whole table.
    static func select(macs: Int, addresses: Int) -> String {
        func list(_ count: Int) -> String { Array(repeating: "?", count: count).joined(separator: ", ") }
        var conditions: [String] = []
        if macs > 0 { conditions.append("mac IN (\(list(macs)))") }
        if addresses > 0 { conditions.append("address IN (\(list(addresses)))") }
        return "SELECT \(LeaseRow.columns.joined(separator: ", ")) FROM leases WHERE "
            + (conditions.isEmpty ? "false" : conditions.joined(separator: " OR ")) + " ORDER BY address"
    }

    static func selectValues(macs: [HardwareAddress], addresses: [IPv4Address]) -> [StoreValue] {
        macs.map { .text($0.description) } + addresses.map { .text($0.description) }
    }

    /// An OFFER for an address its client already holds bound keeps the binding: two servers
    /// answering one DISCOVER must not turn a lease back into an offer someone could withdraw.
    static let claim = """
        INSERT INTO leases (\(LeaseRow.columns.joined(separator: ", ")))
        VALUES (\(Array(repeating: "?", count: LeaseRow.columns.count).joined(separator: ", ")))
        ON CONFLICT (address) DO UPDATE SET
            mac = excluded.mac,
            state = CASE WHEN \(keepsBinding) THEN leases.state ELSE excluded.state END,
            expires_at = CASE WHEN \(keepsBinding) THEN leases.expires_at ELSE excluded.expires_at END,
            hostname = excluded.hostname, server = excluded.server, updated_at = excluded.updated_at,
            client_id = excluded.client_id
        WHERE (leases.mac = excluded.mac AND leases.state <> 'declined')
            OR leases.state = 'released' OR leases.expires_at <= ?
            OR (leases.state = 'offered' AND EXISTS (\(boundElsewhere)))
        RETURNING address
        """

    /// An offer whose client holds a binding on another address: left by two servers racing
    /// (the ACK's clean-up ran before the offer was written); that client took the other one.
    private static let boundElsewhere = """
        SELECT 1 FROM leases AS other WHERE other.mac = leases.mac AND other.address <> leases.address \
        AND other.state = 'bound' AND other.expires_at > ?
        """

    private static let keepsBinding =
        "leases.mac = excluded.mac AND leases.state = 'bound' AND excluded.state = 'offered' AND leases.expires_at > excluded.updated_at"

    static func claimValues(_ lease: Lease, now: Int64) -> [StoreValue] {
        LeaseRow.values(lease) + [.integer(now), .integer(now)]
    }

    /// After a binding claim (an ACK): one MAC, one lease (quarantine records stay). Offers drop
    /// nothing: a late DISCOVER answered by a second server must not cost a client its lease.
    static let dropOthers = "DELETE FROM leases WHERE mac = ? AND address <> ? AND state <> 'declined'"

    static let update = """
        UPDATE leases SET state = ?, expires_at = ?, updated_at = ?
        WHERE address = ? AND mac = ? RETURNING address
        """

    /// An offer this server made and the client turned down (it chose another server).
    static let drop = "DELETE FROM leases WHERE mac = ? AND state = ? AND address = ?"

    /// `?` → `$1`, `$2`, … (the statements here have no `?` inside literals).
    static func numbered(_ sql: String) -> String {
        var result = ""
        var index = 0
        for character in sql {
            if character == "?" {
                index += 1
                result += "$\(index)"
            } else {
                result.append(character)
            }
        }
        return result
    }
}
