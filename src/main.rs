use clap::Parser;

fn main() {
    let cli = botify_sim::cli::Cli::parse();
    if let Err(e) = botify_sim::cli::run(cli) {
        eprintln!("Error: {e:#}");
        std::process::exit(1);
    }
}
