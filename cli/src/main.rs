//! The `farm` binary; everything is in the library, [`farm_cli`].

fn main() -> std::process::ExitCode {
    farm_cli::main()
}
