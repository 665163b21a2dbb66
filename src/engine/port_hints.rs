//! Hints about what a refused port was for: its name in `/etc/services`, a systemd socket unit
//! that listens on it (`ListenStream=`), a running process whose command line mentions it
//! (`--port 7211`, `--port=7211`, `-p 7211`, `:7211`). Only hints: a name or a mention is not
//! proof that this is what listened there, so every line says "hint:". Pure: the texts are
//! handed in by `source::port_hints`.

/// `hint: tcp/7211 is named collector in /etc/services`, when a `NAME PORT/tcp` line has it.
pub fn services_hint(text: &str, port: u16) -> Option<String> {
    let want = format!("{port}/tcp");
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let (Some(name), Some(spec)) = (fields.next(), fields.next()) else {
            continue;
        };
        if spec == want {
            return Some(format!("hint: tcp/{port} is named {name} in /etc/services"));
        }
    }
    None
}

/// `hint: tcp/7211 appears in collector.socket (ListenStream=7211)`, when a `ListenStream=`
/// line of the unit listens on the port (`7211`, `0.0.0.0:7211`, `[::]:7211`).
pub fn unit_hint(unit: &str, text: &str, port: u16) -> Option<String> {
    for line in text.lines() {
        let Some(value) = line.trim().strip_prefix("ListenStream=") else {
            continue;
        };
        let value = value.trim();
        let tail = value.rsplit(':').next().unwrap_or(value);
        if tail.parse::<u16>() == Ok(port) {
            return Some(format!(
                "hint: tcp/{port} appears in {unit} (ListenStream={value})"
            ));
        }
    }
    None
}

/// `hint: tcp/7211 appears in the command line of collector-agent (pid 812): --port 7211`,
/// when an argument names the port: `--port 7211`, `-p 7211`, `--port=7211`, `HOST:7211`,
/// `:7211`. `args` are the command line's arguments (already sanitized).
pub fn cmdline_hint(comm: &str, pid: u32, args: &[&str], port: u16) -> Option<String> {
    let p = port.to_string();
    let port_flag = |a: &str| {
        let a = a.trim_start_matches('-');
        a.eq_ignore_ascii_case("p") || a.to_ascii_lowercase().ends_with("port")
    };
    for (i, a) in args.iter().enumerate() {
        let found = if let Some((flag, v)) = a.split_once('=')
            && flag.starts_with('-')
            && port_flag(flag)
        {
            (v == p).then(|| (*a).to_string())
        } else if a.starts_with('-') && port_flag(a) && args.get(i + 1) == Some(&p.as_str()) {
            Some(format!("{a} {p}"))
        } else if let Some((host, v)) = a.rsplit_once(':')
            && v == p
            && !host.contains('/')
        {
            Some((*a).to_string())
        } else {
            None
        };
        if let Some(m) = found {
            return Some(format!(
                "hint: tcp/{port} appears in the command line of {comm} (pid {pid}): {m}"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICES: &str = "# comment 7211/tcp\nhttp\t\t80/tcp\t\twww # WorldWideWeb\ncollector 7211/tcp\ncollector 7211/udp\n\nbroken\n";

    #[test]
    fn services_name_the_tcp_port_only() {
        assert_eq!(
            services_hint(SERVICES, 7211).as_deref(),
            Some("hint: tcp/7211 is named collector in /etc/services")
        );
        assert_eq!(
            services_hint(SERVICES, 80).as_deref(),
            Some("hint: tcp/80 is named http in /etc/services")
        );
        assert_eq!(services_hint(SERVICES, 7212), None);
        assert_eq!(services_hint("x 7211/udp\n", 7211), None);
    }

    #[test]
    fn socket_units_listen_on_the_port_in_any_spelling() {
        let unit = "[Socket]\nListenStream=7211\nAccept=no\n";
        assert_eq!(
            unit_hint("collector.socket", unit, 7211).as_deref(),
            Some("hint: tcp/7211 appears in collector.socket (ListenStream=7211)")
        );
        assert!(unit_hint("a.socket", "ListenStream=[::]:7211\n", 7211).is_some());
        assert!(unit_hint("a.socket", " ListenStream=127.0.0.1:7211\n", 7211).is_some());
        assert_eq!(unit_hint("a.socket", "ListenStream=17211\n", 7211), None);
        assert_eq!(unit_hint("a.socket", "ListenDatagram=7211\n", 7211), None);
        assert_eq!(
            unit_hint("a.socket", "ListenStream=/run/x.sock\n", 7211),
            None
        );
    }

    #[test]
    fn command_lines_mention_the_port_as_an_option_or_an_address() {
        let hint = |args: &[&str]| cmdline_hint("agent", 812, args, 7211);
        assert_eq!(
            hint(&["/usr/bin/agent", "--port", "7211"]).as_deref(),
            Some("hint: tcp/7211 appears in the command line of agent (pid 812): --port 7211")
        );
        assert!(hint(&["agent", "--listen-port=7211"]).is_some());
        assert!(hint(&["agent", "-p", "7211"]).is_some());
        assert!(hint(&["agent", "--bind", "0.0.0.0:7211"]).is_some());
        assert!(hint(&["agent", ":7211"]).is_some());
        // A number alone, another port, a URL path, a flag for something else: no hint.
        assert_eq!(hint(&["agent", "7211"]), None);
        assert_eq!(hint(&["agent", "--port", "17211"]), None);
        assert_eq!(hint(&["agent", "--workers", "7211"]), None);
        assert_eq!(hint(&["agent", "http://h/a:7211"]), None);
        assert_eq!(hint(&[]), None);
    }
}
