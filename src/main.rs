use std::process::ExitCode;

fn main() -> ExitCode {
    avaloc::fs::keep_freed_memory();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(avaloc::progress::styled_stderr())
        .init();
    match avaloc::cli::main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The chain of causes, each once: file errors already quote their I/O cause.
            let mut message = e.to_string();
            for cause in e.chain().skip(1) {
                let text = cause.to_string();
                if !message.contains(&text) {
                    message = format!("{message}: {text}");
                }
            }
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
