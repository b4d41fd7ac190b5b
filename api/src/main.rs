//! `gradebook`: the school e-journal server.

fn main() -> std::process::ExitCode {
    api::cli::main()
}
