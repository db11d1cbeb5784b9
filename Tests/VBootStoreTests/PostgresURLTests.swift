import Testing
import VBootStore

@Suite("Database URLs")
struct PostgresURLTests {
    @Test func fullURL() throws {
        let url = try PostgresURL("postgres://vb:p%40ss@db.lan:5433/inventory?sslmode=require&schema=Rack7")
        #expect(url.host == "db.lan" && url.port == 5433 && url.user == "vb" && url.password == "p@ss")
        #expect(url.database == "inventory" && url.tls == .require && url.schema == "rack7")
        #expect(url.description == "postgres://vb@db.lan:5433/inventory schema rack7")
        #expect(!url.description.contains("p@ss"))
    }

    @Test func defaultsAndUnixSocket() throws {
        let plain = try PostgresURL("postgresql://vboot@/vboot")
        #expect(plain.host == "localhost" && plain.port == 5432 && plain.tls == .prefer && plain.password == nil)
        let socket = try PostgresURL("postgres://vboot@/vboot?host=/run/postgresql")
        #expect(socket.socketPath == "/run/postgresql/.s.PGSQL.5432")
        #expect(try PostgresURL("postgres://u@h").database == "u")
    }

    @Test(arguments: [
        ("mysql://x@y/z", "not a postgres:// URL"),
        ("postgres://u@h/d?sslmode=maybe", "sslmode=maybe"),
        ("postgres://u@h/d?schema=a;drop", "letters, digits and _"),
        ("postgres://u@h/d?pool=3", "unknown parameter pool"),
        ("postgres://u@h/d?host=relative", "socket directory"),
    ])
    func refusals(text: String, reason: String) {
        do {
            _ = try PostgresURL(text)
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.description.contains(reason), "\(error)")
        }
    }
}
