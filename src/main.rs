use std::process::ExitCode;

use clap::Parser;

use bedrock_tuner::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = std::io::stdout().lock();
    match cli::run(cli, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bedrock-tuner: {error}");
            ExitCode::from(2)
        }
    }
}
