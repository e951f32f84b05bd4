//! The `pxhub` binary: parse the command line, run it. Everything else is
//! in the library (`pxhub::cli`).

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = pxhub::cli::Cli::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(pxhub::cli::run(cli))
}
