//! A storm is a burst far above the capture's typical second, and also a steady rate far above
//! what a healthy service resets: 100,000 RSTs a second for ten seconds is a storm though every
//! second of it is typical.

mod common;

use common::*;
use rsthound::engine::decode::TcpFlags;
use rsthound::testkit::synth::TcpSpec;

#[test]
fn a_steady_flood_is_a_storm_and_a_steady_trickle_is_not() {
    let d = TempDir::new("storms");
    // (RSTs a second, seconds, storm expected)
    for (rate, secs, storm) in [(5_000u64, 4u64, true), (1_000, 3, true), (150, 20, false)] {
        let mut frames = Vec::new();
        for s in 0..secs {
            for i in 0..rate {
                let port = 1024 + (i % 60_000) as u16;
                let f = TcpSpec::new(
                    ip("10.0.0.1"),
                    80,
                    ip("10.0.0.2"),
                    port,
                    TcpFlags::RST | TcpFlags::ACK,
                )
                .ack(1)
                .ethernet();
                frames.push((ts(1_700_000_000 + s as i64, i * 1_000_000 / rate), f));
            }
        }
        let path = d.write(&format!("steady-{rate}.pcap"), &pcap_of(&frames));
        let o = rsthound(&["read", "--json", &path], None);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let summary: serde_json::Value =
            serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap();
        let findings = summary["findings"]["findings"].as_array().unwrap();
        let found = findings.iter().find(|f| f["kind"] == "rst_storm");
        assert_eq!(
            found.is_some(),
            storm,
            "{rate}/s for {secs} s: {findings:#?}"
        );
        if let Some(f) = found {
            let evidence = f["evidence"].to_string();
            assert!(evidence.contains("a steady storm"), "{evidence}");
            assert!(
                f["title"].as_str().unwrap().starts_with(&format!(
                    "RST storm: {} RSTs in {secs} seconds",
                    rate * secs
                )),
                "{f}"
            );
        }
    }
}
