use std::process::ExitCode;

use clap::Parser;

use bedrock_tuner::cli::{self, Cli};

/// Every request allocates and frees many small objects (header maps,
/// JSON pieces, labels); mimalloc's thread-local free lists make that
/// cheaper than glibc's malloc, measured in docs/benchmark.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
