#![forbid(unsafe_code)]

use clap::Parser;

/// Monitoring plugins report a usage error as UNKNOWN (3), not clap's usual 2.
const PLUGIN_UNKNOWN: i32 = 3;

fn main() {
    let cli = match rsthound::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let as_plugin =
                std::env::args_os().nth(1).is_some_and(|a| a == "check") && e.use_stderr();
            if as_plugin {
                let _ = e.print();
                std::process::exit(PLUGIN_UNKNOWN);
            }
            e.exit();
        }
    };
    std::process::exit(rsthound::cli::run(cli));
}
