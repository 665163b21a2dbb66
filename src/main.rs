#![forbid(unsafe_code)]

use clap::Parser;

fn main() {
    let cli = rsthound::cli::Cli::parse();
    std::process::exit(rsthound::cli::run(cli));
}
