//! Records real sock_diag replies into `tests/fixtures/sock_diag/` (needs root): in a network
//! namespace it creates, it opens IPv4 and IPv6 listeners (one with backlog 1, overflowed by
//! clients that are never accepted), dumps them with the same request `rsthound listeners`
//! sends, and writes each reply as hex, with a comment saying what it holds.
//!
//! `cargo run --example record_sock_diag`

use rsthound::source::sockets::diag::{self, AF_INET, AF_INET6};
use rsthound::sys::netlink::sock_diag_dump;
use socket2::{Domain, Socket, Type};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn listen(addr: &str, backlog: i32) -> Socket {
    let addr: SocketAddr = addr.parse().unwrap();
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, None).unwrap();
    if addr.is_ipv6() {
        s.set_only_v6(true).unwrap();
    }
    s.bind(&addr.into()).unwrap();
    s.listen(backlog).unwrap();
    s
}

fn write_hex(dir: &Path, name: &str, comment: &str, bytes: &[u8]) {
    let mut text = format!("# {comment}\n# recorded on Linux {}", kernel());
    for (i, b) in bytes.iter().enumerate() {
        if i % 16 == 0 {
            text.push('\n');
        }
        text.push_str(&format!("{b:02x}"));
    }
    text.push('\n');
    std::fs::write(dir.join(name), text).unwrap();
    println!("{name}: {} bytes", bytes.len());
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn main() {
    let ns = format!("rsth-rec{}", std::process::id());
    assert!(
        Command::new("ip")
            .args(["netns", "add", &ns])
            .status()
            .unwrap()
            .success()
    );
    let _ = Command::new("ip")
        .args(["-n", &ns, "link", "set", "lo", "up"])
        .status();
    let path = format!("/run/netns/{ns}");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sock_diag");
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.clone();
    std::thread::spawn(move || {
        rsthound::sys::netns::enter(Path::new(&path)).unwrap();
        let empty = sock_diag_dump(&diag::listeners_request(AF_INET), 1 << 20, diag::ends_dump)
            .unwrap();
        write_hex(&d, "empty.hex", "IPv4 listener dump of a namespace with no listener", &empty);
        let full = listen("127.0.0.1:7211", 1);
        let _any = listen("0.0.0.0:8080", 128);
        let _v6 = listen("[::1]:7212", 16);
        let _v6any = listen("[::]:8443", 4096);
        // Clients the listener never accepts: two fill its queue (it holds backlog + 1), the
        // rest have their SYNs dropped.
        let mut clients = Vec::new();
        for _ in 0..6 {
            let c = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
            c.set_nonblocking(true).unwrap();
            let _ = c.connect(&"127.0.0.1:7211".parse::<SocketAddr>().unwrap().into());
            clients.push(c);
        }
        std::thread::sleep(Duration::from_millis(300));
        let v4 = sock_diag_dump(&diag::listeners_request(AF_INET), 1 << 20, diag::ends_dump)
            .unwrap();
        write_hex(
            &d,
            "ipv4_listeners.hex",
            "IPv4 listeners: 127.0.0.1:7211 backlog 1 with 6 clients never accepted (queue 2, drops > 0), 0.0.0.0:8080 backlog 128",
            &v4,
        );
        let v6 = sock_diag_dump(&diag::listeners_request(AF_INET6), 1 << 20, diag::ends_dump)
            .unwrap();
        write_hex(
            &d,
            "ipv6_listeners.hex",
            "IPv6 listeners: [::1]:7212 backlog 16, [::]:8443 backlog 4096 (IPV6_V6ONLY)",
            &v6,
        );
        // A request the kernel refuses: protocol 255 has no inet_diag handler.
        let mut bad = diag::listeners_request(AF_INET);
        bad[17] = 255;
        let err = sock_diag_dump(&bad, 1 << 20, diag::ends_dump).unwrap();
        write_hex(
            &d,
            "error.hex",
            "reply to a request for protocol 255: NLMSG_ERROR",
            &err,
        );
        drop(full);
    })
    .join()
    .unwrap();
    let _ = Command::new("ip").args(["netns", "del", &ns]).status();
    println!("written to {}", dir.display());
}
