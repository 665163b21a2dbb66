//! TCP port → service name, for the summary ("tcp/5432 (postgresql)"). Owns a built-in table of
//! the ports SREs meet, extended by `/etc/services` when it can be read.
//!
//! The built-in names win over `/etc/services` for the ports they cover: distributions that ship
//! the full IANA registry (Fedora, Arch) name 9200 `wap-wsp`, 9092 `XmlIpcRegSvc`, 3389
//! `ms-wbt-server` and 8443 `pcsync-https`, which would send the reader the wrong way. Every other
//! port named in `/etc/services` (an in-house service added by an admin, say) is used as given.

use crate::sanitize::sanitize_text;
use std::collections::BTreeMap;

/// Lines of a services file looked at, at most: a hostile or runaway file cannot cost more.
pub const MAX_ENTRIES: usize = 100_000;
/// Characters kept of one service name.
const MAX_NAME_CHARS: usize = 40;

/// Well-known TCP services, by port.
const BUILTIN: &[(u16, &str)] = &[
    (20, "ftp-data"),
    (21, "ftp"),
    (22, "ssh"),
    (23, "telnet"),
    (25, "smtp"),
    (53, "dns"),
    (80, "http"),
    (88, "kerberos"),
    (110, "pop3"),
    (111, "sunrpc"),
    (135, "msrpc"),
    (139, "netbios-ssn"),
    (143, "imap"),
    (179, "bgp"),
    (389, "ldap"),
    (443, "https"),
    (445, "smb"),
    (465, "smtps"),
    (587, "submission"),
    (631, "ipp"),
    (636, "ldaps"),
    (853, "dns-over-tls"),
    (873, "rsync"),
    (993, "imaps"),
    (995, "pop3s"),
    (1433, "mssql"),
    (1521, "oracle"),
    (1883, "mqtt"),
    (2049, "nfs"),
    (2181, "zookeeper"),
    (2375, "docker"),
    (2376, "docker-tls"),
    (2379, "etcd-client"),
    (2380, "etcd-peer"),
    (3306, "mysql"),
    (3389, "rdp"),
    (4222, "nats"),
    (5044, "logstash-beats"),
    (5222, "xmpp-client"),
    (5432, "postgresql"),
    (5601, "kibana"),
    (5671, "amqps"),
    (5672, "rabbitmq"),
    (5900, "vnc"),
    (5984, "couchdb"),
    (6379, "redis"),
    (6443, "kubernetes-api"),
    (8080, "http-alt"),
    (8086, "influxdb"),
    (8443, "https-alt"),
    (8500, "consul"),
    (8883, "mqtts"),
    (9042, "cassandra"),
    (9090, "prometheus"),
    (9092, "kafka"),
    (9093, "alertmanager"),
    (9100, "node-exporter"),
    (9200, "elasticsearch"),
    (9300, "elasticsearch-transport"),
    (9418, "git"),
    (10250, "kubelet"),
    (11211, "memcached"),
    (15672, "rabbitmq-management"),
    (27017, "mongodb"),
];

/// Port → service name for TCP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Services {
    names: BTreeMap<u16, String>,
}

impl Default for Services {
    /// The built-in table only.
    fn default() -> Self {
        Services::builtin()
    }
}

impl Services {
    /// The built-in table only (no file read).
    pub fn builtin() -> Self {
        Services {
            names: BUILTIN.iter().map(|&(p, n)| (p, n.to_string())).collect(),
        }
    }

    /// The built-in table extended by services-file text (for tests and other sources).
    pub fn from_text(text: &str) -> Self {
        Services::from_bytes(text.as_bytes())
    }

    /// As [`Services::from_text`], for bytes that may not be UTF-8. Lines that do not parse as
    /// `name port/proto [aliases…] [# comment]` are ignored, as are protocols other than TCP; the
    /// first name given for a port wins (as `getservbyport` does); names are sanitized.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut s = Services::builtin();
        let mut from_file: BTreeMap<u16, String> = BTreeMap::new();
        for line in bytes.split(|&b| b == b'\n').take(MAX_ENTRIES) {
            if let Some((port, name)) = parse_line(line) {
                from_file.entry(port).or_insert(name);
            }
        }
        for (port, name) in from_file {
            s.names.entry(port).or_insert(name);
        }
        s
    }

    /// The service's name, if the port has one.
    pub fn name(&self, port: u16) -> Option<&str> {
        self.names.get(&port).map(String::as_str)
    }

    /// `tcp/5432 (postgresql)` or `tcp/7211 (no well-known service)`.
    pub fn describe(&self, port: u16) -> String {
        match self.name(port) {
            Some(n) => format!("tcp/{port} ({n})"),
            None => format!("tcp/{port} (no well-known service)"),
        }
    }

    /// Number of ports named.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// One `/etc/services` line: `name port/proto [aliases…] [# comment]`, TCP only.
fn parse_line(line: &[u8]) -> Option<(u16, String)> {
    let line = match line.iter().position(|&b| b == b'#') {
        Some(i) => &line[..i],
        None => line,
    };
    let mut fields = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    let name = fields.next()?;
    let port_proto = fields.next()?;
    let slash = port_proto.iter().position(|&b| b == b'/')?;
    let (port, proto) = (&port_proto[..slash], &port_proto[slash + 1..]);
    if !proto.eq_ignore_ascii_case(b"tcp")
        || port.is_empty()
        || port.len() > 5
        || !port.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    let port: u16 = std::str::from_utf8(port).ok()?.parse().ok()?;
    if port == 0 {
        return None;
    }
    let name = sanitize_text(name, MAX_NAME_CHARS);
    Some((port, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names_and_descriptions() {
        let s = Services::builtin();
        assert_eq!(s.name(5432), Some("postgresql"));
        assert_eq!(s.name(7211), None);
        assert_eq!(s.describe(5432), "tcp/5432 (postgresql)");
        assert_eq!(s.describe(7211), "tcp/7211 (no well-known service)");
        for port in [
            22, 25, 53, 80, 443, 3306, 6379, 8080, 9092, 9200, 11211, 27017,
        ] {
            assert!(s.name(port).is_some(), "port {port}");
        }
    }

    #[test]
    fn file_extends_but_does_not_rename_builtin_ports() {
        let s = Services::from_text(
            "# comment line\n\
             myapp\t7211/tcp\t\tapp-alias # our in-house service\n\
             wap-wsp 9200/tcp\n\
             other 7211/tcp\n\
             udponly 7300/udp\n\
             sctponly 7301/sctp\n\
             upper 7302/TCP\n",
        );
        assert_eq!(s.name(7211), Some("myapp"), "first name for a port wins");
        assert_eq!(s.name(9200), Some("elasticsearch"));
        assert_eq!(s.name(7300), None);
        assert_eq!(s.name(7301), None);
        assert_eq!(s.name(7302), Some("upper"));
        assert_eq!(s.describe(7211), "tcp/7211 (myapp)");
    }

    #[test]
    fn hostile_lines_are_ignored_or_sanitized() {
        let text = "\x1b[31mevil\x1b[0m 7000/tcp\n\
                    \u{202e}rtl 7001/tcp\n\
                    nul\0name 7002/tcp\n\
                    big 99999/tcp\n\
                    neg -1/tcp\n\
                    zero 0/tcp\n\
                    plus +7003/tcp\n\
                    long 000000007004/tcp\n\
                    noslash 7005\n\
                    emptyport /tcp\n\
                    justname\n\
                    /tcp\n\
                    7006/tcp\n\
                    crlf 7007/tcp\r\n\
                    \t  \n\
                    ###\n";
        let s = Services::from_text(text);
        let n = s.name(7000).unwrap();
        assert!(!n.chars().any(char::is_control), "{n:?}");
        assert_eq!(n, "\\x1b[31mevil\\x1b[0m");
        assert!(!s.name(7001).unwrap().contains('\u{202e}'));
        assert_eq!(s.name(7002), Some("nul\\x00name"));
        for port in [7003, 7004, 7005, 7006] {
            assert_eq!(s.name(port), None, "port {port}");
        }
        assert_eq!(s.name(7007), Some("crlf"));
        // "7006/tcp" alone: the port field is the name, "" is no port/proto: ignored.
        assert_eq!(s.len(), Services::builtin().len() + 4);
    }

    #[test]
    fn invalid_utf8_and_long_names() {
        let mut bytes = b"caf\xe9 7010/tcp\n".to_vec();
        bytes.extend_from_slice(format!("{} 7011/tcp\n", "x".repeat(10_000)).as_bytes());
        let s = Services::from_bytes(&bytes);
        assert_eq!(s.name(7010), Some("caf\\xe9"));
        let long = s.name(7011).unwrap();
        assert_eq!(long.chars().count(), MAX_NAME_CHARS + 1);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn caps_the_lines_read() {
        let mut text = String::new();
        for i in 0..MAX_ENTRIES {
            text.push_str(&format!("junk{i} notaport/tcp\n"));
        }
        text.push_str("late 7020/tcp\n");
        let s = Services::from_text(&text);
        assert_eq!(s.name(7020), None, "lines after the cap are not read");
        let s = Services::from_text("");
        assert_eq!(s, Services::builtin());
    }
}
